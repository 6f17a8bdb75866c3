"""The results of a run: one folder, Parquet tables written as the run goes, KPIs at the end.

Contract (users' notebooks depend on it; the README documents it):

``scenario.toml``      the scenario as run (command-line overrides applied)
``homes.parquet``      time, home_id, p_kw, q_kvar, base_kw, pv_kw, ev_kw, hp_kw, battery_kw, soc
``buses.parquet``      time, bus_id, vm_pu
``lines.parquet``      time, line_id, loading_percent
``transformer.parquet`` time, trafo_id, p_mw, q_mvar, loading_percent (HV side)
``grid.parquet``       time, losses_mw, converged
``kpis.json``          KPIs of the run (dotted keys, see :mod:`testbed.kpis`)
``home_kpis.parquet``  the home KPIs per home_id
``home_kpis.parquet``  also carries each home's bus, bus_id and feeder number
``network.json``       the network as run (pandapower JSON, with bus geodata for maps)
``flex.parquet``       control market and dso: flexibility per interval (requested, offered,
                       ordered, delivered; day-ahead lights), see :mod:`testbed.flex_kpis`
``cems_plans.parquet`` control cems and above: one row per CEMS home and day (plan status)
``meta.json``          run facts (versions, wall time, status)

While a run goes, and after an interrupted run, each table is a *folder* of part files
(``homes.parquet/part-00000.parquet``...), flushed every hour of simulated time, each part
written atomically and the parts of one flush of every table together
(:mod:`sims.collector.writer`); pandas and pyarrow read the folder exactly like a file
(``pd.read_parquet(run / "homes.parquet")``). A run that completes replaces each folder by a
single file. ``time`` is tz-aware (scenario time zone).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sims.collector.writer import TABLES

TIME_SERIES = TABLES  # one row per element and step: homes, buses, lines, transformer, grid


def write_json(path: Path, data: dict) -> None:
    """Write a dict as pretty JSON (NaN written as null)."""

    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, float | np.floating):
            return None if not np.isfinite(v) else float(v)
        if isinstance(v, np.integer):
            return int(v)
        return v

    path.write_text(json.dumps(clean(data), indent=2, sort_keys=True) + "\n")


def read_run(run_dir: str | Path) -> dict[str, pd.DataFrame | dict]:
    """Read a run folder: every table present as a DataFrame, ``kpis`` as a dict.

    The time-series tables are trimmed to the steps they all hold (they differ only if the
    run was killed within the microseconds in which one flush's part files are renamed).

    Parameters
    ----------
    run_dir
        A folder written by ``cosim run`` (complete or interrupted).
    """
    run_dir = Path(run_dir)
    out: dict[str, pd.DataFrame | dict] = {}
    for table in (*TABLES, "home_kpis", "flex", "cems_plans"):
        path = run_dir / f"{table}.parquet"
        if path.exists():
            out[table] = pd.read_parquet(path)
    series = [out[t] for t in TIME_SERIES if t in out]
    if series and len({frame.time.nunique() for frame in series}) > 1:
        # killed while one flush was being renamed: keep the steps every table holds
        common = set.intersection(*(set(frame.time) for frame in series))
        for t in TIME_SERIES:
            if t in out:
                out[t] = out[t][out[t].time.isin(common)].reset_index(drop=True)
    if (run_dir / "kpis.json").exists():
        out["kpis"] = json.loads((run_dir / "kpis.json").read_text())
    return out


def steps_written(run_dir: str | Path) -> int:
    """Steps in a run folder's ``grid`` table (0 if none): how far the run got."""
    path = Path(run_dir) / "grid.parquet"
    if not path.exists():
        return 0
    return len(pd.read_parquet(path, columns=["time"]))
