"""Flexibility results of a run (control levels ``market`` and ``dso``): ``flex.parquet`` and
the ``flex.`` KPIs, pure functions of the tables the aggregator and DSO simulators write.

Inputs (run folder, written day by day by :mod:`sims.dso.simulator` and
:mod:`sims.aggregator.simulator`):
``flex_dayahead.parquet`` (one row per step: the day-ahead negotiation),
``flex_orders.parquet`` (one row per order and step, with the home's pre-order prognosis
``baseline_kw``: the prognosis of the round the order was placed in), ``flex_days.parquet``
(status, rounds, loop iterations per day),
``dso_operation.parquet`` (violations measured in operation), ``flex_payments.parquet``
(per home and day: market settlement and flexibility payment).

Delivered flexibility (measured in operation): per order and step,
``clip(sign * (p_measured - baseline_kw), 0, ordered_kw)`` with ``sign = -1`` for DOWN and
``+1`` for UP, ``baseline_kw`` the home's prognosis in the round the order was placed in: the
plan its offer was made on, so the orders and rebound of earlier rounds are in it. An order of
a later round often takes back an earlier order's rebound (a home whose EV was moved out of a
congested interval into the next one is asked to move it again); measured from the first
prognosis, that order would show no delivery although the home followed it. Its value is the
delivered energy times the order's price.

KPIs (``dt_h`` = step length [h]; energies = sum of the per-step powers times ``dt_h``):

``flex.requested_kwh``, ``flex.offered_kwh``, ``flex.ordered_kwh``, ``flex.delivered_kwh``
    Flexibility requested by the DSO (the requests' minimum power), offered by the
    aggregators, ordered, and delivered in operation [kWh], over all rounds.
``flex.requested_eur_at_cap``
    The requested energy at the DSO's price cap: what it was willing to pay at most [EUR].
``flex.offered_eur``, ``flex.ordered_eur``, ``flex.delivered_eur``
    Offers' prices times their energy; the orders' cost (the DSO's flexibility cost);
    delivered energy times price [EUR].
``flex.congested_intervals_dayahead``
    Intervals congested in the day-ahead validation of the first prognoses (yellow).
``flex.orange_intervals``
    Intervals still congested when the negotiation ended (orange; at control ``market`` every
    congested interval, since nothing is requested).
``flex.share_resolved``
    (congested - orange) / congested day-ahead (1 with no congestion).
``flex.new_congestion_intervals``
    Intervals that an order made congested (0 by construction; the load flow checks it).
``flex.operation_violation_intervals``
    Intervals with any violation measured in operation (transformer, line, voltage);
    split into ``..._after_green`` (green after the day-ahead stage: the forecast error of
    base load and PV, or the homes' battery absorbing it, moved the power) and
    ``..._after_orange`` (left orange day-ahead: no offer could clear them).
``flex.operation_trafo_overload_intervals``, ``flex.operation_voltage_violation_intervals``
    The same, for the transformer and for the voltage band alone.
``flex.rounds_max``, ``flex.loop_iterations_max``, ``flex.loop_iteration_limit``
    Negotiation rounds and mosaik same-time loop iterations of the longest day, and mosaik's
    limit.
``flex.market_settlement_eur``, ``flex.payments_to_homes_eur``
    Settled on what was delivered: the local-market settlement of the homes' *measured* net
    powers (<= 0: savings; :func:`measured_settlement`, per day and aggregator portfolio, as
    the aggregator settles its plans) and the flexibility payments for the *delivered*
    energy (delivered energy times the order price, less the aggregator's margin per kWh)
    [EUR].
``flex.planned_market_settlement_eur``, ``flex.ordered_payments_to_homes_eur``
    The same on the plans and the orders (what the aggregator's ``flex_payments.parquet``
    holds: the day-ahead settlement) [EUR].
``flex.net_bill_eur``
    ``homes.total_bill_eur + flex.market_settlement_eur - flex.payments_to_homes_eur``: the
    measured bills and the settlement of what was measured and delivered.
``flex.annual_flex_cost_eur``
    ``F = flex.ordered_eur * 365 / days``: each simulated day stands for ``365 / days``
    days of the year (the typical-day weights of a sweep replace this).
``flex.deferral_value_eur``, ``flex.flex_cost_pv_eur``, ``flex.deferral_net_benefit_eur``,
``flex.breakeven_annual_flex_cost_eur``
    :func:`sims.dso.deferral.assess_deferral`: ``V = C (1 - (1+r)^-n) / (1 - (1+r)^-L)``,
    ``PV_F = F (1 - (1+r)^-n) / r``, ``V - PV_F``, ``C r / (1 - (1+r)^-L)``; ``C``, ``L``,
    ``r``, ``n`` from the scenario (``flex.upgrade_cost_eur``...).
``flex.emergency_actions``, ``flex.limited_kwh``
    With ``flex.emergency_limitation``: steps at which the DSO sent caps (applied at the next
    step), and the energy the caps cut from the homes (EV, heat pump, curtailed PV) [kWh].
``flex.deferral_credible``
    1 if no transformer overload was measured in operation (the flexibility did what the
    deferral assumes), else 0; then nothing is deferred and ``flex.deferral_value_eur`` and
    ``flex.deferral_net_benefit_eur`` are NaN (``null`` in ``kpis.json``).

When the load flow did not converge at some steps (``nonconverged_steps`` > 0), nothing was
measured there: the ``flex.operation_*`` counts are NaN (``null``) and the deferral is not
credible (``flex.deferral_credible`` 0, its value and net benefit NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sims.aggregator.local_market import local_settlement
from sims.dso.deferral import assess_deferral
from sims.tariff import Tariff, price_matrix

#: Share of the import-export spread the local market gives sellers (the aggregator's).
MARKET_ALPHA = 0.5

FLEX_COLUMNS = ("time", "day", "step", "requested_kw", "offered_kw", "offered_eur",
                "ordered_kw", "ordered_eur", "delivered_kw", "delivered_eur", "initial_light",
                "final_light", "initial_excess", "final_excess", "operation_violation")


def delivered(orders: pd.DataFrame, measured_kw: pd.DataFrame, steps_per_day: int
              ) -> pd.DataFrame:
    """Delivered power of each order row [kW] and its value [EUR/h] (see module docstring).

    Parameters
    ----------
    orders
        ``flex_orders.parquet`` rows (day, step, home_id, direction, ordered_kw, baseline_kw,
        price_eur_per_kwh).
    measured_kw
        Measured net power [kW], indexed by run step, one column per home id.
    steps_per_day
        Steps in a day.

    Returns
    -------
    DataFrame
        ``orders`` with ``measured_kw`` and ``delivered_kw`` columns added.
    """
    out = orders.copy()
    k = (out.day * steps_per_day + out.step).to_numpy()
    cols = measured_kw.columns.get_indexer(out.home_id)
    meas = measured_kw.to_numpy()[k, cols] if len(out) else np.zeros(0)
    sign = np.where(out.direction == "up", 1.0, -1.0)
    out["measured_kw"] = meas
    out["delivered_kw"] = np.clip(sign * (meas - out.baseline_kw.to_numpy()), 0.0,
                                  out.ordered_kw.to_numpy())
    return out


def flex_table(dayahead: pd.DataFrame, orders: pd.DataFrame, homes: pd.DataFrame,
               operation: pd.DataFrame, *, steps_per_day: int, step_h: float) -> pd.DataFrame:
    """The ``flex.parquet`` table: one row per interval of the run.

    Parameters
    ----------
    dayahead
        ``flex_dayahead.parquet``.
    orders
        ``flex_orders.parquet``.
    homes
        ``homes.parquet`` (time, home_id, p_kw).
    operation
        ``dso_operation.parquet`` (one row per violation measured in operation).
    steps_per_day
        Steps in a day.
    step_h
        Step length [h].
    """
    measured = homes.pivot(index="time", columns="home_id", values="p_kw").sort_index()
    measured.index = pd.RangeIndex(len(measured))
    d = delivered(orders, measured, steps_per_day)
    d["delivered_eur"] = d.delivered_kw * d.price_eur_per_kwh * step_h
    per = d.groupby(["day", "step"])[["delivered_kw", "delivered_eur"]].sum()
    t = dayahead.merge(per, left_on=["day", "step"], right_index=True, how="left")
    for c in ("delivered_kw", "delivered_eur"):
        t[c] = t[c].astype(float).fillna(0.0)
    k = t.day * steps_per_day + t.step
    t["operation_violation"] = k.isin(set(operation.step)).to_numpy()
    return t[list(FLEX_COLUMNS)].reset_index(drop=True)


def measured_settlement(homes: pd.DataFrame, payments: pd.DataFrame, tariff: Tariff, *,
                        steps_per_day: int, step_h: float, alpha: float = MARKET_ALPHA
                        ) -> float:
    """Local-market settlement of the measured net powers [EUR] (<= 0: savings).

    Per day and aggregator, the homes that took part in its market that day (the rows of
    ``flex_payments.parquet``) exchange their measured power as the aggregator exchanges
    their plans (:func:`sims.aggregator.local_market.local_settlement`, prices by step of
    the day).

    Parameters
    ----------
    homes
        ``homes.parquet`` (time, home_id, p_kw).
    payments
        ``flex_payments.parquet`` (day, aggregator_id, home_id).
    tariff
        The homes' tariff.
    steps_per_day, step_h
        Steps in a day; step length [h].
    alpha
        Share of the spread given to sellers.
    """
    if payments.empty:
        return 0.0
    measured = homes.pivot(index="time", columns="home_id", values="p_kw").sort_index()
    total = 0.0
    for (day, _), g in payments.groupby(["day", "aggregator_id"], sort=True):
        block = measured.iloc[int(day) * steps_per_day:(int(day) + 1) * steps_per_day]
        net = block[list(g.home_id)].to_numpy().T
        imp, exp = price_matrix([tariff] * len(g), steps_per_day)
        total += float(local_settlement(net, imp[:, :net.shape[1]], exp[:, :net.shape[1]],
                                        step_h, alpha).settlement_eur.sum())
    return total


def flex_kpis(table: pd.DataFrame, days: pd.DataFrame, operation: pd.DataFrame,
              payments: pd.DataFrame, *, step_h: float, n_days: int, price_cap: float,
              total_bill_eur: float, loop_iteration_limit: int, upgrade_cost_eur: float,
              lifetime_years: float, discount_rate: float, years_deferred: float,
              limited_kwh: float = 0.0, emergency_actions: int = 0,
              settlement_eur: float | None = None, nonconverged_steps: int = 0
              ) -> dict[str, float]:
    """The ``flex.`` KPIs (see the module docstring).

    ``settlement_eur`` is :func:`measured_settlement` (the planned one when None);
    ``nonconverged_steps`` the steps without a load flow (nothing measured in operation).
    """
    congested = int((table.initial_light != "green").sum())
    orange = int((table.final_light != "green").sum())
    viol = table.operation_violation.to_numpy()
    green = (table.final_light == "green").to_numpy()
    op_steps = operation.groupby("kind").step.nunique() if len(operation) else pd.Series(
        dtype=int)
    volt = operation[operation.kind.isin(["undervoltage", "overvoltage"])].step.nunique() \
        if len(operation) else 0
    ordered_eur = float(table.ordered_eur.sum())
    annual = ordered_eur * 365.0 / n_days
    a = assess_deferral(upgrade_cost_eur, annual, years_deferred=years_deferred,
                        discount_rate=discount_rate, lifetime_years=lifetime_years)
    planned = float(payments.market_settlement_eur.sum()) if len(payments) else 0.0
    settle = planned if settlement_eur is None else float(settlement_eur)
    paid_ordered = float(payments.flex_payment_eur.sum()) if len(payments) else 0.0
    ordered_kwh = float(table.ordered_kw.sum() * step_h)
    delivered_kwh = float(table.delivered_kw.sum() * step_h)
    margin = (ordered_eur - paid_ordered) / ordered_kwh if ordered_kwh > 0 else 0.0
    paid = float(table.delivered_eur.sum()) - margin * delivered_kwh
    trafo_over = int(op_steps.get("transformer", 0))
    measured = nonconverged_steps == 0
    credible = trafo_over == 0 and measured
    nan = float("nan")
    out = {
        "flex.requested_kwh": float(table.requested_kw.sum() * step_h),
        "flex.offered_kwh": float(table.offered_kw.sum() * step_h),
        "flex.ordered_kwh": float(table.ordered_kw.sum() * step_h),
        "flex.delivered_kwh": float(table.delivered_kw.sum() * step_h),
        "flex.requested_eur_at_cap": float(table.requested_kw.sum() * step_h * price_cap),
        "flex.offered_eur": float(table.offered_eur.sum()),
        "flex.ordered_eur": ordered_eur,
        "flex.delivered_eur": float(table.delivered_eur.sum()),
        "flex.congested_intervals_dayahead": congested,
        "flex.orange_intervals": orange,
        "flex.share_resolved": (congested - orange) / congested if congested else 1.0,
        "flex.new_congestion_intervals": int(days.new_congestion_steps.sum()),
        "flex.operation_violation_intervals": int(viol.sum()),
        "flex.operation_violation_intervals_after_green": int((viol & green).sum()),
        "flex.operation_violation_intervals_after_orange": int((viol & ~green).sum()),
        "flex.operation_trafo_overload_intervals": trafo_over,
        "flex.operation_voltage_violation_intervals": int(volt),
        "flex.rounds_max": int(days.rounds.max()),
        "flex.loop_iterations_max": int(days.loop_iterations.max()),
        "flex.loop_iteration_limit": int(loop_iteration_limit),
        "flex.market_settlement_eur": settle,
        "flex.payments_to_homes_eur": paid,
        "flex.planned_market_settlement_eur": planned,
        "flex.ordered_payments_to_homes_eur": paid_ordered,
        "flex.net_bill_eur": total_bill_eur + settle - paid,
        "flex.annual_flex_cost_eur": annual,
        "flex.deferral_value_eur": a.deferral_value_eur if credible else nan,
        "flex.flex_cost_pv_eur": a.flex_cost_pv_eur,
        "flex.deferral_net_benefit_eur": a.net_benefit_eur if credible else nan,
        "flex.breakeven_annual_flex_cost_eur": a.breakeven_annual_flex_cost_eur,
        "flex.deferral_credible": int(credible),
        "flex.emergency_actions": int(emergency_actions),
        "flex.limited_kwh": float(limited_kwh),
    }
    if not measured:
        out.update({k: nan for k in out if k.startswith("flex.operation_")})
    return out
