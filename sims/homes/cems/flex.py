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
(ideal store)    draws at other steps to give back; rebound:   energy moves to the cheapest
                 the most expensive of those steps             step with headroom (same session)
heat pump with   draw more now and less at a step ``r``        draw less now and more at a step
its building     after (the stored heat decays: ``q a^(r-t)``  ``r`` after (to make up) or
(a store)        saved) or before (it had drawn ``q a^-(t-r)`` before (to pre-heat): ``q
                 less, the house ran cooler); the band must    a^(r-t)`` / ``q a^-(t-r)``
                 hold ``q / g`` more (``e_max - e``) or less   bought; the band holds on every
                 (``e - e_min``) on every step between; ``r``  step between; ``r`` the cheapest
                 the step worth most                           (``a``, ``g``: ThermalStore)
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
Heat pumps in their buildings (12 random homes with buildings and 3 bands of a real winter
heat-pump day): all 933 offered moves of every other step were delivered in full; on 149
sampled moves the cost error had a median of 0.000, a mean absolute value of 0.029, a 90th
percentile of 0.065 and a maximum of 0.22 EUR/kWh.
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
    th = inp.thermal
    if th is not None and th.store is None:
        shiftable(plan.thermal_kw, np.full(n, th.rated_kw), [(0, n)])
    elif th is not None:
        _store_items(plan, inp, p_up, p_dn, w, up_items, dn_items)

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


def _store_items(plan, inp: CemsInput, p_up, p_dn, w: float, up_items, dn_items) -> None:
    """Flexibility of a heat pump whose building bounds it (see the module docstring).

    A move of ``q`` at step ``t`` is paired with a rebound at another step ``r`` that brings
    the building back onto the plan's trajectory: after ``t`` (the moved heat, decayed by
    ``a^(r-t)``, is given back at ``r``) or before it (the heat is moved ahead: ``r`` pre-heats
    ``q a^-(t-r)`` for a reduction at ``t``, or draws that much less for a recovery at ``t``).
    ``q`` is bounded by the device's headroom at ``t``, by the rebound step's, and by the
    comfort band on every step boundary between the two (with the decay taken at its least
    favourable, which only errs on the safe side; downwards never below the set point, so the
    day's mean stored heat stays >= 0 and the day model's energy constraint holds). The
    rebound is the step worth most (up) or costing least (down); one item per step and
    direction.
    """
    th = inp.thermal
    n = inp.n_steps
    a, g = th.coefficients(inp.step_h)
    lo, hi = th.band_kwh()
    e = plan.thermal_state_kwh[1:]  # after each step
    pw = plan.thermal_kw
    rated = np.where(np.arange(n) < inp.start_step, 0.0, th.rated_kw)
    t_idx = np.arange(n)[:, None]
    r_idx = np.arange(n)[None, :]
    after, before = r_idx > t_idx, r_idx < t_idx
    decay = np.maximum(a ** np.abs(r_idx - t_idx), 1e-300)  # a^|r - t|
    room_top = np.maximum((hi - e) / g, 0.0)  # by step k: boundary k + 1
    room_bot = np.maximum((e - max(lo, 0.0)) / g, 0.0)

    def between(room: np.ndarray) -> np.ndarray:
        """[t, r]: the least ``room`` on the boundaries strictly between the moves."""
        fwd = np.minimum.accumulate(np.where(r_idx >= t_idx, room[None, :], np.inf), axis=1)
        out = np.zeros((n, n))
        out[:, 1:] = fwd[:, :-1]  # r > t: steps t..r-1
        m = np.where(r_idx < t_idx, room[None, :], np.inf)
        back = np.minimum.accumulate(m[:, ::-1], axis=1)[:, ::-1]  # r < t: steps r..t-1
        return np.where(after, out, np.where(before, back * decay, 0.0))

    # rebound after t: its power scales by a^(r-t); before t: by a^-(t-r)
    scale = np.where(after, decay, 1.0 / decay)
    for up in (True, False):
        head = (rated - pw) if up else pw  # at t
        # the band between: up-then-give-back fills the top; recover-after-drawing-less
        # (rebound before t) and draw-less-then-make-up (after t) use the stored heat
        room = np.where(after, between(room_top if up else room_bot),
                        between(room_bot if up else room_top))
        give = pw if up else (rated - pw)  # what the rebound step can give back / take
        q = np.minimum(np.minimum(head[:, None], room), give[None, :] / scale)
        q = np.where(after | before, q, 0.0)
        ok = q > 1e-6
        if not ok.any():
            continue
        if up:  # the rebound draws q * scale less at r: worth p_dn[r] * scale per kWh of q
            val = np.where(ok, p_dn[None, :] * scale, -np.inf)
            best = np.argmax(val, axis=1)
        else:  # the rebound draws q * scale more at r: costs p_up[r] * scale
            val = np.where(ok, p_up[None, :] * scale, np.inf)
            best = np.argmin(val, axis=1)
        for t in np.flatnonzero(ok.any(axis=1)):
            k = int(best[t])
            if up:
                up_items[t].append((float(q[t, k]), -float(val[t, k]) + w))
            else:
                dn_items[t].append((float(q[t, k]), float(val[t, k]) + w))


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
