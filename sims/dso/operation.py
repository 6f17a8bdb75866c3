"""UC3 in operation: the DSO watches each step's measurements and may limit homes (orange).

:class:`OperationMonitor` receives, every step, the measured transformer and line loadings and
bus voltages (from the grid simulator's load flow) and records every remaining violation with
the same rules as the day-ahead validation (:meth:`sims.dso.grid_view.DsoGrid.check`).

:func:`emergency_limitation` is the orange-regime action for one step: it caps the homes that
cause a violation, pro rata to their contribution (importing homes for an overload by import
or an under-voltage; exporting homes for a reverse-flow overload or an over-voltage), by the
relief the sensitivity estimate says is needed, checks the capped step with the load flow and
repeats with a new estimate, at most ``max_iter`` times. A home is never pushed past zero
(the cap stops its import, or its export, at most), so a violation the contributors cannot
remove is left and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sims.dso.grid_view import DsoGrid
from sims.dso.limits import StepCheck, Violation
from sims.usef import Direction

__all__ = ["EmergencyAction", "Measurement", "OperationMonitor", "emergency_limitation"]


@dataclass(frozen=True)
class Measurement:
    """Measured state of one step in the shape the limit check reads.

    Parameters
    ----------
    trafo_loading_percent, line_loading_percent
        Loadings [%], ``[1, n_trafo]`` and ``[1, n_line]`` (net row order).
    vm_pu
        Bus voltages [p.u.], ``[1, n_bus]`` (net row order; NaN where not energised).
    converged
        ``[1]`` bool.
    vm_min_pu, vm_max_pu, vuf_percent
        Unbalanced grids: the lowest and highest phase voltage and the unbalance factor of
        each bus, ``[1, n_bus]`` (None in balanced grids; then ``line_loading_percent`` is
        that of the most loaded phase).
    """

    trafo_loading_percent: np.ndarray
    line_loading_percent: np.ndarray
    vm_pu: np.ndarray
    converged: np.ndarray
    vm_min_pu: np.ndarray | None = None
    vm_max_pu: np.ndarray | None = None
    vuf_percent: np.ndarray | None = None

    @property
    def n_steps(self) -> int:
        """Always 1."""
        return 1


class OperationMonitor:
    """Records the violations measured in operation, step by step.

    Parameters
    ----------
    grid
        The DSO's network (limits, element order, congestion points).

    Attributes
    ----------
    records
        Every violation seen, in step order.
    max_trafo_loading_percent
        Highest measured transformer loading [%].
    """

    def __init__(self, grid: DsoGrid):
        self.grid = grid
        self.records: list[Violation] = []
        self.steps_seen = 0
        self.max_trafo_loading_percent = 0.0

    def observe(self, step: int, trafo_loading_percent, vm_pu, line_loading_percent=None,
                home_kw=None, converged: bool = True, vuf_percent=None) -> list[Violation]:
        """Check one step's measurements and record its violations.

        Parameters
        ----------
        step
            Step of the run.
        trafo_loading_percent
            Loading of each transformer [%] (``net.trafo`` order).
        vm_pu
            Voltage of each bus [p.u.] (``net.bus`` order); unbalanced grids: three per bus,
            bus-major a, b, c (the grid simulator's array).
        line_loading_percent
            Loading of each line [%] (``net.line`` order; unbalanced grids three per line);
            unchecked if None.
        home_kw
            The homes' measured power [kW] (``grid.home_ids`` order), to tell the direction
            of loading violations; DOWN is assumed without it.
        converged
            Whether the grid simulator's load flow converged.
        vuf_percent
            Voltage unbalance factor of each bus [%] (unbalanced grids).

        Returns
        -------
        list of Violation
            This step's violations (also appended to :attr:`records`).
        """
        g = self.grid
        tl = np.asarray(trafo_loading_percent, dtype=float).reshape(1, -1)
        ll = (np.zeros((1, len(g.line_index))) if line_loading_percent is None
              else np.asarray(line_loading_percent, dtype=float).reshape(1, -1))
        vm = np.asarray(vm_pu, dtype=float).reshape(1, -1)
        kw = (np.ones((1, g.n_homes)) if home_kw is None
              else np.asarray(home_kw, dtype=float).reshape(1, -1))
        conv = np.array([bool(converged)])
        if vm.size == 3 * len(g.bus_index):  # per phase
            vm3 = vm.reshape(1, -1, 3)
            if ll.size == 3 * len(g.line_index):
                ll = np.max(ll.reshape(1, -1, 3), axis=2)
            vuf = (np.zeros((1, vm3.shape[1])) if vuf_percent is None
                   else np.asarray(vuf_percent, dtype=float).reshape(1, -1))
            m = Measurement(tl, ll, vm3, conv, np.min(vm3, axis=2), np.max(vm3, axis=2), vuf)
        else:
            m = Measurement(tl, ll, vm, conv)
        chk: StepCheck = g.check(m, kw, step0=step)  # type: ignore[arg-type]
        self.records.extend(chk.violations)
        self.steps_seen += 1
        if tl.size and np.isfinite(tl).any():
            self.max_trafo_loading_percent = max(self.max_trafo_loading_percent,
                                                 float(np.nanmax(tl)))
        return list(chk.violations)

    def summary(self) -> dict[str, int | float]:
        """Counts of recorded violations by kind, steps with any, and the peak loading."""
        out: dict[str, int | float] = {k: 0 for k in ("transformer", "line", "undervoltage",
                                                      "overvoltage", "not_converged")}
        for v in self.records:
            out[v.kind] += 1
        out["steps_with_violation"] = len({v.step for v in self.records})
        out["steps_seen"] = self.steps_seen
        out["max_trafo_loading_percent"] = self.max_trafo_loading_percent
        return out


@dataclass(frozen=True)
class EmergencyAction:
    """Outcome of :func:`emergency_limitation` for one step.

    Attributes
    ----------
    caps
        Limit per capped home: ``home_id -> (min_kw, max_kw)`` (``-inf``/``inf`` where free).
    home_kw
        The homes' power with the caps applied [kW] (``grid.home_ids`` order).
    before, after
        Violations before and after the limitation (checked with the load flow).
    iterations
        Load-flow checks used.
    limited_kw
        Total change of the homes' power the caps impose [kW] (sum of magnitudes).
    """

    caps: dict[str, tuple[float, float]]
    home_kw: np.ndarray
    before: tuple[Violation, ...]
    after: tuple[Violation, ...] = field(default=())
    iterations: int = 0
    limited_kw: float = 0.0

    @property
    def cleared(self) -> bool:
        """No violation remains."""
        return not self.after


def _contributors(grid: DsoGrid, v: Violation) -> np.ndarray:
    """Boolean mask of the homes whose power drives a violation."""
    mask = np.zeros(grid.n_homes, dtype=bool)
    if v.kind == "transformer":
        mask |= grid.trafo_down[int(np.flatnonzero(grid.trafo_index == v.element)[0])]
    elif v.kind == "line":
        mask |= grid.line_down[int(np.flatnonzero(grid.line_index == v.element)[0])]
    else:
        mask[grid.points[v.congestion_point]] = True
    return mask


def emergency_limitation(grid: DsoGrid, home_kw, *, max_iter: int = 5,
                         margin: float = 1.2, home_kvar=None) -> EmergencyAction:
    """Cap the homes causing a step's violations (see the module docstring).

    Parameters
    ----------
    grid
        The DSO's network.
    home_kw
        The homes' power at the step [kW], ``[n_homes]`` in ``grid.home_ids`` order.
    max_iter
        Cap on estimate-and-check iterations.
    margin
        Safety factor on the estimated relief [-].
    home_kvar
        The homes' measured reactive power at the step [kvar] (kept while the caps change
        the active power); None: the grid's power-factor rule.

    Returns
    -------
    EmergencyAction
    """
    kw0 = np.asarray(home_kw, dtype=float).reshape(1, -1)
    kw = kw0.copy()
    kvar = None if home_kvar is None else np.asarray(home_kvar, dtype=float).reshape(1, -1)
    chk = grid.check(grid.run(kw, kvar), kw)
    before = chk.violations
    lo = np.full(grid.n_homes, -np.inf)
    hi = np.full(grid.n_homes, np.inf)
    it = 1
    while chk.violations and it <= max_iter:
        need = grid.relief_needed_kw(kw, chk.violations, margin=margin, home_kvar=kvar)
        changed = False
        for v, n_kw in zip(chk.violations, need, strict=True):
            mask = _contributors(grid, v)
            down = v.direction is Direction.DOWN
            contrib = np.where(mask, np.maximum(kw[0] if down else -kw[0], 0.0), 0.0)
            total = contrib.sum()
            if total <= 1e-9:
                continue
            n_kw = total if not np.isfinite(n_kw) else min(float(n_kw), total)
            cut = contrib * (n_kw / total)
            if down:
                kw[0] -= cut
                hi = np.where(cut > 0, np.minimum(hi, kw[0]), hi)
            else:
                kw[0] += cut
                lo = np.where(cut > 0, np.maximum(lo, kw[0]), lo)
            changed |= bool((cut > 1e-9).any())
        if not changed:
            break
        chk = grid.check(grid.run(kw, kvar), kw)
        it += 1
    caps = {grid.home_ids[c]: (float(lo[c]), float(hi[c]))
            for c in np.flatnonzero(np.isfinite(lo) | np.isfinite(hi))}
    return EmergencyAction(caps, kw[0], before, chk.violations, it,
                           float(np.abs(kw - kw0).sum()))
