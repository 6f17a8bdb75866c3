"""A sweep folder read for its report, whole or cut short (layout in :mod:`testbed.sweep`).

``manifest.json`` and the task folders are the sweep's state; ``sweep.parquet``,
``annual.parquet`` and ``district.parquet`` are written at the sweep's end. A sweep that was
killed (or is still running) has no tables, or tables older than its manifest: then the
tables are rebuilt here from the manifest and the task folders with the sweep's own functions
(:mod:`testbed.sweep.collect`), and the report says so. A task is complete when its folder is
(:func:`testbed.sweep.tasks.folder_complete`), failed when the manifest says so, else pending.

Task folders are found where they are now: the manifest records absolute paths, so a sweep
folder that was moved or copied finds its tasks under its own ``tasks/`` (the same relative
layout) and the report links them relatively.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from testbed.errors import ReportError
from testbed.scenario import load_scenario
from testbed.sweep.collect import annual_table, district_table, sweep_table
from testbed.sweep.days import DAYS_FILE
from testbed.sweep.manifest import MANIFEST
from testbed.sweep.tasks import Task, folder_complete
from testbed.typical_days import DAY_COLUMNS, read_days

TASK_STATUSES = ("complete", "failed", "pending")


@dataclass
class SweepFolder:
    """A sweep folder, read.

    Attributes
    ----------
    path
        The folder.
    header
        The manifest's ``version, levels, days, n_days, feeders``.
    tasks
        ``sweep.parquet``'s table (one row per task, its KPIs), with ``folder`` the task
        folder where it is now and ``status`` from the folders and the manifest.
    annual
        ``annual.parquet``'s table (one row per scenario, feeder and level).
    district
        ``district.parquet``'s table (a district: one row per scenario and level), else
        ``None``.
    days
        ``days.csv`` (the days of every scenario; empty if the sweep has none yet).
    notes
        What the report should say about how the tables were read.
    """

    path: Path
    header: dict
    tasks: pd.DataFrame
    annual: pd.DataFrame
    district: pd.DataFrame | None
    days: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def levels(self) -> list[str]:
        """The control levels, in the sweep's order."""
        return list(self.header.get("levels") or dict.fromkeys(self.tasks.level))

    @property
    def scenarios(self) -> list[str]:
        """The scenario names, in the sweep's order."""
        return list(dict.fromkeys(self.tasks.scenario))

    @property
    def is_district(self) -> bool:
        """Whether the sweep ran a district (``--feeders K``)."""
        return bool(self.header.get("feeders"))

    def counts(self) -> dict[str, int]:
        """Tasks per status (complete, failed, pending)."""
        c = self.tasks.status.value_counts()
        return {s: int(c.get(s, 0)) for s in TASK_STATUSES}


def _local_folder(sweep: Path, row: dict, district: bool) -> Path:
    """A task's folder where it is now: the recorded path, else the same place under this
    sweep folder (``tasks/<scenario>/[feeder-<k>/]<leaf>``)."""
    recorded = Path(row["folder"])
    rel = Path("tasks", row["scenario"], *([f"feeder-{row['feeder']}"] if district else []),
               recorded.name)
    local = sweep / rel
    return local if local.exists() or not recorded.exists() else recorded


def _manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise ReportError(f"{path}: tasks: expected a list of tasks")
    return data


def _manifest_task(row: dict, folder: Path) -> Task:
    return Task(key=row["key"], scenario=row["scenario"], feeder=int(row["feeder"]),
                day=int(row["day"]), date=row["date"], weight=float(row["weight"]),
                level=row["level"], folder=str(folder), text="", source="")


def _rebuild(tasks: list[Task], state: dict[str, dict], header: dict
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """The sweep's tables from its tasks and their folders (what the driver writes at the
    end); a scenario's deferral parameters come from one of its complete task folders."""
    table = sweep_table(tasks, state)
    scenarios = {}
    for t in tasks:
        if t.scenario not in scenarios and state[t.key]["status"] == "complete":
            scenarios[t.scenario] = load_scenario(Path(t.folder) / "scenario.toml")
    annual = annual_table(table, scenarios)
    district = district_table(annual) if header.get("feeders") else None
    return table, annual, district


def read_sweep_folder(folder: str | Path) -> SweepFolder:
    """Read a sweep folder for its report (complete, cut short, or still running).

    Raises
    ------
    ReportError
        If ``manifest.json`` is unreadable or lists no task.
    """
    folder = Path(folder)
    manifest = _manifest(folder)
    if not manifest["tasks"]:
        raise ReportError(f"{folder / MANIFEST}: tasks: the sweep has no task")
    header = {k: v for k, v in manifest.items() if k != "tasks"}
    district = bool(header.get("feeders"))
    tasks, state = [], {}
    for row in manifest["tasks"]:
        local = _local_folder(folder, row, district)
        t = _manifest_task(row, local)
        tasks.append(t)
        status = "complete" if folder_complete(local) else (
            "failed" if row.get("status") == "failed" else "pending")
        state[t.key] = {"status": status, "error": row.get("error") or "",
                        "wall_s": row.get("wall_s")}
    notes = []
    table = None
    if (folder / "sweep.parquet").is_file() and (folder / "annual.parquet").is_file():
        table = pd.read_parquet(folder / "sweep.parquet")
        current = [(t.key, state[t.key]["status"]) for t in tasks]
        if list(zip(table.key, table.status, strict=True)) != current:
            table = None
            notes.append("sweep.parquet is older than manifest.json (the sweep was stopped "
                         "or is still running): the tables below are rebuilt from the "
                         "manifest and the task folders")
    else:
        notes.append("sweep.parquet not written yet (the sweep was killed or is still "
                     "running): the tables below are built from manifest.json and the task "
                     "folders")
    if table is None:
        table, annual, dist = _rebuild(tasks, state, header)
    else:
        table = table.assign(folder=[t.folder for t in tasks])
        annual = pd.read_parquet(folder / "annual.parquet")
        dist = (pd.read_parquet(folder / "district.parquet")
                if (folder / "district.parquet").is_file() else
                district_table(annual) if district else None)
    days_path = folder / DAYS_FILE
    days = (read_days(days_path) if days_path.is_file()
            else pd.DataFrame(columns=list(DAY_COLUMNS)))
    if not days_path.is_file():
        notes.append(f"{DAYS_FILE}: missing (no calendar of the days)")
    return SweepFolder(path=folder, header=header, tasks=table, annual=annual, district=dist,
                       days=days, notes=notes)
