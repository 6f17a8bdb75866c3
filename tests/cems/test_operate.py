"""Operation under forecast error, and the rolling re-plan."""

from __future__ import annotations

import numpy as np
import pytest

from sims.homes.cems import ApplianceCycle, EvSession, ThermalLoad, plan_day
from sims.homes.cems.operate import Operator, operate_day
from sims.homes.cems.synthetic import random_homes
from tests.cems.conftest import Battery, ElectricVehicle, home, hourly


@pytest.mark.parametrize("buildings", [False, True])
def test_perfect_forecast_follows_the_plan_exactly(buildings):
    for inp in random_homes(6, seed=21, buildings=buildings):
        p = plan_day(inp, flexibility=False)
        r = operate_day(inp, p, inp.base_kw, inp.pv_kw)
        np.testing.assert_allclose(r.net_kw, p.net_kw, atol=1e-6)
        assert r.bill_eur == pytest.approx(p.bill_eur, abs=1e-6)
        assert np.all(r.deviation_kw == pytest.approx(0.0, abs=1e-6))


def test_battery_absorbs_forecast_error_within_its_limits():
    # Flat 0.2 EUR/kWh, base forecast 1 kW: the plan leaves the battery idle (SoC 0.5 of
    # 10 kWh, 2 kW, round trip 0.81). Actual base: 1.5 kW in hour 1 (battery gives 0.5 kW,
    # SoC falls by 0.5 / 0.9 = 0.5556 kWh), 5 kW in hour 2 (battery gives its 2 kW, the grid
    # the other 2 kW: net 3 kW, 2 kW above plan).
    bat = Battery(10.0, 2.0, 0.81, 0.1, 0.9, 0.5)
    inp = hourly(1.0, [0.2] * 4, export=0.05, battery=bat)
    p = plan_day(inp)
    r = operate_day(inp, p, np.array([1.0, 1.5, 5.0, 1.0]), np.zeros(4))
    np.testing.assert_allclose(r.battery_kw, [0.0, -0.5, -2.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(r.net_kw, [1.0, 1.0, 3.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(r.deviation_kw, [0.0, 0.0, 2.0, 0.0], atol=1e-9)
    assert r.soc[1] == pytest.approx(0.5 - 0.5 / 0.9 / 10)
    assert r.soc[2] == pytest.approx(0.5 - 2.5 / 0.9 / 10)


def test_battery_never_leaves_its_soc_limits():
    # SoC 0.15 of 10 kWh with soc_min 0.1: only 0.5 kWh above the floor, 0.45 kWh deliverable.
    bat = Battery(10.0, 2.0, 0.81, 0.1, 0.9, 0.15)
    inp = hourly(1.0, [0.2] * 4, battery=bat)
    r = operate_day(inp, plan_day(inp), np.full(4, 3.0), np.zeros(4))
    assert r.soc.min() >= 0.1 - 1e-12
    assert -r.battery_kw.sum() == pytest.approx(0.45)


def test_without_battery_the_grid_takes_the_error_and_export_is_capped():
    # No battery: net = plan + (actual base - forecast) - (actual PV - forecast). PV of 30 kW
    # against a 23 kW export limit and 1 kW base: 6 kW curtailed.
    inp = hourly(1.0, [0.2] * 3, export=0.05, pv=[0.0, 2.0, 2.0])
    p = plan_day(inp)
    r = operate_day(inp, p, np.array([1.2, 1.0, 1.0]), np.array([0.0, 1.0, 30.0]))
    np.testing.assert_allclose(r.net_kw, [1.2, 0.0, -23.0], atol=1e-9)
    np.testing.assert_allclose(r.curtail_kw, [0.0, 0.0, 6.0], atol=1e-9)


def test_import_above_the_limit_is_recorded_not_hidden():
    inp = hourly(1.0, [0.2] * 2, max_import_kw=3.0)
    r = operate_day(inp, plan_day(inp), np.array([1.0, 4.5]), np.zeros(2))
    np.testing.assert_allclose(r.import_excess_kw, [0.0, 1.5])


def test_rolling_replan_keeps_every_commitment():
    # 24 one-hour steps with a battery, an EV, a cycle and a thermal load; actual base load is
    # 30 % above the forecast. Re-planning every 4 hours must still deliver the EV and thermal
    # energy and run the cycle once. The battery absorbs the errors; each re-plan steers it back
    # towards its end-of-day SoC, so only the error after the last re-plan (hour 20) is left:
    # at most 4 h * 0.24 kW = 0.96 kWh, i.e. 0.96 / 0.9 / 7 = 0.152 of SoC.
    n = 24
    prices = np.r_[[0.1] * 7, [0.25] * 9, [0.35] * 3, [0.25] * 5]
    inp = hourly(
        0.8,
        prices,
        export=0.05,
        battery=Battery(7.0, 3.0, 0.9, 0.1, 0.9, 0.5),
        ev=ElectricVehicle(7.4, "EV"),
        ev_sessions=(EvSession(0, 7, 12.0),),
        appliances=(ApplianceCycle("washing_machine", (2.0, 0.5), 6, 23, 18),),
        thermal=ThermalLoad(3.0, 6.0),
    )
    p = plan_day(inp)
    actual = np.full(n, 0.8 * 1.3)
    r = operate_day(inp, p, actual, np.zeros(n), replan_every_steps=4)
    assert r.replans == 5 and not r.notes
    assert r.ev_kw[:7].sum() == pytest.approx(12.0, abs=1e-6)
    assert r.thermal_kw.sum() == pytest.approx(6.0, abs=1e-6)
    assert r.appliance_kw.sum() == pytest.approx(2.5, abs=1e-9)
    assert np.count_nonzero(r.appliance_kw) == 2
    assert abs(r.soc[-1] - 0.5) <= 0.96 / 0.9 / 7 + 1e-9
    r0 = operate_day(inp, p, actual, np.zeros(n))
    assert abs(r.soc[-1] - 0.5) < abs(r0.soc[-1] - 0.5)


def test_operator_step_by_step_matches_operate_day():
    inp = random_homes(1, seed=4)[0]
    p = plan_day(inp, flexibility=False)
    op = Operator(inp, p)
    nets = [op.step(b, v).net_kw for b, v in zip(inp.base_kw * 1.1, inp.pv_kw, strict=True)]
    r = operate_day(inp, p, inp.base_kw * 1.1, inp.pv_kw)
    np.testing.assert_allclose(nets, r.net_kw)
    with pytest.raises(IndexError):
        op.step(0.0, 0.0)


def test_v2g_is_off_by_default_and_used_when_allowed():
    # Evening peak 0.40 in hours 4-5, night 0.10 otherwise, base 3 kW. EV plugged all day,
    # needs 2 kWh; with V2G it may lend 4 kWh: it charges extra at 0.10 and feeds the home
    # during the peak (efficiency 0.9), lowering the bill; without V2G it never discharges.
    prices = [0.10] * 4 + [0.40] * 2 + [0.10] * 2
    sess = (EvSession(0, 8, 2.0, v2g_reserve_kwh=4.0),)
    no = plan_day(hourly(3.0, prices, ev=ElectricVehicle(7.4, "EV"), ev_sessions=sess))
    yes = plan_day(
        hourly(3.0, prices, home=home(ev=ElectricVehicle(7.4, "EV", v2g=True)), ev_sessions=sess)
    )
    assert no.ev_kw.min() >= 0.0
    assert yes.ev_kw[4:6].min() < 0.0
    assert yes.bill_eur < no.bill_eur
    assert yes.ev_kw.clip(0).sum() - (-yes.ev_kw.clip(None, 0)).sum() / 0.9 == pytest.approx(2.0)


def test_a_fallback_plan_can_be_operated():
    # The EV cannot get 40 kWh in 2 h: the fallback (uncontrolled) plan is followed instead,
    # its battery self-consuming. The re-plan at step 2 fails (the EV is still due) and is
    # noted, not raised; the one at step 4 (EV gone) succeeds and brings the battery back
    # towards its starting SoC.
    bat = Battery(5.0, 2.5, 0.9, 0.1, 0.9, 0.5)
    inp = hourly(
        1.0, [0.2] * 6, battery=bat, ev=ElectricVehicle(3.7, "EV"),
        ev_sessions=(EvSession(2, 4, 40.0),),
    )  # fmt: skip
    p = plan_day(inp)
    assert p.fallback
    r = operate_day(inp, p, np.full(6, 1.0), np.zeros(6), replan_every_steps=2)
    np.testing.assert_allclose(r.net_kw[:4], p.net_kw[:4], atol=1e-9)
    assert r.replans == 1 and len(r.notes) == 1 and r.notes[0].startswith("step 2: re-plan failed")
    assert r.soc[-1] == pytest.approx(0.5, abs=1e-6)
