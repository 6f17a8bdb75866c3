"""The days a sweep runs per scenario, computed once and kept in the sweep folder (``days.csv``).

``typical``: the scenario's N typical days (:func:`testbed.typical_days.typical_days`);
``all``: every day of 2016 with weight 1 (the reference the typical days are measured
against). ``days.csv`` holds the tables of every scenario with a ``days_key`` (the project's
version, the scenario text, the mode and N): on resume a scenario whose key is unchanged
keeps its days without recomputing them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from testbed.scenario import Scenario
from testbed.sweep.tasks import project_version
from testbed.typical_days import DAY_COLUMNS, all_days, read_days, typical_days, write_days

DAYS_FILE = "days.csv"
DAY_MODES = ("typical", "all")


def days_key(scenario: Scenario, mode: str, n: int) -> str:
    """Key of a scenario's days table (see the module docstring)."""
    return hashlib.sha256(json.dumps([project_version(), scenario.text, mode, n]).encode()
                          ).hexdigest()[:16]


def scenario_days(scenario: Scenario, mode: str, n: int) -> pd.DataFrame:
    """The days table of one scenario (``mode`` ``typical`` or ``all``)."""
    if mode == "all":
        return all_days(scenario)
    if mode != "typical":
        raise ValueError(f"days: must be one of {', '.join(DAY_MODES)} (got {mode!r})")
    from testbed.run import scenario_feeder

    return typical_days(scenario, scenario_feeder(scenario), n)


def resolve_days(scenarios: list[Scenario], mode: str, n: int, out_dir: Path
                 ) -> dict[str, pd.DataFrame]:
    """Days per scenario name, reusing ``out_dir/days.csv`` where its key matches; the file
    is rewritten with every scenario's table."""
    path = Path(out_dir) / DAYS_FILE
    old = read_days(path) if path.exists() else pd.DataFrame(columns=[*DAY_COLUMNS,
                                                                      "days_key"])
    out = {}
    for sc in scenarios:
        key = days_key(sc, mode, n)
        kept = old[(old.scenario == sc.name) & (old.days_key == key)]
        table = kept[list(DAY_COLUMNS)].reset_index(drop=True) if len(kept) else \
            scenario_days(sc, mode, n)
        out[sc.name] = table.assign(days_key=key)
    write_days(pd.concat(out.values(), ignore_index=True), path)
    return {name: t[list(DAY_COLUMNS)] for name, t in out.items()}
