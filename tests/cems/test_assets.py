"""Input helpers: sessions and energies from uncontrolled profiles, category windows, pool."""

from __future__ import annotations

import numpy as np
import pytest

from sims.homes.cems import (
    CATEGORIES,
    EvSession,
    appliance_for_category,
    ev_sessions_from_profile,
    plan_day,
    plan_days,
    thermal_from_profile,
)
from sims.homes.cems.synthetic import random_homes
from testbed.errors import InfeasibleSchedule
from tests.cems.conftest import ElectricVehicle, hourly


def test_ev_sessions_from_profile_splits_merges_and_extends():
    # 15-min steps: charging 00:00-01:00 at 3.7 kW (the end of last night's session),
    # then 18:00-19:00 and 19:30-20:30 at 11 kW (a 30 min pause is merged, gap <= 1 h).
    p = np.zeros(96)
    p[0:4] = 3.7
    p[72:76] = 11.0
    p[78:82] = 11.0
    s = ev_sessions_from_profile(p, 0.25, plug_extension_h=2.0)
    # first: arrival 0, departure 4 + 8 = 12, 3.7 kWh; second: arrival 72, departure
    # min(82 + 8, 96) = 90, energy 11 * 2 h = 22 kWh
    assert s == (EvSession(0, 12, pytest.approx(3.7)), EvSession(72, 90, pytest.approx(22.0)))
    assert ev_sessions_from_profile(np.zeros(96)) == ()


def test_extension_is_capped_by_the_next_session():
    p = np.zeros(24)
    p[2] = p[8] = 3.0
    s = ev_sessions_from_profile(p, 1.0, plug_extension_h=10.0, merge_gap_h=1.0)
    assert [(x.arrival, x.departure) for x in s] == [(2, 8), (8, 19)]


def test_thermal_from_profile_keeps_daily_energy():
    ref = np.r_[np.zeros(24), np.full(8, 2.5), np.zeros(64)]  # 2 h at 2.5 kW = 5 kWh
    th = thermal_from_profile(ref, rated_kw=3.0, step_h=0.25)
    assert th.energy_kwh == pytest.approx(5.0) and th.rated_kw == 3.0
    assert thermal_from_profile(ref).rated_kw == 2.5


def test_category_sets_the_shifting_window():
    prof = (2.0, 0.5, 0.5, 0.5)
    a = appliance_for_category("wm", prof, 40, CATEGORIES["moderate"])  # -2 h, +6 h
    assert (a.earliest_start, a.latest_end, a.preferred_start) == (32, 68, 40)
    b = appliance_for_category("wm", prof, 94, CATEGORIES["comfort_first"])
    assert (b.earliest_start, b.latest_end, b.preferred_start) == (92, 96, 92)


def test_no_fallback_allowed_raises_typed_error():
    inp = hourly(1.0, [0.2] * 4, ev=ElectricVehicle(3.7, "EV"), ev_sessions=(EvSession(0, 1, 9.0),))
    with pytest.raises(InfeasibleSchedule, match="EV session 0 needs 9.00 kWh"):
        plan_day(inp, allow_fallback=False)


def test_random_homes_are_reproducible():
    a, b = random_homes(5, seed=9), random_homes(5, seed=9)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.base_kw, y.base_kw)
        assert x.appliances == y.appliances and x.home == y.home


@pytest.mark.parametrize("buildings", [False, True])
def test_pool_gives_the_serial_plans(buildings):
    homes = random_homes(8, seed=13, buildings=buildings)
    serial = plan_days(homes, workers=1)
    pooled = plan_days(homes, workers=2)
    for s, p in zip(serial, pooled, strict=True):
        assert p.home_id == s.home_id and not p.fallback
        # bit for bit: a plan depends only on its home, not on the process or the order
        assert np.array_equal(p.net_kw, s.net_kw) and np.array_equal(p.soc, s.soc, equal_nan=True)


def test_plan_days_passes_bands_and_signals_per_home():
    from sims.homes.cems import Band

    # same home three times: free, with a band capping hour 2 at 0 kW (battery covers it),
    # and with a price signal; flat 0.2 EUR/kWh, base 2 kW, battery 10 kWh / 2 kW.
    from tests.cems.conftest import Battery

    inp = hourly(2.0, [0.2] * 4, battery=Battery(10.0, 2.0, 0.81, 0.0, 1.0, 0.5))
    band = Band(np.full(4, -np.inf), np.array([np.inf, np.inf, 0.0, np.inf]))
    sig = np.array([0.0, 0.0, 1.0, 0.0])
    free, banded, signalled = plan_days(
        [inp] * 3, workers=1, bands=[None, band, None], price_signals=[None, None, sig]
    )
    assert free.net_kw[2] == pytest.approx(2.0)
    assert banded.net_kw[2] == pytest.approx(0.0, abs=1e-6)
    assert signalled.net_kw[2] == pytest.approx(0.0, abs=1e-6)  # 1 EUR/kWh: battery covers


def test_tariff_from_scenario_periods():
    from sims.homes.cems import tariff_from_periods

    periods = [
        {"start": "00:00", "end": "07:00", "import_eur_per_kwh": 0.12},
        {"start": "07:00", "end": "16:00", "import_eur_per_kwh": 0.28},
        {"start": "16:00", "end": "19:00", "import_eur_per_kwh": 0.42},
        {"start": "19:00", "end": "24:00", "import_eur_per_kwh": 0.28},
    ]
    t = tariff_from_periods(periods, 0.06)
    imp, exp = t.prices(96)
    assert imp[27] == 0.12 and imp[28] == 0.28 and imp[64] == 0.42 and imp[76] == 0.28
    assert np.all(exp == 0.06)
    # 1 kW all day: 7 h * 0.12 + (9 + 5) h * 0.28 + 3 h * 0.42 = 0.84 + 3.92 + 1.26 = 6.02 EUR
    assert t.bill_eur(np.ones(96), 0.25) == pytest.approx(6.02)
    with pytest.raises(ValueError, match="no period covers step 28"):
        tariff_from_periods(periods[:1] + periods[2:], 0.06)


def test_time_limit_is_per_solve_not_cumulative():
    # HiGHS measures its time limit against the run time of all runs of an instance: without
    # re-arming it before each solve, a worker fails every home once it has solved for
    # time_limit_s in total. Here 0.2 s per solve, and well over 0.2 s in total.
    from sims.homes.cems.formulation import DayModel
    from sims.homes.cems.plan import model_data

    model = DayModel(96, 0.25, 3, 12, time_limit_s=0.2)
    homes = [h for h in random_homes(60, seed=8)][:40]
    for _ in range(5):
        for h in homes:
            d = model_data(h, None, None, 3, 12, list(range(len(h.appliances))))
            raw = model.solve(d)
            assert raw.ok and raw.status == "optimal", (h.home.home_id, raw.status)
        if model.highs.getRunTime() > 0.6:
            break
    assert model.highs.getRunTime() > 0.2
