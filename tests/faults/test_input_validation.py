"""Bad scenarios and command lines: one line naming file, field and value, exit 2, nothing run."""

from __future__ import annotations

import pytest

import cosim
from testbed.errors import OutputFolderError, ScenarioError
from testbed.run import compare_levels
from testbed.scenario import DEFAULT_SCENARIO, load_scenario, parse_scenario
from tests.conftest import scenario_with, small_scenario_text

TEXT = DEFAULT_SCENARIO.read_text()


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, source="s.toml")
    return err.value.problems


def _edit(old: str, new: str, text: str = TEXT) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize("old, new, problem", [
    # before: passed validation, then ZeroDivisionError at step 0
    ("battery_kwh = [5.0, 10.0]", "battery_kwh = [0, 0]",
     "devices.battery_kwh: must satisfy 0.0 < min <= max (got [0, 0])"),
    ("pv_kwp = [2.5, 5.0]", "pv_kwp = [1.0, inf]", "devices.pv_kwp: must be finite "
                                                  "(got [1.0, inf])"),
    ("pv_kwp = [2.5, 5.0]", "pv_kwp = [nan, 1.0]", "devices.pv_kwp: must be finite "
                                                  "(got [nan, 1.0])"),
    # before: ignored
    ('{ start = "00:00", end = "07:00", import_eur_per_kwh = 0.12 }',
     '{ start = "00:00", end = "07:00", import_eur_per_kwh = 0.12, export = 0.5 }',
     "tariff.periods[0].export: unknown field (got 0.5)"),
    # before: a second line claimed penetration.pv was 0.0
    ("pv = 0.4", "pv = 1.5", "penetration.pv: must be <= 1.0 (got 1.5)"),
    # before: 8 h of 15-min cycles at 1-h steps, 4x the appliance energy, silently
    ("step_s = 900 ", "step_s = 3600 ", "step_s: smart appliances run 15-min cycles: needs "
                                        "900 s steps while penetration.smart_appliances > 0 "
                                        "(got 3600)"),
    # before: OverflowError in the log-normal draw
    ("annual_kwh_sd = 900.0", "annual_kwh_sd = 1e300", "homes.annual_kwh_sd: must not exceed "
     "10 x homes.annual_kwh_mean (31000): the log-normal draw would overflow (got 1e+300)"),
    # before: MemoryError (71.5 GiB of time stamps)
    ("days = 1", "days = 100000", "days: must be <= 366 (got 100000)"),
    ("n_homes = 184", "n_homes = 1000000000", "grid.n_homes: must be <= 5000 (got 1000000000)"),
    # before: the default run folder runs/<name>-... escaped runs/
    ('name = "default"', 'name = "../../elsewhere"', "name: must be a plain name (it names "
     "the run folder): not empty, no path separator or control character "
     "(got '../../elsewhere')"),
    ('name = "default"', 'name = ""', "name: must be a plain name (it names the run folder): "
     "not empty, no path separator or control character (got '')"),
    ("connection_limit_kw = 23.0", "connection_limit_kw = 0", "homes.connection_limit_kw: "
                                                             "must be > 0.0 (got 0)"),
    ("connection_limit_kw = 23.0", 'connection_limit_kw = "23"',
     "homes.connection_limit_kw: must be a number (got '23')"),
])
def test_one_problem_one_line(old, new, problem):
    assert _problems(_edit(old, new)) == [f"s.toml: {problem}"]


def test_smart_appliances_off_allow_any_step():
    text = _edit("smart_appliances = 0.5", "smart_appliances = 0.0",
                 _edit("step_s = 900 ", "step_s = 3600 "))
    assert parse_scenario(text).step_s == 3600


@pytest.mark.parametrize("start, timezone, problem", [
    # before: OverflowError from pandas' timestamps
    ("9999-12-31", "Europe/London", "start: must be between 1900-01-01 and 2200-12-31 "
                                    "(got 9999-12-31)"),
    ("1677-09-21", "Europe/London", "start: must be between 1900-01-01 and 2200-12-31 "
                                    "(got 1677-09-21)"),
    # before: pytz NonExistentTimeError traceback (Brazil moved its clocks at midnight)
    ("2016-10-16", "America/Sao_Paulo", "start: local midnight of 2016-10-16 does not exist or "
     "is ambiguous in America/Sao_Paulo (a clock change at midnight); choose another day "
     "(got 2016-10-16)"),
])
def test_the_first_day_must_start_at_a_real_midnight(start, timezone, problem):
    text = _edit("start = 2016-01-20", f"start = {start}",
                 _edit('timezone = "Europe/London"', f'timezone = "{timezone}"'))
    assert _problems(text) == [f"s.toml: {problem}"]


def test_a_scenario_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b"name = \"caf\xe9\"\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == (f"{path}: cannot read the scenario file ('utf-8' codec can't "
                              "decode byte 0xe9 in position 11: invalid continuation byte)")


# ------------------------------------------------------------------ the command line
@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(small_scenario_text(n_homes=4))
    return path


def _cli(capsys, *argv) -> tuple[int, str]:
    code = cosim.main(list(argv))
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("start", ["2016-02-30", "2016-13-01", ""])
def test_a_bad_start_exits_2_like_every_input_error(capsys, small, tmp_path, start):
    """Before: exit 1, ``cosim: --start: ...`` without ``error:``."""
    code, err = _cli(capsys, "run", "--scenario", str(small), "--start", start,
                     "--out", str(tmp_path / "never"))
    assert (code, err) == (2, f"cosim: error: --start: must be a date YYYY-MM-DD (got {start!r})")
    assert not (tmp_path / "never").exists()


def test_days_beyond_a_year_on_the_command_line(capsys, small, tmp_path):
    code, err = _cli(capsys, "run", "--scenario", str(small), "--days", "99999999")
    assert (code, err) == (2, f"cosim: error: {small}: days: must be <= 366 (got 99999999)")


def test_out_naming_a_file_is_one_line(capsys, small, tmp_path):
    """Before: NotADirectoryError traceback."""
    target = tmp_path / "a_file"
    target.write_text("keep me")
    code, err = _cli(capsys, "run", "--scenario", str(small), "--out", str(target), "--quiet")
    assert (code, err) == (2, f"cosim: error: {target}: output folder is a file")
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("argv, message", [
    (["--levels", ","], "--levels: must name at least one control level (got none)"),
    (["--levels", "none,cems,none"], "--levels: each level once (got none twice)"),
])
def test_compare_levels_are_checked(capsys, small, tmp_path, argv, message):
    code, err = _cli(capsys, "compare", "--scenario", str(small), "--out",
                     str(tmp_path / "cmp"), *argv)
    assert (code, err.splitlines()[-1]) == (2, f"cosim: error: {message}")
    assert not (tmp_path / "cmp").exists()


def test_compare_with_an_existing_level_folder_runs_nothing(capsys, small, tmp_path):
    """Before: ran ``cems`` to the end, then failed on ``none/``, old comparison.csv left."""
    out = tmp_path / "cmp"
    (out / "none").mkdir(parents=True)
    (out / "none" / "kpis.json").write_text("{}")
    code, err = _cli(capsys, "compare", "--scenario", str(small), "--levels", "cems,none",
                     "--out", str(out), "--quiet")
    assert (code, err) == (2, f"cosim: error: {out / 'none'}: output folder exists and is "
                              "not empty")
    assert sorted(p.name for p in out.iterdir()) == ["none"]


def test_compare_with_an_old_comparison_runs_nothing(capsys, small, tmp_path):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "comparison.csv").write_text("old")
    code, err = _cli(capsys, "compare", "--scenario", str(small), "--levels", "none",
                     "--out", str(out), "--quiet")
    assert (code, err) == (2, f"cosim: error: {out / 'comparison.csv'}: a comparison is "
                              "already there; choose a new --out")
    assert (out / "comparison.csv").read_text() == "old" and not (out / "none").exists()


def test_compare_levels_checks_its_folder_before_running_any_level(small, tmp_path):
    scenario = load_scenario(small)
    out = tmp_path / "cmp"
    (out / "cems").mkdir(parents=True)
    (out / "cems" / "x").write_text("")
    with pytest.raises(OutputFolderError, match=r"cmp/cems: output folder exists and is not "
                       r"empty$"):
        compare_levels(scenario, ["none", "cems"], out, progress=False)
    assert not (out / "none").exists()
    with pytest.raises(ScenarioError, match=r"control: must be one of"):
        compare_levels(scenario, ["none", "max"], tmp_path / "cmp2", progress=False)
    assert not (tmp_path / "cmp2").exists()


@pytest.mark.parametrize("old, new, problem", [
    # before: TypeError: unhashable type: 'list'
    ("ev_charger_kw = [3.7, 11.0]", "ev_charger_kw = [[3.7]]", "devices.ev_charger_kw: must "
     "be a non-empty list of charger ratings from [3.7, 11.0] (the simbench home-charging "
     "profiles) (got [[3.7]])"),
    # before: accepted; every bill infinite, written as null
    ("import_eur_per_kwh = 0.12", "import_eur_per_kwh = inf",
     "tariff.periods[0].import_eur_per_kwh: must be a number >= 0 (got inf)"),
    ("comfort_first = 0.2 }", "comfort_first = inf }", "homes.categories: must be a table of "
     "shares >= 0 for flexible, moderate, comfort_first (got {'flexible': 0.3, 'moderate': "
     "0.5, 'comfort_first': inf})"),
])
def test_wrong_types_and_infinities(old, new, problem):
    assert _problems(_edit(old, new)) == [f"s.toml: {problem}"]


def test_an_empty_voltage_band_is_refused():
    """Before: accepted; every bus of every step counted as a violation."""
    text = _edit("max_loading_percent = 100.0", "vm_min_pu = 1.0\nvm_max_pu = 1.0\n"
                 "max_loading_percent = 100.0")
    assert _problems(text) == ["s.toml: limits.vm_max_pu: must be above limits.vm_min_pu (1.0) "
                               "(got 1.0)"]


@pytest.mark.parametrize("fields, message", [
    # before: ValueError traceback from inside the run (AggregatorSim)
    ({"cems": "0.0", "control": '"dso"'}, "flex.aggregators: AGR1 serves 4 home(s) (H001-H004) "
     "and none has a CEMS, at control 'dso'; lower flex.aggregators or raise penetration.cems "
     "(got 1 aggregators for 4 homes)"),
    # grid.n_homes is the reference feeder's: a SimBench grid has its own number of homes
    ({"source": '"simbench:1-LV-rural1--0-sw"', "aggregators": "20", "control": '"market"'},
     "flex.aggregators: must not exceed the 13 homes of simbench:1-LV-rural1--0-sw (got 20)"),
])
def test_an_aggregator_without_a_cems_home_is_refused_before_the_run(
        capsys, tmp_path, fields, message):
    s = scenario_with(tmp_path, "agg", n_homes=4 if "source" not in fields else 20, **fields)
    code, err = _cli(capsys, "run", "--scenario", str(s.source), "--out", str(tmp_path / "r"),
                     "--quiet")
    assert (code, err) == (2, f"cosim: error: {s.source}: {message}")
    assert not (tmp_path / "r").exists()
