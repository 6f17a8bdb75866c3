"""Annual KPIs from the KPIs of typical days and their weights (pure functions, no I/O).

A typical day ``d`` with weight ``w_d`` stands for ``w_d`` days of the year (the weights sum to
366, the days of the profile year 2016; :mod:`testbed.typical_days`). Each key of a day's
``kpis.json`` (:mod:`testbed.kpis`, :mod:`testbed.flex_kpis`) becomes an annual KPI of the same
name by one of these rules:

weighted sum ``sum_d w_d x_d``
    Energies, costs, counts and durations: ``grid.overload_minutes``,
    ``grid.trafo_overload_minutes``, ``grid.trafo_energy_above_rating_kvah``,
    ``grid.voltage_violation_minutes``, ``grid.voltage_violations``, ``grid.losses_kwh``,
    ``grid.nonconverged_steps``, ``grid.vuf_violation_minutes``, ``homes.total_bill_eur``,
    ``homes.import_kwh``,
    ``homes.export_kwh``, ``homes.pv_kwh``, ``homes.demand_kwh``,
    ``homes.cems_fallback_home_days``, every ``flex.*_kwh`` and ``flex.*_eur`` (requested,
    offered, ordered, delivered, at cap, market settlement, payments, net bill, limited),
    every ``flex.*_intervals`` (congested day-ahead, orange, new congestion, violations in
    operation and their splits) and ``flex.emergency_actions``.
extreme over the days
    ``grid.max_trafo_loading_percent``, ``grid.max_line_loading_percent``, ``grid.vm_max_pu``,
    ``homes.peak_import_kw``, ``flex.rounds_max``, ``flex.loop_iterations_max``,
    ``flex.loop_iteration_limit``, ``homes.cems_homes`` (the same every day),
    ``homes.over_connection_limit_homes`` (the most homes over the limit on one typical day:
    a lower bound of the homes over it in the year), and in unbalanced runs
    ``grid.vuf_max_percent`` and ``grid.vm_max_pu_a`` / ``_b`` / ``_c``: maximum;
    ``grid.vm_min_pu`` and ``grid.vm_min_pu_a`` / ``_b`` / ``_c``: minimum.
ratio of annual sums
    ``homes.self_consumption = sum w (sc pv) / sum w pv`` and ``homes.self_sufficiency =
    sum w (ss demand) / sum w demand`` (a day's self-consumed energy is its ratio times its
    PV, resp. demand); ``flex.share_resolved = (C - O) / C`` with ``C``, ``O`` the annual
    congested and orange intervals (1 without congestion); ``homes.peak_to_average`` = the
    annual peak import / the annual mean community power ``sum w (import - export) /
    (24 h sum w)``.
deferral (:func:`sims.dso.deferral.assess_deferral`)
    ``flex.annual_flex_cost_eur = F = sum_d w_d flex.ordered_eur_d`` (the weighted days, not
    one day x 365); ``flex.deferral_value_eur``, ``flex.flex_cost_pv_eur``,
    ``flex.deferral_net_benefit_eur``, ``flex.breakeven_annual_flex_cost_eur`` from ``F`` and
    the scenario's ``flex.upgrade_cost_eur``, ``flex.upgrade_lifetime_years``,
    ``flex.discount_rate``, ``flex.years_deferred``; ``flex.deferral_credible`` is 1 when no
    transformer overload was measured in operation on any day of the year
    (``flex.operation_trafo_overload_intervals`` annual sum 0), else 0, and then the deferral
    value and net benefit are NaN (nothing is deferred).

A key this list does not name (a KPI added later) follows its name: ending in ``_kwh``,
``_kvah``, ``_eur``, ``_minutes``, ``_intervals``, ``_steps``, ``_days`` or ``violations``:
weighted sum; containing ``max`` or ``peak``: maximum; containing ``min``: minimum; any other
key is left out of the annual KPIs (:func:`annual_rule` says which rule applies).

Nulls carry through: a day whose value of a summed or extreme KPI is missing or ``null`` (a
grid KPI of a day whose load flow failed at some steps, :mod:`testbed.kpis`) makes the annual
KPI null (NaN), never a sum that reads as if that day were healthy; and the deferral is
credible only if every day's is (``flex.deferral_credible`` 1 on every day). The ratios skip
a day's null ratio (a day without PV has no self-consumption). Besides the KPIs, the result
holds ``days`` (typical days used) and ``weight`` (their total weight).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sims.dso.deferral import assess_deferral

DEFERRAL_KEYS = frozenset({
    "flex.annual_flex_cost_eur", "flex.deferral_value_eur", "flex.flex_cost_pv_eur",
    "flex.deferral_net_benefit_eur", "flex.breakeven_annual_flex_cost_eur",
    "flex.deferral_credible",
})
SUM_KEYS = frozenset({
    "grid.overload_minutes", "grid.trafo_overload_minutes",
    "grid.trafo_energy_above_rating_kvah", "grid.voltage_violation_minutes",
    "grid.voltage_violations", "grid.losses_kwh", "grid.nonconverged_steps",
    "grid.vuf_violation_minutes", "homes.total_bill_eur", "homes.import_kwh",
    "homes.export_kwh", "homes.pv_kwh",
    "homes.demand_kwh", "homes.cems_fallback_home_days", "flex.emergency_actions",
    "flex.requested_kwh", "flex.offered_kwh", "flex.ordered_kwh", "flex.delivered_kwh",
    "flex.requested_eur_at_cap", "flex.offered_eur", "flex.ordered_eur", "flex.delivered_eur",
    "flex.market_settlement_eur", "flex.payments_to_homes_eur", "flex.net_bill_eur",
    "flex.planned_market_settlement_eur", "flex.ordered_payments_to_homes_eur",
    "flex.limited_kwh", "flex.congested_intervals_dayahead", "flex.orange_intervals",
    "flex.new_congestion_intervals", "flex.operation_violation_intervals",
    "flex.operation_violation_intervals_after_green",
    "flex.operation_violation_intervals_after_orange",
    "flex.operation_trafo_overload_intervals", "flex.operation_voltage_violation_intervals",
})
MAX_KEYS = frozenset({
    "grid.max_trafo_loading_percent", "grid.max_line_loading_percent", "grid.vm_max_pu",
    "homes.peak_import_kw", "homes.cems_homes", "flex.rounds_max", "flex.loop_iterations_max",
    "flex.loop_iteration_limit", "homes.over_connection_limit_homes",
    "grid.vuf_max_percent", "grid.vm_max_pu_a", "grid.vm_max_pu_b", "grid.vm_max_pu_c",
})
MIN_KEYS = frozenset({"grid.vm_min_pu", "grid.vm_min_pu_a", "grid.vm_min_pu_b",
                      "grid.vm_min_pu_c"})
RATIO_KEYS = frozenset({"homes.self_consumption", "homes.self_sufficiency",
                        "homes.peak_to_average", "flex.share_resolved"})
KNOWN_KEYS = SUM_KEYS | MAX_KEYS | MIN_KEYS | RATIO_KEYS | DEFERRAL_KEYS
_SUM_SUFFIXES = ("_kwh", "_kvah", "_eur", "_minutes", "_intervals", "_steps", "_days",
                 "violations")


def annual_rule(key: str) -> str | None:
    """The rule that makes a day KPI annual: ``sum``, ``max``, ``min``, ``ratio``,
    ``deferral``, or ``None`` (left out). See the module docstring."""
    for keys, rule in ((DEFERRAL_KEYS, "deferral"), (RATIO_KEYS, "ratio"), (SUM_KEYS, "sum"),
                       (MAX_KEYS, "max"), (MIN_KEYS, "min")):
        if key in keys:
            return rule
    if key.endswith(_SUM_SUFFIXES):
        return "sum"
    if "max" in key or "peak" in key:
        return "max"
    if "min" in key:
        return "min"
    return None


def _values(days: Sequence[Mapping[str, float]], key: str) -> np.ndarray:
    """A KPI over the days, NaN where missing or null."""
    out = np.full(len(days), np.nan)
    for i, d in enumerate(days):
        v = d.get(key)
        if v is not None:
            out[i] = float(v)
    return out


def annual_kpis(days: Sequence[Mapping[str, float]], weights: Sequence[float], *,
                upgrade_cost_eur: float, lifetime_years: float, discount_rate: float,
                years_deferred: float) -> dict[str, float]:
    """Annual KPIs of one scenario, feeder and control level from its typical days.

    Parameters
    ----------
    days
        Each typical day's KPIs (the dict of its ``kpis.json``).
    weights
        Days of the year each stands for (same order).
    upgrade_cost_eur, lifetime_years, discount_rate, years_deferred
        The scenario's deferral inputs (``flex.upgrade_cost_eur``, ...).

    Returns
    -------
    dict
        ``days``, ``weight`` and every annual KPI (module docstring); keys of the days only.
    """
    if len(days) != len(weights) or not days:
        raise ValueError(f"annual KPIs: need one weight per day and at least one day "
                         f"(got {len(days)} days, {len(weights)} weights)")
    w = np.asarray(weights, dtype=float)
    keys = list(dict.fromkeys(k for d in days for k in d))

    def wsum(key: str) -> float:
        return float(np.nansum(w * _values(days, key)))

    out: dict[str, float] = {"days": len(days), "weight": float(w.sum())}
    for key in keys:
        rule = annual_rule(key)
        x = _values(days, key)
        if rule in ("sum", "max", "min") and not np.isfinite(x).all():
            out[key] = np.nan  # a day does not know it: nor does the year
        elif rule == "sum":
            out[key] = wsum(key)
        elif rule in ("max", "min"):
            out[key] = float(x.max() if rule == "max" else x.min())
    if "homes.self_consumption" in keys:
        pv = wsum("homes.pv_kwh")
        used = float(np.nansum(w * _values(days, "homes.self_consumption")
                               * _values(days, "homes.pv_kwh")))
        out["homes.self_consumption"] = used / pv if pv > 0 else np.nan
        demand = wsum("homes.demand_kwh")
        used_d = float(np.nansum(w * _values(days, "homes.self_sufficiency")
                                 * _values(days, "homes.demand_kwh")))
        out["homes.self_sufficiency"] = used_d / demand if demand > 0 else np.nan
    if "homes.peak_to_average" in keys:
        mean_kw = (wsum("homes.import_kwh") - wsum("homes.export_kwh")) / (24.0 * w.sum())
        peak = out.get("homes.peak_import_kw", np.nan)
        out["homes.peak_to_average"] = peak / mean_kw if mean_kw > 0 else np.nan
    if "flex.share_resolved" in keys:
        congested = wsum("flex.congested_intervals_dayahead")
        orange = wsum("flex.orange_intervals")
        out["flex.share_resolved"] = (congested - orange) / congested if congested else 1.0
    if "flex.ordered_eur" in keys:
        annual = wsum("flex.ordered_eur")
        a = assess_deferral(upgrade_cost_eur, annual, years_deferred=years_deferred,
                            discount_rate=discount_rate, lifetime_years=lifetime_years)
        over = _values(days, "flex.operation_trafo_overload_intervals")
        day_credible = _values(days, "flex.deferral_credible")
        credible = bool(np.isfinite(over).all() and (over == 0).all()
                        and (day_credible[np.isfinite(day_credible)] == 1).all())
        out.update({
            "flex.annual_flex_cost_eur": annual,
            "flex.deferral_value_eur": a.deferral_value_eur if credible else np.nan,
            "flex.flex_cost_pv_eur": a.flex_cost_pv_eur,
            "flex.deferral_net_benefit_eur": a.net_benefit_eur if credible else np.nan,
            "flex.breakeven_annual_flex_cost_eur": a.breakeven_annual_flex_cost_eur,
            "flex.deferral_credible": int(credible),
        })
    return out


def district_kpis(feeders: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """District KPIs: the annual KPIs of several feeders (same scenario and level) in total.

    Sums add up (energies, bills, minutes and counts are feeder-minutes and feeder-counts);
    extremes are the extreme over the feeders (either null when a feeder's is); ratios are
    recomputed from the district's sums (self-consumption, self-sufficiency, share resolved;
    the peak-to-average ratio is left out: the feeders' peaks need not coincide). The
    deferral is per transformer:
    ``flex.annual_flex_cost_eur``, the deferral value and the net benefit add up over the
    feeders whose deferral is credible; ``flex.deferral_credible`` is the number of such
    feeders. ``feeders`` counts the feeders.

    Parameters
    ----------
    feeders
        Each feeder's :func:`annual_kpis`.
    """
    if not feeders:
        raise ValueError("district KPIs: no feeder")
    keys = list(dict.fromkeys(k for f in feeders for k in f))
    out: dict[str, float] = {"feeders": len(feeders)}

    def total(key: str) -> float:
        return float(np.nansum(_values(feeders, key)))

    for key in keys:
        rule = "sum" if key in ("days", "weight") else annual_rule(key)
        x = _values(feeders, key)
        if rule in ("sum", "max", "min") and not np.isfinite(x).all():
            out[key] = np.nan  # a feeder does not know it: nor does the district
        elif rule == "sum":
            out[key] = total(key)
        elif rule in ("max", "min"):
            out[key] = float(x.max() if rule == "max" else x.min())
    out["days"] = float(np.nanmax(_values(feeders, "days")))
    out["weight"] = float(np.nanmax(_values(feeders, "weight")))
    for ratio, base in (("homes.self_consumption", "homes.pv_kwh"),
                        ("homes.self_sufficiency", "homes.demand_kwh")):
        if ratio in keys:
            b = total(base)
            used = float(np.nansum(_values(feeders, ratio) * _values(feeders, base)))
            out[ratio] = used / b if b > 0 else np.nan
    if "flex.share_resolved" in keys:
        c = total("flex.congested_intervals_dayahead")
        out["flex.share_resolved"] = (c - total("flex.orange_intervals")) / c if c else 1.0
    if "flex.deferral_credible" in keys:
        cred = _values(feeders, "flex.deferral_credible") == 1
        for key in ("flex.annual_flex_cost_eur", "flex.flex_cost_pv_eur",
                    "flex.breakeven_annual_flex_cost_eur"):
            out[key] = total(key)
        for key in ("flex.deferral_value_eur", "flex.deferral_net_benefit_eur"):
            out[key] = float(np.nansum(_values(feeders, key)[cred])) if cred.any() else np.nan
        out["flex.deferral_credible"] = int(cred.sum())
    return out
