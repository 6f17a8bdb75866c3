"""Operating limits and the check of load-flow results against them.

:func:`check` turns a batch load flow of the homes' power into violations, each with its
congestion point and the direction the homes must move to relieve it (from the sign of the
downstream homes' power), keeping the worst element per step, kind and congestion point.

Severity ("excess") of a step, used to rank offers and compare partial reliefs, never to decide
that a step is clear: sum over transformers and lines of ``max(0, loading - limit) / 100``
(fraction of the rating) plus, per congestion point, ``VOLTAGE_WEIGHT`` times the largest
voltage excursion out of the band [p.u.] (1 % of voltage weighs like 10 % of loading) and
``VOLTAGE_WEIGHT`` times the largest voltage unbalance factor above its limit [% / 100]; a
step whose load flow did not converge counts ``NOT_CONVERGED_EXCESS``.

Per phase (unbalanced runs): a result that carries ``vm_min_pu`` and ``vm_max_pu`` (``[n_steps,
n_bus]``: the lowest and highest phase voltage of each bus) is checked on them, so the band
holds on every phase; an under- or over-voltage of a feeder is placed on the phase it occurs
on (congestion point ``"feeder-k/a"``: the feeder's homes on that phase, whose power moves that
phase's voltage most; homes on the other phases move it the other way, through the coupling of
the phases) and its severity counts the worst bus of each phase; its
``line_loading_percent`` is that of the most loaded phase; its ``vuf_percent`` (``[n_steps,
n_bus]``) is checked against ``vuf_max_percent`` (violation kind ``"unbalance"``; its direction
is that of the net power of the congestion point's homes). A balanced result (no such
attributes) is checked as before, without an unbalance check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grids.balanced.loadflow import LoadFlowResult
from sims.usef import Direction

__all__ = ["NOT_CONVERGED_EXCESS", "VOLTAGE_WEIGHT", "GridLimits", "StepCheck", "Violation",
           "check", "severity"]

VOLTAGE_WEIGHT = 10.0
NOT_CONVERGED_EXCESS = 10.0


@dataclass(frozen=True)
class GridLimits:
    """Operating limits of the network.

    Parameters
    ----------
    vm_min_pu, vm_max_pu
        Voltage band [p.u.] (UK statutory 0.94-1.10 by default).
    max_loading_percent
        Loading limit of transformers and lines [% of rating].
    vuf_max_percent
        Voltage unbalance factor limit [%] (EN 50160: 2 %), checked where the load flow is
        unbalanced.
    """

    vm_min_pu: float = 0.94
    vm_max_pu: float = 1.10
    max_loading_percent: float = 100.0
    vuf_max_percent: float = 2.0

    @classmethod
    def from_attrs(cls, source) -> GridLimits:
        """The limits from an object with the same attribute names (a scenario, a config)."""
        return cls(source.vm_min_pu, source.vm_max_pu, source.max_loading_percent,
                   getattr(source, "vuf_max_percent", 2.0))


@dataclass(frozen=True)
class Violation:
    """One limit exceeded at one step (the worst element per kind and congestion point).

    Attributes
    ----------
    step
        Step of the day.
    kind
        ``"transformer"``, ``"line"``, ``"undervoltage"``, ``"overvoltage"``,
        ``"unbalance"`` (voltage unbalance factor, unbalanced runs) or ``"not_converged"``.
    element
        Index label in ``net.trafo``, ``net.line`` or ``net.bus`` (-1 for not converged).
    value, limit
        Loading [%], voltage [p.u.] or unbalance factor [%], and the limit it exceeds.
    congestion_point
        Where flexibility helps (see :mod:`sims.usef`).
    direction
        Which way the homes' power must move to relieve it.
    phase
        Phase of a voltage violation in an unbalanced grid (0, 1, 2 for a, b, c; its
        congestion point is that phase's homes of the feeder), -1 otherwise.
    """

    step: int
    kind: str
    element: int
    value: float
    limit: float
    congestion_point: str
    direction: Direction
    phase: int = -1


@dataclass(frozen=True)
class StepCheck:
    """Limits checked on a batch of steps.

    Attributes
    ----------
    violations
        Every violation (worst element per step, kind and congestion point).
    excess
        Severity per step [-] (see the module docstring), 0 where every limit holds.
    violated
        ``[n_steps]`` bool: some limit is exceeded (or the load flow did not converge).
    """

    violations: tuple[Violation, ...]
    excess: np.ndarray
    violated: np.ndarray


def check(grid, res: LoadFlowResult, home_kw: np.ndarray, step0: int = 0,
          steps: np.ndarray | None = None, limits: GridLimits | None = None) -> StepCheck:
    """Check a load-flow result against the limits.

    Parameters
    ----------
    grid
        The DSO's grid (:class:`sims.dso.grid_view.DsoGrid`: element order, congestion
        points, downstream homes, its limits).
    res
        Result of :meth:`sims.dso.grid_view.DsoGrid.run` on ``home_kw``.
    home_kw
        The homes' power it was run with [kW], ``[n_steps, n_homes]`` (directions of
        transformer and line violations come from the sign of the downstream homes' sum).
    step0
        Added to the row number to give a violation's step.
    steps
        Step label of each row instead of ``step0 + row``.
    limits
        Limits to check instead of the grid's (e.g. tightened, to find steps near a limit).
    """
    lim = limits or grid.limits
    kw = np.atleast_2d(home_kw)
    n = res.n_steps
    label = np.arange(n) + step0 if steps is None else np.asarray(steps)
    excess, violated = severity(grid, res, lim)
    out: list[Violation] = []
    conv = res.converged
    ml = lim.max_loading_percent

    def flow_dir(mask: np.ndarray, r: int) -> Direction:
        return Direction.DOWN if kw[r, mask].sum() >= 0 else Direction.UP

    tl = np.nan_to_num(res.trafo_loading_percent)
    over = np.maximum(tl - ml, 0.0)
    for r, t in zip(*np.nonzero(over > 0), strict=True):
        out.append(Violation(int(label[r]), "transformer", int(grid.trafo_index[t]),
                             float(tl[r, t]), ml, grid.trafo_points[t],
                             flow_dir(grid.trafo_down[t], r)))
    ll = np.nan_to_num(res.line_loading_percent)
    over = np.maximum(ll - ml, 0.0)
    rows = np.flatnonzero(over.max(axis=1, initial=0.0) > 0)
    for r in rows:
        # worst line per congestion point and direction
        worst: dict[tuple[str, Direction], int] = {}
        for j in np.flatnonzero(over[r] > 0):
            key = (grid.line_point[j], flow_dir(grid.line_down[j], r))
            if key not in worst or ll[r, j] > ll[r, worst[key]]:
                worst[key] = j
        for (pt, d), j in worst.items():
            out.append(Violation(int(label[r]), "line", int(grid.line_index[j]),
                                 float(ll[r, j]), ml, pt, d))
    per_phase = np.ndim(res.vm_pu) == 3 and hasattr(grid, "congestion")
    for dev, val, kind, limit in _voltage_checks(res, lim):
        if per_phase and kind != "unbalance":
            out += _phase_voltage_violations(grid, res, lim, kind, label)
            continue
        for r in np.flatnonzero(dev.max(axis=1, initial=0.0) > 0):
            worst_b: dict[str, int] = {}
            for b in np.flatnonzero(dev[r] > 0):
                pt = grid.bus_point[b]
                if pt not in worst_b or dev[r, b] > dev[r, worst_b[pt]]:
                    worst_b[pt] = b
            for pt, b in worst_b.items():
                if kind == "undervoltage":
                    d = Direction.DOWN
                elif kind == "overvoltage":
                    d = Direction.UP
                else:
                    d = Direction.DOWN if kw[r, grid.points[pt]].sum() >= 0 else Direction.UP
                out.append(Violation(int(label[r]), kind, int(grid.bus_index[b]),
                                     float(val[r, b]), limit, pt, d))
    for r in np.flatnonzero(~conv):
        d = Direction.DOWN if kw[r].sum() >= 0 else Direction.UP
        out.append(Violation(int(label[r]), "not_converged", -1, float("nan"), float("nan"),
                             grid.root_point, d))
    out.sort(key=lambda v: (v.step, v.kind, v.congestion_point))
    return StepCheck(tuple(out), excess, violated)


def _phase_voltage_violations(grid, res, lim: GridLimits, kind: str, label: np.ndarray
                              ) -> list[Violation]:
    """Under- or over-voltages of an unbalanced result, per phase: the worst bus of each
    phase's congestion point (a feeder's homes on that phase; above the feeders the root
    point, whatever the phase) at each step."""
    vm = np.asarray(res.vm_pu)  # [n_steps, n_bus, 3]
    under = kind == "undervoltage"
    limit = lim.vm_min_pu if under else lim.vm_max_pu
    dev = _phase_deviation(vm, lim, kind)
    d = Direction.DOWN if under else Direction.UP
    out = []
    for r in np.flatnonzero(dev.max(axis=(1, 2), initial=0.0) > 0):
        worst: dict[str, tuple[int, int]] = {}
        for b, ph in zip(*np.nonzero(dev[r] > 0), strict=True):
            pt = grid.congestion.phase_point(grid.bus_point[b], int(ph))
            if pt not in worst or dev[r, b, ph] > dev[r, worst[pt][0], worst[pt][1]]:
                worst[pt] = (int(b), int(ph))
        for pt, (b, ph) in worst.items():
            out.append(Violation(int(label[r]), kind, int(grid.bus_index[b]),
                                 float(vm[r, b, ph]), limit, pt, d, ph))
    return out


def severity(grid, res: LoadFlowResult, limits: GridLimits | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Severity of each step and whether a limit is exceeded, without the violations.

    The numbers :func:`check` reports as ``excess`` and ``violated`` (it calls this), in array
    operations only: the offer search of :func:`sims.dso.congestion.select_offers` evaluates
    thousands of steps and needs no more than these.

    Parameters
    ----------
    grid
        The DSO's grid (element order, congestion points, its limits).
    res
        Result of :meth:`sims.dso.grid_view.DsoGrid.run`.
    limits
        Limits to check instead of the grid's.

    Returns
    -------
    excess : numpy.ndarray
        ``[n_steps]`` severity [-] (see the module docstring).
    violated : numpy.ndarray
        ``[n_steps]`` bool: some limit is exceeded or the load flow did not converge.
    """
    lim = limits or grid.limits
    ml = lim.max_loading_percent
    conv = np.asarray(res.converged)
    excess = np.maximum(np.nan_to_num(res.trafo_loading_percent) - ml, 0.0).sum(axis=1) / 100.0
    excess += np.maximum(np.nan_to_num(res.line_loading_percent) - ml, 0.0).sum(axis=1) / 100.0
    groups = _point_groups(grid)
    phased = np.ndim(res.vm_pu) == 3 and any(split for _, split in groups)
    for dev, _val, kind, _limit in _voltage_checks(res, lim):
        unit = 0.01 if kind == "unbalance" else 1.0
        dev3 = (_phase_deviation(res.vm_pu, lim, kind) if phased and kind != "unbalance"
                else None)
        for buses, split in groups:  # the worst bus of each congestion point
            if split and dev3 is not None:  # of each phase of a feeder (its per-phase points)
                for ph in range(3):
                    excess += VOLTAGE_WEIGHT * dev3[:, buses, ph].max(axis=1)
            else:
                excess += VOLTAGE_WEIGHT * dev[:, buses].max(axis=1) * unit
    excess[~conv] += NOT_CONVERGED_EXCESS
    return excess, (excess > 0) | ~conv


def _voltage_checks(res, lim: GridLimits) -> list[tuple[np.ndarray, np.ndarray, str, float]]:
    """``(deviation beyond the limit >= 0, value, kind, limit)`` of each voltage check,
    ``[n_steps, n_bus]`` arrays (0 where a value is NaN)."""
    vlo = getattr(res, "vm_min_pu", None)
    vhi = getattr(res, "vm_max_pu", None)
    vlo = res.vm_pu if vlo is None else vlo
    vhi = res.vm_pu if vhi is None else vhi
    with np.errstate(invalid="ignore"):
        low = np.where(np.isnan(vlo), 0.0, np.maximum(lim.vm_min_pu - vlo, 0.0))
        high = np.where(np.isnan(vhi), 0.0, np.maximum(vhi - lim.vm_max_pu, 0.0))
        out = [(low, vlo, "undervoltage", lim.vm_min_pu),
               (high, vhi, "overvoltage", lim.vm_max_pu)]
        vuf = getattr(res, "vuf_percent", None)
        if vuf is not None:
            dev_u = np.where(np.isnan(vuf), 0.0, np.maximum(vuf - lim.vuf_max_percent, 0.0))
            out.append((dev_u, vuf, "unbalance", lim.vuf_max_percent))
    return out


def _phase_deviation(vm, lim: GridLimits, kind: str) -> np.ndarray:
    """Excursion of each phase voltage out of the band [p.u.] (>= 0, 0 where NaN),
    ``[n_steps, n_bus, 3]``, for ``kind`` ``"undervoltage"`` or ``"overvoltage"``."""
    vm = np.asarray(vm)
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(np.maximum(lim.vm_min_pu - vm, 0.0) if kind == "undervoltage"
                             else np.maximum(vm - lim.vm_max_pu, 0.0))


def _point_groups(grid) -> tuple[tuple[np.ndarray, bool], ...]:
    """Bus rows of each congestion point of the buses, and whether the point has per-phase
    points (a feeder of an unbalanced grid); cached on the grid."""
    groups = getattr(grid, "_point_groups_cache", None)
    if groups is None:
        points = np.asarray(grid.bus_point, dtype=object)
        cp = getattr(grid, "congestion", None)
        groups = tuple((np.flatnonzero(points == pt),
                        cp is not None and cp.phase_point(pt, 0) != pt)
                       for pt in dict.fromkeys(grid.bus_point))
        try:
            grid._point_groups_cache = groups
        except AttributeError:  # a frozen grid-like object: recomputed each call
            pass
    return groups
