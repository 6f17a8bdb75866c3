"""The feeder map: ``network.json``'s geodata, buses coloured by their lowest voltage and lines
by their peak loading over the run, with ids and values on hover.

Lines are drawn as a few traces (one per colour class, segments separated by gaps) and carry
their hover at a marker on each line's middle vertex: hundreds of lines stay a few kB.
Coordinates are metres (the reference feeder, most projected grids) or longitude/latitude
(SimBench): the axes say which, and keep distances true to scale.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from grids.networks.feeder import element_ids
from testbed.report.style import LIMIT_COLOUR, f4, new_figure

VOLTAGE_SCALE = "RdYlBu"   # red: the lowest voltages
LOADING_SCALE = "YlOrRd"   # red: the most loaded lines
LINE_CLASSES = 8


@dataclass
class MapData:
    """What the map draws, taken from the network and a run's tables."""

    bus_xy: pd.DataFrame         # index bus_id; x, y, lv (bool)
    bus_vm: pd.DataFrame         # index bus_id; vm_min_pu, vm_max_pu (over time and phases)
    lines: pd.DataFrame          # line_id, coords (list of (x, y)), peak_loading_percent
    trafos: pd.DataFrame         # trafo_id, hv_bus_id, lv_bus_id, peak_loading_percent
    homes_at_bus: dict[str, list[str]]
    degrees: bool                # coordinates are longitude/latitude


def _coords(geo) -> list | None:
    if geo is None or (isinstance(geo, float) and math.isnan(geo)):
        return None
    if isinstance(geo, str):
        geo = json.loads(geo)
    return geo.get("coordinates") if isinstance(geo, dict) else None


def map_data(net, buses: pd.DataFrame, lines: pd.DataFrame | None,
             transformer: pd.DataFrame | None, home_kpis: pd.DataFrame | None) -> MapData | None:
    """Collect the map's data; ``None`` if the network has no bus geodata.

    Parameters
    ----------
    net
        The run's ``network.json`` (pandapower network).
    buses, lines, transformer
        The run's tables (``buses.parquet``... ; an optional ``phase`` column is reduced over).
    home_kpis
        ``home_kpis.parquet`` (its ``bus_id`` lists the homes at each bus), optional.
    """
    if "geo" not in net.bus.columns:
        return None
    bus_ids = pd.Series(element_ids(net.bus), index=net.bus.index)
    xy = {bus_ids[i]: c for i, g in net.bus.geo.items() if (c := _coords(g)) is not None}
    if not xy:
        return None
    bus_xy = pd.DataFrame.from_dict(xy, orient="index", columns=["x", "y"])
    lv = pd.Series(net.bus.vn_kv.to_numpy() < 1.0, index=bus_ids.to_numpy())
    bus_xy["lv"] = lv.reindex(bus_xy.index).fillna(False).astype(bool)
    vm = buses.assign(bus_id=buses.bus_id.astype(str)).groupby("bus_id").vm_pu.agg(["min", "max"])
    bus_vm = vm.rename(columns={"min": "vm_min_pu", "max": "vm_max_pu"})

    line_ids = element_ids(net.line)
    peak = (lines.assign(line_id=lines.line_id.astype(str)).groupby("line_id").loading_percent
            .max() if lines is not None else pd.Series(dtype=float))
    rows = []
    for lid, (_, row) in zip(line_ids, net.line.iterrows(), strict=True):
        coords = _coords(row.get("geo")) if "geo" in net.line.columns else None
        if not coords:
            a, b = bus_ids[row.from_bus], bus_ids[row.to_bus]
            if a not in xy or b not in xy:
                continue
            coords = [xy[a], xy[b]]
        rows.append({"line_id": lid, "coords": coords,
                     "peak_loading_percent": float(peak.get(lid, np.nan))})
    line_table = pd.DataFrame(rows, columns=["line_id", "coords", "peak_loading_percent"])

    trafo_ids = element_ids(net.trafo)
    tpeak = (transformer.groupby(transformer.trafo_id.astype(str)).loading_percent.max()
             if transformer is not None else pd.Series(dtype=float))
    trafos = pd.DataFrame({"trafo_id": trafo_ids,
                           "hv_bus_id": bus_ids[net.trafo.hv_bus].to_numpy(),
                           "lv_bus_id": bus_ids[net.trafo.lv_bus].to_numpy()})
    trafos["peak_loading_percent"] = [float(tpeak.get(t, np.nan)) for t in trafo_ids]

    homes: dict[str, list[str]] = {}
    if home_kpis is not None and "bus_id" in home_kpis.columns:
        for hid, bid in zip(home_kpis.home_id, home_kpis.bus_id.astype(str), strict=True):
            homes.setdefault(bid, []).append(str(hid))
    x, y = bus_xy.x.to_numpy(), bus_xy.y.to_numpy()
    degrees = bool(np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 90)
                   and np.ptp(x) < 1 and np.ptp(y) < 1)
    return MapData(bus_xy=bus_xy, bus_vm=bus_vm, lines=line_table, trafos=trafos,
                   homes_at_bus=homes, degrees=degrees)


def _homes_text(homes: list[str]) -> str:
    if not homes:
        return ""
    shown = ", ".join(homes[:6]) + (f" and {len(homes) - 6} more" if len(homes) > 6 else "")
    return f"<br>homes: {shown}"


def _mid(coords: list) -> tuple[float, float]:
    """The middle of a polyline (its middle vertex, or the middle of its middle segment)."""
    n = len(coords)
    if n % 2:
        return tuple(coords[n // 2])
    (x0, y0), (x1, y1) = coords[n // 2 - 1], coords[n // 2]
    return (x0 + x1) / 2, (y0 + y1) / 2


def feeder_map_figure(data: MapData, *, vm_min_pu: float, vm_max_pu: float,
                      limit_percent: float, title: str) -> go.Figure:
    """The feeder map (see the module docstring).

    Buses outside the voltage band are ringed in red; lines above the loading limit are drawn
    thicker.
    """
    unit = ("longitude [deg]", "latitude [deg]") if data.degrees else ("x [m]", "y [m]")
    fig = new_figure(title, x_title=unit[0], y_title=unit[1], height=640)
    lines = data.lines
    lmax = max(float(np.nanmax(lines.peak_loading_percent)) if lines.peak_loading_percent
               .notna().any() else 0.0, 1e-9)
    frac = (lines.peak_loading_percent.fillna(0.0) / lmax).clip(0, 1).to_numpy()
    cls = np.minimum((frac * LINE_CLASSES).astype(int), LINE_CLASSES - 1)
    over = (lines.peak_loading_percent > limit_percent).to_numpy()
    for k in range(LINE_CLASSES):
        for heavy in (False, True):
            sel = np.flatnonzero((cls == k) & (over == heavy))
            if not len(sel):
                continue
            pts = np.concatenate([np.vstack([np.asarray(lines.coords.iloc[i], dtype=float),
                                             [np.nan, np.nan]]) for i in sel])
            colour = sample_colorscale(LOADING_SCALE, [(k + 0.5) / LINE_CLASSES])[0]
            fig.add_scatter(x=f4(pts[:, 0]), y=f4(pts[:, 1]), mode="lines", hoverinfo="skip",
                            showlegend=False, line={"color": colour, "width": 5 if heavy else 3})
    for _, t in data.trafos.iterrows():  # the transformer: HV bus to LV bus
        if t.hv_bus_id in data.bus_xy.index and t.lv_bus_id in data.bus_xy.index:
            a, b = data.bus_xy.loc[t.hv_bus_id], data.bus_xy.loc[t.lv_bus_id]
            fig.add_scatter(x=[a.x, b.x], y=[a.y, b.y], mode="lines", hoverinfo="skip",
                            showlegend=False, line={"color": "#555", "width": 2})
    mids = np.array([_mid(c) for c in lines.coords]) if len(lines) else np.zeros((0, 2))
    fig.add_scatter(
        x=f4(mids[:, 0]), y=f4(mids[:, 1]), mode="markers", name="line (peak loading)",
        marker={"symbol": "diamond", "size": 6, "color": f4(lines.peak_loading_percent),
                "colorscale": LOADING_SCALE, "cmin": 0, "cmax": lmax,
                "colorbar": {"title": {"text": "peak line<br>loading<br>[%]", "side": "top"},
                             "x": 1.16, "len": 0.75, "thickness": 14}},
        text=lines.line_id.to_numpy(dtype=object),
        hovertemplate="line %{text}<br>peak loading %{marker.color:.1f} %<extra></extra>")

    bxy = data.bus_xy
    lv = bxy[bxy.lv].join(data.bus_vm, how="left")
    other = bxy[~bxy.lv]
    if len(other):
        fig.add_scatter(x=other.x.to_numpy(), y=other.y.to_numpy(), mode="markers",
                        name="MV bus", marker={"color": "#999", "size": 7},
                        text=[f"bus {b} (MV)" for b in other.index],
                        hovertemplate="%{text}<extra></extra>")
    outside = ((lv.vm_min_pu < vm_min_pu) | (lv.vm_max_pu > vm_max_pu)).to_numpy()
    fig.add_scatter(
        x=f4(lv.x), y=f4(lv.y), mode="markers", name="bus (lowest voltage)",
        marker={"size": 8, "color": f4(lv.vm_min_pu), "colorscale": VOLTAGE_SCALE,
                "colorbar": {"title": {"text": "lowest<br>voltage<br>[p.u.]", "side": "top"},
                             "x": 1.02, "len": 0.75, "thickness": 14},
                "line": {"color": np.where(outside, LIMIT_COLOUR, "#333").tolist(),
                         "width": f4(np.where(outside, 2.5, 0.5))}},
        customdata=f4(lv.vm_max_pu),
        text=lv.index.to_numpy(dtype=object),
        hovertext=[_homes_text(data.homes_at_bus.get(b, [])) for b in lv.index],
        hovertemplate="bus %{text}<br>lowest %{marker.color:.4f} p.u., highest "
                      "%{customdata:.4f} p.u.%{hovertext}<extra></extra>")
    for _, t in data.trafos.iterrows():
        if t.lv_bus_id in bxy.index:
            p = bxy.loc[t.lv_bus_id]
            fig.add_scatter(x=[p.x], y=[p.y], mode="markers", name="transformer",
                            marker={"symbol": "square", "size": 14, "color": "#333"},
                            text=[f"transformer {t.trafo_id}<br>peak loading "
                                  f"{t.peak_loading_percent:.1f} %"],
                            hovertemplate="%{text}<extra></extra>")
    ratio = 1.0
    if data.degrees:
        ratio = 1.0 / max(math.cos(math.radians(float(bxy.y.mean()))), 0.1)
    fig.update_layout(yaxis={"scaleanchor": "x", "scaleratio": ratio}, hovermode="closest",
                      margin={"r": 170}, legend={"y": 1.0, "yanchor": "bottom"})
    return fig
