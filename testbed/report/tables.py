"""The report's tables: the scenario against the shipped defaults, and KPIs with their units.

Rows are plain dataclasses; the templates lay them out. Numbers are formatted by
:func:`format_number`, and every KPI cell also carries its exact value (``data-value``) so that
what the page shows can be checked against ``kpis.json``.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from testbed.scenario import DEFAULT_SCENARIO

# Unit of a KPI from the tokens of its name (``grid.max_trafo_loading_percent`` -> ``%``).
_UNIT_TOKENS = {"percent": "%", "pu": "p.u.", "minutes": "min", "kwh": "kWh", "kvah": "kVAh",
                "eur": "EUR", "kw": "kW", "mw": "MW", "kvar": "kvar", "s": "s"}
_COUNT_TOKENS = ("intervals", "violations", "steps", "homes", "days", "actions", "rounds",
                 "iterations", "limit")
_LABELS = {"wall_s": "wall time"}
GROUP_ORDER = ("grid", "homes", "flex")
# Decimals shown per unit (the exact value is in the cell's data-value attribute).
DECIMALS = {"%": 1, "p.u.": 4, "kWh": 1, "kVAh": 1, "kW": 1, "MW": 3, "kvar": 1, "EUR": 2,
            "min": 0, "count": 0, "ratio": 3, "s": 1, "1 = yes": 0}


@dataclass(frozen=True)
class ScenarioRow:
    """One field of the scenario as run, with the shipped default and whether it differs."""

    field: str
    value: str
    default: str
    differs: bool


@dataclass(frozen=True)
class KpiRow:
    """One KPI: its key, a readable label, its unit, exact value and the text shown."""

    key: str
    group: str
    label: str
    unit: str
    value: float | None
    text: str


@dataclass(frozen=True)
class CompareRow:
    """One KPI across the levels: values and differences against the first level."""

    key: str
    label: str
    unit: str
    values: list[KpiRow]
    diffs: list[str]


def flatten_toml(data: dict, prefix: str = "") -> dict[str, Any]:
    """Flatten parsed TOML into dotted keys (``penetration.pv``); lists stay values."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_toml(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def format_value(value: Any) -> str:
    """A TOML value as short text (lists of tables one per ``;``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ", ".join(f"{k} = {format_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return "; ".join(format_value(v) for v in value)
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def default_scenario_toml() -> dict:
    """The shipped ``scenarios/default.toml``, parsed."""
    return tomllib.loads(Path(DEFAULT_SCENARIO).read_text())


def scenario_rows(run_toml: dict, default_toml: dict | None = None) -> list[ScenarioRow]:
    """The scenario as run, field by field, marked where it differs from the shipped default.

    Parameters
    ----------
    run_toml
        The run folder's ``scenario.toml``, parsed.
    default_toml
        The reference (default: the shipped ``scenarios/default.toml``).

    Returns
    -------
    list of ScenarioRow
        The run file's fields in file order, then the default's fields the run file does not
        set (shown as ``(not set)``, not marked: the built-in default applies).
    """
    run = flatten_toml(run_toml)
    ref = flatten_toml(default_toml if default_toml is not None else default_scenario_toml())
    rows = [ScenarioRow(field=k, value=format_value(v),
                        default=format_value(ref[k]) if k in ref else "(not in default)",
                        differs=k not in ref or ref[k] != v)
            for k, v in run.items()]
    rows += [ScenarioRow(field=k, value="(not set)", default=format_value(v), differs=False)
             for k, v in ref.items() if k not in run]
    return rows


def kpi_unit(key: str) -> str:
    """The unit of a KPI from its name (the tokens after its group): ``%``, ``p.u.``, ``kWh``,
    ``EUR``, ``min``, ``count``, ``ratio`` (a dimensionless share or ratio)."""
    name = key.split(".", 1)[1] if "." in key else key
    tokens = name.replace(".", "_").lower().split("_")
    for token in reversed(tokens):
        if token in _UNIT_TOKENS and not (token == "s" and tokens[-2:] != ["wall", "s"]):
            return _UNIT_TOKENS[token]
    if "credible" in tokens:
        return "1 = yes"
    if any(t in _COUNT_TOKENS for t in tokens):
        return "count"
    return "ratio"


def kpi_label(key: str) -> str:
    """A KPI name without its group and unit, in words (``max trafo loading``)."""
    if key in _LABELS:
        return _LABELS[key]
    name = key.split(".", 1)[1] if "." in key else key
    words = [w for w in name.replace(".", " ").replace("_", " ").split()
             if w.lower() not in _UNIT_TOKENS]
    return " ".join(words) or name


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: Any, unit: str = "") -> str:
    """A KPI value as shown: a dash if missing, else with the decimals of its unit
    (:data:`DECIMALS`; 4 for an unknown unit) and thousands separators; a non-zero value
    too small for those decimals keeps two significant digits."""
    if _is_missing(value):
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    v = float(value)
    decimals = DECIMALS.get(unit, 4)
    if v != 0 and abs(v) < 0.5 * 10.0 ** -decimals:
        return f"{v:.2g}"
    return f"{v:,.{decimals}f}"


def _kpi_row(key: str, value: Any) -> KpiRow:
    unit = kpi_unit(key)
    exact = None if _is_missing(value) else float(value)
    return KpiRow(key=key, group=key.split(".", 1)[0] if "." in key else "", label=kpi_label(key),
                  unit=unit, value=exact, text=format_number(value, unit))


def kpi_rows(kpis: dict[str, Any]) -> list[KpiRow]:
    """Every KPI of ``kpis.json`` with label, unit and formatted value, grouped (grid, homes,
    flex, then any other group), in file order within a group."""
    rows = [_kpi_row(k, v) for k, v in kpis.items()]
    return sorted(rows, key=lambda r: _group_rank(r.group))


def _group_rank(group: str) -> int:
    return GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)


def compare_rows(table: pd.DataFrame) -> list[CompareRow]:
    """The rows of ``comparison.csv`` (one per KPI, one column per level) with differences
    of every level against the first.

    Parameters
    ----------
    table
        ``comparison.csv`` indexed by ``kpi``.
    """
    base = table.columns[0]
    rows = []
    keys = sorted(table.index, key=lambda k: _group_rank(str(k).split(".", 1)[0]))
    for key in keys:
        series = table.loc[key]
        cells = [_kpi_row(str(key), series[c]) for c in table.columns]
        unit = cells[0].unit
        diffs = []
        for c in table.columns[1:]:
            a, b = series[base], series[c]
            if _is_missing(a) or _is_missing(b):
                diffs.append("")
                continue
            d = float(b) - float(a)
            diffs.append(("+" if d > 0 else "") + format_number(d, unit))
        rows.append(CompareRow(key=str(key), label=cells[0].label, unit=unit, values=cells,
                               diffs=diffs))
    return rows
