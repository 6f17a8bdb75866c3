"""The sweep report's figures: annual KPIs as heat maps, the typical days on a year calendar,
and the wall time of the tasks.

A heat map is one KPI over rows (scenarios, or a district's scenario and feeder) x control
levels; each cell shows its value, its hover the row, level, value with unit and the days it
rests on; a cell whose days are not all complete is left blank and says so. A calendar is one
scenario's year (months x days of the month): each day coloured by the typical day that
stands for it, the typical days framed with their weight written in, hover naming both.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from testbed.report.style import LIMIT_COLOUR, PALETTE, new_figure
from testbed.report.tables import format_number, kpi_unit

MONTHS = [calendar.month_abbr[m] for m in range(1, 13)]
# Light qualitative colours (the weight is written on them in black): 29 distinct, then again.
DAY_COLOURS = (*qualitative.Set3, *qualitative.Pastel1, *qualitative.Pastel2)
MISSING_COLOUR = "#eeeeee"


@dataclass(frozen=True)
class HeatKpi:
    """An annual KPI shown as a heat map: its key, its words, its unit and colours.

    ``unit`` is what the page prints (``min/yr``); the decimals follow the key's own unit
    (:func:`testbed.report.tables.kpi_unit`); ``short`` heads the table's column, ``about``
    is the figure's subtitle; ``from_zero``: the colours start at 0 (a KPI where 0 is the
    good value: minutes, violations, cost), else at the lowest value shown.
    """

    key: str
    label: str
    unit: str
    short: str
    about: str
    colorscale: str
    from_zero: bool = False

    @property
    def title(self) -> str:
        """The figure's title, with the unit."""
        return f"{self.label[0].upper()}{self.label[1:]} [{self.unit}]"

    def text(self, value: float) -> str:
        """The value as a cell shows it."""
        return format_number(value, kpi_unit(self.key))


# The annual KPIs of the heat maps (annual rules in testbed/annual.py; the year is 2016).
HEAT_KPIS = (
    HeatKpi("grid.max_trafo_loading_percent", "peak transformer loading", "%", "peak loading",
            "the most loaded moment of the year, % of the transformer's rating", "YlOrRd"),
    HeatKpi("grid.overload_minutes", "time above the loading limit", "min/yr", "above limit",
            "minutes a transformer or a line is above the scenario's limit", "YlOrRd", True),
    HeatKpi("grid.voltage_violations", "voltage violations", "bus-steps/yr", "V violations",
            "LV buses outside the voltage band, counted per bus and step", "Reds", True),
    HeatKpi("grid.vm_min_pu", "lowest voltage", "p.u.", "lowest V",
            "the lowest LV bus voltage of the year", "RdYlBu"),
    HeatKpi("grid.vm_max_pu", "highest voltage", "p.u.", "highest V",
            "the highest LV bus voltage of the year", "YlOrRd"),
    HeatKpi("grid.losses_kwh", "grid losses", "kWh/yr", "losses",
            "energy lost in the lines and the transformer", "Oranges"),
    HeatKpi("homes.total_bill_eur", "bills, all homes", "EUR/yr", "bills",
            "what all homes pay their supplier in the year", "Blues"),
    HeatKpi("flex.ordered_eur", "flexibility cost", "EUR/yr", "flex cost",
            "the flexibility the DSO ordered (control market and dso)", "Purples", True),
)


@dataclass
class HeatGrid:
    """What one heat map draws: values (rows x levels), what each rests on, and notes.

    ``values`` is NaN where the annual KPI is missing; ``notes`` then says why
    (``incomplete: 1 of 2 days``, ``not at this level``); ``basis`` says what a value rests
    on (``2 typical days``).
    """

    rows: list[str]
    levels: list[str]
    values: np.ndarray
    notes: np.ndarray
    basis: np.ndarray


def heat_grid(annual: pd.DataFrame, key: str, rows: Sequence[str], levels: Sequence[str]
              ) -> HeatGrid:
    """One KPI of an annual table as rows x levels.

    Parameters
    ----------
    annual
        One row per heat-map row and level: ``row`` (the row's key), ``level``, ``status``
        (``complete`` or not), ``basis`` (what a complete value rests on: ``2 days``),
        ``note`` (why an incomplete one is missing) and the KPI columns (from
        ``annual.parquet`` or ``district.parquet``).
    key
        The KPI.
    rows
        The rows (``row`` values), in display order.
    levels
        The control levels (columns).
    """
    shape = (len(rows), len(levels))
    values = np.full(shape, np.nan)
    notes = np.full(shape, "", dtype=object)
    basis = np.full(shape, "", dtype=object)
    by = {(r["row"], r["level"]): r for r in annual.to_dict("records")}
    for i, row in enumerate(rows):
        for j, level in enumerate(levels):
            r = by.get((row, level))
            if r is None:
                notes[i, j] = "not in the sweep"
            elif r["status"] != "complete":
                notes[i, j] = r["note"]
            elif key not in r or r[key] is None or pd.isna(r[key]):
                notes[i, j] = "not at this level"
                basis[i, j] = r["basis"]
            else:
                values[i, j] = float(r[key])
                basis[i, j] = r["basis"]
    return HeatGrid(rows=list(rows), levels=list(levels), values=values,
                    notes=notes, basis=basis)


def two_columns(rows: Sequence[str], levels: Sequence[str]) -> bool:
    """Whether heat maps of these rows and levels read well two side by side on a laptop
    (each about 560 px wide: the row labels, the colour bar and cells of about 75 px)."""
    label_px = 7 * max((len(r) for r in rows), default=0)
    return (470 - label_px) / max(len(levels), 1) >= 75


def heatmap_figure(grid: HeatGrid, kpi: HeatKpi, *, row_title: str) -> go.Figure:
    """A heat map of one annual KPI (rows x control levels), values written in the cells."""
    n = len(grid.rows)
    fig = new_figure(kpi.title, x_title="control level", y_title=row_title,
                     height=max(280, 150 + 34 * n), subtitle=kpi.about)
    missing = np.isnan(grid.values)
    values = np.vectorize(kpi.text, otypes=[object])(np.nan_to_num(grid.values))
    # a missing cell says why in a word (the hover says it in full)
    text = np.where(missing, [[note.split(":")[0].replace("not at this level", "n/a")
                               for note in row] for row in grid.notes], values)
    hover = [[f"{grid.rows[i]}, level {lv}<br>{kpi.label}: "
              + (grid.notes[i, j] if missing[i, j] else
                 f"{values[i, j]} {kpi.unit}<br>over {grid.basis[i, j]}")
              for j, lv in enumerate(grid.levels)] for i in range(n)]
    z = np.where(np.isnan(grid.values), None, grid.values)
    scale = {}
    if kpi.from_zero:
        top = float(np.nanmax(grid.values)) if np.isfinite(grid.values).any() else 0.0
        scale = {"zmin": 0.0, "zmax": top if top > 0 else 1.0}
    fig.add_heatmap(
        x=grid.levels, y=grid.rows, z=z.tolist(), text=text.tolist(), customdata=hover,
        texttemplate="%{text}" if n <= 40 else "", textfont={"size": 13},
        hovertemplate="%{customdata}<extra></extra>", hoverongaps=True, xgap=2, ygap=2,
        colorscale=kpi.colorscale, **scale,
        colorbar={"title": {"text": f"[{kpi.unit}]", "side": "top"}, "thickness": 14})
    fig.update_xaxes(type="category", showgrid=False, ticks="", title_standoff=4)
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, ticks="")
    fig.update_layout(plot_bgcolor=MISSING_COLOUR, margin_b=50)
    return fig


def date_ranges(dates: Sequence[str]) -> str:
    """ISO dates as runs of consecutive days (``01-04..01-09, 02-11``; the year left out)."""
    days = sorted(dt.date.fromisoformat(d) for d in dates)
    out, start, prev = [], None, None
    for d in [*days, None]:
        if start is not None and (d is None or (d - prev).days != 1):
            a, b = start.strftime("%m-%d"), prev.strftime("%m-%d")
            out.append(a if start == prev else f"{a}..{b}")
            start = None
        if d is not None and start is None:
            start = d
        prev = d
    return ", ".join(out)


def _wrap(text: str, width: int = 70) -> str:
    """Comma-separated text broken into hover lines of about ``width`` characters."""
    lines, line = [], ""
    for part in text.split(", "):
        if line and len(line) + len(part) + 2 > width:
            lines.append(line + ",")
            line = part
        else:
            line = f"{line}, {part}" if line else part
    return "<br>".join([*lines, line])


def _discrete_scale(n: int) -> list:
    """A colour scale of ``n`` flat steps (z = 0..n-1 each one colour)."""
    scale = []
    for k in range(n):
        c = DAY_COLOURS[k % len(DAY_COLOURS)]
        scale += [[k / n, c], [(k + 1) / n, c]]
    return scale


def _extreme_text(extreme: str) -> str:
    return {"peak_import": "highest net import peak", "pv_export": "largest PV export",
            "peak_import+pv_export": "highest import peak and largest PV export"
            }.get(extreme, extreme)


def calendar_figure(days: pd.DataFrame, scenario: str) -> go.Figure:
    """One scenario's typical days on the year's calendar (months x days of the month).

    Parameters
    ----------
    days
        The scenario's rows of ``days.csv``: ``day``, ``date``, ``weight``, ``extreme``,
        ``members`` (ISO dates, space-separated).
    scenario
        Its name (the title).
    """
    d = days.sort_values("date").reset_index(drop=True)
    year = dt.date.fromisoformat(d.date.iloc[0]).year if len(d) else 2016
    z = np.full((12, 31), None, dtype=object)
    hover = np.full((12, 31), "", dtype=object)
    for k, r in enumerate(d.itertuples(index=False)):
        rep = dt.date.fromisoformat(r.date)
        for m in str(r.members).split():
            day = dt.date.fromisoformat(m)
            z[day.month - 1, day.day - 1] = k
            hover[day.month - 1, day.day - 1] = (
                f"{day:%a %Y-%m-%d}: typical day {r.day} ({rep:%a %m-%d}, weight {r.weight:g})")
    n = len(d)
    total = float(d.weight.sum())
    fig = new_figure(f"Typical days of {scenario}", x_title="day of the month [day]",
                     y_title=f"month ({year})", height=440,
                     subtitle=f"{n} typical days (framed, weight = days of the year each "
                              f"stands for) and their {total:g} days")
    fig.add_heatmap(x=list(range(1, 32)), y=MONTHS, z=z.tolist(), customdata=hover.tolist(),
                    hovertemplate="%{customdata}<extra></extra>", hoverongaps=False,
                    colorscale=_discrete_scale(max(n, 1)), zmin=-0.5, zmax=max(n, 1) - 0.5,
                    showscale=False, xgap=1, ygap=1, name="day of the year")
    rep = [dt.date.fromisoformat(x) for x in d.date]
    chosen_hover = [
        f"<b>typical day {r.day}: {dt.date.fromisoformat(r.date):%a %Y-%m-%d}</b><br>"
        f"weight {r.weight:g} days"
        + (f" ({_extreme_text(r.extreme)})" if r.extreme else "")
        + f"<br>stands for: {_wrap(date_ranges(str(r.members).split()))}"
        for r in d.itertuples(index=False)]
    fig.add_scatter(x=[x.day for x in rep], y=[MONTHS[x.month - 1] for x in rep],
                    mode="markers+text" if n <= 40 else "markers",
                    text=[f"{w:g}" for w in d.weight], textfont={"size": 11, "color": "#000"},
                    marker={"symbol": "square-open", "size": 25 if n <= 40 else 8,
                            "color": ["#B00020" if e else "#000" for e in d.extreme],
                            "line": {"width": 2.5}},
                    customdata=chosen_hover, hovertemplate="%{customdata}<extra></extra>",
                    name="typical day (weight)", showlegend=False)
    fig.update_xaxes(range=[0.5, 31.5], dtick=1, showgrid=False, ticks="", tickfont_size=11,
                     title_standoff=4)
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, ticks="")
    fig.update_layout(plot_bgcolor="white", margin={"t": 80, "l": 60, "r": 20, "b": 50})
    return fig


def wall_time_figure(tasks: pd.DataFrame, levels: Sequence[str], *, district: bool = False
                     ) -> go.Figure:
    """Wall time of every task that ran, by control level (one dot per task, with a box)."""
    ran = tasks[tasks.wall_s.notna() & (tasks.status != "pending")]
    total = float(ran.wall_s.sum())
    fig = new_figure("Wall time per task by control level", x_title="control level",
                     y_title="wall time of the task [s]", height=340,
                     subtitle=f"{len(ran)} tasks ran, {total:,.0f} s of worker time in all "
                              f"(failed tasks: red crosses)")
    for i, lv in enumerate(levels):
        g = ran[ran.level == lv]
        colour = PALETTE[i % len(PALETTE)]
        for status, marker in (("complete", {"color": colour, "size": 7}),
                               ("failed", {"color": LIMIT_COLOUR, "size": 9, "symbol": "x"})):
            s = g[g.status == status]
            if not len(s):
                continue
            label = [f"{r['scenario']} {r['date']}"
                     + (f" feeder {r['feeder']}" if district else "") + f": {status}"
                     for r in s.to_dict("records")]
            fig.add_box(x=[lv] * len(s), y=s.wall_s.to_numpy(dtype=float),
                        name=f"{lv} {status}", boxpoints="all", jitter=0.5, pointpos=0,
                        text=label, marker=marker,
                        line={"color": colour if status == "complete" else "rgba(0,0,0,0)"},
                        fillcolor="rgba(0,0,0,0)", showlegend=False,
                        hovertemplate="%{text}<br>%{y:.1f} s<extra></extra>")
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=list(levels))
    fig.update_yaxes(rangemode="tozero")
    return fig
