"""The exact price of one flexibility move, by re-planning (slow; for checking offers).

:mod:`sims.homes.cems.flex` gives every step's flexibility from a cheap approximation. When an
aggregator or the DSO wants the exact cost of one move (say, before it confirms an order),
:func:`move_cost` re-plans the day with a band that forces the move and compares the optimal
objectives: one solve per move (~10-50 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims.homes.cems.assets import Band, CemsInput
from sims.homes.cems.plan import Plan, plan_day

__all__ = ["MoveCost", "move_cost"]


@dataclass(frozen=True)
class MoveCost:
    """Outcome of forcing one move.

    Attributes
    ----------
    delivered_kw
        How far the net power actually moved in the direction asked [kW] (the band is soft:
        less than asked if the home cannot do more).
    cost_eur
        Change of the prosumer's objective (bill + comfort), band penalty excluded [EUR].
    cost_eur_per_kwh
        ``cost_eur`` per kWh delivered [EUR/kWh] (NaN if nothing was delivered).
    plan
        The re-plan that delivers it.
    """

    delivered_kw: float
    cost_eur: float
    cost_eur_per_kwh: float
    plan: Plan


def move_cost(
    inp: CemsInput, plan: Plan, step: int, delta_kw: float, penalty_eur_per_kwh: float = 50.0
) -> MoveCost:
    """Exact cost of moving the net power at ``step`` by ``delta_kw`` from ``plan``.

    Parameters
    ----------
    inp
        The input the plan was made from.
    plan
        An optimised plan (not a fallback).
    step
        The step to move.
    delta_kw
        The move [kW]: > 0 consume more, < 0 consume less.
    penalty_eur_per_kwh
        Penalty of the forcing band [EUR/kWh]; high, so the home moves as far as it can.
    """
    if plan.fallback:
        raise ValueError(f"{inp.home.home_id}: no move from a fallback plan ({plan.reason})")
    n = inp.n_steps
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    target = float(plan.net_kw[step]) + delta_kw
    if delta_kw >= 0:
        lo[step] = target
    else:
        hi[step] = target
    new = plan_day(inp, band=Band(lo, hi, penalty_eur_per_kwh), flexibility=False)
    if new.fallback:
        return MoveCost(0.0, float("nan"), float("nan"), new)
    moved = (float(new.net_kw[step]) - float(plan.net_kw[step])) * np.sign(delta_kw or 1.0)
    penalty = penalty_eur_per_kwh * inp.step_h * float(np.abs(new.band_violation_kw).sum())
    cost = new.objective_eur - penalty - plan.objective_eur
    per = cost / (moved * inp.step_h) if moved > 1e-9 else float("nan")
    return MoveCost(max(moved, 0.0), cost, per, new)
