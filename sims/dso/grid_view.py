"""The DSO's view of its network: load flow of the homes' power, limits, congestion points.

:class:`DsoGrid` wraps the batch load-flow engine (:class:`grids.balanced.loadflow.LoadFlow`): it
places
the homes' power [kW] on their loads, runs many steps in one call, and checks every step
against the limits (:func:`DsoGrid.check`). It also derives, from the topology, the congestion
points (the transformer; each feeder leaving the LV board) and which homes are downstream of
each transformer and line, used to give every violation a congestion point and a direction.

Reactive power of a home: ``q = p tan(acos(pf))`` while it imports (lagging base load),
``q = 0`` while it exports (PV inverters at unity power factor).
Loads that are not homes and static generators keep the values they have in the net.

Congestion points come from a breadth-first tree from the ext_grid over the in-service
lines, transformers and closed bus-bus switches: a feeder is the subtree of a line leaving a
transformer's LV bus (numbered 1, 2... in ``net.line`` order). For a meshed LV network the
tree is one spanning tree of it: the load flow stays exact, only the grouping of homes into
feeders follows that tree.

Severity ("excess") of a step, used to rank offers and compare partial reliefs, never to decide
that a step is clear: sum over transformers and lines of ``max(0, loading - limit) / 100``
(fraction of the rating) plus, per congestion point, ``VOLTAGE_WEIGHT`` times the largest
voltage excursion out of the band [p.u.] (1 % of voltage weighs like 10 % of loading); a step
whose load flow did not converge counts ``NOT_CONVERGED_EXCESS``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from grids.balanced.loadflow import LoadFlow, LoadFlowResult
from sims.usef import TRANSFORMER, Direction, Prognosis, feeder_point

__all__ = ["DsoGrid", "GridLimits", "StepCheck", "Violation", "VOLTAGE_WEIGHT"]

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
    """

    vm_min_pu: float = 0.94
    vm_max_pu: float = 1.10
    max_loading_percent: float = 100.0

    @classmethod
    def from_scenario(cls, scenario) -> GridLimits:
        """The limits of a :class:`testbed.scenario.Scenario`."""
        return cls(scenario.vm_min_pu, scenario.vm_max_pu, scenario.max_loading_percent)


@dataclass(frozen=True)
class Violation:
    """One limit exceeded at one step (the worst element per kind and congestion point).

    Attributes
    ----------
    step
        Step of the day.
    kind
        ``"transformer"``, ``"line"``, ``"undervoltage"``, ``"overvoltage"`` or
        ``"not_converged"``.
    element
        Index label in ``net.trafo``, ``net.line`` or ``net.bus`` (-1 for not converged).
    value, limit
        Loading [%] or voltage [p.u.], and the limit it exceeds.
    congestion_point
        Where flexibility helps (see :mod:`sims.usef`).
    direction
        Which way the homes' power must move to relieve it.
    """

    step: int
    kind: str
    element: int
    value: float
    limit: float
    congestion_point: str
    direction: Direction


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


def _tree(net) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BFS over the in-service branches from the ext_grid buses.

    Returns the parent bus position of each bus position (-1 at roots and unreached buses),
    and an Euler tour (tin, tout) for subtree tests: ``b`` is in the subtree of ``c`` iff
    ``tin[c] <= tin[b] < tout[c]``.
    """
    pos = {b: i for i, b in enumerate(net.bus.index)}
    n = len(pos)
    adj: list[list[int]] = [[] for _ in range(n)]

    def edge(a, b):
        if a in pos and b in pos:
            adj[pos[a]].append(pos[b])
            adj[pos[b]].append(pos[a])

    for r in net.line.itertuples():
        if r.in_service:
            edge(r.from_bus, r.to_bus)
    for r in net.trafo.itertuples():
        if r.in_service:
            edge(r.hv_bus, r.lv_bus)
    if "switch" in net and len(net.switch):
        for r in net.switch.itertuples():
            if r.et == "b" and r.closed:
                edge(r.bus, r.element)
    parent = np.full(n, -1)
    seen = np.zeros(n, dtype=bool)
    order: list[int] = []
    roots = [pos[b] for b in net.ext_grid.bus[net.ext_grid.in_service]]
    children: list[list[int]] = [[] for _ in range(n)]
    for r in roots:
        if seen[r]:
            continue
        seen[r] = True
        q = deque([r])
        while q:
            u = q.popleft()
            order.append(u)
            for v in adj[u]:
                if not seen[v]:
                    seen[v] = True
                    parent[v] = u
                    children[u].append(v)
                    q.append(v)
    tin = np.full(n, -1)
    tout = np.full(n, -1)
    clock = 0
    for r in roots:
        if tin[r] >= 0:
            continue
        stack = [(r, False)]
        while stack:
            u, done = stack.pop()
            if done:
                tout[u] = clock
                continue
            tin[u] = clock
            clock += 1
            stack.append((u, True))
            stack.extend((v, False) for v in reversed(children[u]))
    return parent, tin, tout


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

    Attributes
    ----------
    home_ids
        Home ids in column order of every ``[n_steps, n_homes]`` array.
    points
        Congestion point -> home column positions (``"transformer"``, ``"feeder-1"``...).
    """

    def __init__(self, net, homes: pd.DataFrame, limits: GridLimits | None = None, *,
                 power_factor: float = 0.95, loadflow: LoadFlow | None = None):
        self.limits = limits or GridLimits()
        self.lf = loadflow or LoadFlow(net)
        self.home_ids: tuple[str, ...] = tuple(str(h) for h in homes.index)
        self._col = {h: i for i, h in enumerate(self.home_ids)}
        self.home_load_pos = np.array([net.load.index.get_loc(x) for x in homes["load"]])
        self.tan_phi = float(np.tan(np.arccos(power_factor)))
        self.base_p_mw = net.load.p_mw.to_numpy(dtype=float).copy()
        self.base_q_mvar = net.load.q_mvar.to_numpy(dtype=float).copy()
        self.base_p_mw[self.home_load_pos] = 0.0
        self.base_q_mvar[self.home_load_pos] = 0.0
        self.line_index = net.line.index.to_numpy()
        self.trafo_index = net.trafo.index.to_numpy()
        self.bus_index = net.bus.index.to_numpy()

        parent, tin, tout = _tree(net)
        bpos = {b: i for i, b in enumerate(net.bus.index)}
        home_bus = np.array([bpos[net.load.at[x, "bus"]] for x in homes["load"]])
        h_tin = tin[home_bus]

        def below(bus_pos: int) -> np.ndarray:
            return (h_tin >= tin[bus_pos]) & (h_tin < tout[bus_pos]) if tin[bus_pos] >= 0 \
                else np.zeros(len(home_bus), dtype=bool)

        def child(a, b) -> int:
            pa, pb = bpos[a], bpos[b]
            return pb if parent[pb] == pa else pa

        # transformers: homes below their LV bus
        lv_pos = [bpos[b] for b in net.trafo.lv_bus]
        self.trafo_points = tuple(
            TRANSFORMER if len(lv_pos) == 1 else f"{TRANSFORMER}-{t}" for t in self.trafo_index)
        self.trafo_down = np.array([below(p) for p in lv_pos]).reshape(len(lv_pos), -1)
        self.trafo_sn_kva = net.trafo.sn_mva.to_numpy(dtype=float) * 1000.0
        # feeders: subtrees of the lines leaving a transformer's LV bus (or the ext_grid's bus
        # in a net without transformer)
        root = self.trafo_points[0] if self.trafo_points else TRANSFORMER
        self.root_point = root
        lv_set = set(lv_pos) or {bpos[b] for b in net.ext_grid.bus}
        self.line_down = np.zeros((len(self.line_index), len(home_bus)), dtype=bool)
        feeder_of_bus = np.zeros(len(bpos), dtype=int)
        starts = []
        for k, r in enumerate(net.line.itertuples()):
            if not r.in_service:
                continue
            c = child(r.from_bus, r.to_bus)
            self.line_down[k] = below(c)
            if parent[c] in lv_set:
                starts.append(c)
        for i, c in enumerate(starts, start=1):
            feeder_of_bus[(tin >= tin[c]) & (tin < tout[c]) & (tin >= 0)] = i
        self.bus_point = tuple(feeder_point(f) if f else root for f in feeder_of_bus)
        line_feeder = [int(feeder_of_bus[child(r.from_bus, r.to_bus)])
                       for r in net.line.itertuples()]
        self.line_point = tuple(feeder_point(f) if f else root for f in line_feeder)
        vn = net.bus.vn_kv.reindex(net.line.from_bus).to_numpy(dtype=float)
        rating = (net.line.max_i_ka * net.line.df * net.line.parallel).to_numpy(dtype=float)
        self.line_rating_kva = np.sqrt(3.0) * vn * rating * 1000.0
        pts: dict[str, np.ndarray] = {}
        for t, p in enumerate(self.trafo_points):
            pts[p] = np.flatnonzero(self.trafo_down[t])
        if not self.trafo_points:
            pts[root] = np.flatnonzero(h_tin >= 0)
        home_feeder = feeder_of_bus[home_bus]
        for f in range(1, len(starts) + 1):
            pts[feeder_point(f)] = np.flatnonzero(home_feeder == f)
        self.points: Mapping[str, np.ndarray] = pts

    # ---------------------------------------------------------------- mapping
    @property
    def n_homes(self) -> int:
        """Number of homes."""
        return len(self.home_ids)

    def congestion_points_of_homes(self) -> dict[str, tuple[str, ...]]:
        """Each home's congestion points (transformer and feeder), for the aggregators."""
        out: dict[str, list[str]] = {h: [] for h in self.home_ids}
        for p, cols in self.points.items():
            for c in cols:
                out[self.home_ids[c]].append(p)
        return {h: tuple(v) for h, v in out.items()}

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

    def column(self, home_id: str) -> int:
        """Column of a home in ``[n_steps, n_homes]`` arrays."""
        return self._col[home_id]

    # ---------------------------------------------------------------- load flow
    def run(self, home_kw: np.ndarray) -> LoadFlowResult:
        """Load flow of the homes' power, one call for all steps.

        Parameters
        ----------
        home_kw
            Net power per home [kW], ``[n_steps, n_homes]`` (or ``[n_homes]``), > 0 import.
        """
        kw = np.atleast_2d(np.asarray(home_kw, dtype=float))
        p = np.broadcast_to(self.base_p_mw, (kw.shape[0], self.base_p_mw.size)).copy()
        q = np.broadcast_to(self.base_q_mvar, p.shape).copy()
        p[:, self.home_load_pos] = kw / 1000.0
        q[:, self.home_load_pos] = np.maximum(kw, 0.0) * self.tan_phi / 1000.0
        return self.lf.run(load_p_mw=p, load_q_mvar=q)

    def check(self, res: LoadFlowResult, home_kw: np.ndarray, step0: int = 0,
              steps: np.ndarray | None = None, limits: GridLimits | None = None) -> StepCheck:
        """Check a load-flow result against the limits.

        Parameters
        ----------
        res
            Result of :meth:`run` on ``home_kw``.
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
        lim = limits or self.limits
        kw = np.atleast_2d(home_kw)
        n = res.n_steps
        label = np.arange(n) + step0 if steps is None else np.asarray(steps)
        excess = np.zeros(n)
        out: list[Violation] = []
        conv = res.converged
        ml = lim.max_loading_percent

        def flow_dir(mask: np.ndarray, r: int) -> Direction:
            return Direction.DOWN if kw[r, mask].sum() >= 0 else Direction.UP

        tl = np.nan_to_num(res.trafo_loading_percent)
        over = np.maximum(tl - ml, 0.0)
        excess += over.sum(axis=1) / 100.0
        for r, t in zip(*np.nonzero(over > 0), strict=True):
            out.append(Violation(int(label[r]), "transformer", int(self.trafo_index[t]),
                                 float(tl[r, t]), ml, self.trafo_points[t],
                                 flow_dir(self.trafo_down[t], r)))
        ll = np.nan_to_num(res.line_loading_percent)
        over = np.maximum(ll - ml, 0.0)
        excess += over.sum(axis=1) / 100.0
        rows = np.flatnonzero(over.max(axis=1, initial=0.0) > 0)
        for r in rows:
            # worst line per congestion point and direction
            worst: dict[tuple[str, Direction], int] = {}
            for j in np.flatnonzero(over[r] > 0):
                key = (self.line_point[j], flow_dir(self.line_down[j], r))
                if key not in worst or ll[r, j] > ll[r, worst[key]]:
                    worst[key] = j
            for (pt, d), j in worst.items():
                out.append(Violation(int(label[r]), "line", int(self.line_index[j]),
                                     float(ll[r, j]), ml, pt, d))
        vm = res.vm_pu
        low = np.where(np.isnan(vm), 0.0, np.maximum(lim.vm_min_pu - vm, 0.0))
        high = np.where(np.isnan(vm), 0.0, np.maximum(vm - lim.vm_max_pu, 0.0))
        for dev, kind, d, limit in ((low, "undervoltage", Direction.DOWN, lim.vm_min_pu),
                                    (high, "overvoltage", Direction.UP, lim.vm_max_pu)):
            for r in np.flatnonzero(dev.max(axis=1, initial=0.0) > 0):
                worst_b: dict[str, int] = {}
                for b in np.flatnonzero(dev[r] > 0):
                    pt = self.bus_point[b]
                    if pt not in worst_b or dev[r, b] > dev[r, worst_b[pt]]:
                        worst_b[pt] = b
                for pt, b in worst_b.items():
                    excess[r] += VOLTAGE_WEIGHT * dev[r, b]
                    out.append(Violation(int(label[r]), kind, int(self.bus_index[b]),
                                         float(vm[r, b]), limit, pt, d))
        for r in np.flatnonzero(~conv):
            excess[r] += NOT_CONVERGED_EXCESS
            d = Direction.DOWN if kw[r].sum() >= 0 else Direction.UP
            out.append(Violation(int(label[r]), "not_converged", -1, float("nan"), float("nan"),
                                 self.root_point, d))
        out.sort(key=lambda v: (v.step, v.kind, v.congestion_point))
        return StepCheck(tuple(out), excess, (excess > 0) | ~conv)

    # ------------------------------------------------------------ sensitivities
    def relief_needed_kw(self, home_kw: np.ndarray, violations: Sequence[Violation],
                         margin: float = 1.1, probe_kw: float = 1.0) -> np.ndarray:
        """Estimate the change of net power each violation needs [kW] (>= 0, a magnitude).

        Loading: the excess times the element's rating (``S_n`` for a transformer,
        ``sqrt(3) V_n I_max`` for a line). Voltage: the excursion divided by a sensitivity
        measured with one extra batch load flow, in which every home of the violation's
        congestion point moves ``probe_kw`` in the relieving direction. Times ``margin``.

        Parameters
        ----------
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
                t = int(np.flatnonzero(self.trafo_index == v.element)[0])
                out[i] = (v.value - v.limit) / 100.0 * self.trafo_sn_kva[t]
            elif v.kind == "line":
                j = int(np.flatnonzero(self.line_index == v.element)[0])
                out[i] = (v.value - v.limit) / 100.0 * self.line_rating_kva[j]
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
                batch[k, self.points[v.congestion_point]] += v.direction.sign * probe_kw
            res = self.run(batch)
            for k, i in enumerate(probes):
                v = violations[i]
                b = int(np.flatnonzero(self.bus_index == v.element)[0])
                dv = abs(res.vm_pu[k, b] - v.value)
                total = probe_kw * len(self.points[v.congestion_point])
                exc = (v.limit - v.value) if v.kind == "undervoltage" else (v.value - v.limit)
                out[i] = exc / dv * total if dv > 1e-12 else np.inf
        return out * margin
