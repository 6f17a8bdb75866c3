"""The feeder's tree as the DSO sees it: which homes are downstream of each element.

:func:`tree` runs a breadth-first search from the ext_grid over the in-service lines,
transformers and closed bus-bus switches and numbers an Euler tour of the tree, so that "bus
``b`` is below bus ``c``" is ``tin[c] <= tin[b] < tout[c]``. For a meshed LV network the tree is
one spanning tree of it: the load flow stays exact, only the grouping of homes follows that
tree. :class:`Topology` holds, for each transformer and line, the mask of the homes below it
(what tells the direction of a violation) and each line's downstream bus.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Topology", "tree"]


def tree(net) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


@dataclass(frozen=True, eq=False)
class Topology:
    """Homes, transformers and lines of a network placed on its tree.

    Attributes
    ----------
    parent, tin, tout
        :func:`tree` of the network (bus positions in ``net.bus`` row order).
    bus_pos
        Bus index label -> position.
    home_bus
        Bus position of each home (columns of ``[n_steps, n_homes]`` arrays).
    trafo_lv_bus
        LV bus position of each transformer (``net.trafo`` row order).
    trafo_down
        ``[n_trafo, n_homes]`` bool: the home is below the transformer's LV bus.
    line_child
        Downstream bus position of each line (``net.line`` row order).
    line_down
        ``[n_line, n_homes]`` bool: the home is below the line (False for lines out of
        service).
    line_in_service
        ``[n_line]`` bool.
    """

    parent: np.ndarray
    tin: np.ndarray
    tout: np.ndarray
    bus_pos: dict
    home_bus: np.ndarray
    trafo_lv_bus: np.ndarray
    trafo_down: np.ndarray
    line_child: np.ndarray
    line_down: np.ndarray
    line_in_service: np.ndarray

    @classmethod
    def of(cls, net, homes: pd.DataFrame) -> Topology:
        """The topology of ``net`` with ``homes`` (one row per home with its ``load``)."""
        parent, tin, tout = tree(net)
        bpos = {b: i for i, b in enumerate(net.bus.index)}
        home_bus = np.array([bpos[net.load.at[x, "bus"]] for x in homes["load"]], dtype=int)
        h_tin = tin[home_bus]

        def below(bus_pos: int) -> np.ndarray:
            return (h_tin >= tin[bus_pos]) & (h_tin < tout[bus_pos]) if tin[bus_pos] >= 0 \
                else np.zeros(len(home_bus), dtype=bool)

        def child(a, b) -> int:
            pa, pb = bpos[a], bpos[b]
            return pb if parent[pb] == pa else pa

        lv_pos = np.array([bpos[b] for b in net.trafo.lv_bus], dtype=int)
        trafo_down = np.array([below(p) for p in lv_pos]).reshape(len(lv_pos), -1)
        line_child = np.array([child(r.from_bus, r.to_bus) for r in net.line.itertuples()],
                              dtype=int)
        in_service = net.line.in_service.to_numpy(dtype=bool)
        line_down = np.zeros((len(net.line), len(home_bus)), dtype=bool)
        for k in np.flatnonzero(in_service):
            line_down[k] = below(line_child[k])
        return cls(parent, tin, tout, bpos, home_bus, lv_pos, trafo_down, line_child,
                   line_down, in_service)

    def below_bus(self, bus_pos: int) -> np.ndarray:
        """``[n_bus]`` bool: the buses in the subtree of ``bus_pos`` (itself included)."""
        t = self.tin
        return (t >= t[bus_pos]) & (t < self.tout[bus_pos]) & (t >= 0)
