"""How the actors are coupled does not change the results: per-home entities or arrays,
aggregators and DSO in this process or in their own."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from testbed import world as world_mod
from testbed.run import SimulatorFailed, WorldOptions, run_scenario
from testbed.scenario import load_scenario

from .conftest import ROOT, scenario_with

TABLES = ("homes", "buses", "lines", "transformer", "grid")


def test_per_home_entities_give_the_fleet_arrays_results(tmp_path):
    """Home -> Load entities (what users' own home simulators would do) and the Fleet -> Grid
    arrays give the same tables, value for value."""
    s = scenario_with(tmp_path, "pair", n_homes=12, pv=0.6, battery=0.4)
    a = run_scenario(s, tmp_path / "arrays", progress=False)
    b = run_scenario(s, tmp_path / "homes", progress=False,
                     options=WorldOptions(home_entities=True))
    for t in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(a.out_dir / f"{t}.parquet"),
                                      pd.read_parquet(b.out_dir / f"{t}.parquet"))
    assert a.kpis == b.kpis
    assert a.kpis["homes.pv_kwh"] > 0


def _same(a: dict, b: dict) -> bool:
    """Equal KPIs, bit for bit; NaN (not applicable, e.g. an uncredible deferral) equals NaN."""
    def same(x, y):
        return x == y or (isinstance(x, float) and isinstance(y, float) and x != x and y != y)
    return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def congested_dso(tmp_path_factory):
    """scenarios/congested.toml at control dso, actors in this process."""
    s = load_scenario(ROOT / "scenarios" / "congested.toml").with_overrides(control="dso")
    return s, run_scenario(s, tmp_path_factory.mktemp("inproc") / "run", progress=False)


def test_aggregator_and_dso_in_their_own_processes_give_the_same_kpis(congested_dso,
                                                                    tmp_path):
    s, inproc = congested_dso
    remote = run_scenario(s, tmp_path / "run", progress=False,
                          options=WorldOptions(actors_in_process=False))
    assert _same(remote.kpis, inproc.kpis)
    assert remote.kpis["flex.ordered_kwh"] > 0  # the negotiation ran, in other processes
    for t in ("flex_orders", "flex_prognosis", "dso_operation", "cems_plans"):
        pd.testing.assert_frame_equal(pd.read_parquet(remote.out_dir / f"{t}.parquet"),
                                      pd.read_parquet(inproc.out_dir / f"{t}.parquet"))


def test_a_crashed_simulator_process_fails_the_run_with_one_line(tmp_path, monkeypatch,
                                                                capfd):
    """The DSO's process raises at step 9: mosaik would return normally; the run is failed,
    says which simulator and why in one line, and leaves no pending-task noise."""
    monkeypatch.setitem(world_mod.REMOTE_MODULES, "Dso", "tests.flex.failing_dso")
    s = scenario_with(tmp_path, "tight", n_homes=16, max_loading_percent=6.0, cems=0.8)
    with pytest.raises(SimulatorFailed) as e:
        run_scenario(s.with_overrides(control="market"), tmp_path / "run", progress=False,
                     options=WorldOptions(actors_in_process=False))
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("the run stopped after ") and " of 96 steps: " in msg
    assert ("Dso-1 (FailingDso.step at t=8100 s): RuntimeError: injected failure in the "
            "DSO's process") in msg
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["status"] == "failed" and "injected failure" in meta["error"]
    assert pd.read_parquet(tmp_path / "run" / "grid.parquet").time.nunique() < 96
    assert "Task was destroyed" not in capfd.readouterr().err


def test_profiles_simulator_serves_the_fleets_series(tmp_path):
    """ProfilesSim, for worlds of one's own: each home's uncontrolled series, the ones the
    homes simulator holds."""
    import mosaik

    from sims.homes.fleet import population
    from testbed.params import homes_config
    from testbed.prepared import prepare

    from . import test_grid_standalone as standalone

    s = scenario_with(tmp_path, "prof", n_homes=6, pv=0.5, ev=0.5)
    feeder = prepare(s).feeder
    ids, buses = feeder.homes.index.tolist(), [int(b) for b in feeder.homes.bus]
    cfg = homes_config(s)
    standalone.RECORDED.clear()
    config = {"Profiles": {"python": "sims.homes.profiles_simulator:ProfilesSim"},
              "Recorder": {"python": "tests.test_grid_standalone:Recorder"}}
    with mosaik.World(config, skip_greetings=True, configure_logging=False) as world:
        profiles = world.start("Profiles", homes=cfg.to_dict(), home_ids=ids, buses=buses)
        rec = world.start("Recorder").Recorder()
        for e in profiles.HomeProfile.create(len(ids)):
            world.connect(e, rec, "base_kw", "pv_kw", "ev_kw", "hp_kw")
        world.run(until=3 * 900, print_progress=False)
    _, series = population(cfg, ids, buses)
    for k in range(3):
        got = standalone.RECORDED[k]
        for attr in ("base_kw", "pv_kw", "ev_kw", "hp_kw"):
            want = getattr(series, attr)[k]
            assert [got[attr][h] for h in ids] == want.tolist(), (k, attr)
    assert series.base_kw[:3].sum() > 0


def test_actor_processes_write_into_a_relative_run_folder(tmp_path, monkeypatch):
    """``--out run`` with ``--actors process``: the aggregator and DSO processes work in
    another directory; before, they wrote their tables there and the run failed at its end
    (FileNotFoundError: 'run/flex_dayahead.parquet')."""
    s = scenario_with(tmp_path, "rel", n_homes=12, control='"market"')
    monkeypatch.chdir(tmp_path)
    res = run_scenario(s, Path("run"), progress=False,
                       options=WorldOptions(actors_in_process=False))
    assert res.out_dir.resolve() == tmp_path / "run"
    for table in ("flex_dayahead", "flex_prognosis", "dso_operation"):
        assert (tmp_path / "run" / f"{table}.parquet").is_file(), table
    assert json.loads((tmp_path / "run" / "meta.json").read_text())["status"] == "complete"
    assert not (ROOT / "run").exists()
