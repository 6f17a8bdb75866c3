"""The uncontrolled schedule: what the home does without a CEMS.

Used as the baseline of the KPIs ("bill without CEMS") and as the flagged fallback when a
plan cannot be made. Uncontrolled means: PV is never curtailed, the EV charges at its
charger's power from arrival until it has its energy (or follows the reference profile
given), appliance cycles start at their preferred start, the thermal load follows its
reference profile (or runs at its rating from midnight until it has its energy), and the
battery runs in greedy self-consumption mode (``battery_mode="self_consumption"``, the
default and the rule of the home model without CEMS, :func:`sims.homes.battery.self_consumption`:
charge from PV surplus, discharge to cover the load, never from or to the grid) or stays idle
(``"idle"``).

Comparing bills with and without CEMS: the CEMS ends the day at ``soc_end`` (by default its
starting SoC) while a self-consuming battery ends wherever the day leaves it. For a like-for-
like comparison plan with ``CemsInput.soc_end`` set to the uncontrolled end SoC
(:func:`end_soc`): the uncontrolled schedule is then feasible for the CEMS, so the CEMS bill
cannot be higher (``tests/cems/test_properties.py``).
"""

from __future__ import annotations

import numpy as np

from sims.homes.battery import self_consumption
from sims.homes.cems.assets import CemsInput

__all__ = ["end_soc", "uncontrolled_devices", "uncontrolled_schedule"]


def uncontrolled_devices(inp: CemsInput) -> dict[str, np.ndarray]:
    """Uncontrolled EV, appliance and thermal power per step [kW].

    Returns
    -------
    dict
        ``ev_kw``, ``appliance_kw``, ``thermal_kw`` (arrays of ``inp.n_steps``) and
        ``appliance_starts`` (one start step per appliance).
    """
    n, dt = inp.n_steps, inp.step_h
    ev = np.zeros(n)
    if inp.ev_reference_kw is not None:
        ev = np.clip(np.asarray(inp.ev_reference_kw, dtype=float), 0.0, None).copy()
    elif inp.home.ev is not None:
        p = inp.home.ev.charger_kw
        for s in inp.ev_sessions:
            left = s.energy_kwh
            for t in range(s.arrival, s.departure):
                if left <= 1e-12:
                    break
                ev[t] = min(p, left / dt)
                left -= ev[t] * dt
    app = np.zeros(n)
    starts = []
    for a in inp.appliances:
        k = min(max(a.preferred_start, a.earliest_start), a.latest_end - a.steps)
        k = max(0, min(k, n - a.steps))
        app[k : k + a.steps] += np.asarray(a.profile_kw, dtype=float)
        starts.append(k)
    th = np.zeros(n)
    if inp.thermal is not None:
        th = thermal_reference(inp)
    return {"ev_kw": ev, "appliance_kw": app, "thermal_kw": th, "appliance_starts": starts}


def thermal_reference(inp: CemsInput) -> np.ndarray:
    """Uncontrolled thermal power per step [kW] (zeros without a thermal load)."""
    n, dt = inp.n_steps, inp.step_h
    th = inp.thermal
    if th is None:
        return np.zeros(n)
    if th.reference_kw is not None:
        return np.clip(np.asarray(th.reference_kw, dtype=float), 0.0, None).copy()
    out = np.zeros(n)
    left = th.energy_kwh
    for t in range(n):
        if left <= 1e-12:
            break
        out[t] = min(th.rated_kw, left / dt)
        left -= out[t] * dt
    return out


def uncontrolled_schedule(
    inp: CemsInput, battery_mode: str = "self_consumption"
) -> dict[str, np.ndarray]:
    """The home's schedule without a CEMS.

    Parameters
    ----------
    inp
        The home's day.
    battery_mode
        ``"self_consumption"`` (greedy: store PV surplus, cover the load from storage, within
        the power and SoC limits) or ``"idle"`` (battery unused).

    Returns
    -------
    dict
        ``net_kw``, ``battery_kw`` (> 0 charging), ``ev_kw``, ``appliance_kw``,
        ``thermal_kw`` (per step [kW]), ``soc`` (n + 1 fractions [-], NaN without battery),
        ``thermal_state_kwh`` (n + 1 values [kWh]: the reference keeps the store where it
        started, decaying towards the set point; NaN without a thermal load) and
        ``appliance_starts``.
    """
    if battery_mode not in ("idle", "self_consumption"):
        raise ValueError(f"battery_mode must be 'idle' or 'self_consumption', not {battery_mode!r}")
    n, dt = inp.n_steps, inp.step_h
    dev = uncontrolled_devices(inp)
    base = np.asarray(inp.base_kw, dtype=float)
    pv = np.asarray(inp.pv_kw, dtype=float)
    load = base - pv + dev["ev_kw"] + dev["appliance_kw"] + dev["thermal_kw"]
    bat = np.zeros(n)
    b = inp.battery
    soc = np.full(n + 1, np.nan)
    if b is not None and b.capacity_kwh > 0:
        s0 = b.soc_init if inp.soc_init is None else inp.soc_init
        e = s0 * b.capacity_kwh
        soc[0] = s0
        for t in range(n):
            if battery_mode == "self_consumption":
                bat[t], e = self_consumption(float(load[t]), e, b, dt)
            soc[t + 1] = e / b.capacity_kwh
    th = inp.thermal
    state = (
        np.full(n + 1, np.nan)
        if th is None
        else th.state_kwh(dev["thermal_kw"], dev["thermal_kw"], dt, inp.start_step)
    )
    return {
        "net_kw": load + bat,
        "battery_kw": bat,
        "ev_kw": dev["ev_kw"],
        "appliance_kw": dev["appliance_kw"],
        "thermal_kw": dev["thermal_kw"],
        "soc": soc,
        "thermal_state_kwh": state,
        "appliance_starts": dev["appliance_starts"],
    }


def end_soc(inp: CemsInput, battery_mode: str = "self_consumption") -> float | None:
    """Battery SoC at the end of the uncontrolled day [-] (``None`` without a battery).

    Use it as ``CemsInput.soc_end`` to compare the CEMS with the uncontrolled home at the
    same final state of charge.
    """
    b = inp.battery
    if b is None or b.capacity_kwh <= 0:
        return None
    s = float(uncontrolled_schedule(inp, battery_mode)["soc"][-1])
    return min(max(s, b.soc_min), b.soc_max)
