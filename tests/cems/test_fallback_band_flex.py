"""Fallbacks with their reasons, soft bands, the flexibility approximation, both update paths."""

from __future__ import annotations

import numpy as np
import pytest

from sims.homes.cems import Band, EvSession, ThermalLoad, plan_day, plan_days, uncontrolled_schedule
from sims.homes.cems.synthetic import random_homes
from tests.cems.conftest import Battery, ElectricVehicle, hourly


def test_impossible_ev_request_gives_flagged_fallback_with_reason():
    # 40 kWh in 2 h from a 3.7 kW charger (at most 7.4 kWh): no schedule exists.
    inp = hourly(
        1.0, [0.2] * 24, ev=ElectricVehicle(3.7, "EV"), ev_sessions=(EvSession(18, 20, 40.0),)
    )
    p = plan_day(inp)
    assert p.fallback and p.status == "invalid_input"
    assert "EV session 0 needs 40.00 kWh" in p.reason and "7.40 kWh" in p.reason
    u = uncontrolled_schedule(inp)
    np.testing.assert_allclose(p.net_kw, u["net_kw"])  # uncontrolled operation, not zeros
    assert p.net_kw[18] == pytest.approx(1.0 + 3.7)
    assert np.isnan(p.flex_up_cost_eur_per_kwh).all() and not p.flex_up_kw.any()


@pytest.mark.parametrize("path", ["direct", "pyomo"])
def test_solver_infeasibility_is_caught_not_silent(path):
    # Passes the input checks, but base 2 kW + a 1 kW import margin (max import 3 kW) gives the
    # thermal load at most 24 kWh in the day, and it needs 30: the solver proves infeasibility.
    inp = hourly(2.0, [0.2] * 24, max_import_kw=3.0, thermal=ThermalLoad(2.0, 30.0))
    assert inp.problems() == []
    p = plan_day(inp, path=path)
    assert p.fallback and p.status == "infeasible"
    assert "solver ended 'infeasible'" in p.reason
    # diagnosis: 30 kWh needed, 1 kW * 24 h = 24 kWh of import headroom
    assert "thermal load needs 30.00 kWh but the connection lets it take at most 24.00" in p.reason
    assert p.net_kw.max() == pytest.approx(4.0)  # uncontrolled: base + thermal at 2 kW


def test_non_finite_forecast_gives_fallback_not_exception():
    inp = hourly(np.r_[1.0, np.nan, 1.0], [0.2] * 3)
    p = plan_day(inp)
    assert p.fallback and p.status == "invalid_input"
    assert "base_kw: value at step 1 is not finite" in p.reason


def test_plan_days_survives_bad_homes():
    good = hourly(1.0, [0.2] * 24)
    bad = hourly(
        1.0, [0.2] * 24, ev=ElectricVehicle(3.7, "EV"), ev_sessions=(EvSession(0, 1, 9.0),)
    )
    plans = plan_days([good, bad, good], workers=1)
    assert [p.fallback for p in plans] == [False, True, False]


def test_band_is_soft_and_reported():
    # EV needs 6 kWh in hours 20-23 with a 3 kW charger, base 0, but the band says net <= 1 kW
    # in hours 20-23 (4 kWh at most): the band cannot be met. The plan still delivers the
    # energy with every hour at >= 1 kW (the least violation) and reports 6 - 4 = 2 kWh
    # outside the band, penalised, instead of failing.
    prices = [0.2] * 24
    ev = ElectricVehicle(3.0, "EV")
    inp = hourly(0.0, prices, ev=ev, ev_sessions=(EvSession(20, 24, 6.0),))
    band = Band(np.full(24, -np.inf), np.where(np.arange(24) >= 20, 1.0, np.inf), 5.0)
    p = plan_day(inp, band=band)
    assert not p.fallback
    assert p.ev_kw.sum() == pytest.approx(6.0, abs=1e-6)
    assert p.band_violation_kw.sum() == pytest.approx(2.0, abs=1e-6)
    assert p.ev_kw[20:].min() >= 1.0 - 1e-6
    assert "band missed by 2.000 kWh" in p.reason


def test_band_moves_battery_when_it_can():
    # Flat 0.2 EUR/kWh, base 2 kW; the band caps hour 2 at 0 kW. The battery (SoC 0.5 of
    # 10 kWh) covers hour 2 by discharging 2 kW and recharges 2 / 0.81 = 2.469 kWh elsewhere:
    # the bill rises by 0.2 * (2 / 0.81 - 2) = 0.0938 EUR over 0.2 * 8 = 1.60.
    bat = Battery(10.0, 2.0, 0.81, 0.0, 1.0, 0.5)
    inp = hourly(2.0, [0.2] * 4, battery=bat)
    p = plan_day(inp, band=Band(np.full(4, -np.inf), np.array([np.inf, np.inf, 0.0, np.inf])))
    assert p.net_kw[2] == pytest.approx(0.0, abs=1e-6)
    assert p.band_violation_kw.sum() == pytest.approx(0.0, abs=1e-9)
    assert p.bill_eur == pytest.approx(1.60 + 0.2 * (2 / 0.81 - 2), abs=1e-6)


def test_price_signal_shifts_load():
    # Flat tariff; a signal of +0.5 EUR/kWh in hours 0-11 moves the thermal load (4 kWh,
    # 2 kW, reference at hours 0-1) after noon. The bill at the tariff stays 0.2 * 4 = 0.80.
    th = ThermalLoad(2.0, 4.0, np.r_[[2.0, 2.0], np.zeros(22)])
    inp = hourly(0.0, [0.2] * 24, thermal=th)
    sig = np.where(np.arange(24) < 12, 0.5, 0.0)
    p = plan_day(inp, price_signal_eur_per_kwh=sig)
    assert p.thermal_kw[:12].sum() == 0.0
    assert p.thermal_kw.sum() == pytest.approx(4.0)
    assert p.bill_eur == pytest.approx(0.80)


def test_flexibility_of_an_idle_battery_by_hand():
    # 4 one-hour steps, base 1 kW, flat import 0.20, export 0.05; battery 10 kWh, 2 kW, round
    # trip 0.81, SoC 0.1..0.9, at 0.5 (5 kWh): the plan leaves it idle.
    # Up at any hour: charge 2 kW (room (9 - 5) / 0.9 = 4.44 kWh); paid at import 0.20, given
    # back by discharging 2 * 0.81 kWh later against import: 0.20 - 0.20 * 0.81 = 0.038 EUR/kWh.
    # Down: discharge 2 kW (energy (5 - 1) * 0.9 = 3.6 kWh): saves 1 kWh of import (0.20) and
    # exports 1 kWh (0.05); recharging 2 / 0.81 kWh at 0.20 costs 0.49383: per kWh
    # (0.49383 - 0.25) / 2 = 0.121914 EUR/kWh.
    bat = Battery(10.0, 2.0, 0.81, 0.1, 0.9, 0.5)
    p = plan_day(hourly(1.0, [0.2] * 4, export=0.05, battery=bat))
    np.testing.assert_allclose(p.battery_kw, 0.0, atol=1e-9)
    np.testing.assert_allclose(p.flex_up_kw, 2.0)
    np.testing.assert_allclose(p.flex_down_kw, 2.0)
    np.testing.assert_allclose(p.flex_up_cost_eur_per_kwh, 0.038, atol=1e-9)
    np.testing.assert_allclose(p.flex_down_cost_eur_per_kwh, (0.4 / 0.81 - 0.25) / 2, atol=1e-9)


@pytest.mark.parametrize("buildings", [False, True])
def test_flexibility_respects_connection_limits(buildings):
    for inp in random_homes(12, seed=7, buildings=buildings):
        p = plan_day(inp)
        assert np.all(p.net_kw + p.flex_up_kw <= inp.home.max_import_kw + 1e-6)
        assert np.all(p.net_kw - p.flex_down_kw >= -inp.home.max_export_kw - 1e-6)
        has = p.flex_up_kw > 0
        assert np.all(np.isfinite(p.flex_up_cost_eur_per_kwh[has]))
        assert np.all(p.flex_up_cost_eur_per_kwh[has] >= 0)


@pytest.mark.parametrize("buildings", [False, True])
def test_direct_and_pyomo_update_paths_agree(buildings):
    # The same model solved after the fast direct update and after pyomo's own Param update.
    for inp in random_homes(6, seed=3, buildings=buildings):
        a = plan_day(inp, path="direct", flexibility=False)
        b = plan_day(inp, path="pyomo", flexibility=False)
        assert a.objective_eur == pytest.approx(b.objective_eur, abs=1e-6, rel=1e-5)
        assert a.bill_eur == pytest.approx(b.bill_eur, abs=1e-4)


@pytest.mark.parametrize("buildings", [False, True])
def test_offered_flexibility_is_deliverable_by_a_replan(buildings):
    # For sampled steps, re-plan with a band that forces the offered move (net >= plan + up,
    # or net <= plan - down): the home must meet it without leaving the band.
    rng = np.random.default_rng(5)
    checked = 0
    for inp in random_homes(6, seed=17, buildings=buildings):
        p = plan_day(inp)
        n = inp.n_steps
        for t in rng.choice(n, 3, replace=False):
            for up in (True, False):
                q = p.flex_up_kw[t] if up else p.flex_down_kw[t]
                if q < 0.05:
                    continue
                lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
                if up:
                    lo[t] = p.net_kw[t] + q
                else:
                    hi[t] = p.net_kw[t] - q
                r = plan_day(inp, band=Band(lo, hi, 50.0), flexibility=False)
                assert not r.fallback
                assert np.abs(r.band_violation_kw).max() < 1e-6, (inp.home.home_id, t, up, q)
                checked += 1
    assert checked >= 10


def test_exact_move_cost_by_hand():
    # Same home as test_flexibility_of_an_idle_battery_by_hand: charging 2 kW more in hour 1
    # costs 0.20 * 2 kWh, and the 2 * 0.81 = 1.62 kWh it stores replaces imports later
    # (0.20 each): 0.40 - 0.324 = 0.076 EUR, i.e. 0.038 EUR/kWh, as the approximation said.
    from sims.homes.cems.offers import move_cost

    bat = Battery(10.0, 2.0, 0.81, 0.1, 0.9, 0.5)
    inp = hourly(1.0, [0.2] * 4, export=0.05, battery=bat)
    p = plan_day(inp)
    m = move_cost(inp, p, 1, 2.0)
    assert m.delivered_kw == pytest.approx(2.0, abs=1e-6)
    # (the objective also holds 1e-6 EUR/kWh of tie-breaking battery throughput: ~4e-6 EUR)
    assert m.cost_eur == pytest.approx(0.076, abs=1e-5)
    assert m.cost_eur_per_kwh == pytest.approx(p.flex_up_cost_eur_per_kwh[1], abs=1e-5)
    # asking for 3 kW more (beyond the 2 kW battery) delivers 2 kW, with the penalty excluded
    assert move_cost(inp, p, 1, 3.0).delivered_kw == pytest.approx(2.0, abs=1e-6)
