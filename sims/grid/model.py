"""The feeder's physics for one step: home powers in, voltages, loadings and losses out.

The model works on its own deep copy of the network: the user's network is never modified.
Two engines give the same results (to 1e-8 p.u., tested on the default day):

``"numba"`` (default)
    Our load-flow engine (:class:`grids.balanced.loadflow.LoadFlow`), compiled once from the
    network:
    about 0.05 ms per step (0.3 ms with this model's Python around it) instead of about
    20-50 ms for ``runpp``. A network the engine cannot represent (an element type it does
    not support, see :mod:`grids.balanced.compile`) falls back to ``"pandapower"``
    (:attr:`GridModel.engine` says which one runs, :attr:`GridModel.fallback_reason` why).
``"pandapower"``
    pandapower's Newton-Raphson ``runpp`` (lightsim2grid off).

Unbalanced runs (:attr:`sims.grid.network.SharedGrid.phases`): the three-phase engine
(:class:`grids.unbalanced.loadflow.UnbalancedLoadFlow`) with each home on its phase; the part
of a home's power drawn by three-phase devices (``p3_kw``, ``q3_kvar`` of :meth:`GridModel.solve`)
goes a third on each phase. Bus voltages and line loadings are then per phase (``[n, 3]``) and
the voltage unbalance factor per bus is given; a net the engine cannot represent falls back to
pandapower's ``runpp_3ph``.

A step that does not converge is flagged (``converged = False``) and its results are NaN,
never the previous step's values (pandapower leaves stale ``res_*`` tables behind a failed
run).

Sign conventions: home powers in kW and kvar, load convention; grid results in MW/Mvar.
Transformer power is measured on its HV side (power drawn from the MV grid), so
``sum(home p) + losses = transformer p`` holds to solver tolerance.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandapower as pp

from grids.balanced.loadflow import LoadFlow
from grids.errors import UnsupportedElement
from grids.networks.feeder import Feeder


@dataclass(frozen=True)
class GridStep:
    """Results of one load flow.

    Attributes
    ----------
    converged
        Whether the load flow converged; all other arrays are NaN when it did not.
    vm_pu
        Bus voltage magnitudes [p.u.], ``net.bus`` row order.
    line_loading_percent
        Line loadings [%], ``net.line`` row order.
    trafo_p_mw, trafo_q_mvar
        Power into each transformer's HV side [MW, Mvar], ``net.trafo`` row order.
    trafo_loading_percent
        Transformer loadings [%] (unbalanced: the most loaded phase and side).
    losses_mw
        Active losses of all lines and transformers [MW].
    vuf_percent
        Voltage unbalance factor ``|V2| / |V1|`` of each bus [%] (unbalanced runs), else None.

    In unbalanced runs ``vm_pu`` is ``[n_bus, 3]`` and ``line_loading_percent`` ``[n_line,
    3]`` (phases a, b, c); transformer powers are the sums over the phases.
    """

    converged: bool
    vm_pu: np.ndarray
    line_loading_percent: np.ndarray
    trafo_p_mw: np.ndarray
    trafo_q_mvar: np.ndarray
    trafo_loading_percent: np.ndarray
    losses_mw: float
    vuf_percent: np.ndarray | None = None


def _nan_step(n_bus: int, n_line: int, n_trafo: int, unbalanced: bool) -> GridStep:
    """A non-converged step: every number NaN."""
    k = (3,) if unbalanced else ()
    nan = np.full
    return GridStep(False, nan((n_bus, *k), np.nan), nan((n_line, *k), np.nan),
                    nan(n_trafo, np.nan), nan(n_trafo, np.nan), nan(n_trafo, np.nan),
                    float("nan"), nan(n_bus, np.nan) if unbalanced else None)


class GridModel:
    """Load flow of a feeder, one step at a time.

    Parameters
    ----------
    feeder
        The network and its homes; never modified (``runpp`` works on a copy).
    engine
        ``"numba"`` (default) or ``"pandapower"``.
    loadflow
        The feeder's compiled engine to reuse (compiled here if None).
    unsupported
        Why the engine cannot represent the feeder, when the caller already knows (then no
        compilation is tried and ``runpp`` runs).
    unbalanced
        The :class:`sims.grid.network.SharedGrid` of an unbalanced run (its three-phase
        engine, single-phase net and connections), or None for the balanced load flow.
    """

    def __init__(self, feeder: Feeder, engine: str = "numba", *,
                 loadflow: LoadFlow | None = None, unsupported: str | None = None,
                 unbalanced=None):
        if engine not in ("numba", "pandapower"):
            raise ValueError(f"GridModel: engine must be 'numba' or 'pandapower' (got {engine!r})")
        self.homes = feeder.homes
        self.fallback_reason: str | None = None
        self.unbalanced = unbalanced is not None
        self.bus_ids = feeder.net.bus.name.astype(str).tolist()
        self.line_ids = feeder.net.line.name.astype(str).tolist()
        if unbalanced is not None:
            self._init_unbalanced(feeder, engine, unbalanced)
            return
        self.loadflow = None
        if engine == "numba":
            if unsupported is not None:
                engine, self.fallback_reason = "pandapower", unsupported
            else:
                try:
                    self.loadflow = loadflow if loadflow is not None else LoadFlow(feeder.net)
                except UnsupportedElement as exc:
                    engine, self.fallback_reason = "pandapower", str(exc)
        self.engine = engine
        # the engine only reads the net; runpp writes the loads and its results: a copy
        self.net = feeder.net if engine == "numba" else copy.deepcopy(feeder.net)
        self.load_rows = self.net.load.index.get_indexer(feeder.homes["load"].to_numpy())
        self._p0 = self.net.load["p_mw"].to_numpy(dtype=float, copy=True)
        self._q0 = self.net.load["q_mvar"].to_numpy(dtype=float, copy=True)

    def _init_unbalanced(self, feeder: Feeder, engine: str, grid) -> None:
        """The three-phase model of a :class:`sims.grid.network.SharedGrid` (unbalanced)."""
        self.loadflow = grid.loadflow3 if engine == "numba" else None
        if self.loadflow is None:
            engine = "pandapower"
            self.fallback_reason = grid.unsupported
        self.engine = engine
        self.connections = grid.connections
        self.n_homes = len(feeder.homes)
        self.net = grid.net3 if engine == "numba" else copy.deepcopy(grid.net3)
        self._asym_rows = np.asarray(grid.connections.asym_row[:self.n_homes])
        self._phase = np.asarray(grid.connections.phase[:self.n_homes])
        self._shape = (len(feeder.net.bus), len(feeder.net.line), len(feeder.net.trafo))

    @classmethod
    def of(cls, grid, engine: str = "numba") -> GridModel:
        """The model of a :class:`sims.grid.network.SharedGrid` (its compiled engine reused)."""
        return cls(grid.feeder, engine, loadflow=grid.loadflow, unsupported=grid.unsupported,
                   unbalanced=grid if getattr(grid, "unbalanced", False) else None)

    def solve(self, p_kw: np.ndarray, q_kvar: np.ndarray, p3_kw: np.ndarray | None = None,
              q3_kvar: np.ndarray | None = None) -> GridStep:
        """Run the load flow with the homes' net powers.

        Parameters
        ----------
        p_kw, q_kvar
            Net active and reactive power per home [kW, kvar], in ``feeder.homes`` order.
        p3_kw, q3_kvar
            The part of ``p_kw``, ``q_kvar`` drawn by three-phase devices (unbalanced runs:
            a third on each phase; the rest on the home's phase). None: none.
        """
        if self.unbalanced:
            return self._solve3(p_kw, q_kvar, p3_kw, q3_kvar)
        net = self.net
        p = self._p0.copy()
        q = self._q0.copy()
        p[self.load_rows] = np.asarray(p_kw, dtype=float) / 1000.0
        q[self.load_rows] = np.asarray(q_kvar, dtype=float) / 1000.0
        if self.loadflow is not None:
            r = self.loadflow.run(load_p_mw=p, load_q_mvar=q)
            return GridStep(
                converged=bool(r.converged[0]),
                vm_pu=r.vm_pu[0].copy(),
                line_loading_percent=r.line_loading_percent[0].copy(),
                trafo_p_mw=r.trafo_p_hv_mw[0].copy(),
                trafo_q_mvar=r.trafo_q_hv_mvar[0].copy(),
                trafo_loading_percent=r.trafo_loading_percent[0].copy(),
                losses_mw=float(r.losses_mw[0]),
            )
        net.load["p_mw"] = p
        net.load["q_mvar"] = q
        try:
            pp.runpp(net, algorithm="nr", lightsim2grid=False, numba=True, init="auto",
                     tolerance_mva=1e-11)
        except pp.LoadflowNotConverged:
            nan = np.full
            return GridStep(False, nan(len(net.bus), np.nan), nan(len(net.line), np.nan),
                            nan(len(net.trafo), np.nan), nan(len(net.trafo), np.nan),
                            nan(len(net.trafo), np.nan), float("nan"))
        losses = float(net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum())
        return GridStep(
            converged=True,
            vm_pu=net.res_bus.vm_pu.to_numpy(copy=True),
            line_loading_percent=net.res_line.loading_percent.to_numpy(copy=True),
            trafo_p_mw=net.res_trafo.p_hv_mw.to_numpy(copy=True),
            trafo_q_mvar=net.res_trafo.q_hv_mvar.to_numpy(copy=True),
            trafo_loading_percent=net.res_trafo.loading_percent.to_numpy(copy=True),
            losses_mw=losses,
        )

    def _solve3(self, p_kw, q_kvar, p3_kw, q3_kvar) -> GridStep:
        """One unbalanced step (see :meth:`solve`)."""
        n = self.n_homes
        p = np.zeros(2 * n)
        q = np.zeros(2 * n)
        p3 = np.zeros(n) if p3_kw is None else np.asarray(p3_kw, dtype=float)
        q3 = np.zeros(n) if q3_kvar is None else np.asarray(q3_kvar, dtype=float)
        p[:n] = (np.asarray(p_kw, dtype=float) - p3) / 1000.0
        q[:n] = (np.asarray(q_kvar, dtype=float) - q3) / 1000.0
        p[n:] = p3 / 1000.0
        q[n:] = q3 / 1000.0
        if self.loadflow is not None:
            r = self.loadflow.run(connection_p_mw=p, connection_q_mvar=q)
            if not r.converged[0]:
                return _nan_step(*self._shape, True)
            return GridStep(
                converged=True, vm_pu=r.vm_pu[0].copy(),
                line_loading_percent=np.asarray(r.line_loading_percent[0]).copy(),
                trafo_p_mw=r.trafo_p_hv_mw[0].sum(axis=-1),
                trafo_q_mvar=r.trafo_q_hv_mvar[0].sum(axis=-1),
                trafo_loading_percent=r.trafo_loading_percent[0].copy(),
                losses_mw=float(r.losses_mw[0]), vuf_percent=r.vuf_percent[0].copy())
        return self._runpp_3ph(p, q)

    def _runpp_3ph(self, p: np.ndarray, q: np.ndarray) -> GridStep:
        """One unbalanced step with pandapower's ``runpp_3ph`` (the engine's fallback)."""
        net, n = self.net, self.n_homes
        rows = net.asymmetric_load.index[self._asym_rows]
        for k, ph in enumerate("abc"):
            on = (self._phase == k).astype(float)
            net.asymmetric_load.loc[rows, f"p_{ph}_mw"] = p[:n] * on + p[n:] / 3.0
            net.asymmetric_load.loc[rows, f"q_{ph}_mvar"] = q[:n] * on + q[n:] / 3.0
        try:
            pp.runpp_3ph(net, max_iteration=100, tolerance_mva=1e-10)
        except pp.LoadflowNotConverged:
            return _nan_step(*self._shape, True)
        if not net.converged:
            return _nan_step(*self._shape, True)
        rb, rl, rt = net.res_bus_3ph, net.res_line_3ph, net.res_trafo_3ph
        vm = rb[["vm_a_pu", "vm_b_pu", "vm_c_pu"]].to_numpy(dtype=float)
        loading = rl[["loading_a_percent", "loading_b_percent", "loading_c_percent"]]

        def sum3(name: str) -> np.ndarray:
            return sum(rt[name.format(ph)].to_numpy(dtype=float) for ph in "abc")

        losses = float(sum(rl[f"pl_{ph}_mw"].sum() + rt[f"pl_{ph}_mw"].sum() for ph in "abc"))
        return GridStep(
            converged=True, vm_pu=vm, line_loading_percent=loading.to_numpy(dtype=float),
            trafo_p_mw=sum3("p_{}_hv_mw"), trafo_q_mvar=sum3("q_{}_hv_mvar"),
            trafo_loading_percent=rt["loading_percent"].to_numpy(dtype=float),
            losses_mw=losses, vuf_percent=rb["unbalance_percent"].to_numpy(dtype=float))
