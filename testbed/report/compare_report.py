"""The report of a comparison folder (``cosim compare``): the control levels side by side.

The KPI table with every level's value and its difference from the first level, transformer
loading, the voltage envelope and the homes' net power of every level overlaid, links to each
level's own report, and the scenario (the same for every level but ``control``).
"""

from __future__ import annotations

from pathlib import Path

from testbed.report.folders import CompareFolder
from testbed.report.grid_figures import (
    Envelope,
    envelope_figure,
    loading_figure,
    most_loaded_curve,
    voltage_envelopes,
)
from testbed.report.homes_figures import homes_by_device
from testbed.report.page import Page, ReportFigure
from testbed.report.run_report import lv_bus_ids
from testbed.report.style import PALETTE, f4, new_figure, time_title, time_x
from testbed.report.tables import compare_rows, scenario_rows

TEMPLATE = "compare.html.j2"


def compare_figures(cmp: CompareFolder) -> list[ReportFigure]:
    """Loading, voltage envelope and the homes' net power, one curve (or band) per level."""
    levels = cmp.levels
    first = cmp.runs[levels[0]].scenario
    tz = first.timezone
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(levels))]
    curves = [most_loaded_curve(cmp.runs[lv].tables["transformer"], lv) for lv in levels]
    loading = loading_figure(curves, limit_percent=first.max_loading_percent, timezone=tz,
                             title="Transformer loading by control level", colours=colours)
    envs = []
    for lv, colour in zip(levels, colours, strict=True):
        run = cmp.runs[lv]
        env = voltage_envelopes(run.tables["buses"], lv_bus_ids(run), by_phase=False)[0]
        envs.append(Envelope(label=lv, table=env.table, colour=colour))
    voltage = envelope_figure(envs, vm_min_pu=first.vm_min_pu, vm_max_pu=first.vm_max_pu,
                              timezone=tz, title="Voltage envelope of the LV buses by control "
                              "level")
    homes = new_figure("Net power of all homes by control level", x_title=time_title(tz),
                       y_title="power, all homes [kW]", time_axis=True)
    for lv, colour in zip(levels, colours, strict=True):
        d = homes_by_device(cmp.runs[lv].tables["homes"])
        homes.add_scatter(**time_x(d.index), y=f4(d.p_kw), name=lv, mode="lines",
                          line={"color": colour, "width": 2}, hovertemplate="%{y:.1f} kW")
    homes.update_layout(hovermode="x unified")
    return [
        ReportFigure("loading", loading, "The most loaded transformer of each level, per step."),
        ReportFigure("voltage", voltage, "Solid: the lowest LV bus voltage of each level per "
                     "step; dotted: the highest; dashed: the band."),
        ReportFigure("homes", homes, "Consumption > 0: where the CEMS and the DSO move the "
                     "homes' power in time."),
    ]


def level_facts(cmp: CompareFolder, out_dir: Path | None) -> list[dict]:
    """One entry per level: its folder, status, wall time and the link to its own report
    (relative to the comparison report, when that report exists)."""
    out = []
    for lv in cmp.levels:
        run = cmp.runs[lv]
        report = run.path / "report.html"
        href = None
        if report.is_file() and out_dir is not None:
            try:
                href = report.resolve().relative_to(out_dir.resolve()).as_posix()
            except ValueError:
                href = report.resolve().as_uri()
        out.append({"level": lv, "folder": str(run.path), "status": run.meta.get("status", "?"),
                    "wall_s": run.meta.get("wall_s"), "href": href})
    return out


def compare_page(cmp: CompareFolder, *, out_dir: Path | None = None) -> Page:
    """The page of a comparison report; ``out_dir`` is where the page is written (for the
    links to the levels' reports)."""
    levels = cmp.levels
    first = cmp.runs[levels[0]]
    rows = scenario_rows(first.scenario_toml)
    return Page(
        template=TEMPLATE,
        title=f"{first.scenario.name}: control levels {', '.join(levels)}",
        figures=compare_figures(cmp),
        context={"levels": levels, "base": levels[0], "kpis": compare_rows(cmp.table),
                 "level_facts": level_facts(cmp, out_dir), "scenario": rows,
                 "n_differs": sum(r.differs for r in rows),
                 "facts": [("scenario", first.scenario.name),
                           ("grid", first.meta.get("grid", "?")),
                           ("homes", first.meta.get("n_homes", "?")),
                           ("days", f"{first.scenario.days} day(s) from "
                                    f"{first.scenario.start.isoformat()} "
                                    f"({first.scenario.timezone})"),
                           ("levels", ", ".join(levels)),
                           ("folder", str(Path(cmp.path).resolve()))]})
