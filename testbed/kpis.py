"""KPIs of a run, pure functions of the result tables (no I/O).

Definitions (energy = power * step length; ``dt_h = step_s / 3600``):

Grid
    ``grid.max_trafo_loading_percent``  highest transformer loading of the run [%].
    ``grid.overload_minutes``  minutes in which the transformer or any line is above
    ``max_loading_percent`` [min]; ``grid.trafo_overload_minutes`` the transformer alone.
    ``grid.trafo_energy_above_rating_kvah``  sum over steps of ``(loading/100 - 1) * sn`` where
    positive, times ``dt_h`` [kVAh].
    ``grid.vm_min_pu`` / ``grid.vm_max_pu``  extreme voltages of the LV buses [p.u.] (the band
    applies to LV buses; the MV bus is the upstream grid's).
    ``grid.voltage_violation_minutes``  minutes in which any bus is outside the band [min];
    ``grid.voltage_violations``  number of (bus, step) pairs outside the band.
    ``grid.losses_kwh``  line and transformer losses [kWh].
    ``grid.nonconverged_steps``  steps whose load flow did not converge. When there is any,
    every other grid KPI is null (NaN; ``null`` in ``kpis.json``): a maximum, a minimum or a
    sum over the steps is unknown when some steps have no load flow, and 0 would read as a
    healthy grid (``converged_only=True`` gives the values over the converged steps, lower
    bounds of the sums).
    Unbalanced runs (``buses`` and ``lines`` per phase): the above take the worst phase, and
    the per-phase KPIs of :mod:`testbed.phase_kpis` are added (``grid.vuf_max_percent``,
    ``grid.vuf_violation_minutes``, ``grid.vm_min_pu_a``...).

Homes (``import = max(p, 0)``, ``export = max(-p, 0)`` at the connection)
    ``bill_eur``  sum of import * ToU price - export * export price, plus the standing charge.
    ``self_consumption``  (PV - export) / PV: share of the PV energy used behind the meter.
    ``self_sufficiency``  (PV - export) / demand, demand = base + EV + heat pump + appliances.
    ``controlled``, ``fallback_days``  whether a CEMS ran the home, and on how many days its
    plan fell back to the uncontrolled schedule (``homes.cems_homes`` and
    ``homes.cems_fallback_home_days`` for the community).
    ``peak_import_kw``  per home its own highest import; for the community (``homes.``) the
    highest import of the sum of all homes.
    ``over_connection_limit``  whether the home's import or export exceeded its connection
    limit (``homes.connection_limit_kw``) in any step: a CEMS plans within the limit (a base
    load above its forecast can still take it beyond), an uncontrolled home runs regardless;
    ``homes.over_connection_limit_homes`` counts them.
    ``homes.peak_to_average``  community peak import / mean community power.
Community ratios are ratios of sums over homes, not means of ratios.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sims.tariff import Tariff

LIMIT_TOL_KW = 1e-6  # a power at the limit within solver tolerance is not above it


def grid_kpis(buses: pd.DataFrame, lines: pd.DataFrame, transformer: pd.DataFrame,
              grid: pd.DataFrame, *, step_s: int, vm_min_pu: float, vm_max_pu: float,
              max_loading_percent: float = 100.0,
              band_bus_ids: list[str] | None = None,
              converged_only: bool = False,
              vuf_max_percent: float = 2.0) -> dict[str, float]:
    """Grid KPIs from the result tables (see the module docstring).

    Parameters
    ----------
    buses, lines, transformer, grid
        The result tables of :mod:`testbed.results` (long format, one row per element and step).
    step_s
        Step length [s].
    vm_min_pu, vm_max_pu
        Voltage band [p.u.].
    max_loading_percent
        Loading limit of transformers and lines [%].
    band_bus_ids
        Buses the voltage band applies to (the LV buses; the MV slack bus is held by the
        upstream grid). All buses when ``None``.
    converged_only
        With non-converged steps: the KPIs over the converged steps instead of null.
    vuf_max_percent
        Voltage unbalance factor limit [%] (unbalanced runs).
    """
    step_min = step_s / 60.0
    dt_h = step_s / 3600.0
    ok_times = grid.loc[grid.converged.astype(bool), "time"]
    bus = buses[buses.time.isin(ok_times)]
    if band_bus_ids is not None:
        bus = bus[bus.bus_id.isin(band_bus_ids)]
    line = lines[lines.time.isin(ok_times)]
    trafo = transformer[transformer.time.isin(ok_times)]

    trafo_over = trafo.groupby("time").loading_percent.max() > max_loading_percent
    line_over = line.groupby("time").loading_percent.max() > max_loading_percent
    any_over = trafo_over.reindex(ok_times, fill_value=False).to_numpy() | \
        line_over.reindex(ok_times, fill_value=False).to_numpy()
    excess = (trafo.loading_percent / 100.0 - 1.0).clip(lower=0.0) * trafo.sn_mva * 1000.0
    outside = (bus.vm_pu < vm_min_pu) | (bus.vm_pu > vm_max_pu)
    violated_steps = outside.groupby(bus.time).any()
    out = {
        "grid.max_trafo_loading_percent": float(trafo.loading_percent.max()),
        "grid.max_line_loading_percent": float(line.loading_percent.max()),
        "grid.overload_minutes": float(any_over.sum() * step_min),
        "grid.trafo_overload_minutes": float(trafo_over.sum() * step_min),
        "grid.trafo_energy_above_rating_kvah": float(excess.sum() * dt_h),
        "grid.vm_min_pu": float(bus.vm_pu.min()),
        "grid.vm_max_pu": float(bus.vm_pu.max()),
        "grid.voltage_violation_minutes": float(violated_steps.sum() * step_min),
        "grid.voltage_violations": int(outside.sum()),
        "grid.losses_kwh": float(grid.loc[grid.converged.astype(bool), "losses_mw"].sum()
                                 * 1000.0 * dt_h),
        "grid.nonconverged_steps": int((~grid.converged.astype(bool)).sum()),
    }
    if "phase" in buses:
        from testbed.phase_kpis import phase_kpis

        out.update(phase_kpis(bus, step_s=step_s, vuf_max_percent=vuf_max_percent))
    if out["grid.nonconverged_steps"] and not converged_only:
        out.update({k: float("nan") for k in out if k != "grid.nonconverged_steps"})
    return out


def home_kpis(homes: pd.DataFrame, tariff: Tariff, *, step_s: int, days: float,
              connection_limit_kw: float | None = None) -> pd.DataFrame:
    """Per-home KPIs (one row per home_id; see the module docstring).

    Parameters
    ----------
    homes
        The homes table: time, home_id, p_kw, pv_kw, base_kw, ev_kw, hp_kw.
    tariff
        Import ToU prices, export price and standing charge.
    step_s
        Step length [s].
    days
        Length of the run [days], for the standing charge.
    connection_limit_kw
        Import and export limit of each connection [kW]; adds ``over_connection_limit``.
    """
    dt_h = step_s / 3600.0
    cols = ["time", "home_id", "p_kw", "pv_kw", "base_kw", "ev_kw", "hp_kw"]
    extra = [c for c in ("appliance_kw", "controlled", "fallback") if c in homes]
    h = homes[cols + extra].copy()
    if "appliance_kw" not in h:
        h["appliance_kw"] = 0.0
    h["import_kwh"] = h.p_kw.clip(lower=0.0) * dt_h
    h["export_kwh"] = (-h.p_kw).clip(lower=0.0) * dt_h
    h["pv_kwh"] = h.pv_kw * dt_h
    h["demand_kwh"] = (h.base_kw + h.ev_kw + h.hp_kw + h.appliance_kw) * dt_h
    h["cost_eur"] = (h.import_kwh * tariff.import_prices(h.time)
                     - h.export_kwh * tariff.export_eur_per_kwh)
    g = h.groupby("home_id", sort=True)
    out = g[["import_kwh", "export_kwh", "pv_kwh", "demand_kwh"]].sum()
    out["self_consumed_kwh"] = (out.pv_kwh - out.export_kwh).clip(lower=0.0)
    out["bill_eur"] = g.cost_eur.sum() + tariff.standing_eur_per_day * days
    with np.errstate(invalid="ignore", divide="ignore"):
        out["self_consumption"] = np.where(out.pv_kwh > 0, out.self_consumed_kwh / out.pv_kwh,
                                           np.nan)
        out["self_sufficiency"] = np.where(out.demand_kwh > 0,
                                           out.self_consumed_kwh / out.demand_kwh, np.nan)
    out["peak_import_kw"] = g.p_kw.max().clip(lower=0.0)
    steps_per_day = 86400 / step_s
    out["controlled"] = g.controlled.any() if "controlled" in h else False
    out["fallback_days"] = (g.fallback.sum() / steps_per_day if "fallback" in h else 0.0)
    if connection_limit_kw is not None:
        out["over_connection_limit"] = ((g.p_kw.max() > connection_limit_kw + LIMIT_TOL_KW)
                                        | (g.p_kw.min() < -connection_limit_kw - LIMIT_TOL_KW))
    return out.reset_index()


def community_kpis(homes: pd.DataFrame, per_home: pd.DataFrame) -> dict[str, float]:
    """Community (all homes) KPIs from the homes table and :func:`home_kpis`' output."""
    total = homes.groupby("time").p_kw.sum()
    pv = per_home.pv_kwh.sum()
    demand = per_home.demand_kwh.sum()
    used = per_home.self_consumed_kwh.sum()
    peak = float(max(total.max(), 0.0))
    mean = float(total.mean())
    return {
        "homes.total_bill_eur": float(per_home.bill_eur.sum()),
        "homes.import_kwh": float(per_home.import_kwh.sum()),
        "homes.export_kwh": float(per_home.export_kwh.sum()),
        "homes.pv_kwh": float(pv),
        "homes.demand_kwh": float(demand),
        "homes.self_consumption": float(used / pv) if pv > 0 else float("nan"),
        "homes.self_sufficiency": float(used / demand) if demand > 0 else float("nan"),
        "homes.peak_import_kw": peak,
        "homes.peak_to_average": peak / mean if mean > 0 else float("nan"),
        "homes.cems_homes": int(per_home.controlled.sum()),
        "homes.cems_fallback_home_days": float(per_home.fallback_days.sum()),
        **({"homes.over_connection_limit_homes": int(per_home.over_connection_limit.sum())}
           if "over_connection_limit" in per_home else {}),
    }
