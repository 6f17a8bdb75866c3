"""Homes drawn from the seed: reproducible, exact shares, profiles mapped as documented."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sims.homes import profile_data
from sims.homes.population import draw_homes, home_series, run_timestamps
from testbed.scenario import parse_scenario

from .conftest import small_scenario_text


@pytest.fixture(scope="module")
def scenario():
    return parse_scenario(small_scenario_text(n_homes=40), "small.toml")


def _draw(s, n=40):
    return draw_homes(s, [f"H{i:03d}" for i in range(1, n + 1)], list(range(n)))


def test_same_seed_same_homes_and_exact_shares(scenario):
    a, b = _draw(scenario), _draw(scenario)
    assert a == b and [h.extra for h in a] == [h.extra for h in b]
    # penetrations pv 0.4, battery 0.2, ev 0.5, heat_pump 0.5, cems 0.5 of 40 homes
    assert sum(h.pv_kwp > 0 for h in a) == 16
    assert sum(h.battery is not None for h in a) == 8
    assert all(h.pv_kwp > 0 for h in a if h.battery)
    assert sum(h.ev is not None for h in a) == 20
    assert sum(h.heat_pump is not None for h in a) == 20
    assert sum(h.cems for h in a) == 20
    assert all(2.5 <= h.pv_kwp <= 5.0 for h in a if h.pv_kwp)


def test_other_seed_other_homes_and_penetration_does_not_reshuffle_sizes(scenario):
    other = scenario.with_overrides(seed=43)
    assert [h.annual_kwh for h in _draw(other)] != [h.annual_kwh for h in _draw(scenario)]
    more_ev = scenario.with_overrides(penetration={**scenario.penetration, "ev": 0.9})
    assert [h.annual_kwh for h in _draw(more_ev)] == [h.annual_kwh for h in _draw(scenario)]


def test_profile_day_keeps_the_weekday():
    for date in (dt.date(2016, 1, 20), dt.date(2023, 6, 1), dt.date(2025, 12, 31),
                 dt.date(2024, 2, 29), dt.date(2021, 1, 1)):
        day = dt.date(2016, 1, 1) + dt.timedelta(days=profile_data.profile_day(date))
        assert day.weekday() == date.weekday()
        assert day.year == 2016
        assert abs((day - date.replace(year=2016, day=min(date.day, 28))).days) <= 30


def test_series_are_the_profiles_scaled_as_documented(scenario):
    homes = _draw(scenario)
    series = home_series(scenario, homes)
    ts = run_timestamps(scenario)
    assert series.base_kw.shape == (96, 40)
    h = next(i for i, x in enumerate(homes) if x.ev and x.pv_kwp and x.heat_pump)
    spec = homes[h]
    data = profile_data.load_columns([spec.base_profile, spec.ev.profile,
                                      spec.heat_pump.profile, profile_data.PV_PROFILE])
    rows = profile_data.profile_rows(ts, spec.extra["base_day_offset"],
                                     spec.extra["base_step_offset"])
    annual_h = data[spec.base_profile].sum() * 0.25
    np.testing.assert_allclose(series.base_kw[:, h], data[spec.base_profile].to_numpy()[rows]
                               * spec.annual_kwh / annual_h, rtol=1e-12)
    pv_rows = profile_data.profile_rows(ts)
    np.testing.assert_allclose(series.pv_kw[:, h], data["PV3"].to_numpy()[pv_rows]
                               * spec.pv_kwp * spec.extra["pv_factor"], rtol=1e-12)
    assert series.ev_kw[:, h].max() <= spec.ev.charger_kw + 1e-9
    assert series.hp_kw[:, h].max() <= spec.heat_pump.rated_kw + 1e-9
    no_pv = [i for i, x in enumerate(homes) if not x.pv_kwp]
    assert (series.pv_kw[:, no_pv] == 0).all()


def test_hourly_steps_average_the_quarter_hours(scenario):
    hourly = scenario.with_overrides(step_s=3600)
    homes = _draw(hourly)
    fine = home_series(scenario, homes).base_kw
    coarse = home_series(hourly, homes).base_kw
    np.testing.assert_allclose(coarse, fine.reshape(24, 4, -1).mean(axis=1), rtol=1e-12)
