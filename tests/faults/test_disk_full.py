"""A full disk (``OSError`` ``ENOSPC``): one line naming the file, exit 1, what was written so
far stays readable, no temporary file left, and nothing printed after the line."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import sims.tables
from sims.collector.writer import GRID_INPUTS, HOME_COLUMNS, TABLES, ResultsWriter
from sims.errors import DiskFull
from tests.conftest import ROOT, small_scenario_text

T0 = pd.Timestamp("2016-01-20", tz="Europe/London").value


def _writer(tmp_path: Path) -> ResultsWriter:
    return ResultsWriter(tmp_path, timezone="Europe/London", home_ids=["H1", "H2"],
                         bus_ids=["b"], line_ids=["l"], trafo_ids=["t"], trafo_sn_mva=[0.5],
                         flush_every=2, background=False)


def _step(w: ResultsWriter, k: int) -> None:
    homes = {c: np.full(2, float(k)) for c in HOME_COLUMNS}
    grid = {"vm_pu": np.ones(1), "line_loading_percent": np.full(1, 10.0),
            "trafo_p_mw": np.array([0.1]), "trafo_q_mvar": np.zeros(1),
            "trafo_loading_percent": np.array([20.0]), "losses_mw": 0.001, "converged": True}
    assert set(grid) == set(GRID_INPUTS)
    w.add_step(T0 + k * 900 * 10**9, homes, grid)


def _full_after(monkeypatch, n_writes: int) -> None:
    """``pq.write_table`` (as the tables module calls it) fails with ENOSPC after n writes,
    having written half a file, as a full disk does."""
    real = pq.write_table
    calls = {"n": 0}

    def write_table(table, where, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_writes:
            where.write(b"PAR1 cut short")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, *args, **kwargs)

    monkeypatch.setattr(sims.tables.pq, "write_table", write_table)


def test_a_full_disk_while_a_part_is_written_names_it_and_keeps_the_parts(tmp_path,
                                                                          monkeypatch):
    w = _writer(tmp_path)
    _step(w, 0)
    _step(w, 1)  # flush 0: one part per table, 5 writes
    _full_after(monkeypatch, 2)  # flush 1: homes and buses written, lines fails
    _step(w, 2)
    with pytest.raises(DiskFull, match=r"lines\.parquet/part-00001\.parquet: no space left on "
                       r"device \(errno ENOSPC\); the steps written before stay readable"):
        _step(w, 3)
    # the flush that failed published nothing: every table holds the same 2 steps
    assert {t: pd.read_parquet(tmp_path / f"{t}.parquet").time.nunique() for t in TABLES} \
        == dict.fromkeys(TABLES, 2)
    assert list(tmp_path.rglob("*.tmp")) == []
    with pytest.raises(DiskFull):
        w.close()  # writes nothing more; the folders of parts stay
    assert all((tmp_path / f"{t}.parquet").is_dir() for t in TABLES)


def test_a_full_disk_while_the_tables_are_made_whole_keeps_the_parts(tmp_path, monkeypatch):
    w = _writer(tmp_path)
    for k in range(4):
        _step(w, k)  # two flushes, 10 writes
    _full_after(monkeypatch, 2)  # homes and buses made whole, lines fails
    with pytest.raises(DiskFull, match=r"lines\.parquet: no space left on device"):
        w.close()
    assert (tmp_path / "homes.parquet").is_file() and (tmp_path / "lines.parquet").is_dir()
    assert {t: pd.read_parquet(tmp_path / f"{t}.parquet").time.nunique() for t in TABLES} \
        == dict.fromkeys(TABLES, 4)
    assert list(tmp_path.rglob("*.tmp")) == [] and list(tmp_path.rglob(".*")) == []


INJECT = """
import errno, runpy, sys
import pyarrow.parquet as pq
real = pq.write_table
calls = [0]
def write_table(table, where, *a, **k):
    calls[0] += 1
    if calls[0] > {n}:
        where.write(b"PAR1 cut short")
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(table, where, *a, **k)
pq.write_table = write_table
sys.argv = ["cosim", *sys.argv[1:]]
runpy.run_path({cosim!r}, run_name="__main__")
"""


def test_cosim_run_on_a_full_disk_is_one_line_and_nothing_after(tmp_path):
    """A real run whose disk fills at the 13th Parquet write (the third flush): before, a
    90-line double traceback and mosaik's "AsyncWorld was never shut down" warning. Three
    days: one day of 12 homes steps faster than its parts are written, and the parts still
    queued when a run ends are not written (the final files hold every step)."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(small_scenario_text(n_homes=12, days=3))
    out = tmp_path / "run"
    code = INJECT.format(n=12, cosim=str(ROOT / "cosim.py"))
    proc = subprocess.run([sys.executable, "-c", code, "run", "--scenario", str(scenario),
                           "--out", str(out), "--quiet", "--no-report"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
                          timeout=600)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 2 and lines[0].startswith("cosim: default: "), proc.stderr
    assert lines[1].startswith(f"cosim: error: {out}/") and lines[1].endswith(
        ".parquet: no space left on device (errno ENOSPC); the steps written before stay "
        "readable"), lines[1]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "failed" and meta["error"].startswith("DiskFull: ")
    steps = {t: pd.read_parquet(out / f"{t}.parquet").time.nunique() for t in TABLES}
    assert len(set(steps.values())) == 1 and 0 < steps["grid"] < 3 * 96, steps
    assert list(out.rglob("*.tmp")) == []
