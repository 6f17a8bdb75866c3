"""Plans whose optimum is computed by hand (in each test's comments)."""

from __future__ import annotations

import numpy as np
import pytest

from sims.homes.cems import ApplianceCycle, EvSession, ThermalLoad, plan_day, uncontrolled_schedule
from sims.homes.cems.assets import ev_sessions_from_profile, tou_tariff
from tests.cems.conftest import Battery, ElectricVehicle, home, hourly


def test_battery_arbitrage_two_prices():
    # 4 one-hour steps, base 2 kW, import 0.10 | 0.10 | 0.30 | 0.30 EUR/kWh, export 0.
    # Battery 10 kWh, 2 kW, round trip 0.81 (0.9 each way), SoC 0..1, starts and ends at 5 kWh.
    # Buying at 0.10 to serve at 0.30 pays (0.10 / 0.81 = 0.123 < 0.30), so charge at full
    # power in both cheap hours: 2 kW * 2 h = 4 kWh from the grid, 3.6 kWh stored, and
    # 3.6 * 0.9 = 3.24 kWh delivered in the dear hours (within 2 kW * 2 h = 4 kWh of load).
    # Bill: 0.10 * (2 + 2) * 2 h = 0.80 plus 0.30 * (4 - 3.24) = 0.228 -> 1.028 EUR
    # (uncontrolled: 0.10 * 4 + 0.30 * 4 = 1.60 EUR).
    bat = Battery(10.0, 2.0, 0.81, 0.0, 1.0, 0.5)
    inp = hourly(2.0, [0.10, 0.10, 0.30, 0.30], battery=bat)
    p = plan_day(inp)
    assert not p.fallback and p.status == "optimal"
    np.testing.assert_allclose(p.battery_kw[:2], [2.0, 2.0], atol=1e-6)
    assert -p.battery_kw[2:].sum() == pytest.approx(3.24, abs=1e-6)
    np.testing.assert_allclose(p.net_kw[:2], [4.0, 4.0], atol=1e-6)
    assert p.bill_eur == pytest.approx(1.028, abs=1e-6)
    assert p.soc[0] == pytest.approx(0.5) and p.soc[-1] == pytest.approx(0.5)
    assert p.soc.max() == pytest.approx(0.86, abs=1e-6)  # 5 + 3.6 = 8.6 kWh


def _appliance_prices() -> list[float]:
    prices = [0.30] * 24
    prices[2] = prices[3] = 0.15
    prices[13] = prices[14] = 0.10
    prices[15] = 0.12
    return prices


@pytest.mark.parametrize(
    ("window", "start", "bill"),
    [
        # cycle (1 kW, 2 kW) over two hours; cost of a start k = p[k] * 1 + p[k+1] * 2:
        # k=13: 0.10 + 0.20 = 0.30 (cheapest); k=14: 0.10 + 0.24 = 0.34; k=2: 0.15 + 0.30 = 0.45
        ((0, 24), 13, 0.30),
        # must end by hour 14: last start 12 (0.30 + 0.20 = 0.50), so k=2 at 0.45 wins
        ((0, 14), 2, 0.45),
        # window 16..24 is flat at 0.30: stays at its preferred start 18, 0.90 EUR
        ((16, 24), 18, 0.90),
    ],
)
def test_appliance_cycle_lands_in_cheapest_window_that_fits(window, start, bill):
    cyc = ApplianceCycle("washing_machine", (1.0, 2.0), window[0], window[1], 18)
    p = plan_day(hourly(0.0, _appliance_prices(), appliances=(cyc,), category="moderate"))
    assert not p.fallback
    assert p.appliance_starts == [start]
    expected = np.zeros(24)
    expected[start : start + 2] = [1.0, 2.0]
    np.testing.assert_allclose(p.appliance_kw, expected, atol=1e-9)
    assert p.bill_eur == pytest.approx(bill, abs=1e-9)


def test_max_import_never_exceeded():
    # 24 one-hour steps, base 2 kW; import 0.10 in hours 0-2, 0.30 otherwise.
    # EV 11 kW plugged hours 0-5, needs 30 kWh. Unlimited it would draw 11, 11, 8 kW in the
    # cheap hours (net 13 kW). With max import 8 kW the EV gets 6 kW in hours 0-2 (18 kWh)
    # and the last 12 kWh at 0.30 in hours 3-5.
    # Bill: base 3 * 2 * 0.10 + 21 * 2 * 0.30 = 0.60 + 12.60; EV 18 * 0.10 + 12 * 0.30 = 5.40
    # -> 18.60 EUR.
    prices = [0.10] * 3 + [0.30] * 21
    ev = ElectricVehicle(11.0, "EV")
    sess = (EvSession(0, 6, 30.0),)
    free = plan_day(hourly(2.0, prices, ev=ev, ev_sessions=sess))
    assert free.net_kw.max() == pytest.approx(13.0, abs=1e-6)  # the limit matters below
    capped = plan_day(hourly(2.0, prices, ev=ev, ev_sessions=sess, max_import_kw=8.0))
    assert not capped.fallback
    assert capped.net_kw.max() <= 8.0 + 1e-9
    np.testing.assert_allclose(capped.ev_kw[:3], [6.0, 6.0, 6.0], atol=1e-6)
    assert capped.ev_kw.sum() == pytest.approx(30.0, abs=1e-6)
    assert capped.bill_eur == pytest.approx(18.60, abs=1e-6)


def test_ev_reaches_energy_by_departure_from_uncontrolled_profile():
    # Uncontrolled charging: 7.4 kW from 18:00 to 20:00 (steps 72-79) = 14.8 kWh. With an
    # 8 h plug extension the session runs to the end of the day (step 96). The ToU peak is
    # 16-19 h at 0.35, the evening after 19 h at 0.25: all 14.8 kWh move to >= 19:00 and the
    # bill is 14.8 * 0.25 = 3.70 EUR (uncontrolled: 7.4 kWh at 0.35 + 7.4 at 0.25 = 4.44).
    n = 96
    prof = np.zeros(n)
    prof[72:80] = 7.4
    sessions = ev_sessions_from_profile(prof, 0.25, plug_extension_h=8.0)
    assert sessions == (EvSession(72, 96, pytest.approx(14.8)),)
    from sims.homes.cems import CATEGORIES, CemsInput

    inp = CemsInput(
        home=home(ev=ElectricVehicle(7.4, "EV")),
        base_kw=np.zeros(n),
        pv_kw=np.zeros(n),
        tariff=tou_tariff(n),
        step_h=0.25,
        ev_sessions=sessions,
        category=CATEGORIES["flexible"],
        ev_reference_kw=prof,
    )
    p = plan_day(inp)
    assert not p.fallback
    assert p.ev_kw.sum() * 0.25 == pytest.approx(14.8, abs=1e-6)
    assert np.all(p.ev_kw[:72] == 0.0)
    assert np.all(p.ev_kw[72:76] <= 1e-9)  # 18:00-19:00 is peak
    assert p.ev_kw.max() <= 7.4 + 1e-9
    assert p.bill_eur == pytest.approx(3.70, abs=1e-6)
    assert inp.tariff.bill_eur(uncontrolled_schedule(inp)["net_kw"], 0.25) == pytest.approx(4.44)


def test_two_ev_sessions_each_get_their_own_energy():
    # Sessions hours 0-4 (needs 4 kWh) and 10-14 (needs 6 kWh), 3 kW charger. The first
    # window is cheap (0.10) and the second dear (0.30), yet the first may not charge the
    # second trip's energy: 4 kWh at 0.10 + 6 kWh at 0.30 = 2.20 EUR.
    prices = [0.10] * 5 + [0.30] * 19
    sess = (EvSession(0, 5, 4.0), EvSession(10, 15, 6.0))
    p = plan_day(hourly(0.0, prices, ev=ElectricVehicle(3.0, "EV"), ev_sessions=sess))
    assert p.ev_kw[0:5].sum() == pytest.approx(4.0, abs=1e-6)
    assert p.ev_kw[10:15].sum() == pytest.approx(6.0, abs=1e-6)
    assert p.ev_kw[5:10].sum() == 0.0 and p.ev_kw[15:].sum() == 0.0
    assert p.bill_eur == pytest.approx(2.20, abs=1e-6)


@pytest.mark.parametrize("category", ["moderate", "comfort_first"])
def test_flat_tariff_without_pv_moves_nothing(category):
    # Flat price: every schedule of EV, cycles and thermal load costs the same, and the
    # battery only loses energy by cycling. The willingness (discomfort) term breaks the tie
    # towards the uncontrolled schedule, so the plan is exactly the uncontrolled one.
    # (The "flexible" category's 1e-4 EUR/kWh is below the MIP gap on a 10 EUR bill, so there
    # the tie-break is not guaranteed: moving is free, and the bill is the same either way.)
    n = 24
    bat = Battery(7.0, 3.0, 0.9, 0.1, 0.9, 0.4)
    inp = hourly(
        np.linspace(0.3, 1.5, n),
        [0.25] * n,
        export=0.05,
        battery=bat,
        ev=ElectricVehicle(7.4, "EV"),
        ev_sessions=(EvSession(17, 24, 10.0),),
        appliances=(ApplianceCycle("dishwasher", (2.0, 0.2, 2.0), 5, 23, 19),),
        thermal=ThermalLoad(3.0, 5.0, np.r_[np.zeros(6), [3.0, 2.0], np.zeros(n - 8)]),
        category=category,
    )
    p = plan_day(inp)
    u = uncontrolled_schedule(inp, battery_mode="idle")
    assert not p.fallback
    np.testing.assert_allclose(p.battery_kw, 0.0, atol=1e-9)
    np.testing.assert_allclose(p.net_kw, u["net_kw"], atol=1e-6)
    np.testing.assert_allclose(p.ev_kw, u["ev_kw"], atol=1e-6)
    np.testing.assert_allclose(p.thermal_kw, u["thermal_kw"], atol=1e-6)
    assert p.appliance_starts == [19]
    # uncontrolled bill by hand: sum(base) = 24 * 0.9 = 21.6, EV 10, cycle 4.2, thermal 5
    assert p.bill_eur == pytest.approx(0.25 * (21.6 + 10.0 + 4.2 + 5.0), abs=1e-6)


def test_pv_surplus_is_stored_and_self_consumed():
    # 4 one-hour steps: base 1 kW; PV 3, 3, 0, 0 kW; import 0.30, export 0.05.
    # Battery 10 kWh, 2 kW, round trip 0.81, starts at 0.5 (5 kWh), must end there.
    # Surplus 2 kW in hours 0-1: storing it (2 * 2 * 0.9 = 3.6 kWh) and delivering 3.24 kWh
    # later (0.30 each) beats exporting (0.05): revenue lost 4 * 0.05 = 0.20, import saved
    # 3.24 * 0.30 = 0.972. Bill: imports 2 - 3.24 ... hours 2-3 need 2 kWh only: so only
    # 2 / 0.9 / 0.9 = 2.469 kWh of surplus is stored, the rest (1.531 kWh) exported.
    # Bill = -0.05 * (4 - 2.469136) = -0.0765432 EUR.
    bat = Battery(10.0, 2.0, 0.81, 0.0, 1.0, 0.5)
    p = plan_day(hourly(1.0, [0.30] * 4, export=0.05, pv=[3.0, 3.0, 0.0, 0.0], battery=bat))
    np.testing.assert_allclose(p.net_kw[2:], 0.0, atol=1e-6)
    assert p.battery_kw[:2].sum() == pytest.approx(2 / 0.81, abs=1e-6)
    assert p.bill_eur == pytest.approx(-0.05 * (4 - 2 / 0.81), abs=1e-6)
