"""The sweep's result tables: ``sweep.parquet``, ``annual.parquet``, ``district.parquet``.

Pure functions of the tasks, their statuses and their run folders (layout in
:mod:`testbed.sweep`). KPI columns keep the dotted names of ``kpis.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from testbed.annual import annual_kpis, district_kpis
from testbed.scenario import Scenario
from testbed.sweep.tasks import Task

TASK_COLUMNS = ("scenario", "feeder", "day", "date", "weight", "level", "status", "wall_s",
                "error", "key", "folder", "warning")
GROUP = ["scenario", "feeder", "level"]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def sweep_table(tasks: list[Task], state: dict[str, dict]) -> pd.DataFrame:
    """One row per task (:data:`TASK_COLUMNS`, then every KPI of its ``kpis.json``).

    Parameters
    ----------
    tasks
        The sweep's tasks.
    state
        Per task key: ``status``, ``error``, ``wall_s`` (the manifest's).
    """
    rows = []
    for t in tasks:
        s = state.get(t.key, {})
        row = {"scenario": t.scenario, "feeder": t.feeder, "day": t.day, "date": t.date,
               "weight": t.weight, "level": t.level, "status": s.get("status", "pending"),
               "wall_s": s.get("wall_s", np.nan), "error": s.get("error", ""), "key": t.key,
               "folder": t.folder, "warning": ""}
        if row["status"] == "complete":
            folder = Path(t.folder)
            meta = _read_json(folder / "meta.json")
            row["wall_s"] = meta.get("wall_s", row["wall_s"])
            row["warning"] = meta.get("warning", "")  # e.g. load flow failed at some steps
            row.update({k: (np.nan if v is None else v)
                        for k, v in _read_json(folder / "kpis.json").items()})
        rows.append(row)
    df = pd.DataFrame(rows, columns=None)
    for c in TASK_COLUMNS:
        if c not in df:
            df[c] = pd.Series(dtype=object)
    kpi_cols = [c for c in df.columns if c not in TASK_COLUMNS]
    return df[list(TASK_COLUMNS) + kpi_cols]


def annual_table(sweep: pd.DataFrame, scenarios: dict[str, Scenario]) -> pd.DataFrame:
    """One row per scenario, feeder and level: ``status``, ``days``, ``weight`` and the
    annual KPIs (:func:`testbed.annual.annual_kpis`); ``incomplete`` (KPIs left NaN) while
    some of its days are not complete, with ``days_complete`` saying how many are."""
    kpi_cols = [c for c in sweep.columns if c not in TASK_COLUMNS]
    rows = []
    for (name, feeder, level), g in sweep.groupby(GROUP, sort=False):
        done = g[g.status == "complete"]
        row = {"scenario": name, "feeder": feeder, "level": level,
               "days_complete": len(done)}
        if len(done) == len(g):
            sc = scenarios[name]
            days = [{k: v for k, v in r.items() if not (isinstance(v, float) and np.isnan(v))}
                    for r in done[kpi_cols].to_dict("records")]
            row["status"] = "complete"
            row.update(annual_kpis(days, done.weight.tolist(),
                                   upgrade_cost_eur=sc.upgrade_cost_eur,
                                   lifetime_years=sc.upgrade_lifetime_years,
                                   discount_rate=sc.discount_rate,
                                   years_deferred=sc.years_deferred))
        else:
            row.update(status="incomplete", days=len(g), weight=float(g.weight.sum()))
        rows.append(row)
    df = pd.DataFrame(rows)
    head = ["scenario", "feeder", "level", "status", "days", "weight", "days_complete"]
    return df[head + [c for c in df.columns if c not in head]]


def district_table(annual: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario and level: the feeders' annual KPIs in total
    (:func:`testbed.annual.district_kpis`); ``incomplete`` while a feeder is."""
    rows = []
    for (name, level), g in annual.groupby(["scenario", "level"], sort=False):
        row = {"scenario": name, "level": level}
        if (g.status == "complete").all():
            cols = [c for c in g.columns if c not in (*GROUP, "status", "days_complete")]
            feeders = [{k: v for k, v in r.items() if not (isinstance(v, float) and np.isnan(v))}
                       for r in g[cols].to_dict("records")]
            row["status"] = "complete"
            row.update(district_kpis(feeders))
        else:
            row.update(status="incomplete", feeders=len(g))
        rows.append(row)
    return pd.DataFrame(rows)


def read_sweep(folder: str | Path) -> dict[str, pd.DataFrame | dict]:
    """Read a sweep folder: ``sweep``, ``annual``, ``days`` (and ``district``) as DataFrames,
    ``manifest`` as a dict (layout in :mod:`testbed.sweep`)."""
    from testbed.sweep.days import DAYS_FILE
    from testbed.sweep.manifest import read_manifest
    from testbed.typical_days import read_days

    folder = Path(folder)
    out: dict[str, pd.DataFrame | dict] = {"manifest": read_manifest(folder),
                                           "days": read_days(folder / DAYS_FILE)}
    for name in ("sweep", "annual", "district"):
        path = folder / f"{name}.parquet"
        if path.exists():
            out[name] = pd.read_parquet(path)
    return out
