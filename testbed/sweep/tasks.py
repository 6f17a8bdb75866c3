"""The tasks of a sweep: one (scenario, feeder, day, level) each, with its key and run folder.

See :mod:`testbed.sweep` for the key and the folder layout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path

import pandas as pd

from testbed.scenario import Scenario, parse_scenario, scenario_as_run_text

PACKAGE = "lvflex-testbed"
KEY_DIGITS = 16


def project_version() -> str:
    """The project's version (the installed package's; ``0+unknown`` if not installed)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def set_table_field(text: str, table: str, key: str, value: int | float | str) -> str:
    """Set ``key = value`` in the ``[table]`` of a TOML text, keeping every other line.

    The line is replaced (or added under the table's header; the table is appended if the
    text has none) and marked ``# set by the sweep``.

    Parameters
    ----------
    text
        A scenario's TOML text.
    table, key
        Where, e.g. ``"cems"``, ``"workers"``.
    value
        A number or a string.
    """
    literal = json.dumps(value) if isinstance(value, str) else repr(value)
    new = f"{key} = {literal}  # set by the sweep"
    lines = text.splitlines()
    header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]\s*(#.*)?$")
    start = next((i for i, ln in enumerate(lines) if header.match(ln)), None)
    if start is None:
        return "\n".join([*lines, "", f"[{table}]", new]) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
               len(lines))
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i in range(start + 1, end):
        if pattern.match(lines[i]):
            lines[i] = new
            break
    else:
        lines.insert(start + 1, new)
    return "\n".join(lines) + "\n"


def sweep_scenario(scenario: Scenario, layout_seed: int | None = None) -> Scenario:
    """The scenario as a sweep runs it: ``cems.workers = 1`` (one core per task; the cluster
    runs tasks in parallel) and, for a district feeder, its ``grid.layout_seed``."""
    text = set_table_field(scenario.text, "cems", "workers", 1)
    if layout_seed is not None:
        text = set_table_field(text, "grid", "layout_seed", int(layout_seed))
    return parse_scenario(text, source=scenario.source)


@dataclass(frozen=True)
class Task:
    """One run of a sweep. ``text`` is the scenario as run (parse it with ``source``).

    ``keep`` is a hint, not part of the task's identity (nor of its key or manifest row): the
    distinct (scenario, feeder, day) of the sweep, which the worker's registry is sized to
    keep (:func:`sims.registry.reserve`).
    """

    key: str
    scenario: str
    feeder: int
    day: int
    date: str
    weight: float
    level: str
    folder: str
    text: str
    source: str
    keep: int = 0

    @property
    def group(self) -> tuple[str, int]:
        """The tasks that share a feeder and its homes: (scenario, feeder)."""
        return (self.scenario, self.feeder)

    def row(self) -> dict:
        """The task's manifest fields (everything but the scenario text and the hint)."""
        d = asdict(self)
        for name in ("text", "source", "keep"):
            d.pop(name)
        return d


def task_key(text: str, date: str, level: str, feeder: int, version: str) -> str:
    """Key of a task (see :mod:`testbed.sweep`)."""
    h = hashlib.sha256(json.dumps([version, date, level, feeder, text]).encode())
    return h.hexdigest()[:KEY_DIGITS]


def make_tasks(scenarios: list[Scenario], days: dict[str, pd.DataFrame], levels: list[str],
               out_dir: Path, feeders: int | None = None) -> list[Task]:
    """Every task of a sweep, grouped by scenario and feeder (so that a worker reuses the
    feeder), then by day and level.

    Parameters
    ----------
    scenarios
        Validated scenarios with distinct names.
    days
        Days table per scenario name (:mod:`testbed.typical_days`).
    levels
        Control levels.
    out_dir
        The sweep folder.
    feeders
        ``K`` for a district of K reference feeders (``grid.layout_seed`` 1..K); ``None``
        runs each scenario's own feeder.
    """
    version = project_version()
    out = []
    for sc in scenarios:
        seeds = list(range(1, feeders + 1)) if feeders else [None]
        for seed in seeds:
            base = sweep_scenario(sc, seed)
            feeder = base.layout_seed
            where = Path("tasks") / sc.name / (f"feeder-{feeder}" if seed is not None else "")
            for row in days[sc.name].itertuples(index=False):
                for level in levels:
                    s = base.with_overrides(start=dt.date.fromisoformat(row.date), days=1,
                                            control=level)
                    text = scenario_as_run_text(s)
                    key = task_key(text, row.date, level, feeder, version)
                    folder = out_dir / where / f"{row.date}-{level}-{key[:12]}"
                    out.append(Task(key=key, scenario=sc.name, feeder=feeder, day=int(row.day),
                                    date=row.date, weight=float(row.weight), level=level,
                                    folder=str(folder), text=text,
                                    source=str(sc.source) if sc.source else ""))
    keep = len({(t.scenario, t.feeder, t.date) for t in out})
    return [replace(t, keep=keep) for t in out]


def complete_meta(folder: str | Path) -> dict | None:
    """A complete run folder's ``meta.json`` (``None`` unless it says ``complete`` and its
    ``kpis.json`` reads)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
        json.loads((folder / "kpis.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if meta.get("status") == "complete" else None


def folder_complete(folder: str | Path) -> bool:
    """Whether a run folder is complete (:func:`complete_meta`)."""
    return complete_meta(folder) is not None
