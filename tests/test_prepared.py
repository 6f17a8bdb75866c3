"""A warm process reuses what runs of a scenario share (what a sweep's worker relies on)."""

from __future__ import annotations

import grids.balanced.loadflow as loadflow_mod
import sims.grid.network as network_mod
from grids.unbalanced.loadflow import UnbalancedLoadFlow
from sims.homes import profile_data
from testbed.prepared import prepare
from testbed.run import run_scenario

from .conftest import scenario_with


def test_prepare_is_memoised_and_shared_across_control_levels(tmp_path):
    s = scenario_with(tmp_path, "warm", n_homes=10, cems=0.5)
    a = prepare(s)
    assert prepare(s) is a
    b = prepare(s.with_overrides(control="dso"))
    assert b is not a and b.dso is not None and a.dso is None
    # the feeder, its compiled load flow and the homes' series are the same objects
    assert b.grid is a.grid and b.grid.loadflow is a.grid.loadflow
    assert b.grid.loadflow3 is a.grid.loadflow3 is not None  # unbalanced by default
    assert b.series is a.series and b.specs is a.specs


def test_a_second_run_in_the_process_builds_nothing_heavy(tmp_path, monkeypatch):
    s = scenario_with(tmp_path, "warm2", n_homes=10)
    run_scenario(s, tmp_path / "first", progress=False)
    built = {"loadflow": 0, "compile": 0, "csv": 0}

    def counting(name, fn):
        def call(*args, **kwargs):
            built[name] += 1
            return fn(*args, **kwargs)
        return call

    monkeypatch.setattr(loadflow_mod.LoadFlow, "__init__",
                        counting("loadflow", loadflow_mod.LoadFlow.__init__))
    monkeypatch.setattr(network_mod, "compile_net", counting("compile", network_mod.compile_net))
    monkeypatch.setattr(network_mod, "compile_net3",
                        counting("compile", network_mod.compile_net3))
    monkeypatch.setattr(profile_data, "_read_csv", counting("csv", profile_data._read_csv))
    res = run_scenario(s.with_overrides(control="cems"), tmp_path / "second", progress=False)
    assert built == {"loadflow": 0, "compile": 0, "csv": 0}
    assert res.kpis["homes.cems_homes"] > 0


def test_a_dso_run_compiles_one_load_flow(tmp_path, monkeypatch):
    """The grid simulator, both DSO roles and the study layer share the feeder's engine."""
    built = {"n": 0}
    init = loadflow_mod.LoadFlow.__init__

    def counting(self, *args, **kwargs):
        built["n"] += 1
        return init(self, *args, **kwargs)

    monkeypatch.setattr(loadflow_mod.LoadFlow, "__init__", counting)
    init3 = UnbalancedLoadFlow.__init__  # the reference feeder runs unbalanced by default

    def counting3(self, *args, **kwargs):
        built["n"] += 1
        return init3(self, *args, **kwargs)

    monkeypatch.setattr(UnbalancedLoadFlow, "__init__", counting3)
    s = scenario_with(tmp_path, "one", n_homes=14, layout_seed=7, cems=0.8,
                      max_loading_percent=6.0)  # a feeder no other test has built
    res = run_scenario(s.with_overrides(control="dso"), tmp_path / "run", progress=False)
    assert built["n"] == 1
    assert res.kpis["flex.congested_intervals_dayahead"] > 0  # the DSO's view ran load flows
