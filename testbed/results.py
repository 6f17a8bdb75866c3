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

``meta.json`` ``status``: ``running`` while the run goes (and after a kill: the process had
no chance to write anything else), ``complete``, ``interrupted`` (stopped at a step boundary
by SIGINT/SIGTERM: ``steps_done``, ``interrupted_at``, ``signal``) or ``failed`` (``error``).
A complete run whose load flow did not converge at some steps has ``nonconverged_steps`` > 0
and a ``warning`` line. :func:`read_run` says (``status``, ``complete``, and a warning) when
a run did not complete.
"""

from __future__ import annotations

import json
import warnings
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


class IncompleteRunWarning(UserWarning):
    """:func:`read_run` read a run that did not complete (killed, interrupted or failed)."""


def _read_table(path: Path) -> pd.DataFrame | None:
    """A table, also when a kill came within the microseconds in which
    :func:`sims.tables.consolidate` has moved its folder of parts aside (``.<name>.parts``)
    and not yet renamed the whole file (``.<name>.tmp``, written and synced before)."""
    if path.exists():
        return pd.read_parquet(path)
    for hidden in (path.parent / f".{path.name}.parts", path.parent / f".{path.name}.tmp"):
        if hidden.exists():
            return pd.read_parquet(hidden)
    return None


def read_run(run_dir: str | Path, *, warn: bool = True
             ) -> dict[str, pd.DataFrame | dict | str | bool]:
    """Read a run folder: every table present as a DataFrame, ``kpis`` and ``meta`` as dicts,
    ``status`` (``meta.json``'s) and ``complete``.

    The time-series tables are trimmed to the steps they all hold (they differ only if the
    run was killed within the microseconds in which one flush's part files are renamed). A
    run that did not complete (killed: ``status`` still ``running``; ``interrupted``;
    ``failed``) reads as far as it got, with ``complete`` False and an
    :class:`IncompleteRunWarning` saying so.

    Parameters
    ----------
    run_dir
        A folder written by ``cosim run`` (complete or interrupted).
    warn
        Warn when the run did not complete.
    """
    run_dir = Path(run_dir)
    out: dict[str, pd.DataFrame | dict | str | bool] = {}
    for table in (*TABLES, "home_kpis", "flex", "cems_plans"):
        frame = _read_table(run_dir / f"{table}.parquet")
        if frame is not None:
            out[table] = frame
    series = [out[t] for t in TIME_SERIES if t in out]
    if series and len({frame.time.nunique() for frame in series}) > 1:
        # killed while one flush was being renamed: keep the steps every table holds
        common = set.intersection(*(set(frame.time) for frame in series))
        for t in TIME_SERIES:
            if t in out:
                out[t] = out[t][out[t].time.isin(common)].reset_index(drop=True)
    if (run_dir / "kpis.json").exists():
        out["kpis"] = json.loads((run_dir / "kpis.json").read_text())
    meta_path = run_dir / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    out["meta"] = meta
    out["status"] = meta.get("status", "unknown")
    out["complete"] = out["status"] == "complete"
    if warn and not out["complete"]:
        steps = out["grid"].time.nunique() if "grid" in out else 0
        why = {"running": "killed, or still running", "interrupted": "interrupted",
               "failed": f"failed: {meta.get('error', '')}"}.get(out["status"], "no meta.json")
        warnings.warn(f"{run_dir}: the run did not complete ({why}); the tables hold "
                      f"{steps} of {meta.get('n_steps', '?')} steps", IncompleteRunWarning,
                      stacklevel=2)
    return out


def steps_written(run_dir: str | Path) -> int:
    """Steps in a run folder's ``grid`` table (0 if none): how far the run got."""
    frame = _read_table(Path(run_dir) / "grid.parquet")
    return 0 if frame is None else len(frame)
