"""Sensitivities: how much the homes' power must change to relieve a violation.

Loading violations scale with the element's rating; a voltage violation is measured with one
extra batch load flow that moves every home of its congestion point by a probe.

Unbalanced grids: the voltage probe is run and read per phase (the violated phase's voltage
at the bus; its congestion point is that phase's homes of the feeder). A voltage unbalance
violation is probed by scaling the power of the congestion point's homes that drive it
(importing homes for direction DOWN, exporting for UP) by ``1 - UNBALANCE_PROBE`` (the
emergency limitation cuts pro rata the same way); the loading estimates stay the balanced
approximation (excess times a three-phase rating), the load flow of the result checks every
phase.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sims.dso.limits import Violation

__all__ = ["UNBALANCE_PROBE", "relief_needed_kw"]

#: Share by which the unbalance probe scales the driving homes' power [-].
UNBALANCE_PROBE = 0.1


def relief_needed_kw(grid, home_kw: np.ndarray, violations: Sequence[Violation],
                     margin: float = 1.1, probe_kw: float = 1.0,
                     home_kvar: np.ndarray | None = None) -> np.ndarray:
    """Estimate the change of net power each violation needs [kW] (>= 0, a magnitude).

    Loading: the excess times the element's rating (``S_n`` for a transformer,
    ``sqrt(3) V_n I_max`` for a line). Voltage: the excursion divided by a sensitivity
    measured with one extra batch load flow, in which every home of the violation's
    congestion point moves ``probe_kw`` in the relieving direction. Times ``margin``.

    Parameters
    ----------
    grid
        The DSO's grid (:class:`sims.dso.grid_view.DsoGrid`).
    home_kw
        The homes' power [kW], ``[n_steps, n_homes]`` (rows indexed by the steps).
    violations
        The violations to estimate.
    margin
        Safety factor [-].
    probe_kw
        Probe per home for the voltage sensitivity [kW].
    home_kvar
        The homes' reactive power [kvar], like ``home_kw`` (None: the grid's power-factor
        rule); the probes keep it.

    Returns
    -------
    numpy.ndarray
        One estimate per violation [kW]; ``inf`` where the probe shows no sensitivity.
    """
    out = np.zeros(len(violations))
    probes = []
    for i, v in enumerate(violations):
        if v.kind == "transformer":
            t = int(np.flatnonzero(grid.trafo_index == v.element)[0])
            out[i] = (v.value - v.limit) / 100.0 * grid.trafo_sn_kva[t]
        elif v.kind == "line":
            j = int(np.flatnonzero(grid.line_index == v.element)[0])
            out[i] = (v.value - v.limit) / 100.0 * grid.line_rating_kva[j]
        elif v.kind in ("undervoltage", "overvoltage", "unbalance"):
            probes.append(i)
        else:
            out[i] = np.inf
    if probes:
        kw = np.atleast_2d(home_kw)
        batch = np.empty((len(probes), kw.shape[1]))
        totals = np.zeros(len(probes))
        for k, i in enumerate(probes):
            v = violations[i]
            batch[k] = kw[v.step]
            homes = grid.points[v.congestion_point]
            if v.kind == "unbalance":
                drive = np.maximum(v.direction.sign * -batch[k, homes], 0.0)
                batch[k, homes] += v.direction.sign * UNBALANCE_PROBE * drive
                totals[k] = UNBALANCE_PROBE * drive.sum()
            else:
                batch[k, homes] += v.direction.sign * probe_kw
                totals[k] = probe_kw * len(homes)
        kvar = None if home_kvar is None else np.atleast_2d(home_kvar)[
            [violations[i].step for i in probes]]
        res = grid.run(batch, kvar)
        lo = getattr(res, "vm_min_pu", res.vm_pu)
        hi = getattr(res, "vm_max_pu", res.vm_pu)
        for k, i in enumerate(probes):
            v = violations[i]
            b = int(np.flatnonzero(grid.bus_index == v.element)[0])
            value = {"undervoltage": lo, "overvoltage": hi}.get(v.kind)
            value = res.vuf_percent if value is None else value
            if v.phase >= 0 and v.kind != "unbalance":  # the violated phase's voltage
                value = res.vm_pu[:, :, v.phase]
            dv = abs(value[k, b] - v.value)
            exc = (v.limit - v.value) if v.kind == "undervoltage" else (v.value - v.limit)
            out[i] = exc / dv * totals[k] if dv > 1e-12 and totals[k] > 0 else np.inf
    return out * margin
