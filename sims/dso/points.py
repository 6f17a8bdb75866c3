"""Congestion points: where flexibility helps, and which homes and elements belong to each.

A congestion point is a transformer (``"transformer"``; ``"transformer-<index>"`` when a net
has several) or a feeder leaving a transformer's LV bus (``"feeder-1"``, ``"feeder-2"``...,
numbered in ``net.line`` order; the ext_grid's bus stands in for the LV bus of a net without
transformer). Every bus and line belongs to its feeder's point, or to the root point (the first
transformer's) above the feeders. In unbalanced grids each feeder also has a point per phase
(``"feeder-1/a"``...: its homes on that phase, :meth:`CongestionPoints.with_phases`), where a
voltage violation of that phase is placed. See :mod:`sims.usef` for the names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sims.dso.topology import Topology
from sims.usef import TRANSFORMER, feeder_point, phase_point

__all__ = ["CongestionPoints"]


@dataclass(frozen=True, eq=False)
class CongestionPoints:
    """The congestion points of a network.

    Attributes
    ----------
    trafo_points
        Point of each transformer (``net.trafo`` row order).
    root_point
        The point of the buses and lines above every feeder.
    bus_point, line_point
        Point of each bus and line (row order).
    points
        Point -> home column positions.
    """

    trafo_points: tuple[str, ...]
    root_point: str
    bus_point: tuple[str, ...]
    line_point: tuple[str, ...]
    points: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, net, topo: Topology) -> CongestionPoints:
        """The congestion points of ``net`` on its :class:`~sims.dso.topology.Topology`."""
        trafo_index = net.trafo.index.to_numpy()
        trafo_points = tuple(TRANSFORMER if len(trafo_index) == 1 else f"{TRANSFORMER}-{t}"
                             for t in trafo_index)
        root = trafo_points[0] if trafo_points else TRANSFORMER
        lv_set = set(topo.trafo_lv_bus.tolist()) or {topo.bus_pos[b] for b in net.ext_grid.bus}
        starts = [int(c) for k, c in enumerate(topo.line_child)
                  if topo.line_in_service[k] and topo.parent[c] in lv_set]
        feeder_of_bus = np.zeros(len(topo.bus_pos), dtype=int)
        for i, c in enumerate(starts, start=1):
            feeder_of_bus[topo.below_bus(c)] = i
        bus_point = tuple(feeder_point(f) if f else root for f in feeder_of_bus)
        line_point = tuple(feeder_point(int(feeder_of_bus[c])) if feeder_of_bus[c] else root
                           for c in topo.line_child)
        pts: dict[str, np.ndarray] = {}
        for t, p in enumerate(trafo_points):
            pts[p] = np.flatnonzero(topo.trafo_down[t])
        if not trafo_points:
            pts[root] = np.flatnonzero(topo.tin[topo.home_bus] >= 0)
        home_feeder = feeder_of_bus[topo.home_bus]
        for f in range(1, len(starts) + 1):
            pts[feeder_point(f)] = np.flatnonzero(home_feeder == f)
        return cls(trafo_points, root, bus_point, line_point, pts)

    def with_phases(self, home_phase: np.ndarray,
                    three_phase: np.ndarray | None = None) -> CongestionPoints:
        """The points with one more per feeder and phase: the feeder's homes on that phase.

        Parameters
        ----------
        home_phase
            Phase of each home's single-phase connection (0, 1, 2 for a, b, c), column
            order.
        three_phase
            ``[n_homes]`` bool: the home has a three-phase connection (its power a third on
            each phase), so it belongs to the point of every phase of its feeder.
        """
        codes = np.asarray(home_phase)
        every = (np.zeros(codes.size, dtype=bool) if three_phase is None
                 else np.asarray(three_phase, dtype=bool))
        pts = dict(self.points)
        for p, cols in self.points.items():
            if p.startswith(TRANSFORMER):
                continue
            for ph in range(3):
                pts[phase_point(p, ph)] = cols[(codes[cols] == ph) | every[cols]]
        return CongestionPoints(self.trafo_points, self.root_point, self.bus_point,
                                self.line_point, pts)

    def phase_point(self, point: str, phase: int) -> str:
        """The point of ``phase`` of ``point`` where there is one, else ``point``."""
        name = phase_point(point, phase)
        return name if name in self.points else point

    def of_homes(self, home_ids) -> dict[str, tuple[str, ...]]:
        """Each home's congestion points (transformer and feeder), by home id.

        Parameters
        ----------
        home_ids
            Home ids in column order.
        """
        out: dict[str, list[str]] = {h: [] for h in home_ids}
        for p, cols in self.points.items():
            for c in cols:
                out[home_ids[c]].append(p)
        return {h: tuple(v) for h, v in out.items()}
