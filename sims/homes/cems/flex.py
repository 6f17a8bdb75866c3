"""Flexibility of a plan: how far each step's net power can move, and what that costs.

Method (a cheap approximation, not a re-solve)
----------------------------------------------
Exact flexibility would need two re-solves per step (192 per home, ~4 s), far too slow for a
day-ahead round over 184 homes. Instead, for each step ``t`` separately (one step at a time;
offers for several steps are not additive), every device's *headroom* around the plan is
taken, together with the cheapest *rebound* that keeps the rest of the day feasible:

===============  ============================================  =================================
device           up (consume more at t)                        down (consume less at t)
===============  ============================================  =================================
battery          charge more: ``P - p_bat[t]``, and the SoC    discharge more: ``P + p_bat[t]``,
                 room above ``soc[t+1]``; rebound: discharge   energy above ``soc_min``; rebound:
                 more at the best other step (x round-trip     recharge at the cheapest other
                 efficiency)                                   step (/ round-trip efficiency)
EV, thermal      draw more: rating minus plan, if the device   draw less: the plan at t; the
                 draws at other steps to give back; rebound:   energy moves to the cheapest
                 the most expensive of those steps             step with headroom (same session)
PV               curtail what is not yet curtailed             stop curtailing
===============  ============================================  =================================

The grid side is priced at the tariff (import price, or export price for the part that only
changes export), the rebound at the marginal price of the rebound step on the plan, and EV and
thermal moves add the prosumer's willingness (discomfort) per kWh. Devices are stacked from
the cheapest, up to the connection limits. The cost per kWh is the total cost of the whole
quantity divided by its energy, clamped at >= 0 (a negative value would mean the plan was not
optimal, which only the approximation can produce). Appliance cycles are not offered as
single-step flexibility (moving one moves several steps). Inter-step SoC coupling beyond
``t + 1`` and the band of a re-plan are ignored: a DSO order must be confirmed by a re-plan
with :func:`sims.homes.cems.plan.plan_day` and a band.

Checked against exact re-solves (30 random homes, 110 sampled step/direction pairs, a band
forcing the offered move at one step): every offered quantity was delivered in full; the
approximate cost minus the exact one (objective change per kWh, comfort included) had a
median of 0.000, a mean absolute value of 0.043 and a 90th percentile of 0.17 EUR/kWh.
``tests/cems/test_fallback_band_flex.py`` keeps the deliverability check;
:func:`sims.homes.cems.offers.move_cost` gives the exact cost of one move when it matters.
"""

from __future__ import annotations

import math

import numpy as np

from sims.homes.cems.assets import CemsInput

__all__ = ["flexibility"]


def flexibility(plan, inp: CemsInput) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Up/down flexibility per step [kW] and its cost [EUR/kWh] (see the module docstring).

    Parameters
    ----------
    plan
        An optimised :class:`sims.homes.cems.plan.Plan`.
    inp
        The input it was planned from.

    Returns
    -------
    tuple of arrays
        ``flex_up_kw``, ``flex_down_kw`` (>= 0), ``flex_up_cost_eur_per_kwh``,
        ``flex_down_cost_eur_per_kwh`` (NaN where the quantity is 0).
    """
    n, dt = inp.n_steps, inp.step_h
    imp_p, exp_p = inp.tariff.prices(n)
    net = plan.net_kw
    # marginal value of one more / one less kWh at each step, on the plan
    p_up = np.where(net < -1e-9, exp_p, imp_p)  # consume more: lose export or import more
    p_dn = np.where(net > 1e-9, imp_p, exp_p)  # consume less: import less or export more
    w = inp.category.willingness_eur_per_kwh
    up_items: list[list[tuple[float, float]]] = [[] for _ in range(n)]  # (kW, rebound EUR/kWh)
    dn_items: list[list[tuple[float, float]]] = [[] for _ in range(n)]

    b = inp.battery
    if b is not None and b.capacity_kwh > 0:
        cap, pmax, rt = b.capacity_kwh, b.power_kw, b.efficiency_roundtrip
        eta = math.sqrt(rt)
        soc = plan.soc[1:] * cap  # at the end of each step
        pb = plan.battery_kw
        q_up = np.minimum(pmax - pb, np.maximum(0.0, (b.soc_max * cap - soc) / (eta * dt)))
        back = _max_excluding_self(p_dn, pb > -pmax + 1e-9)  # discharge more elsewhere
        for t in np.flatnonzero((q_up > 1e-6) & np.isfinite(back)):
            up_items[t].append((float(q_up[t]), -float(back[t]) * rt))
        q_dn = np.minimum(pmax + pb, np.maximum(0.0, (soc - b.soc_min * cap) * eta / dt))
        back = _min_excluding_self(p_up, pb < pmax - 1e-9)  # recharge elsewhere
        for t in np.flatnonzero((q_dn > 1e-6) & np.isfinite(back)):
            dn_items[t].append((float(q_dn[t]), float(back[t]) / rt))

    def shiftable(power: np.ndarray, rating: np.ndarray, windows: list[tuple[int, int]]):
        for a, d in windows:
            pw, rt = power[a:d], rating[a:d]
            # up: draw more now, give it back where the device draws (same window)
            q_up = np.minimum(rt - pw, pw.sum() - pw)
            back = _max_excluding_self(p_dn[a:d], pw > 1e-9)
            for k in np.flatnonzero((q_up > 1e-6) & np.isfinite(back)):
                up_items[a + k].append((float(q_up[k]), -float(back[k]) + w))
            # down: draw less now, make it up where the device has headroom
            room = np.where(rt - pw > 1e-9, rt - pw, 0.0)
            q_dn = np.minimum(pw, room.sum() - room)
            back = _min_excluding_self(p_up[a:d], room > 0.0)
            for k in np.flatnonzero((q_dn > 1e-6) & np.isfinite(back)):
                dn_items[a + k].append((float(q_dn[k]), float(back[k]) + w))

    ev = inp.home.ev
    if ev is not None and inp.ev_sessions:
        pe = np.maximum(plan.ev_kw, 0.0)
        shiftable(
            pe, np.full(n, ev.charger_kw), [(s.arrival, s.departure) for s in inp.ev_sessions]
        )
    if inp.thermal is not None:
        shiftable(plan.thermal_kw, np.full(n, inp.thermal.rated_kw), [(0, n)])

    pv = np.asarray(inp.pv_kw, dtype=float)
    for t in range(n):
        q = pv[t] - plan.curtail_kw[t]
        if q > 1e-6:
            up_items[t].append((q, 0.0))
        if plan.curtail_kw[t] > 1e-6:
            dn_items[t].append((plan.curtail_kw[t], 0.0))

    up = np.zeros(n)
    dn = np.zeros(n)
    cu = np.full(n, np.nan)
    cd = np.full(n, np.nan)
    for t in range(n):
        lim_up = max(0.0, inp.home.max_import_kw - net[t])
        lim_dn = max(0.0, net[t] + inp.home.max_export_kw)
        q, c = _stack(up_items[t], lim_up)
        if q > 1e-6:
            e = max(-net[t], 0.0)
            grid = exp_p[t] * min(q, e) + imp_p[t] * max(q - e, 0.0)
            up[t], cu[t] = q, max(0.0, (grid * dt + c * dt) / (q * dt))
        q, c = _stack(dn_items[t], lim_dn)
        if q > 1e-6:
            i = max(net[t], 0.0)
            grid = imp_p[t] * min(q, i) + exp_p[t] * max(q - i, 0.0)
            dn[t], cd[t] = q, max(0.0, (c * dt - grid * dt) / (q * dt))
    return up, dn, cu, cd


def _max_excluding_self(vals: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each position, the largest ``vals`` over the other masked positions (-inf if none)."""
    v = np.where(mask, vals, -np.inf)
    i = int(np.argmax(v))
    out = np.full(v.shape, v[i])
    v[i] = -np.inf
    out[i] = v.max()
    return out


def _min_excluding_self(vals: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each position, the smallest ``vals`` over the other masked positions (inf if none)."""
    return -_max_excluding_self(-vals, mask)


def _stack(items: list[tuple[float, float]], limit: float) -> tuple[float, float]:
    """Fill ``limit`` kW from the cheapest items; total kW and total cost rate [EUR/h]."""
    q_tot, c_tot = 0.0, 0.0
    for q, c in sorted(items, key=lambda x: x[1]):
        take = min(q, limit - q_tot)
        if take <= 0:
            break
        q_tot += take
        c_tot += take * c
    return q_tot, c_tot
