"""Figures of the flexibility (control market and dso, ``flex.parquet``): the traffic light of
each interval, and the flexibility requested, offered, ordered and delivered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from testbed.report.style import f4, new_figure, time_title, time_x

LIGHTS = ("green", "yellow", "orange", "red")
LIGHT_COLOURS = {"green": "#2E9E44", "yellow": "#F2C500", "orange": "#F07F00", "red": "#C0142B"}
ROWS = ("day-ahead, before negotiation", "day-ahead, after negotiation", "operation (measured)")
FLEX_SERIES = (("requested_kw", "requested", "#0072B2"), ("offered_kw", "offered", "#56B4E9"),
               ("ordered_kw", "ordered", "#E69F00"), ("delivered_kw", "delivered", "#009E73"))
DASHES = {"ordered_kw": ("solid", 4), "delivered_kw": ("dash", 2)}  # ordered = delivered: both seen


def light_rows(flex: pd.DataFrame) -> list[list[str]]:
    """The traffic light of every interval, three rows (:data:`ROWS`): the day-ahead light
    before and after the negotiation, and ``red`` where the DSO measured a violation in
    operation (else ``green``)."""
    operation = np.where(flex.operation_violation.to_numpy(dtype=bool), "red", "green")
    return [flex.initial_light.astype(str).tolist(), flex.final_light.astype(str).tolist(),
            operation.tolist()]


def traffic_light_figure(flex: pd.DataFrame, *, timezone: str) -> go.Figure:
    """Each interval's traffic light as a coloured strip, one row per stage (:data:`ROWS`)."""
    rows = light_rows(flex)
    codes = np.array([[LIGHTS.index(v) if v in LIGHTS else np.nan for v in r] for r in rows])
    n = len(LIGHTS)
    scale = []
    for i, light in enumerate(LIGHTS):  # a discrete scale: one flat band per light
        scale += [[i / n, LIGHT_COLOURS[light]], [(i + 1) / n, LIGHT_COLOURS[light]]]
    fig = new_figure("Traffic light per interval", x_title=time_title(timezone),
                     y_title="stage", height=300, time_axis=True,
                     subtitle=f"{len(flex)} intervals: {rows[0].count('yellow')} yellow "
                              f"day-ahead, {rows[1].count('orange')} left orange after the "
                              f"negotiation, {rows[2].count('red')} violated in operation")
    fig.add_heatmap(**time_x(flex.time), y=list(ROWS), z=f4(codes), zmin=-0.5,
                    zmax=n - 0.5, colorscale=scale, showscale=False, text=rows, xgap=1, ygap=3,
                    hovertemplate="%{x}<br>%{y}: %{text}<extra></extra>")
    fig.update_layout(yaxis={"autorange": "reversed", "showgrid": False},
                      xaxis={"showgrid": False}, margin={"l": 200})
    return fig


def flexibility_figure(flex: pd.DataFrame, *, timezone: str, step_h: float) -> go.Figure:
    """Flexibility requested, offered, ordered and delivered per interval [kW]; the legend
    gives each one's energy over the run [kWh]."""
    fig = new_figure("Flexibility per interval", x_title=time_title(timezone),
                     y_title="flexibility [kW]", height=380, time_axis=True)
    x = time_x(flex.time)
    for col, label, colour in FLEX_SERIES:
        y = flex[col].to_numpy(dtype=float)
        dash, width = DASHES.get(col, ("solid", 2))
        fig.add_scatter(**x, y=f4(y), name=f"{label} ({np.nansum(y) * step_h:,.1f} kWh)",
                        mode="lines",
                        line={"shape": "hv", "color": colour, "width": width, "dash": dash},
                        hovertemplate="%{y:.1f} kW")
    fig.update_layout(hovermode="x unified")
    return fig
