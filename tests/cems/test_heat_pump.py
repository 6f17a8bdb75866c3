"""The heat pump heats a building with a thermal state: the CEMS shifts only as far as it allows."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from sims.homes.cems import (
    Band,
    CemsInput,
    ThermalLoad,
    ThermalStore,
    plan_day,
    thermal_from_profile,
    tou_tariff,
    uncontrolled_schedule,
)
from sims.homes.cems.operate import operate_day
from tests.cems.conftest import home, hourly

# A building with a = exp(-dt / tau) = 0.5 per one-hour step and g = COP tau (1 - a) = 1:
# H / C = ln 2 per hour (C = 1 kWh/K, H = ln 2 kW/K, tau = 1 / ln 2 h) and COP = 2 ln 2.
HALF = ThermalStore(1.0, math.log(2.0), 2.0 * math.log(2.0), 0.0, 1.0)


def test_store_coefficients_are_the_exact_step_response():
    a, g = HALF.coefficients(1.0)
    assert a == pytest.approx(0.5) and g == pytest.approx(1.0)
    # lossless: nothing decays, each kW for one step stores COP kWh
    assert ThermalStore(5.0, 0.0, 3.0, 0.0, 1.0).coefficients(0.25) == (1.0, 0.75)
    # the closed form against a fine Euler integration of C dx/dt = COP u - H x, one step
    s = ThermalStore(8.0, 0.32, 2.5, 0.0, 1.0)
    e, u, h = 0.0, 1.0, 1e-5
    for _ in range(int(0.25 / h)):
        e += h * (s.cop * u - e / s.tau_h)
    assert s.coefficients(0.25)[1] == pytest.approx(e, rel=1e-4)
    assert s.band_kwh() == (0.0, 8.0)


def test_preheat_in_the_cheap_hour_by_hand():
    """Four one-hour steps, reference 1 kW every hour (4 kWh), rating 2 kW; import 0.10 in
    hour 0 and 0.30 in hours 1-3; the building HALF (stored heat E in [0, 1] kWh, i.e. up to
    1 K above the set point; E[t+1] = 0.5 E[t] + (P[t] - 1)); the day is periodic.

    Pre-heating x kWh in hour 0 (P0 = 1 + x, E1 = x) lets hour 1 draw 0.5 x less
    (E2 = 0.5 x + P1 - 1 = 0): it costs 0.10 x and saves 0.30 * 0.5 x, a gain of 0.05 per
    kWh, so x goes to its limit: E1 <= 1 and P0 <= 2 both give x = 1. Using the stored heat
    later (hour 2) would save only 0.25 x, and starting the day warm needs heat bought at
    0.30 in hour 3, worth 0.10 * 0.5 in hour 0: both worse. Optimum: P = [2, 0.5, 1, 1],
    E = [0, 1, 0, 0, 0], energy 4.5 kWh (0.5 kWh of extra losses while the house is warm),
    bill 0.10 * 2 + 0.30 * 2.5 = 0.95 EUR (uncontrolled 1.00).
    """
    th = ThermalLoad(2.0, 4.0, np.ones(4), HALF)
    inp = hourly(0.0, [0.10, 0.30, 0.30, 0.30], thermal=th)
    p = plan_day(inp)
    assert not p.fallback and p.status == "optimal"
    np.testing.assert_allclose(p.thermal_kw, [2.0, 0.5, 1.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(p.thermal_state_kwh, [0.0, 1.0, 0.0, 0.0, 0.0], atol=1e-7)
    assert p.bill_eur == pytest.approx(0.95, abs=1e-7)
    assert uncontrolled_schedule(inp)["thermal_kw"].sum() == 4.0
    # a band of 0.25 K: x = 0.25 (P0 = 1.25, P1 = 1 - 0.125), bill 1.00 - 0.05 * 0.25
    narrow = ThermalStore(1.0, math.log(2.0), 2.0 * math.log(2.0), 0.0, 0.25)
    q = plan_day(hourly(0.0, [0.10, 0.30, 0.30, 0.30], thermal=ThermalLoad(2.0, 4.0, np.ones(4),
                                                                         narrow)))
    np.testing.assert_allclose(q.thermal_kw, [1.25, 0.875, 1.0, 1.0], atol=1e-7)
    assert q.bill_eur == pytest.approx(1.0 - 0.0125, abs=1e-7)
    # no band at all: the reference, whatever the prices
    none = ThermalStore(1.0, math.log(2.0), 2.0 * math.log(2.0), 0.0, 0.0)
    r = plan_day(hourly(0.0, [0.10, 0.30, 0.30, 0.30], thermal=ThermalLoad(2.0, 4.0, np.ones(4),
                                                                         none)))
    np.testing.assert_allclose(r.thermal_kw, 1.0, atol=1e-7)


def _winter_day():
    """A real heat-pump day: simbench Air_Parallel_1 on 20 January 2016 at 3 kW."""
    from sims.homes import profile_data

    day = profile_data.profile_day(dt.date(2016, 1, 20))
    col = profile_data.load_columns(["Air_Parallel_1"])["Air_Parallel_1"].to_numpy()
    return col[day * 96 : (day + 1) * 96] * 3.0


def _winter_home(band_k: float, store: bool = True) -> CemsInput:
    """A day of 96 steps of 15 min, ToU night 0.10 (00-07 h), day 0.25, peak 0.35 (16-19 h),
    base 0.3 kW, a 3 kW air-source heat pump (COP 2.5) in a building sized to it:
    H = 3 * 2.5 / 24 kW/K, tau 30 h, C = tau H = 9.4 kWh/K; the CEMS may pre-heat it up to
    ``band_k`` above the set point (``store=False``: the ideal store of the old model)."""
    loss = 3.0 * 2.5 / 24.0
    st = ThermalStore(30.0 * loss, loss, 2.5, 0.0, band_k) if store else None
    return CemsInput(home=home(), base_kw=np.full(96, 0.3), pv_kw=np.zeros(96),
                     tariff=tou_tariff(96), thermal=thermal_from_profile(_winter_day(), 3.0,
                                                                         0.25, st))


def test_shift_is_bounded_by_the_band():
    ref = _winter_day()
    moved = {}
    for band_k in (0.0, 0.25, 1.0, 3.0):
        inp = _winter_home(band_k)
        th = inp.thermal
        p = plan_day(inp)
        assert not p.fallback
        e = p.thermal_state_kwh
        lo, hi = th.band_kwh()
        # inside the band at every step boundary; the same state recomputed from the powers
        assert e.min() >= lo - 1e-6 and e.max() <= hi + 1e-6
        np.testing.assert_allclose(e, th.state_kwh(p.thermal_kw, ref, 0.25, initial_kwh=e[0]),
                                   atol=1e-6)
        assert abs(e[-1] - e[0]) < 1e-6
        # extra heat in the night beyond the reference: at most what the band holds plus what
        # a house that much warmer loses over the 7 h (H * band * 7 h), in kWh of electricity
        extra = np.clip(p.thermal_kw[:28] - ref[:28], 0.0, None).sum() * 0.25
        st = th.store
        assert extra <= (st.capacity_kwh_per_k + st.loss_kw_per_k * 7.0) * band_k / 2.5 + 1e-6
        moved[band_k] = np.abs(p.thermal_kw - ref).sum() * 0.25 / 2
        if band_k == 0.0:
            np.testing.assert_allclose(p.thermal_kw, ref, atol=1e-6)  # no band, no move
    # a wider band moves more, and all of them less than the ideal store of the old model
    assert moved[0.0] < 1e-6 < moved[0.25] < moved[1.0] < moved[3.0]
    ideal = plan_day(_winter_home(0.0, store=False))
    assert np.abs(ideal.thermal_kw - ref).sum() * 0.25 / 2 > moved[3.0]


def test_flexibility_of_the_heat_pump_is_deliverable_and_respects_the_band():
    # Every offered move of the heat pump (no battery, no EV: the heat pump is the only
    # flexible device) is met by a re-plan forcing it, whose building stays in its band.
    inp = _winter_home(1.0)
    p = plan_day(inp)
    lo, hi = inp.thermal.band_kwh()
    checked = 0
    for t in range(0, 96, 3):
        for up in (True, False):
            q = p.flex_up_kw[t] if up else p.flex_down_kw[t]
            if q < 0.05:
                continue
            low, high = np.full(96, -np.inf), np.full(96, np.inf)
            if up:
                low[t] = p.net_kw[t] + q
            else:
                high[t] = p.net_kw[t] - q
            r = plan_day(inp, band=Band(low, high, 50.0), flexibility=False)
            assert not r.fallback
            assert np.abs(r.band_violation_kw).max() < 1e-6, (t, up, q)
            assert r.thermal_state_kwh.min() >= lo - 1e-6
            assert r.thermal_state_kwh.max() <= hi + 1e-6
            checked += 1
    assert checked >= 20
    # offers never exceed what the band can take: at the top of the band no more up, at the
    # set point no more down beyond what the plan draws
    e_after = p.thermal_state_kwh[1:]
    full = e_after[:-1] >= hi - 1e-6
    assert np.all(p.flex_up_kw[:-1][full] <= 3.0 - p.thermal_kw[:-1][full] + 1e-9)


def test_operation_tracks_the_building_and_a_replan_keeps_it_in_the_band():
    # Actual base load 20 % above the forecast; re-plans every 4 h restart from the actual
    # stored heat; the heat pump's power, hence the building, follows the plans.
    inp = _winter_home(1.0)
    ref = inp.thermal.reference_kw
    p = plan_day(inp, flexibility=False)
    r = operate_day(inp, p, np.full(96, 0.36), np.zeros(96), replan_every_steps=16)
    assert r.replans == 5 and not r.notes
    e = np.r_[p.thermal_state_kwh[0], r.thermal_state_kwh]
    np.testing.assert_allclose(e, inp.thermal.state_kwh(r.thermal_kw, ref, 0.25,
                                                        initial_kwh=e[0]), atol=1e-9)
    lo, hi = inp.thermal.band_kwh()
    assert e.min() >= lo - 1e-6 and e.max() <= hi + 1e-6
    assert abs(e[-1] - e[0]) < 1e-6  # back where the day started
    assert r.thermal_kw.sum() * 0.25 >= inp.thermal.energy_kwh - 1e-6


def test_store_inputs_are_checked():
    bad = ThermalStore(0.0, -1.0, 2.5, 0.0, 1.0)
    inp = hourly(0.0, [0.2] * 4, thermal=ThermalLoad(2.0, 4.0, np.ones(4), bad, 0.0))
    p = plan_day(inp)
    assert p.fallback and p.status == "invalid_input"
    assert "thermal store capacity_kwh_per_k 0.0 invalid" in p.reason
    assert "thermal store loss_kw_per_k -1.0 invalid" in p.reason
    outside = ThermalLoad(2.0, 4.0, np.ones(4), HALF, initial_kwh=2.0)
    p = plan_day(hourly(0.0, [0.2] * 4, thermal=outside))
    assert p.status == "invalid_input"
    assert "thermal store starts at 2.000 kWh, outside its comfort band [0.000, 1.000]" in p.reason
    wrong = ThermalLoad(2.0, 5.0, np.ones(4), HALF)
    assert "thermal energy_kwh 5.000 is not its reference's 4.000 kWh" in " ".join(
        hourly(0.0, [0.2] * 4, thermal=wrong).problems())
