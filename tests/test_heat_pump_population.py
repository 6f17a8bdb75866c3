"""The building each heat pump heats: drawn from the seed, sized to the heat pump, in the run."""

from __future__ import annotations

import numpy as np
import pytest

from sims.homes.fleet import HomeFleet
from sims.homes.population import draw_homes, heat_pump_building, home_series
from testbed.params import homes_config
from testbed.scenario import ScenarioError, parse_scenario

from .conftest import small_scenario_text


@pytest.fixture(scope="module")
def scenario():
    return parse_scenario(small_scenario_text(n_homes=40).replace('control = "none"',
                                                                  'control = "cems"'), "s.toml")


def _draw(s, n=40):
    return draw_homes(s, [f"H{i:03d}" for i in range(1, n + 1)], list(range(n)))


def test_buildings_are_drawn_per_home_and_sized_to_the_heat_pump(scenario):
    homes = _draw(scenario)
    hps = [h for h in homes if h.heat_pump]
    assert len(hps) == 20 and _draw(scenario) == homes  # reproducible
    for h in hps:
        hp = h.heat_pump
        ground = hp.profile.startswith("Soil")
        lo, hi = (2.6, 3.4) if ground else (2.2, 3.0)
        assert lo <= hp.cop <= hi
        # MCS sizing: rated_kw * COP covers H * 24 K; C = tau * H with tau in 10-50 h
        assert hp.heat_loss_kw_per_k == pytest.approx(hp.rated_kw * hp.cop / 24.0)
        tau = hp.capacity_kwh_per_k / hp.heat_loss_kw_per_k
        assert 10.0 <= tau <= 50.0
        assert hp.comfort_band_k == {"flexible": 2.0, "moderate": 1.0,
                                     "comfort_first": 0.5}[h.category]
    assert len({h.heat_pump.capacity_kwh_per_k for h in hps}) == 20  # one draw per home


def test_building_by_hand(scenario):
    # 3 kW ground-source heat pump, COP draw at 0.25 of [2.6, 3.4] -> 2.8; H = 3 * 2.8 / 24
    # = 0.35 kW/K; tau 20 h -> C = 7 kWh/K; a "moderate" home may pre-heat by 1 K.
    b = heat_pump_building(scenario, 3.0, "Soil_Alternative_1", "moderate", cop_u=0.25,
                           tau_h=20.0)
    assert b == pytest.approx({"cop": 2.8, "heat_loss_kw_per_k": 0.35,
                               "capacity_kwh_per_k": 7.0, "comfort_band_k": 1.0})


def test_the_new_draws_leave_every_other_draw_unchanged(scenario):
    # The building's draws come last in each home's stream: other ranges give other
    # buildings and the same everything else.
    other = parse_scenario(scenario.text.replace("building_time_constant_h = [10.0, 50.0]",
                                                 "building_time_constant_h = [5.0, 8.0]"), "o.toml")
    a, b = _draw(scenario), _draw(other)
    for x, y in zip(a, b, strict=True):
        assert (x.annual_kwh, x.pv_kwp, x.category, x.extra) == (y.annual_kwh, y.pv_kwp,
                                                                  y.category, y.extra)
        if x.heat_pump:
            assert (x.heat_pump.rated_kw, x.heat_pump.profile, x.heat_pump.cop) == (
                y.heat_pump.rated_kw, y.heat_pump.profile, y.heat_pump.cop)
            assert x.heat_pump.capacity_kwh_per_k != y.heat_pump.capacity_kwh_per_k


def test_a_cems_home_plans_its_heat_pump_in_its_building(scenario):
    homes = _draw(scenario)
    cfg = homes_config(scenario)
    fleet = HomeFleet(cfg, homes, home_series(cfg, homes))
    inputs = fleet.cems_inputs(0)
    with_hp = [i for i, inp in inputs.items() if inp.thermal is not None]
    assert with_hp
    for i in with_hp:
        th, hp = inputs[i].thermal, homes[i].heat_pump
        assert th.store.capacity_kwh_per_k == hp.capacity_kwh_per_k
        assert th.store.band_kwh() == (0.0, hp.capacity_kwh_per_k * hp.comfort_band_k)
        assert th.initial_kwh is None  # the first day: the plan chooses (a periodic day)
        np.testing.assert_array_equal(th.reference_kw, fleet.series.hp_kw[:96, i])
    fleet.plan(0)
    for k in range(96):  # operate the day: the state carries into the next day's input
        fleet.step(k)
    i = with_hp[0]
    assert fleet.thermal_state_of(i) == pytest.approx(
        fleet.day_plans.plans[i].thermal_state_kwh[-1], abs=1e-9)


@pytest.mark.parametrize(("line", "new", "message"), [
    ("heat_pump_cop_air = [2.2, 3.0]", "heat_pump_cop_air = [0.5, 3.0]",
     "s.toml: devices.heat_pump_cop_air: must satisfy 1.0 <= min <= max (got [0.5, 3.0])"),
    ("building_time_constant_h = [10.0, 50.0]", "building_time_constant_h = [0, 50.0]",
     "s.toml: devices.building_time_constant_h: must satisfy 0 < min <= max (got [0.0, 50.0])"),
    ("heat_pump_design_delta_k = 24.0", "heat_pump_design_delta_k = -3",
     "s.toml: devices.heat_pump_design_delta_k: must be > 0.0 (got -3)"),
    ("comfort_band_k = { flexible = 2.0, moderate = 1.0, comfort_first = 0.5 }",
     "comfort_band_k = { flexible = 2.0, moderate = 1.0 }",
     "s.toml: homes.comfort_band_k: must be a table of 0 <= K <= 10 for each of flexible, "
     "moderate, comfort_first (got {'flexible': 2.0, 'moderate': 1.0})"),
])
def test_building_fields_are_validated(scenario, line, new, message):
    assert line in scenario.text
    with pytest.raises(ScenarioError) as e:
        parse_scenario(scenario.text.replace(line, new), "s.toml")
    assert str(e.value) == message
