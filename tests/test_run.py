"""A whole run: the results contract, energy balance, wiring, failures that keep results."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sims.grid.model import GridModel
from testbed.results import read_run
from testbed.run import build_world, run_scenario
from testbed.scenario import load_scenario

from .conftest import ROOT, small_scenario_text

KPI_KEYS = [
    "grid.max_trafo_loading_percent", "grid.overload_minutes", "grid.vm_min_pu",
    "grid.vm_max_pu", "grid.voltage_violation_minutes", "grid.losses_kwh",
    "homes.total_bill_eur", "homes.self_consumption", "homes.self_sufficiency",
    "homes.peak_import_kw",
]


def test_default_day_writes_every_file_of_the_contract(default_run):
    out = default_run.out_dir
    for name in ("scenario.toml", "homes.parquet", "buses.parquet", "lines.parquet",
                 "transformer.parquet", "grid.parquet", "kpis.json", "home_kpis.parquet",
                 "network.json", "meta.json"):
        assert (out / name).is_file(), name
    r = read_run(out)
    assert r["homes"].shape[0] == 96 * 184
    assert {"time", "home_id", "p_kw", "q_kvar", "pv_kw", "base_kw", "ev_kw", "hp_kw",
            "battery_kw", "soc"} <= set(r["homes"].columns)
    # the reference feeder runs unbalanced by default: one row per element, phase and step
    assert r["buses"].shape == (96 * 308 * 3, 5) and list(r["buses"].columns) == [
        "time", "bus_id", "phase", "vm_pu", "vuf_percent"]
    assert r["lines"].shape == (96 * 306 * 3, 4) and list(r["lines"].columns) == [
        "time", "line_id", "phase", "loading_percent"]
    assert sorted(r["buses"].phase.unique()) == ["a", "b", "c"]
    assert {"time", "p_mw", "q_mvar", "loading_percent"} <= set(r["transformer"].columns)
    assert r["transformer"].shape[0] == 96
    assert r["grid"].converged.all()
    assert str(r["homes"].time.dt.tz) == "Europe/London"
    assert r["homes"].time.min() == pd.Timestamp("2016-01-20 00:00", tz="Europe/London")
    assert r["homes"].time.nunique() == 96
    for key in KPI_KEYS:
        assert np.isfinite(r["kpis"][key]), key
    assert r["home_kpis"].shape[0] == 184
    assert set(r["home_kpis"].columns) >= {"home_id", "bill_eur", "self_consumption",
                                           "self_sufficiency", "peak_import_kw", "bus_id"}
    assert json.loads((out / "meta.json").read_text())["status"] == "complete"
    assert load_scenario(out / "scenario.toml").seed == 42


def test_energy_balance_every_step(default_run):
    """Sum of home power plus losses equals the transformer's HV-side power (to 1e-6 MW)."""
    r = read_run(default_run.out_dir)
    homes_mw = r["homes"].groupby("time").p_kw.sum() / 1000.0
    grid = r["grid"].set_index("time")
    trafo = r["transformer"].set_index("time").p_mw
    gap = (homes_mw + grid.losses_mw - trafo).abs()
    assert gap.max() < 1e-6
    assert homes_mw.max() > 0.1  # a real day, not zeros


def test_kpis_agree_with_the_tables(default_run):
    r = read_run(default_run.out_dir)
    k = r["kpis"]
    assert k["grid.max_trafo_loading_percent"] == pytest.approx(
        r["transformer"].loading_percent.max())
    assert k["homes.peak_import_kw"] == pytest.approx(r["homes"].groupby("time").p_kw.sum()
                                                      .max())
    assert k["homes.total_bill_eur"] == pytest.approx(r["home_kpis"].bill_eur.sum())
    lv = r["buses"][~r["buses"].bus_id.isin(["MV"])]
    assert k["grid.vm_min_pu"] == pytest.approx(lv.vm_pu.min())
    assert k["grid.losses_kwh"] == pytest.approx(r["grid"].losses_mw.sum() * 250.0)


def test_same_scenario_same_results_bit_for_bit(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(small_scenario_text(n_homes=8))
    s = load_scenario(path)
    a = run_scenario(s, tmp_path / "a", progress=False)
    b = run_scenario(s, tmp_path / "b", progress=False)
    for table in ("homes", "buses", "transformer"):
        pd.testing.assert_frame_equal(pd.read_parquet(a.out_dir / f"{table}.parquet"),
                                      pd.read_parquet(b.out_dir / f"{table}.parquet"))
    assert a.kpis == b.kpis


def test_world_wiring_in_debug_mode(tmp_path):
    """Homes -> Grid -> Collector at every step, as mosaik's own tests check (the profiles
    stay inside the homes' fleet: no Profiles simulator)."""
    path = tmp_path / "s.toml"
    path.write_text(small_scenario_text(n_homes=4))
    s = load_scenario(path)
    with build_world(s, tmp_path / "run", debug=True) as world:
        world.run(until=2 * 900, print_progress=False)
        graph = world.execution_graph
    # Nodes are (simulator id, time); keep the edges between different simulators.
    edges = {(a[0], str(a[1]), b[0], str(b[1])) for a, b in graph.edges if a[0] != b[0]}
    expected = set()
    for t in ("0", "900"):
        expected |= {("Homes-0", t, "Grid-0", t), ("Homes-0", t, "Collector-0", t),
                     ("Grid-0", t, "Collector-0", t)}
    assert edges == expected
    homes = pd.read_parquet(tmp_path / "run" / "homes.parquet")
    assert homes.shape[0] == 2 * 4


def test_failure_mid_run_keeps_the_steps_already_computed(tmp_path, monkeypatch):
    path = tmp_path / "s.toml"
    path.write_text(small_scenario_text(n_homes=4))
    s = load_scenario(path)
    calls = {"n": 0}
    solve = GridModel.solve

    def failing(self, p_kw, q_kvar, *phase_args):
        calls["n"] += 1
        if calls["n"] == 11:
            raise RuntimeError("injected failure at step 11")
        return solve(self, p_kw, q_kvar, *phase_args)

    monkeypatch.setattr(GridModel, "solve", failing)
    with pytest.raises(RuntimeError, match="injected failure at step 11"):
        run_scenario(s, tmp_path / "run", progress=False)
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["status"] == "failed" and "injected failure" in meta["error"]
    homes = pd.read_parquet(tmp_path / "run" / "homes.parquet")
    assert homes.time.nunique() == 10  # steps 0-9 kept, whether flushed or finalised


def test_cli_rejects_a_bad_scenario_before_running(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(small_scenario_text().replace("seed = 42", "seed = -3"))
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, str(ROOT / "cosim.py"), "run", "--scenario",
                           str(bad), "--out", str(out)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"cosim: error: {bad}: seed: must be >= 0 (got -3)"
    assert not out.exists()


def test_cli_runs_a_small_scenario_and_prints_the_kpi_table(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(small_scenario_text(n_homes=6))
    proc = subprocess.run([sys.executable, str(ROOT / "cosim.py"), "run", "--scenario",
                           str(path), "--out", str(tmp_path / "run"), "--quiet",
                           "--start", "2016-07-02"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "grid.max_trafo_loading_percent" in proc.stdout
    as_run = load_scenario(tmp_path / "run" / "scenario.toml")
    assert str(as_run.start) == "2016-07-02"
