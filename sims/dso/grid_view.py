"""The DSO's view of its network: the homes' power on their loads, batch load flow, limits.

:class:`DsoGrid` places the homes' power [kW] on their loads and runs many steps in one call of
the load-flow engine (:class:`grids.balanced.loadflow.LoadFlow`, shared with the grid
simulator: :func:`dso_grid`). It composes the modules that each do one job:

- :mod:`sims.dso.topology`: the feeder's tree, the homes below each transformer and line;
- :mod:`sims.dso.points`: the congestion points and the homes and elements of each;
- :mod:`sims.dso.limits`: the limits and the check of a load flow against them;
- :mod:`sims.dso.sensitivities`: the relief a violation needs.

Reactive power of a home: the reactive power its prognosis says it will draw
(:attr:`sims.usef.Prognosis.home_kvar`: base load and heat pump at the home's power factor, as
the homes draw it in operation), passed to :meth:`DsoGrid.run` as ``home_kvar``; where there is
none (a prognosis without it, or a changed power being checked without a new one), the rule
``q = p tan(acos(pf))`` while it imports (lagging base load), ``q = 0`` while it exports (PV
inverters at unity power factor). An offer's change of active power is checked with the
prognosed reactive power unchanged (an approximation: a heat pump moved by an order moves its
reactive power too).
Loads that are not homes and static generators keep the values they have in the net.

Unbalanced grids (:attr:`sims.grid.network.SharedGrid.unbalanced`): the batch load flow is the
three-phase engine with each home on its phase (the grid simulator's), and :meth:`DsoGrid.run`
returns a :class:`PhaseResult`: the limit check then holds the voltage band on every phase,
the loading limit on the most loaded phase of each line and the voltage unbalance factor
limit at every bus (:mod:`sims.dso.limits`). The sensitivities (:mod:`sims.dso.sensitivities`)
are measured on the same load flow. A grid that our engines cannot represent (the grid
simulator then runs pandapower's ``runpp``) is refused for ``market`` and ``dso``
(:func:`dso_grid` raises :class:`grids.errors.GridError`): the DSO's many batch load flows
would take hours with ``runpp``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from grids.balanced.loadflow import LoadFlow, LoadFlowResult
from grids.errors import GridError
from sims.dso import limits as _limits
from sims.dso import sensitivities as _sensitivities
from sims.dso.limits import VOLTAGE_WEIGHT, GridLimits, StepCheck, Violation
from sims.dso.points import CongestionPoints
from sims.dso.topology import Topology
from sims.registry import content_key, shared
from sims.usef import Prognosis

__all__ = ["DsoGrid", "GridLimits", "PhaseResult", "StepCheck", "Violation", "VOLTAGE_WEIGHT",
           "dso_grid"]


@dataclass(frozen=True, eq=False)
class PhaseResult:
    """A batch of unbalanced load flows in the shape the limit check reads.

    Attributes
    ----------
    vm_pu
        Phase voltages [p.u.], ``[n_steps, n_bus, 3]``.
    vm_min_pu, vm_max_pu
        Lowest and highest phase voltage of each bus [p.u.], ``[n_steps, n_bus]``.
    vuf_percent
        Voltage unbalance factor [%], ``[n_steps, n_bus]``.
    line_loading_percent
        Loading of each line's most loaded phase [%], ``[n_steps, n_line]``.
    trafo_loading_percent
        Loading of each transformer's most loaded phase [%], ``[n_steps, n_trafo]``.
    converged
        ``[n_steps]`` bool.
    """

    vm_pu: np.ndarray
    vm_min_pu: np.ndarray
    vm_max_pu: np.ndarray
    vuf_percent: np.ndarray
    line_loading_percent: np.ndarray
    trafo_loading_percent: np.ndarray
    converged: np.ndarray

    @property
    def n_steps(self) -> int:
        """Number of steps."""
        return int(self.converged.shape[0])

    @classmethod
    def of(cls, res) -> PhaseResult:
        """From an :class:`grids.unbalanced.loadflow.UnbalancedLoadFlowResult`."""
        vm = res.vm_pu
        with np.errstate(invalid="ignore"):
            return cls(vm, np.min(vm, axis=2), np.max(vm, axis=2), res.vuf_percent,
                       np.max(res.line_loading_percent, axis=2), res.trafo_loading_percent,
                       res.converged)


class DsoGrid:
    """The DSO's network model: homes on buses, batch load flow, limits, congestion points.

    Parameters
    ----------
    net
        pandapower network (not modified).
    homes
        One row per home indexed by ``home_id`` with its ``load`` (index in ``net.load``), as
        :attr:`grids.networks.feeder.Feeder.homes`.
    limits
        Voltage band and loading limit.
    power_factor
        Power factor of a home's import [-] (see the module docstring).
    loadflow
        A compiled :class:`~grids.balanced.loadflow.LoadFlow` of ``net`` to reuse (compiled if
        None).
    unbalanced
        The :class:`sims.grid.network.SharedGrid` of an unbalanced grid (its three-phase
        engine and the homes' connections), or None (balanced).
    three_phase_homes
        Ids of the homes with a three-phase connection: in unbalanced grids their power goes
        on their three-phase connection (a third on each phase), as the grid simulator puts
        the homes' ``p3_kw`` (:mod:`sims.homes.fleet`: a three-phase home's whole power).

    Attributes
    ----------
    home_ids
        Home ids in column order of every ``[n_steps, n_homes]`` array.
    points
        Congestion point -> home column positions (``"transformer"``, ``"feeder-1"``...).
    topology, congestion
        The :class:`~sims.dso.topology.Topology` and
        :class:`~sims.dso.points.CongestionPoints` of the network.
    """

    def __init__(self, net, homes: pd.DataFrame, limits: GridLimits | None = None, *,
                 power_factor: float = 0.95, loadflow: LoadFlow | None = None,
                 unbalanced=None, three_phase_homes: Sequence[str] = ()):
        self.limits = limits or GridLimits()
        self.unbalanced = unbalanced is not None
        self.home_ids: tuple[str, ...] = tuple(str(h) for h in homes.index)
        self._col = {h: i for i, h in enumerate(self.home_ids)}
        if self.unbalanced:
            self.lf = None
            self.lf3 = unbalanced.loadflow3
            self._n_conn = len(unbalanced.connections)
            # connection of each home column: [0, n) its phase, n + j its three-phase one
            n = len(self.home_ids)
            self._conn = np.arange(n)
            unknown = sorted(set(three_phase_homes) - set(self._col))
            if unknown:
                raise ValueError(f"three_phase_homes: not homes of the grid: {unknown[:5]}")
            for h in three_phase_homes:
                self._conn[self._col[h]] += n
        else:
            self.lf = loadflow or LoadFlow(net)
        self.home_load_pos = np.array([net.load.index.get_loc(x) for x in homes["load"]])
        self.tan_phi = float(np.tan(np.arccos(power_factor)))
        self.base_p_mw = net.load.p_mw.to_numpy(dtype=float).copy()
        self.base_q_mvar = net.load.q_mvar.to_numpy(dtype=float).copy()
        self.base_p_mw[self.home_load_pos] = 0.0
        self.base_q_mvar[self.home_load_pos] = 0.0
        self.line_index = net.line.index.to_numpy()
        self.trafo_index = net.trafo.index.to_numpy()
        self.bus_index = net.bus.index.to_numpy()
        self.topology = topo = Topology.of(net, homes)
        self.congestion = cp = CongestionPoints.of(net, topo)
        if self.unbalanced:  # a voltage violation of one phase goes to that phase's homes
            self.congestion = cp = cp.with_phases(unbalanced.phase_codes,
                                                  self._conn >= self.n_homes)
        self.trafo_down = topo.trafo_down
        self.line_down = topo.line_down
        self.trafo_points = cp.trafo_points
        self.root_point = cp.root_point
        self.bus_point = cp.bus_point
        self.line_point = cp.line_point
        self.points = cp.points
        self.trafo_sn_kva = net.trafo.sn_mva.to_numpy(dtype=float) * 1000.0
        vn = net.bus.vn_kv.reindex(net.line.from_bus).to_numpy(dtype=float)
        rating = (net.line.max_i_ka * net.line.df * net.line.parallel).to_numpy(dtype=float)
        self.line_rating_kva = np.sqrt(3.0) * vn * rating * 1000.0

    # ---------------------------------------------------------------- mapping
    @property
    def n_homes(self) -> int:
        """Number of homes."""
        return len(self.home_ids)

    def congestion_points_of_homes(self) -> dict[str, tuple[str, ...]]:
        """Each home's congestion points (transformer and feeder), for the aggregators."""
        return self.congestion.of_homes(self.home_ids)

    def home_matrix(self, prognoses: Sequence[Prognosis]) -> np.ndarray:
        """The homes' power from prognoses, ``[n_steps, n_homes]`` [kW].

        Raises
        ------
        ValueError
            A home of the grid is in no prognosis, in two, or a prognosis names an unknown
            home, or prognoses differ in length.
        """
        n = {p.n_steps for p in prognoses if p.home_kw}
        if len(n) != 1:
            raise ValueError(f"prognoses must have one common number of steps, got {n}")
        out = np.full((n.pop(), self.n_homes), np.nan)
        for p in prognoses:
            for h, kw in p.home_kw.items():
                c = self._col.get(h)
                if c is None:
                    raise ValueError(f"prognosis {p.aggregator_id}: unknown home {h!r}")
                if not np.isnan(out[0, c]):
                    raise ValueError(f"home {h!r} is in two prognoses")
                out[:, c] = kw
        missing = [self.home_ids[c] for c in np.flatnonzero(np.isnan(out[0]))]
        if missing:
            raise ValueError(f"{len(missing)} home(s) in no prognosis: {missing[:5]}")
        return out

    def kvar_matrix(self, prognoses: Sequence[Prognosis], home_kw: np.ndarray) -> np.ndarray:
        """The homes' reactive power from prognoses, ``[n_steps, n_homes]`` [kvar]: their
        ``home_kvar``, and the power-factor rule on ``home_kw`` for homes without it."""
        kw = np.asarray(home_kw, dtype=float)
        out = np.maximum(kw, 0.0) * self.tan_phi
        for p in prognoses:
            for h, kvar in p.home_kvar.items():
                out[:, self._col[h]] = kvar
        return out

    def column(self, home_id: str) -> int:
        """Column of a home in ``[n_steps, n_homes]`` arrays."""
        return self._col[home_id]

    # ---------------------------------------------------------------- load flow
    def run(self, home_kw: np.ndarray, home_kvar: np.ndarray | None = None
            ) -> LoadFlowResult | PhaseResult:
        """Load flow of the homes' power, one call for all steps.

        Parameters
        ----------
        home_kw
            Net power per home [kW], ``[n_steps, n_homes]`` (or ``[n_homes]``), > 0 import.
        home_kvar
            Reactive power per home [kvar], same shape; None: the power-factor rule.

        Returns
        -------
        LoadFlowResult or PhaseResult
            The balanced engine's result, or (unbalanced grids) the per-phase one.
        """
        kw = np.atleast_2d(np.asarray(home_kw, dtype=float))
        kvar = (np.maximum(kw, 0.0) * self.tan_phi if home_kvar is None
                else np.broadcast_to(np.atleast_2d(np.asarray(home_kvar, dtype=float)),
                                     kw.shape))
        if self.unbalanced:
            p = np.zeros((kw.shape[0], self._n_conn))
            q = np.zeros_like(p)
            p[:, self._conn] = kw / 1000.0
            q[:, self._conn] = kvar / 1000.0
            return PhaseResult.of(self.lf3.run(connection_p_mw=p, connection_q_mvar=q))
        p = np.broadcast_to(self.base_p_mw, (kw.shape[0], self.base_p_mw.size)).copy()
        q = np.broadcast_to(self.base_q_mvar, p.shape).copy()
        p[:, self.home_load_pos] = kw / 1000.0
        q[:, self.home_load_pos] = kvar / 1000.0
        return self.lf.run(load_p_mw=p, load_q_mvar=q)

    def check(self, res: LoadFlowResult, home_kw: np.ndarray, step0: int = 0,
              steps: np.ndarray | None = None, limits: GridLimits | None = None) -> StepCheck:
        """Check a load-flow result against the limits (:func:`sims.dso.limits.check`)."""
        return _limits.check(self, res, home_kw, step0, steps, limits)

    def severity(self, res: LoadFlowResult, limits: GridLimits | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Severity and violated flag per step, without the violations
        (:func:`sims.dso.limits.severity`)."""
        return _limits.severity(self, res, limits)

    def relief_needed_kw(self, home_kw: np.ndarray, violations: Sequence[Violation],
                         margin: float = 1.1, probe_kw: float = 1.0,
                         home_kvar: np.ndarray | None = None) -> np.ndarray:
        """Change of net power each violation needs [kW]
        (:func:`sims.dso.sensitivities.relief_needed_kw`)."""
        return _sensitivities.relief_needed_kw(self, home_kw, violations, margin, probe_kw,
                                               home_kvar)


def dso_grid(shared_grid, limits: GridLimits, power_factor: float,
             three_phase_homes: Sequence[str] = ()) -> DsoGrid:
    """The DSO's view of a shared feeder (:class:`sims.grid.network.SharedGrid`), built once
    per process for each set of limits, power factor and three-phase homes, on the feeder's
    compiled load flow.
    """
    if shared_grid.unsupported is not None:
        raise GridError(refusal(shared_grid))
    three = tuple(str(h) for h in three_phase_homes)
    key = content_key(shared_grid.key, limits.__dict__, power_factor, *((three,) if three
                                                                        else ()))
    unbalanced = shared_grid if getattr(shared_grid, "unbalanced", False) else None
    return shared("dso_grid", key, lambda: DsoGrid(
        shared_grid.feeder.net, shared_grid.feeder.homes, limits, power_factor=power_factor,
        loadflow=shared_grid.loadflow, unbalanced=unbalanced, three_phase_homes=three))


def refusal(shared_grid) -> str:
    """Why the DSO's view refuses a grid the load-flow engine cannot represent (one line)."""
    return (f"{shared_grid.feeder.name}: control levels market and dso need a grid the "
            f"load-flow engine models ({shared_grid.unsupported}); this grid runs only at "
            "control none or cems (the grid simulator falls back to pandapower's runpp)")
