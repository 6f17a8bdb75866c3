"""Per-phase grid KPIs of an unbalanced run (its ``buses`` table has a ``phase`` column).

``grid.vuf_max_percent``  highest voltage unbalance factor ``|V2| / |V1|`` of the LV buses [%].
``grid.vuf_violation_minutes``  minutes in which some LV bus's unbalance factor is above
``limits.vuf_max_percent`` (EN 50160: 2 %) [min].
``grid.vm_min_pu_a``, ``_b``, ``_c`` / ``grid.vm_max_pu_a``, ``_b``, ``_c``  extreme voltages of
the LV buses on each phase [p.u.].

The other grid KPIs (:func:`testbed.kpis.grid_kpis`) read the per-phase rows as they are, so
they take the worst phase: ``grid.vm_min_pu`` is the lowest phase voltage, the loadings those
of the most loaded phase, ``grid.voltage_violations`` counts (bus, phase, step) triples.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["phase_kpis"]


def phase_kpis(bus: pd.DataFrame, *, step_s: int, vuf_max_percent: float) -> dict[str, float]:
    """The per-phase KPIs (module docstring) of the converged steps' LV bus rows.

    Parameters
    ----------
    bus
        Rows of the ``buses`` table (``time``, ``bus_id``, ``phase``, ``vm_pu``,
        ``vuf_percent``) of the converged steps and the buses the band applies to.
    step_s
        Step length [s].
    vuf_max_percent
        Voltage unbalance factor limit [%].
    """
    out: dict[str, float] = {}
    vuf = bus["vuf_percent"]
    out["grid.vuf_max_percent"] = float(vuf.max())
    over = (vuf > vuf_max_percent).groupby(bus.time).any()
    out["grid.vuf_violation_minutes"] = float(over.sum() * step_s / 60.0)
    by_phase = bus.groupby(bus["phase"].astype(str), observed=True).vm_pu
    lo, hi = by_phase.min(), by_phase.max()
    for ph in ("a", "b", "c"):
        out[f"grid.vm_min_pu_{ph}"] = float(lo.get(ph, float("nan")))
    for ph in ("a", "b", "c"):
        out[f"grid.vm_max_pu_{ph}"] = float(hi.get(ph, float("nan")))
    return out
