"""Phases of single-phase connections: a documented, seeded assignment, and nets built from it.

UK LV feeders are three-phase cables; a home is connected to one phase. Installers (jointers)
connect the houses along a street in rotation, a, b, c, a, ..., so that the phases carry
similar numbers of homes; later connections and repairs break the pattern here and there.
:func:`rotating_phases` models exactly that, for any pandapower net:

1. each load is placed on its *feeder* (the first branch on its path from the substation's
   LV busbar, i.e. a transformer's LV bus) at its distance along the cables from the busbar
   (length-weighted shortest path);
2. along each feeder, by increasing distance (ties by load row), the loads take a, b, c in
   turn; feeder ``k`` (numbered by its nearest load) starts at phase ``k mod 3``, so that
   feeders with a number of homes not divisible by three still balance overall;
3. each load is, with probability ``off_pattern_share`` (default
   :data:`OFF_PATTERN_SHARE`, 0.2: one home in five; an assumption, no survey data), moved to
   one of the two other phases, uniformly. The draws come from the given seed and are made
   for every load whatever the share, so changing the share does not reshuffle the others.

The reference feeder exposes the result as the ``phase`` column of ``Feeder.homes``; SimBench
grids and a user's net get it from :func:`rotating_phases` with a seed (or the user gives a
phase per load). :func:`single_phase_net` turns a balanced net and a phase per load into the
net the unbalanced load flow takes, with the :class:`~grids.unbalanced.loadflow.PhaseConnections`
that map each load (home) to its asymmetric-load row and phase.
"""

from __future__ import annotations

import copy

import networkx as nx
import numpy as np
import pandas as pd

#: Share of loads off the rotating pattern (see the module docstring).
OFF_PATTERN_SHARE = 0.2
#: Phase names, in code order; ``"abc"`` (code 3) is a three-phase connection.
PHASE_NAMES = ("a", "b", "c")


def feeder_positions(net, loads=None) -> pd.DataFrame:
    """Feeder and distance from the LV busbar of each load.

    Parameters
    ----------
    net
        pandapower network with at least one transformer (its LV bus is the busbar), or
        an LV-only net whose ext_grid bus is the busbar.
    loads
        ``net.load`` labels (default: every row).

    Returns
    -------
    pandas.DataFrame
        Indexed by load label: ``feeder`` (the label, as ``"line <index>"``, of the first
        branch from the busbar; ``""`` for a load on the busbar), ``distance_km``. A load whose
        bus is not connected to the busbar raises ``ValueError``.
    """
    import pandapower.topology as top

    loads = net.load.index if loads is None else pd.Index(loads)
    roots = (set(net.trafo.loc[net.trafo["in_service"].astype(bool), "lv_bus"])
             if len(net.trafo) else set(net.ext_grid["bus"]))
    graph = top.create_nxgraph(net, respect_switches=True, include_out_of_service=False,
                               include_trafos=False, calc_branch_impedances=False)
    simple = nx.Graph()
    simple.add_nodes_from(graph.nodes)
    for u, v, key, data in graph.edges(keys=True, data=True):
        w = float(data.get("weight", 0.0) or 0.0)
        if simple.has_edge(u, v) and simple[u][v]["weight"] <= w:
            continue
        simple.add_edge(u, v, weight=w, label=f"{key[0]} {key[1]}" if isinstance(key, tuple)
                        else str(key))
    source = "__busbar__"
    simple.add_node(source)
    for r in roots:
        simple.add_edge(source, r, weight=0.0, label="")
    dist, paths = nx.single_source_dijkstra(simple, source, weight="weight")
    rows = []
    for label in loads:
        bus = net.load.at[label, "bus"]
        if bus not in dist:
            raise ValueError(f"load {label}: bus {bus} is not connected to the LV busbar")
        path = paths[bus]
        feeder = simple[path[1]][path[2]]["label"] if len(path) > 2 else ""
        rows.append((label, feeder, float(dist[bus])))
    return pd.DataFrame(rows, columns=["load", "feeder", "distance_km"]).set_index("load")


def rotating_phases(net, loads=None, *, seed: int | np.random.SeedSequence = 0,
                    off_pattern_share: float = OFF_PATTERN_SHARE) -> np.ndarray:
    """The phase (0, 1, 2 for a, b, c) of each load, as installers rotate them (module
    docstring).

    Parameters
    ----------
    net
        pandapower network.
    loads
        ``net.load`` labels (default: every row), in the order of the result.
    seed
        Seed (or SeedSequence) of the off-pattern draws.
    off_pattern_share
        Probability that a load is off the rotating pattern, in [0, 1].

    Returns
    -------
    numpy.ndarray
        int64 phase codes, one per load.
    """
    if not 0.0 <= off_pattern_share <= 1.0:
        raise ValueError(f"off_pattern_share: must be in [0, 1] (got {off_pattern_share})")
    pos = feeder_positions(net, loads)
    n = len(pos)
    row = np.arange(n)
    phase = np.zeros(n, dtype=np.int64)
    order = np.lexsort((row, pos["distance_km"].to_numpy()))
    # feeders numbered by their nearest load
    feeder_no: dict[str, int] = {}
    for i in order:
        feeder_no.setdefault(pos["feeder"].iloc[i], len(feeder_no))
    count: dict[str, int] = {}
    for i in order:
        f = pos["feeder"].iloc[i]
        k = count.get(f, 0)
        phase[i] = (feeder_no[f] + k) % 3
        count[f] = k + 1
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rng = np.random.default_rng(ss)
    off = rng.random(n) < off_pattern_share
    shift = rng.integers(1, 3, n)
    return np.where(off, (phase + shift) % 3, phase).astype(np.int64)


def phase_names(codes) -> list[str]:
    """``"a"``, ``"b"``, ``"c"`` (or ``"abc"`` for code 3) of phase codes."""
    return [PHASE_NAMES[int(c)] if int(c) < 3 else "abc" for c in np.asarray(codes).ravel()]


def single_phase_net(net, phase, loads=None):
    """A copy of ``net`` with the given loads as asymmetric loads on their phases.

    Parameters
    ----------
    net
        pandapower network (not modified).
    phase
        Phase of each load: codes 0, 1, 2 (a, b, c) or 3 (three-phase), or names ``"a"``,
        ``"b"``, ``"c"``, ``"abc"``.
    loads
        ``net.load`` labels (default: every row), in the order of ``phase``.

    Returns
    -------
    net3
        The copy: each listed load is removed from ``net.load`` and appears as an
        ``asymmetric_load`` row at its bus with its name, scaling and in-service state and
        its power on its phase (a third on each for ``"abc"``). Other loads stay balanced.
    connections
        :class:`grids.unbalanced.loadflow.PhaseConnections`, one per listed load in the
        order given: its asymmetric-load row and phase (``UnbalancedLoadFlow(net3,
        connections=...)``, then ``run(connection_p_mw=...)`` with one column per load).
    """
    from grids.unbalanced.loadflow import PhaseConnections

    loads = net.load.index if loads is None else pd.Index(loads)
    conns = PhaseConnections.of(np.zeros(len(loads), np.int64), phase)
    out = copy.deepcopy(net)
    # The rows are built as one table, not with pandapower's create_asymmetric_load per load:
    # that call re-types the whole table each time, and for 184 homes it cost about 2.8 s at
    # the start of every unbalanced run. The columns, dtypes and index (after the highest existing)
    # are those create_asymmetric_load gives (tests/phases: the same table as the per-row
    # calls).
    src = out.load.loc[loads]
    share = np.zeros((len(loads), 3))
    code = np.asarray(conns.phase, dtype=np.int64)
    one = code < 3
    share[np.flatnonzero(one), code[one]] = 1.0
    share[~one] = 1.0 / 3.0
    p = src["p_mw"].to_numpy(float)[:, None] * share
    q = src["q_mvar"].to_numpy(float)[:, None] * share
    table = out.asymmetric_load
    first = int(table.index.max()) + 1 if len(table) else 0
    labels = np.arange(first, first + len(loads), dtype=np.int64)
    rows = np.arange(len(table), len(table) + len(loads), dtype=np.int64)  # positions
    new = pd.DataFrame(index=pd.Index(labels, dtype=table.index.dtype), columns=table.columns)
    new["name"] = src["name"].to_numpy(object) if "name" in src else None
    new["bus"] = src["bus"].to_numpy()
    for k, ph in enumerate("abc"):
        new[f"p_{ph}_mw"] = p[:, k]
        new[f"q_{ph}_mvar"] = q[:, k]
    for col in ("sn_a_mva", "sn_b_mva", "sn_c_mva", "sn_mva"):
        if col in new:
            new[col] = np.nan
    new["scaling"] = (src["scaling"].to_numpy(float) if "scaling" in src
                      else np.ones(len(loads)))
    new["in_service"] = src["in_service"].to_numpy(bool)
    new["type"] = "wye"
    new = new.astype(table.dtypes.to_dict())
    out.asymmetric_load = new if table.empty else pd.concat([table, new])
    out.load = out.load.drop(index=loads)
    return out, PhaseConnections(rows, conns.phase)
