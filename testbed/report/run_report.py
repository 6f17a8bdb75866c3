"""The report of one run folder: what was run, its KPIs and its figures.

Sections: the headline numbers; transformer loading; the voltage envelope (per phase in an
unbalanced run); the feeder map; the homes' power by device; at control ``cems`` and above
the CEMS plans; at ``market`` and ``dso`` the traffic light and the flexibility; the KPI
table; the scenario against the shipped defaults.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grids.networks.feeder import element_ids
from testbed.report.feeder_map import feeder_map_figure, map_data
from testbed.report.flex_figures import flexibility_figure, traffic_light_figure
from testbed.report.folders import RunFolder
from testbed.report.grid_figures import (
    envelope_figure,
    loading_figure,
    trafo_curves,
    voltage_envelopes,
    vuf_figure,
)
from testbed.report.homes_figures import homes_power_figure, plan_status_figure
from testbed.report.page import Page, ReportFigure
from testbed.report.style import PHASE_COLOURS
from testbed.report.tables import format_number, kpi_rows, kpi_unit, scenario_rows

TEMPLATE = "run.html.j2"
# The headline numbers at the top of a run report (those the run has).
HEADLINE = ("grid.max_trafo_loading_percent", "grid.overload_minutes", "grid.vm_min_pu",
            "grid.vm_max_pu", "grid.voltage_violations", "grid.vuf_max_percent",
            "grid.losses_kwh", "homes.total_bill_eur", "homes.peak_import_kw", "flex.ordered_kwh",
            "flex.ordered_eur", "flex.orange_intervals")


def lv_bus_ids(run: RunFolder) -> list[str]:
    """The ids of the LV buses (``vn_kv < 1``), the buses the voltage band applies to; every
    bus of ``buses.parquet`` if the folder has no network."""
    if run.net is None:
        return sorted(run.tables["buses"].bus_id.astype(str).unique())
    ids = pd.Series(element_ids(run.net.bus), index=run.net.bus.index)
    return ids[run.net.bus.vn_kv < 1.0].tolist()


def headline(kpis: dict | None) -> list[dict]:
    """The headline KPIs the run has: label, text with unit, exact value, key."""
    if not kpis:
        return []
    labels = {"grid.max_trafo_loading_percent": "peak transformer loading",
              "grid.overload_minutes": "time above rating", "grid.vm_min_pu": "lowest voltage",
              "grid.vm_max_pu": "highest voltage",
              "grid.voltage_violations": "voltage violations (bus-steps)",
              "grid.vuf_max_percent": "highest voltage unbalance",
              "grid.losses_kwh": "losses", "homes.total_bill_eur": "bills, all homes",
              "homes.peak_import_kw": "community peak import",
              "flex.ordered_kwh": "flexibility ordered", "flex.ordered_eur": "flexibility cost",
              "flex.orange_intervals": "intervals left orange"}
    out = []
    for key in HEADLINE:
        if key in kpis:
            unit = kpi_unit(key)
            shown = "" if unit in ("count", "ratio") else f" {unit}"
            out.append({"key": key, "label": labels[key], "value": kpis[key],
                        "text": format_number(kpis[key], unit) + shown})
    return out


def run_figures(run: RunFolder) -> tuple[list[ReportFigure], list[str]]:
    """The figures of a run, and a note for each one the folder cannot give."""
    s, tz = run.scenario, run.scenario.timezone
    figs: list[ReportFigure] = []
    notes: list[str] = []
    trafo, buses = run.table("transformer"), run.table("buses")
    if trafo is not None and len(trafo):
        figs.append(ReportFigure("loading", loading_figure(
            trafo_curves(trafo), limit_percent=s.max_loading_percent, timezone=tz,
            title="Transformer loading"),
            "HV-side apparent power against the rating; reverse flow (PV export) counts too."))
    else:
        notes.append("transformer.parquet: missing or empty (no loading figure)")
    if buses is not None and len(buses):
        envs = voltage_envelopes(buses, lv_bus_ids(run))
        for e in envs:
            e.colour = PHASE_COLOURS.get(e.label.removeprefix("phase "))
        per_phase = " per phase" if len(envs) > 1 or envs[0].label else ""
        figs.append(ReportFigure("voltage", envelope_figure(
            envs, vm_min_pu=s.vm_min_pu, vm_max_pu=s.vm_max_pu, timezone=tz,
            title=f"Voltage envelope of the LV buses{per_phase}"),
            "Lowest and highest LV bus voltage in each step (hover: the bus); dashed: the "
            "voltage band."))
        if "vuf_percent" in buses.columns:
            figs.append(ReportFigure("unbalance", vuf_figure(
                buses, lv_bus_ids(run), vuf_max_percent=getattr(s, "vuf_max_percent", 2.0),
                timezone=tz),
                "Highest voltage unbalance factor |V2|/|V1| of the LV buses in each step "
                "(hover: the bus); dashed: the limit (EN 50160: 2 %)."))
    else:
        notes.append("buses.parquet: missing or empty (no voltage envelope, no map)")
    data = (map_data(run.net, buses, run.table("lines"), trafo, run.table("home_kpis"))
            if run.net is not None and buses is not None and len(buses) else None)
    if data is not None:
        figs.append(ReportFigure("map", feeder_map_figure(
            data, vm_min_pu=s.vm_min_pu, vm_max_pu=s.vm_max_pu,
            limit_percent=s.max_loading_percent,
            title="Feeder map: lowest voltage per bus, peak loading per line"),
            "Hover a bus or a line's diamond for its id and values; red rings: buses outside "
            "the band; thick lines: above the loading limit."))
    elif run.net is not None:
        notes.append("network.json: no bus geodata (no feeder map)")
    homes = run.table("homes")
    if homes is not None and len(homes):
        figs.append(ReportFigure("homes", homes_power_figure(
            homes, timezone=tz, n_homes=int(homes.home_id.nunique())),
            "Stacked: consumption above zero, PV and battery discharge below; black: the "
            "net power of all homes."))
    plans = run.table("cems_plans")
    if plans is not None and len(plans):
        figs.append(ReportFigure("plans", plan_status_figure(plans, s.start),
                                 "One plan per CEMS home and day; a fallback home runs "
                                 "uncontrolled that day."))
    elif s.control != "none":
        notes.append("cems_plans.parquet: missing (no CEMS plans figure)")
    flex = run.table("flex")
    if flex is not None and len(flex):
        figs.append(ReportFigure("lights", traffic_light_figure(flex, timezone=tz),
                                 "Yellow: congestion forecast day-ahead; orange: left after "
                                 "the negotiation; red: a violation measured in operation."))
        figs.append(ReportFigure("flex", flexibility_figure(flex, timezone=tz,
                                                            step_h=s.step_s / 3600.0),
                                 "What the DSO requested, the aggregator offered, the DSO "
                                 "ordered and the homes delivered (measured)."))
    elif s.control in ("market", "dso"):
        notes.append("flex.parquet: missing (no flexibility figures)")
    return figs, notes


def fallback_rows(plans: pd.DataFrame | None) -> list[dict]:
    """The CEMS plans that fell back to the uncontrolled schedule: day, home, reason."""
    if plans is None or "fallback" not in plans.columns:
        return []
    f = plans[plans.fallback.astype(bool)]
    return [{"day": int(r.day), "home_id": r.home_id, "status": r.status, "reason": r.reason}
            for r in f.itertuples()]


def warnings_banner(meta: dict, kpis: dict | None) -> list[str]:
    """The lines of the warning banner at the top of a run report: load flows that did not
    converge (their grid KPIs are null, shown as a dash), a run interrupted or killed."""
    out = []
    bad = int(meta.get("nonconverged_steps") or (kpis or {}).get("grid.nonconverged_steps")
              or 0)
    if bad:
        out.append(meta.get("warning") or f"the load flow did not converge at {bad} of "
                   f"{meta.get('n_steps', '?')} steps: the grid KPIs that depend on them "
                   f"are null")
    status = meta.get("status")
    if status == "interrupted":
        out.append(f"the run was interrupted ({meta.get('signal') or 'on request'}) at "
                   f"{meta.get('interrupted_at', '?')}, step {meta.get('steps_done', '?')} of "
                   f"{meta.get('n_steps', '?')}: the tables hold the steps done, no KPIs")
    elif status == "running":
        out.append("the run did not complete (killed, or still running): the tables hold "
                   "the steps written, no KPIs")
    return out


def run_page(run: RunFolder, *, title: str | None = None) -> Page:
    """The page of a run report."""
    s, meta = run.scenario, run.meta
    figs, notes = run_figures(run)
    if run.kpis is None:
        notes.insert(0, f"kpis.json: missing (run status: {meta.get('status', 'unknown')}"
                        + (f": {meta['error']}" if meta.get("error") else "") + ")")
    rows = scenario_rows(run.scenario_toml)
    n_homes = meta.get("n_homes", len(run.table("home_kpis")) if run.table("home_kpis")
                       is not None else "?")
    facts = [("scenario", s.name), ("control", s.control), ("grid", meta.get("grid", "?")),
             ("homes", n_homes),
             ("days", f"{s.days} day{'s' if s.days > 1 else ''} from {s.start.isoformat()} "
                      f"({s.timezone})"),
             ("step", f"{s.step_s} s"), ("status", meta.get("status", "?")),
             ("wall time", f"{meta['wall_s']:.1f} s" if "wall_s" in meta else "?"),
             ("folder", str(Path(run.path).resolve()))]
    return Page(
        template=TEMPLATE,
        title=title or f"{s.name}, control {s.control}",
        figures=figs,
        context={"facts": facts, "headline": headline(run.kpis),
                 "banner": warnings_banner(meta, run.kpis),
                 "kpis": kpi_rows(run.kpis) if run.kpis else [], "scenario": rows,
                 "n_differs": sum(r.differs for r in rows), "notes": notes,
                 "fallbacks": fallback_rows(run.table("cems_plans")),
                 "versions": {k: meta[k] for k in ("python", "mosaik") if k in meta}})
