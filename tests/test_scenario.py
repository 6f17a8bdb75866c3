"""Scenario validation: each bad field gives its one-line error naming file, field and value."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from testbed.errors import ScenarioError
from testbed.scenario import (
    DEFAULT_SCENARIO,
    load_scenario,
    parse_scenario,
    scenario_as_run_text,
)

TEXT = DEFAULT_SCENARIO.read_text()


def test_default_scenario_is_valid():
    s = load_scenario(DEFAULT_SCENARIO)
    assert (s.n_homes, s.step_s, s.days, s.control) == (184, 900, 1, "none")
    assert (s.vm_min_pu, s.vm_max_pu, s.max_loading_percent) == (0.94, 1.10, 100.0)
    assert s.start == dt.date(2016, 1, 20)
    assert s.tariff.import_price(17 * 60) == 0.42 and s.tariff.import_price(0) == 0.12
    assert s.steps_per_day == 96


def _bad(old: str, new: str) -> str:
    assert old in TEXT, old
    return TEXT.replace(old, new, 1)


CASES = [
    ("seed = 42", "seed = -1", "seed: must be >= 0 (got -1)"),
    ("seed = 42", 'seed = "x"', "seed: must be an integer (got 'x')"),
    ("start = 2016-01-20", 'start = "20/01/2016"', "start: must be a date YYYY-MM-DD "
     "(got '20/01/2016')"),
    ("days = 1", "days = 0", "days: must be >= 1 (got 0)"),
    ("step_s = 900", "step_s = 700", "step_s: must divide the day (86400 s) (got 700)"),
    ("step_s = 900", "step_s = 90", "step_s: must be a whole number of minutes (got 90)"),
    ('timezone = "Europe/London"', 'timezone = "Mars/Olympus"',
     "timezone: unknown time zone (got 'Mars/Olympus')"),
    ('control = "none"', 'control = "max"',
     "control: must be one of none, cems, market, dso (got 'max')"),
    ("aggregators = 1", "aggregators = 0", "flex.aggregators: must be >= 1 (got 0)"),
    ("categories = { flexible = 0.3, moderate = 0.5, comfort_first = 0.2 }",
     "categories = { flexible = 0.3, moderate = 0.5, comfort_first = 0.3 }",
     "homes.categories: shares must sum to 1 (got {'flexible': 0.3, 'moderate': 0.5, "
     "'comfort_first': 0.3})"),
    ("base_error = 0.1", "base_error = -0.1", "forecast.base_error: must be >= 0.0 (got -0.1)"),
    ("n_homes = 184", "n_homes = 0", "grid.n_homes: must be >= 1 (got 0)"),
    ("n_feeders = 5", "n_feeders = 500", "grid.n_feeders: must not exceed grid.n_homes (184) "
     "(got 500)"),
    ('voltage_band = "uk"', 'voltage_band = "us"',
     "limits.voltage_band: must be one of uk, en50160 (got 'us')"),
    ("max_loading_percent = 100.0", "max_loading_percent = 0",
     "limits.max_loading_percent: must be > 0.0 (got 0)"),
    ("annual_kwh_mean = 3100.0", "annual_kwh_mean = nan",
     "homes.annual_kwh_mean: must be finite (got nan)"),
    ("power_factor = 0.95", "power_factor = 1.2", "homes.power_factor: must be <= 1.0 (got 1.2)"),
    ("pv = 0.4", "pv = 1.5", "penetration.pv: must be <= 1.0 (got 1.5)"),
    ("battery = 0.2", "battery = 0.5", "penetration.battery: batteries go to PV homes: must "
     "not exceed penetration.pv (0.4) (got 0.5)"),
    ("pv_kwp = [2.5, 5.0]", "pv_kwp = [5.0, 2.5]",
     "devices.pv_kwp: must satisfy 0.0 <= min <= max (got [5.0, 2.5])"),
    ("ev_charger_kw = [3.7, 11.0]", "ev_charger_kw = [7.4]", "devices.ev_charger_kw: must be "
     "a non-empty list of charger ratings from [3.7, 11.0] (the simbench home-charging "
     "profiles) (got [7.4])"),
    ("battery_efficiency = 0.9", "battery_efficiency = 0", "devices.battery_efficiency: must "
     "be > 0.0 (got 0)"),
    ("export_eur_per_kwh = 0.06", "export_eur_per_kwh = -0.06",
     "tariff.export_eur_per_kwh: must be >= 0.0 (got -0.06)"),
    ('{ start = "16:00", end = "19:00", import_eur_per_kwh = 0.42 }',
     '{ start = "16:00", end = "19:00", import_eur_per_kwh = -1 }',
     "tariff.periods[2].import_eur_per_kwh: must be a number >= 0 (got -1)"),
    ('{ start = "19:00", end = "24:00"', '{ start = "19:30", end = "24:00"',
     "tariff.periods: must cover the day without gap or overlap; problem at 19:00 "
     "(got 00:00-07:00, 07:00-16:00, 16:00-19:00, 19:30-24:00)"),
    ('{ start = "16:00", end = "19:00"', '{ start = "16:00", end = "25:00"',
     "tariff.periods[2].end: must be a time HH:MM (24:00 allowed) (got '25:00')"),
    ('name = "default"', 'name = "default"\nstep = 900',
     "step: unknown field (got 900)"),
    ("layout_seed = 1", "layout_seed = 1\nn_home = 3", "grid.n_home: unknown field (got 3)"),
]


@pytest.mark.parametrize(("old", "new", "message"), CASES, ids=[c[2].split(":")[0]
                                                                  for c in CASES])
def test_each_bad_field_gives_its_error(tmp_path, old, new, message):
    path = tmp_path / "bad.toml"
    path.write_text(_bad(old, new))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert f"{path}: {message}" in err.value.problems
    assert "\n" not in str(err.value)


def test_all_problems_are_reported_at_once(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(_bad("days = 1", "days = 0").replace("seed = 42", "seed = -1"))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.problems == [f"{path}: seed: must be >= 0 (got -1)",
                                  f"{path}: days: must be >= 1 (got 0)"]


def test_missing_required_field_and_missing_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(re.sub(r"(?m)^seed = 42.*$", "", TEXT))
    with pytest.raises(ScenarioError, match=re.escape(f"{path}: seed: required field is "
                                                      "missing")):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=re.escape(f"{tmp_path / 'no.toml'}: scenario "
                                                      "file not found")):
        load_scenario(tmp_path / "no.toml")
    path.write_text("seed = ")
    with pytest.raises(ScenarioError, match=re.escape(f"{path}: not valid TOML")):
        load_scenario(path)


def test_overrides_are_validated_and_written_into_the_text_as_run():
    s = parse_scenario(TEXT, "default.toml")
    with pytest.raises(ScenarioError, match=r"days: must be an integer >= 1 \(got 0\)"):
        s.with_overrides(days=0)
    t = s.with_overrides(days=3, start=dt.date(2016, 7, 1))
    again = parse_scenario(scenario_as_run_text(t), "as-run.toml")
    assert (again.days, again.start, again.control) == (3, dt.date(2016, 7, 1), "none")
    assert "days = 3  # as run (overridden on the command line)" in scenario_as_run_text(t)
    assert scenario_as_run_text(s).splitlines() == TEXT.splitlines()


def test_cems_needs_quarter_hours_and_export_below_import(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(TEXT.replace('control = "none"', 'control = "cems"').replace(
        "step_s = 900", "step_s = 1800").replace("export_eur_per_kwh = 0.06",
                                                 "export_eur_per_kwh = 0.2"))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.problems == [
        f"{path}: step_s: control 'cems' needs 900 s steps (the CEMS appliance cycles are at "
        "15 min) (got 1800)",
        f"{path}: tariff.export_eur_per_kwh: must be below every import price (0.12) for "
        "control 'cems' (got 0.2)",
    ]
