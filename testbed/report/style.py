"""The look every report figure shares: a small plotly template, colours, axis titles, times.

Figures carry a template of a few entries (plotly's default template would add about 9 kB of
JSON to every figure); the page embeds plotly.js once (:mod:`testbed.report.render`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
PHASE_COLOURS = {"a": "#D55E00", "b": "#0072B2", "c": "#009E73"}
LIMIT_COLOUR = "#B00020"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

TEMPLATE = go.layout.Template(layout={
    "font": {"family": FONT, "size": 13, "color": "#222"},
    "paper_bgcolor": "white", "plot_bgcolor": "white", "colorway": list(PALETTE),
    "margin": {"l": 70, "r": 30, "t": 60, "b": 60},
    "xaxis": {"showgrid": True, "gridcolor": "#e5e5e5", "linecolor": "#888", "ticks": "outside",
              "zeroline": False, "automargin": True},
    "yaxis": {"showgrid": True, "gridcolor": "#e5e5e5", "linecolor": "#888", "ticks": "outside",
              "zeroline": False, "automargin": True},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    "hoverlabel": {"font": {"family": FONT}},
})


def new_figure(title: str, *, x_title: str, y_title: str, height: int = 380,
               time_axis: bool = False, subtitle: str = "") -> go.Figure:
    """An empty figure with the report's template, a title and both axis titles.

    Axis titles carry their unit in brackets (``loading [%]``); a time axis says its zone and
    is a date axis (``time_axis``; its traces use :func:`time_x`). Keep titles short (the
    figure's tool bar sits at the top right); details go in the ``subtitle``.
    """
    fig = go.Figure()
    title_spec: dict = {"text": title, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top"}
    if subtitle:
        title_spec["subtitle"] = {"text": subtitle, "font": {"size": 13, "color": "#555"}}
    fig.update_layout(template=TEMPLATE, title=title_spec, height=height, xaxis_title=x_title,
                      yaxis_title=y_title, margin={"t": 90 if subtitle else 60})
    if time_axis:
        fig.update_xaxes(type="date", hoverformat="%Y-%m-%d %H:%M")
    return fig


def time_title(timezone: str) -> str:
    """The title of a time axis: local time with its zone."""
    return f"local time [{timezone}]"


def local_times(times: pd.Series | pd.Index) -> pd.DatetimeIndex:
    """Timestamps as local wall-clock time (naive) for a plotly date axis.

    plotly.js ignores UTC offsets; the scenario's local time is what the reader expects.
    """
    t = pd.DatetimeIndex(times)
    return t.tz_localize(None) if t.tz is not None else t


def time_x(times: pd.Series | pd.Index) -> dict:
    """The x of a trace over time: ``x0`` and ``dx`` [ms] when the local times are evenly
    spaced (no array in the page), else every time as text (a day with a clock change).

    Use with a date x axis (:func:`new_figure` with ``time_axis=True``).
    """
    t = local_times(times)
    steps = np.diff(t.asi8)
    if len(t) > 1 and steps[0] > 0 and np.all(steps == steps[0]):
        return {"x0": t[0].strftime("%Y-%m-%d %H:%M:%S"), "dx": int(steps[0] // 1_000_000)}
    if len(t) == 1:
        return {"x0": t[0].strftime("%Y-%m-%d %H:%M:%S"), "dx": 0}
    return {"x": np.asarray(t.strftime("%Y-%m-%d %H:%M"), dtype=object)}


def f4(values) -> np.ndarray:
    """Values as float32: what a figure needs (7 significant digits) at half the bytes."""
    return np.asarray(values, dtype=np.float32)


def limit_line(fig: go.Figure, y: float, label: str, *, dash: str = "dash") -> None:
    """A horizontal limit (rating, voltage band) with its label at the right end."""
    fig.add_hline(y=y, line={"color": LIMIT_COLOUR, "dash": dash, "width": 1.5},
                  annotation={"text": label, "font": {"color": LIMIT_COLOUR, "size": 12},
                              "xanchor": "right", "x": 1, "yanchor": "bottom"})


def phase_groups(df: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """A table split by its optional ``phase`` column (unbalanced runs: ``a``, ``b``, ``c``);
    ``[(None, df)]`` for a balanced run."""
    if "phase" not in df.columns:
        return [(None, df)]
    return [(str(p), g) for p, g in df.groupby("phase", sort=True, observed=True)]
