"""Sensitivities: how much the homes' power must change to relieve a violation.

Loading violations scale with the element's rating; a voltage violation is measured with one
extra batch load flow that moves every home of its congestion point by a probe.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sims.dso.limits import Violation

__all__ = ["relief_needed_kw"]


def relief_needed_kw(grid, home_kw: np.ndarray, violations: Sequence[Violation],
                     margin: float = 1.1, probe_kw: float = 1.0) -> np.ndarray:
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
        elif v.kind in ("undervoltage", "overvoltage"):
            probes.append(i)
        else:
            out[i] = np.inf
    if probes:
        kw = np.atleast_2d(home_kw)
        batch = np.empty((len(probes), kw.shape[1]))
        for k, i in enumerate(probes):
            v = violations[i]
            batch[k] = kw[v.step]
            batch[k, grid.points[v.congestion_point]] += v.direction.sign * probe_kw
        res = grid.run(batch)
        for k, i in enumerate(probes):
            v = violations[i]
            b = int(np.flatnonzero(grid.bus_index == v.element)[0])
            dv = abs(res.vm_pu[k, b] - v.value)
            total = probe_kw * len(grid.points[v.congestion_point])
            exc = (v.limit - v.value) if v.kind == "undervoltage" else (v.value - v.limit)
            out[i] = exc / dv * total if dv > 1e-12 else np.inf
    return out * margin
