"""Grid figures over time: transformer loading against its rating, the voltage envelope (per
phase in unbalanced runs) and, in unbalanced runs, the voltage unbalance factor.

Both take one or several curves, so that a run report draws its transformers (or phases) and
a comparison report overlays its levels with the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from testbed.report.style import (
    PALETTE,
    f4,
    limit_line,
    new_figure,
    phase_groups,
    time_title,
    time_x,
)


@dataclass
class Envelope:
    """Lowest and highest bus voltage per step of one run (or one phase of it).

    ``table`` has columns ``time, vm_min_pu, vm_max_pu, bus_min, bus_max`` (the buses where
    the extremes are), one row per step with a converged load flow.
    """

    label: str
    table: pd.DataFrame
    colour: str | None = None


def voltage_envelopes(buses: pd.DataFrame, lv_bus_ids: Iterable[str], *,
                      by_phase: bool = True) -> list[Envelope]:
    """The voltage envelope of the LV buses per step, one per phase if the table has a
    ``phase`` column and ``by_phase``.

    Parameters
    ----------
    buses
        ``buses.parquet``: ``time, bus_id, vm_pu`` (optionally ``phase``).
    lv_bus_ids
        The buses the band applies to (LV buses; the MV slack is left out).
    by_phase
        One envelope per phase (else the extremes over all phases).

    Returns
    -------
    list of Envelope
        Labelled ``None``-free: ``"phase a"``... or ``""`` for a balanced run.
    """
    b = buses[buses.bus_id.astype(str).isin(set(map(str, lv_bus_ids)))]
    steps = pd.DatetimeIndex(buses.time.unique(), name="time").sort_values()
    groups = phase_groups(b) if by_phase else [(None, b)]
    out = []
    for phase, g in groups:
        g = g.dropna(subset=["vm_pu"]).reset_index(drop=True)
        per_step = g.groupby("time", sort=True).vm_pu
        lo, hi = g.loc[per_step.idxmin()], g.loc[per_step.idxmax()]
        table = pd.DataFrame({"vm_min_pu": lo.vm_pu.to_numpy(), "vm_max_pu": hi.vm_pu.to_numpy(),
                              "bus_min": lo.bus_id.astype(str).to_numpy(),
                              "bus_max": hi.bus_id.astype(str).to_numpy()},
                             index=pd.DatetimeIndex(lo.time, name="time"))
        table = table.reindex(steps).reset_index()  # a step with no converged load flow: gap
        out.append(Envelope(label="" if phase is None else f"phase {phase}", table=table))
    return out


def envelope_figure(envelopes: Sequence[Envelope], *, vm_min_pu: float, vm_max_pu: float,
                    timezone: str, title: str) -> go.Figure:
    """Lowest and highest LV bus voltage per step, shaded between, with the voltage band.

    The y range always shows the band, so a reader sees how far the feeder is from its limits.
    """
    fig = new_figure(title, x_title=time_title(timezone), y_title="voltage [p.u.]",
                     time_axis=True)
    for i, env in enumerate(envelopes):
        colour = env.colour or PALETTE[i % len(PALETTE)]
        t, x = env.table, time_x(env.table.time)
        name = f"{env.label} " if env.label else ""
        fig.add_scatter(**x, y=f4(t.vm_max_pu), name=f"{name}highest", mode="lines",
                        line={"color": colour, "width": 1.5, "dash": "dot"},
                        legendgroup=env.label, customdata=t.bus_max.to_numpy(),
                        hovertemplate="%{y:.4f} p.u. at %{customdata}")
        fig.add_scatter(**x, y=f4(t.vm_min_pu), name=f"{name}lowest", mode="lines",
                        line={"color": colour, "width": 2}, fill="tonexty",
                        fillcolor=_transparent(colour), legendgroup=env.label,
                        customdata=t.bus_min.to_numpy(),
                        hovertemplate="%{y:.4f} p.u. at %{customdata}")
    limit_line(fig, vm_min_pu, f"band {vm_min_pu:.2f} p.u.")
    limit_line(fig, vm_max_pu, f"band {vm_max_pu:.2f} p.u.")
    values = [v for e in envelopes for v in (e.table.vm_min_pu.min(), e.table.vm_max_pu.max())]
    lo = min([vm_min_pu, *[v for v in values if np.isfinite(v)]])
    hi = max([vm_max_pu, *[v for v in values if np.isfinite(v)]])
    pad = 0.08 * (hi - lo)
    fig.update_layout(hovermode="x unified", yaxis_range=[lo - pad, hi + pad])
    if len(envelopes) > 1:  # a legend of two rows: keep it clear of the title
        fig.update_layout(margin_t=100)
    return fig


def vuf_figure(buses: pd.DataFrame, lv_bus_ids: Iterable[str], *, vuf_max_percent: float,
               timezone: str, title: str = "Voltage unbalance factor of the LV buses"
               ) -> go.Figure:
    """Highest voltage unbalance factor ``|V2| / |V1|`` of the LV buses per step, with its limit.

    Parameters
    ----------
    buses
        ``buses.parquet`` of an unbalanced run (``time, bus_id, phase, vm_pu, vuf_percent``).
    lv_bus_ids
        The buses the limit applies to.
    vuf_max_percent
        The limit [%] (EN 50160: 2 %).
    """
    b = buses[buses.bus_id.astype(str).isin(set(map(str, lv_bus_ids)))]
    b = b.dropna(subset=["vuf_percent"]).reset_index(drop=True)
    worst = b.loc[b.groupby("time", sort=True).vuf_percent.idxmax()]
    fig = new_figure(title, x_title=time_title(timezone), y_title="voltage unbalance [%]",
                     time_axis=True)
    fig.add_scatter(**time_x(worst.time), y=f4(worst.vuf_percent), name="highest", mode="lines",
                    line={"width": 2, "color": PALETTE[0]},
                    customdata=worst.bus_id.astype(str).to_numpy(),
                    hovertemplate="%{y:.3f} % at %{customdata}")
    limit_line(fig, vuf_max_percent, f"limit {vuf_max_percent:g} %")
    top = max(vuf_max_percent, float(worst.vuf_percent.max()) if len(worst) else 0.0)
    fig.update_layout(hovermode="x unified", yaxis_range=[0, 1.1 * top])
    return fig


@dataclass
class LoadingCurve:
    """Loading over time of one transformer (or phase, or one level's most loaded one)."""

    label: str
    time: pd.Series
    loading_percent: pd.Series


def trafo_curves(transformer: pd.DataFrame) -> list[LoadingCurve]:
    """One curve per transformer (and phase, if the table has a ``phase`` column), named with
    its rating (``T1 (500 kVA)``)."""
    keys = ["trafo_id", "phase"] if "phase" in transformer.columns else ["trafo_id"]
    out = []
    for key, g in transformer.groupby(keys, sort=False, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        g = g.sort_values("time")
        label = str(key[0])
        if "sn_mva" in g.columns and g.sn_mva.notna().any():
            kva = 1000 * float(g.sn_mva.dropna().iloc[0])
            if f"{kva:.0f} kVA" not in label:
                label = f"{label} ({kva:.0f} kVA)"
        if len(key) > 1:
            label = f"{label} phase {key[1]}"
        out.append(LoadingCurve(label=label, time=g.time, loading_percent=g.loading_percent))
    return out


def most_loaded_curve(transformer: pd.DataFrame, label: str) -> LoadingCurve:
    """The highest loading of any transformer (any phase) per step, as one curve."""
    m = transformer.groupby("time", sort=True).loading_percent.max()
    return LoadingCurve(label=label, time=pd.Series(m.index), loading_percent=m.reset_index(
        drop=True))


def loading_figure(curves: Sequence[LoadingCurve], *, limit_percent: float, timezone: str,
                   title: str, colours: Sequence[str] | None = None) -> go.Figure:
    """Transformer loading over time with its rating (100 %) and the scenario's limit.

    Reverse power flow (PV export) counts as loading: the curves are never negative.
    """
    fig = new_figure(title, x_title=time_title(timezone), y_title="loading [% of rating]",
                     time_axis=True)
    for i, c in enumerate(curves):
        line = {"width": 2} if colours is None else {"width": 2, "color": colours[i]}
        fig.add_scatter(**time_x(c.time), y=f4(c.loading_percent), name=c.label,
                        mode="lines", line=line, hovertemplate="%{y:.1f} %")
    limit_line(fig, 100.0, "rating 100 %")
    if limit_percent != 100.0:
        limit_line(fig, limit_percent, f"limit {limit_percent:g} %", dash="dot")
    top = max([limit_percent, 100.0, *[float(np.nanmax(c.loading_percent)) for c in curves
                                        if c.loading_percent.notna().any()]])
    fig.update_layout(hovermode="x unified", yaxis_range=[0, 1.08 * top])
    return fig


def _transparent(colour: str, alpha: float = 0.15) -> str:
    """``#RRGGBB`` as ``rgba(r,g,b,alpha)``."""
    h = colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
