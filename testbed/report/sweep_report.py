"""The report of a sweep folder (``cosim sweep``): the annual KPIs of every scenario x level,
the typical days on a calendar, every task with its status, and the failed ones with their
errors.

Sections: the summary (what the sweep holds, complete or not, and why); the annual KPIs as
heat maps (:data:`~testbed.report.sweep_figures.HEAT_KPIS`) and as a table; for a district
(``--feeders K``) the district's total and each feeder; the typical days of each scenario on a
year calendar with their weights and member days; the failed tasks with their one-line
errors; the pending tasks; every task (status, wall time, a relative link to its run report
where one was written).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from testbed.report.page import Page, ReportFigure
from testbed.report.sweep_figures import (
    HEAT_KPIS,
    calendar_figure,
    date_ranges,
    heat_grid,
    heatmap_figure,
    two_columns,
    wall_time_figure,
)
from testbed.report.sweep_folder import SweepFolder
from testbed.report.tables import format_number

TEMPLATE = "sweep.html.j2"


def _basis(n_days) -> str:
    return f"{n_days:.0f} day{'' if n_days == 1 else 's'}" if pd.notna(n_days) else ""


def _with_days(annual: pd.DataFrame, rows) -> pd.DataFrame:
    """``annual.parquet`` rows with the heat maps' ``row``, ``basis`` and ``note``."""
    return annual.assign(row=list(rows), basis=[_basis(x) for x in annual.days],
                         note=[f"incomplete: {c:.0f} of {n:.0f} days" for c, n in
                               zip(annual.days_complete, annual.days, strict=True)])


def annual_frame(sw: SweepFolder) -> tuple[pd.DataFrame, list[str], str]:
    """The rows of the main heat maps: ``(frame, rows, row title)``.

    A sweep's rows are its scenarios (``annual.parquet``); a district's are its scenarios'
    totals over the feeders (``district.parquet``). The frame has the columns
    :func:`~testbed.report.sweep_figures.heat_grid` reads.
    """
    if sw.is_district and sw.district is not None:
        d = sw.district
        feeders = sw.annual.groupby(["scenario", "level"]).size()
        done = sw.annual[sw.annual.status == "complete"].groupby(["scenario", "level"]).size()
        frame = d.assign(
            row=d.scenario,
            basis=[f"{r['feeders']:.0f} feeders x {_basis(r.get('days'))}" for r in
                   d.to_dict("records")],
            note=[f"incomplete: {done.get((s, lv), 0)} of {feeders.get((s, lv), 0)} feeders"
                  for s, lv in zip(d.scenario, d.level, strict=True)])
        return frame, sw.scenarios, "scenario (district total)"
    return _with_days(sw.annual, sw.annual.scenario), sw.scenarios, "scenario"


def feeder_frame(sw: SweepFolder) -> tuple[pd.DataFrame, list[str]]:
    """A district's per-feeder rows (``scenario, feeder k``) from ``annual.parquet``."""
    a = sw.annual
    keys = [f"{s} / feeder {f}" for s, f in zip(a.scenario, a.feeder, strict=True)]
    return _with_days(a, keys), list(dict.fromkeys(keys))


def heatmaps(frame: pd.DataFrame, rows: list[str], levels: list[str],
             row_title: str, prefix: str) -> list[ReportFigure]:
    """One heat map per :data:`HEAT_KPIS` entry the sweep has (keyed ``prefix-<kpi>``)."""
    out = []
    for kpi in HEAT_KPIS:
        grid = heat_grid(frame, kpi.key, rows, levels)
        fig = heatmap_figure(grid, kpi, row_title=row_title)
        out.append(ReportFigure(f"{prefix}-{kpi.key.replace('.', '-')}", fig))
    return out


def annual_rows(frame: pd.DataFrame, rows: list[str], levels: list[str]) -> list[dict]:
    """The annual KPI table: one row per heat-map row and level, the heat maps' KPIs with
    their exact values (``data-value``) and as shown."""
    by = {(r["row"], r["level"]): r for r in frame.to_dict("records")}
    out = []
    for row in rows:
        for level in levels:
            r = by.get((row, level))
            if r is None:
                continue
            complete = r["status"] == "complete"
            cells = []
            for kpi in HEAT_KPIS:
                v = r.get(kpi.key) if complete else None
                ok = v is not None and not pd.isna(v)
                cells.append({"key": kpi.key, "value": float(v) if ok else None,
                              "text": kpi.text(v) if ok else "\u2014"})
            out.append({"row": row, "level": level, "status": r["status"],
                        "basis": f"complete, {r['basis']}" if complete else r["note"],
                        "cells": cells})
    return out


def _href(target: Path, out_dir: Path | None) -> str:
    """A link to ``target`` relative to the report's folder (a file URI if on another
    drive)."""
    if out_dir is None:
        return target.resolve().as_uri()
    try:
        return Path(os.path.relpath(target.resolve(), out_dir.resolve())).as_posix()
    except ValueError:
        return target.resolve().as_uri()


def task_rows(sw: SweepFolder, out_dir: Path | None) -> list[dict]:
    """Every task: where it stands, its wall time and its folder; ``href`` links its run
    report when one was written (``cosim report <folder>`` writes it)."""
    out = []
    for r in sw.tasks.to_dict("records"):
        folder = Path(r["folder"])
        report = folder / "report.html"
        wall = r.get("wall_s")
        out.append({
            "key": r["key"], "scenario": r["scenario"], "feeder": r["feeder"],
            "day": r["day"], "date": r["date"], "weight": r["weight"], "level": r["level"],
            "status": r["status"], "error": r.get("error") or "",
            "wall_s": None if wall is None or pd.isna(wall) else float(wall),
            "folder": _href(folder, out_dir) if out_dir is not None else str(folder),
            "href": _href(report, out_dir) if report.is_file() else None,
            "has_folder": folder.is_dir()})
    return out


def day_tables(sw: SweepFolder) -> list[dict]:
    """Per scenario: its typical days (date, weekday, weight, extreme, member days as date
    ranges) and the total weight."""
    out = []
    for name in sw.scenarios:
        d = sw.days[sw.days.scenario == name].sort_values("date")
        rows = [{"day": int(r["day"]), "date": r["date"],
                 "weekday": dt.date.fromisoformat(r["date"]).strftime("%a"),
                 "weight": float(r["weight"]), "extreme": r["extreme"],
                 "members": date_ranges(str(r["members"]).split()),
                 "n_members": len(str(r["members"]).split())}
                for r in d.to_dict("records")]
        out.append({"scenario": name, "rows": rows, "total": float(d.weight.sum())})
    return out


def status_lines(sw: SweepFolder) -> list[str]:
    """What the reader must know first: complete or not, and what to do."""
    c = sw.counts()
    total = sum(c.values())
    if c["complete"] == total:
        return [f"Complete: all {total} tasks ran."]
    lines = [f"Incomplete: {c['complete']} of {total} tasks complete, {c['failed']} failed, "
             f"{c['pending']} pending (not run, or cut short when the sweep stopped)."]
    blank = sw.annual[sw.annual.status != "complete"]
    if len(blank):
        names = [f"{r['scenario']} feeder {r['feeder']}" if sw.is_district else r["scenario"]
                 for r in blank.to_dict("records")]
        which = ", ".join(dict.fromkeys(f"{n} at {lv}" for n, lv in
                                        zip(names, blank.level, strict=True)))
        lines.append(f"The annual KPIs of {which} are left blank: their days are not all "
                     f"complete.")
    lines.append("Run the same cosim sweep command again: it runs the failed and pending "
                 "tasks only and rewrites this report.")
    return lines


def _plural(n, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _days_text(header: dict, sw: SweepFolder) -> str:
    if header.get("days") == "all":
        return "all 366 days of 2016 (weight 1 each)"
    n = header.get("n_days", "?")
    return f"{n} typical days per scenario (tsam medoids; weights sum to 366)"


def sweep_figures(sw: SweepFolder) -> list[ReportFigure]:
    """Heat maps (district: totals, then per feeder), calendars, wall times."""
    levels = sw.levels
    frame, rows, row_title = annual_frame(sw)
    figs = heatmaps(frame, rows, levels, row_title, "annual")
    if sw.is_district:
        ff, frows = feeder_frame(sw)
        figs += heatmaps(ff, frows, levels, "scenario / feeder", "feeder")
    for i, name in enumerate(sw.scenarios):
        d = sw.days[sw.days.scenario == name]
        if len(d):
            figs.append(ReportFigure(f"days-{i}", calendar_figure(d, name),
                                     "Hover a day: the typical day that stands for it; "
                                     "hover a framed day: its weight and member days. "
                                     "Red frames: the extreme days."))
    if sw.tasks.wall_s.notna().any():
        figs.append(ReportFigure("walltime", wall_time_figure(sw.tasks, levels,
                                                              district=sw.is_district)))
    return figs


def sweep_page(sw: SweepFolder, *, out_dir: Path | None = None) -> Page:
    """The page of a sweep report; ``out_dir`` is where the page is written (its links to
    the task folders and their reports are relative to it)."""
    h, c = sw.header, sw.counts()
    frame, rows, _ = annual_frame(sw)
    tasks = task_rows(sw, out_dir)
    wall = sum(t["wall_s"] for t in tasks if t["wall_s"] is not None)
    n_reports = sum(t["href"] is not None for t in tasks)
    facts = [("scenarios", f"{len(sw.scenarios)}: {', '.join(sw.scenarios)}"),
             ("days", _days_text(h, sw)),
             ("control levels", ", ".join(sw.levels)),
             ("feeders", f"a district of {h['feeders']} reference feeders (grid.layout_seed "
                         f"1..{h['feeders']})" if sw.is_district else "each scenario's own"),
             ("tasks", f"{sum(c.values())}: {c['complete']} complete, {c['failed']} failed, "
                       f"{c['pending']} pending"),
             ("worker time", f"{format_number(wall, 's')} s over the tasks that ran"),
             ("run reports", f"{n_reports} of {len(tasks)} tasks (cosim report TASK_FOLDER, "
                             f"or cosim report SWEEP --task-reports)"),
             ("version", h.get("version", "?")),
             ("folder", str(Path(sw.path).resolve()))]
    figs = sweep_figures(sw)
    n_days = "366 days" if h.get("days") == "all" else _plural(h.get("n_days", "?"),
                                                               "typical day")
    return Page(
        template=TEMPLATE,
        title=f"Sweep: {_plural(len(sw.scenarios), 'scenario')} x {n_days} x "
              f"{_plural(len(sw.levels), 'level')}",
        figures=figs,
        context={"facts": facts, "complete": c["complete"] == sum(c.values()),
                 "status_lines": status_lines(sw), "notes": sw.notes, "counts": c,
                 "heat_keys": [f.key for f in figs if f.key.startswith("annual-")],
                 "heat_columns": 2 if two_columns(rows, sw.levels) else 1,
                 "feeder_columns": 2 if sw.is_district and two_columns(
                     feeder_frame(sw)[1], sw.levels) else 1,
                 "feeder_keys": [f.key for f in figs if f.key.startswith("feeder-")],
                 "day_keys": [f.key for f in figs if f.key.startswith("days-")],
                 "heat_kpis": HEAT_KPIS, "annual": annual_rows(frame, rows, sw.levels),
                 "district": sw.is_district, "days": day_tables(sw), "tasks": tasks,
                 "failed": [t for t in tasks if t["status"] == "failed"],
                 "pending": [t for t in tasks if t["status"] == "pending"]})
