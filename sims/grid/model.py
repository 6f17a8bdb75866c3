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
        Transformer loadings [%].
    losses_mw
        Active losses of all lines and transformers [MW].
    """

    converged: bool
    vm_pu: np.ndarray
    line_loading_percent: np.ndarray
    trafo_p_mw: np.ndarray
    trafo_q_mvar: np.ndarray
    trafo_loading_percent: np.ndarray
    losses_mw: float


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
    """

    def __init__(self, feeder: Feeder, engine: str = "numba", *,
                 loadflow: LoadFlow | None = None, unsupported: str | None = None):
        if engine not in ("numba", "pandapower"):
            raise ValueError(f"GridModel: engine must be 'numba' or 'pandapower' (got {engine!r})")
        self.homes = feeder.homes
        self.fallback_reason: str | None = None
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
        self.bus_ids = self.net.bus.name.astype(str).tolist()
        self.line_ids = self.net.line.name.astype(str).tolist()
        self._p0 = self.net.load["p_mw"].to_numpy(dtype=float, copy=True)
        self._q0 = self.net.load["q_mvar"].to_numpy(dtype=float, copy=True)

    @classmethod
    def of(cls, grid, engine: str = "numba") -> GridModel:
        """The model of a :class:`sims.grid.network.SharedGrid` (its compiled engine reused)."""
        return cls(grid.feeder, engine, loadflow=grid.loadflow, unsupported=grid.unsupported)

    def solve(self, p_kw: np.ndarray, q_kvar: np.ndarray) -> GridStep:
        """Run the load flow with the homes' net powers.

        Parameters
        ----------
        p_kw, q_kvar
            Net active and reactive power per home [kW, kvar], in ``feeder.homes`` order.
        """
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
