"""Figures of the homes: their total power by device, and the CEMS plans' status."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from testbed.report.style import PALETTE, f4, new_figure, time_title, time_x

# Consumption stacks up from zero, generation and discharge stack down (load convention).
DEVICES_UP = (("base_kw", "base load"), ("appliance_kw", "smart appliances"),
              ("ev_kw", "EV charging"), ("hp_kw", "heat pumps"),
              ("battery_charge_kw", "battery charging"))
DEVICES_DOWN = (("pv_generation_kw", "PV"), ("battery_discharge_kw", "battery discharging"),
                ("limited_cut_kw", "cut by the DSO (emergency)"))
STATUS_COLOURS = {"optimal": "#009E73", "fallback": "#D55E00", "infeasible": "#CC79A7"}


def homes_by_device(homes: pd.DataFrame) -> pd.DataFrame:
    """All homes' power per step and device [kW], signed by the load convention.

    Returns
    -------
    DataFrame
        Index time; columns of :data:`DEVICES_UP` (>= 0), :data:`DEVICES_DOWN` (<= 0) and
        ``p_kw`` (the net power of all homes, their sum).
    """
    cols = [c for c in ("base_kw", "appliance_kw", "ev_kw", "hp_kw", "pv_kw", "battery_kw",
                        "limited_kw", "p_kw") if c in homes.columns]
    s = homes.groupby("time", sort=True)[cols].sum()
    zero = pd.Series(0.0, index=s.index)
    out = pd.DataFrame(index=s.index)
    for c in ("base_kw", "appliance_kw", "ev_kw", "hp_kw"):
        out[c] = s.get(c, zero)
    battery = s.get("battery_kw", zero)
    out["battery_charge_kw"] = battery.clip(lower=0.0)
    out["pv_generation_kw"] = -s.get("pv_kw", zero)
    out["battery_discharge_kw"] = battery.clip(upper=0.0)
    out["limited_cut_kw"] = -s.get("limited_kw", zero)
    out["p_kw"] = s["p_kw"]
    return out


def homes_power_figure(homes: pd.DataFrame, *, timezone: str, n_homes: int) -> go.Figure:
    """The homes' total power by device, stacked (consumption up, generation down), with the
    net power of all homes as a line. A device no home has is left out."""
    d = homes_by_device(homes)
    fig = new_figure("Homes: total power by device", x_title=time_title(timezone),
                     y_title="power, all homes [kW]", height=440, time_axis=True,
                     subtitle=f"{n_homes} homes; load convention: consumption > 0, "
                              f"generation < 0")
    x = time_x(d.index)
    colours = iter(PALETTE)
    for group, devices in (("up", DEVICES_UP), ("down", DEVICES_DOWN)):
        for col, label in devices:
            colour = next(colours)
            if not np.any(d[col].to_numpy() != 0):
                continue
            fig.add_scatter(**x, y=f4(d[col]), name=label, stackgroup=group,
                            mode="lines", line={"width": 0.5, "color": colour},
                            hovertemplate="%{y:.1f} kW")
    fig.add_scatter(**x, y=f4(d.p_kw), name="net, all homes", mode="lines",
                    line={"color": "#000", "width": 2}, hovertemplate="%{y:.1f} kW")
    fig.update_layout(hovermode="x unified", legend_traceorder="normal")
    return fig


def plan_status_counts(plans: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """CEMS plans per day and status (``optimal``, ``fallback``...): a count table.

    Parameters
    ----------
    plans
        ``cems_plans.parquet``: one row per CEMS home and day (``day``, ``status``,
        ``fallback``).
    start
        The run's first day (``day`` 0).

    Returns
    -------
    DataFrame
        Index the date of each day; one column per status; values the number of homes.
    """
    p = plans.assign(status=plans.status.astype(str))
    counts = p.groupby(["day", "status"]).size().unstack("status", fill_value=0)
    counts.index = [start + dt.timedelta(days=int(d)) for d in counts.index]
    return counts


def plan_status_figure(plans: pd.DataFrame, start: dt.date) -> go.Figure:
    """Stacked bars: the CEMS homes per day by the status of their plan."""
    counts = plan_status_counts(plans, start)
    fallback = int(plans.fallback.sum()) if "fallback" in plans.columns else 0
    fig = new_figure("CEMS plans by status", x_title="day [date]",
                     y_title="CEMS plans [homes]", height=320,
                     subtitle=f"{len(plans)} home-days planned, {fallback} fell back to the "
                              f"uncontrolled schedule")
    days = [d.isoformat() for d in counts.index]
    for i, status in enumerate(counts.columns):
        fig.add_bar(x=days, y=counts[status].to_numpy(), name=status,
                    marker_color=STATUS_COLOURS.get(status, PALETTE[i % len(PALETTE)]),
                    hovertemplate=f"{status}: %{{y}} homes<extra>%{{x}}</extra>")
    fig.update_layout(barmode="stack", xaxis_type="category",
                      bargap=0.8 if len(days) <= 2 else 0.3)
    return fig
