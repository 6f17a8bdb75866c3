"""The folders a report is made from, read through the results contract.

A *run folder* (``cosim run``) holds ``meta.json``, ``scenario.toml`` and the tables of
:mod:`testbed.results`; a *comparison folder* (``cosim compare``) holds ``comparison.csv`` and
one run folder per control level; a *sweep folder* (``cosim sweep``) holds ``manifest.json``
(read by :mod:`~testbed.report.sweep_folder`). :func:`folder_kind` tells them apart; anything
else is a :class:`~testbed.errors.ReportError` that names the folder.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from testbed.errors import GridError, ReportError
from testbed.results import read_run
from testbed.scenario import Scenario, load_scenario

FOLDER_KINDS = ("run", "compare", "sweep")


@dataclass
class RunFolder:
    """One run folder, read: its tables, KPIs, facts, scenario and network.

    Attributes
    ----------
    path
        The folder.
    tables
        Every table of the results contract present (``homes``, ``buses``, ``lines``,
        ``transformer``, ``grid``, ``home_kpis``, ``flex``, ``cems_plans``).
    kpis
        ``kpis.json`` (``None`` while a run goes or after it failed).
    meta
        ``meta.json`` (status, versions, wall time).
    scenario
        The scenario as run, validated.
    scenario_toml
        ``scenario.toml`` as parsed TOML (the report's scenario table).
    net
        ``network.json`` (pandapower network) or ``None`` if the folder has none.
    """

    path: Path
    tables: dict[str, pd.DataFrame]
    kpis: dict | None
    meta: dict
    scenario: Scenario
    scenario_toml: dict
    net: object | None = None

    def table(self, name: str) -> pd.DataFrame | None:
        """A table of the folder, or ``None`` if the run did not write it."""
        return self.tables.get(name)


@dataclass
class CompareFolder:
    """A comparison folder: the KPI table (one column per level) and each level's run."""

    path: Path
    table: pd.DataFrame
    runs: dict[str, RunFolder] = field(default_factory=dict)

    @property
    def levels(self) -> list[str]:
        """The control levels, in the comparison's column order."""
        return list(self.table.columns)


def folder_kind(folder: str | Path) -> str:
    """``"run"``, ``"compare"`` or ``"sweep"``: what a folder holds.

    Raises
    ------
    ReportError
        If the folder is missing or holds neither (the message names the folder).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder}: folder not found")
    if (folder / "comparison.csv").is_file():
        return "compare"
    if (folder / "manifest.json").is_file():
        return "sweep"
    if (folder / "meta.json").is_file() and (folder / "scenario.toml").is_file():
        return "run"
    raise ReportError(f"{folder}: not a run folder (meta.json, scenario.toml), a comparison "
                      f"folder (comparison.csv) nor a sweep folder (manifest.json)")


def read_run_folder(folder: str | Path) -> RunFolder:
    """Read a run folder (complete or not) for a report.

    Raises
    ------
    ReportError
        If it is not a run folder, or its ``meta.json`` or ``network.json`` is unreadable.
    ScenarioError
        If its ``scenario.toml`` does not validate.
    """
    folder = Path(folder)
    kind = folder_kind(folder)
    if kind != "run":
        raise ReportError(f"{folder}: a {'comparison' if kind == 'compare' else kind} folder, "
                          f"not a run folder")
    data = read_run(folder, warn=False)  # the report says whether the run completed
    kpis = data.pop("kpis", None)
    for key in ("meta", "status", "complete"):
        data.pop(key)
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except json.JSONDecodeError as exc:
        raise ReportError(f"{folder / 'meta.json'}: not JSON ({exc.msg})") from None
    scenario_path = folder / "scenario.toml"
    scenario = load_scenario(scenario_path)
    net = None
    if (folder / "network.json").is_file():
        from grids.networks.loaders import read_network_json

        try:
            net = read_network_json(folder / "network.json")
        except GridError as exc:
            raise ReportError(str(exc)) from None
    return RunFolder(path=folder, tables=data, kpis=kpis, meta=meta, scenario=scenario,
                     scenario_toml=tomllib.loads(scenario_path.read_text()), net=net)


def read_compare_folder(folder: str | Path) -> CompareFolder:
    """Read a comparison folder: ``comparison.csv`` and the run folder of each level.

    Raises
    ------
    ReportError
        If ``comparison.csv`` has no ``kpi`` column, or a level's run folder is missing.
    """
    folder = Path(folder)
    path = folder / "comparison.csv"
    table = pd.read_csv(path)
    if "kpi" not in table.columns or len(table.columns) < 2:
        raise ReportError(f"{path}: expected a 'kpi' column and one column per level")
    table = table.set_index("kpi")
    runs = {}
    for level in table.columns:
        if not (folder / level).is_dir():
            raise ReportError(f"{folder / level}: run folder of level {level!r} not found")
        runs[level] = read_run_folder(folder / level)
    return CompareFolder(path=folder, table=table, runs=runs)
