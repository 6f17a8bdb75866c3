"""The results writer: parts written atomically, the tables of a flush together, one file at
the end; a run stopped on request keeps the same steps in every table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sims.collector.writer import GRID_INPUTS, HOME_COLUMNS, TABLES, ResultsWriter
from sims.errors import RunStopped
from sims.grid.model import GridModel
from testbed.results import read_run
from testbed.run import request_stop, run_scenario
from testbed.scenario import load_scenario

from .conftest import small_scenario_text

T0 = pd.Timestamp("2016-01-20", tz="Europe/London").value


def _step(w: ResultsWriter, k: int) -> None:
    homes = {c: np.full(3, float(k)) for c in HOME_COLUMNS}
    grid = {"vm_pu": np.full(2, 1.0 + k), "line_loading_percent": np.full(1, 10.0 * k),
            "trafo_p_mw": np.array([0.1 * k]), "trafo_q_mvar": np.array([0.0]),
            "trafo_loading_percent": np.array([k]), "losses_mw": 0.001 * k, "converged": True}
    assert set(grid) == set(GRID_INPUTS)
    w.add_step(T0 + k * 900 * 10**9, homes, grid)


def test_parts_of_a_flush_appear_together_and_close_makes_one_file(tmp_path):
    w = ResultsWriter(tmp_path, timezone="Europe/London", home_ids=["H2", "H1", "H3"],
                      bus_ids=["b", "a"], line_ids=["l"], trafo_ids=["t"], trafo_sn_mva=[0.5],
                      flush_every=2, background=False)
    for k in range(5):
        _step(w, k)
    # two flushes so far: two parts per table, four steps in each table
    for t in TABLES:
        assert sorted(p.name for p in (tmp_path / f"{t}.parquet").iterdir()) == [
            "part-00000.parquet", "part-00001.parquet"]
    # a part being written when the process died is hidden: the table still reads
    (tmp_path / "homes.parquet" / ".part-00002.parquet.tmp").write_bytes(b"half a file")
    r = read_run(tmp_path, warn=False)  # no meta.json: a writer alone
    assert {t: r[t].time.nunique() for t in TABLES} == dict.fromkeys(TABLES, 4)
    assert r["homes"].home_id.tolist()[:3] == ["H1", "H2", "H3"]  # rows in home-id order
    assert r["buses"].bus_id.tolist()[:2] == ["b", "a"]  # rows in network order
    w.close()
    for t in TABLES:
        assert (tmp_path / f"{t}.parquet").is_file()
    homes = pd.read_parquet(tmp_path / "homes.parquet")
    assert homes.shape == (15, 14) and homes.controlled.dtype == bool
    assert homes.p_kw.tolist() == [float(k) for k in range(5) for _ in range(3)]
    grid = pd.read_parquet(tmp_path / "grid.parquet")
    assert grid.losses_mw.tolist() == pytest.approx([0.001 * k for k in range(5)])
    assert str(grid.time.dt.tz) == "Europe/London"
    assert grid.time.iloc[1] - grid.time.iloc[0] == pd.Timedelta(minutes=15)


def test_a_stop_request_ends_the_run_at_a_step_boundary(tmp_path, monkeypatch):
    path = tmp_path / "s.toml"
    path.write_text(small_scenario_text(n_homes=4))
    s = load_scenario(path)
    calls = {"n": 0}
    solve = GridModel.solve

    def stopping(self, *args):  # (p_kw, q_kvar[, p3_kw, q3_kvar] in unbalanced runs)
        calls["n"] += 1
        if calls["n"] == 7:
            request_stop()  # as a signal handler would, during step 6
        return solve(self, *args)

    monkeypatch.setattr(GridModel, "solve", stopping)
    with pytest.raises(RunStopped, match=r"interrupted at 2016-01-20 01:45 GMT \(step 7 of 96\)"):
        run_scenario(s, tmp_path / "run", progress=False)
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["steps_done"] == 7
    assert meta["interrupted_at"] == "2016-01-20T01:45:00+00:00" and meta["signal"] is None
    steps = {t: pd.read_parquet(tmp_path / "run" / f"{t}.parquet").time.nunique()
             for t in TABLES}
    assert steps == dict.fromkeys(TABLES, 7)
    # the next run of the process is not stopped by the old request
    monkeypatch.setattr(GridModel, "solve", solve)
    assert run_scenario(s, tmp_path / "again", progress=False).kpis["grid.nonconverged_steps"] \
        == 0
