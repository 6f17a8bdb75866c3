"""Checks a network must pass before a run: one slack, connected, positive impedances, homes mapped.

``check_feeder`` collects every problem and raises one :class:`~testbed.errors.GridError` listing
them all, so a user fixes a grid file in one go.
"""

from __future__ import annotations

import pandapower.topology as top

from grids.errors import GridError
from grids.networks.feeder import Feeder


def find_problems(feeder: Feeder) -> list[str]:
    """Return every problem of a feeder, one line each (empty when the feeder is usable).

    Parameters
    ----------
    feeder
        The network and its home table.

    Returns
    -------
    list of str
        Problems naming the element table, index and value.
    """
    net, homes, name = feeder.net, feeder.homes, feeder.name
    problems: list[str] = []
    bad = net.bus.index[~(net.bus.vn_kv > 0)]
    problems += [f"{name}: bus {i}: vn_kv must be > 0, got {net.bus.at[i, 'vn_kv']}" for i in bad]
    slack = net.ext_grid[net.ext_grid.in_service]
    if len(slack) != 1:
        problems.append(f"{name}: ext_grid: expected exactly one in-service slack, "
                        f"found {len(slack)}")
    if "gen" in net and len(net.gen) and net.gen.slack.any():
        problems.append(f"{name}: gen: slack generators are not supported, use one ext_grid")

    lines = net.line[net.line.in_service]
    for col in ("length_km", "r_ohm_per_km", "max_i_ka"):
        bad = lines.index[~(lines[col] > 0)]
        problems += [f"{name}: line {i}: {col} must be > 0, got {lines.at[i, col]}" for i in bad]
    bad = lines.index[~(lines.x_ohm_per_km >= 0)]
    problems += [f"{name}: line {i}: x_ohm_per_km must be >= 0, got {lines.at[i, 'x_ohm_per_km']}"
                 for i in bad]
    trafos = net.trafo[net.trafo.in_service]
    for col in ("sn_mva", "vk_percent"):
        bad = trafos.index[~(trafos[col] > 0)]
        problems += [f"{name}: trafo {i}: {col} must be > 0, got {trafos.at[i, col]}" for i in bad]
    bad = trafos.index[~(trafos.vkr_percent >= 0) | (trafos.vkr_percent >= trafos.vk_percent)]
    problems += [f"{name}: trafo {i}: vkr_percent must be in [0, vk_percent), "
                 f"got {trafos.at[i, 'vkr_percent']}" for i in bad]

    missing = homes.index[~homes.bus.isin(net.bus.index)]
    problems += [f"{name}: home {h}: bus {homes.at[h, 'bus']} does not exist" for h in missing]
    if "load" in homes:
        missing = homes.index[~homes["load"].isin(net.load.index)]
        problems += [f"{name}: home {h}: load {homes.at[h, 'load']} does not exist"
                     for h in missing]
    if len(slack) == 1 and not problems:
        graph = top.create_nxgraph(net, respect_switches=True, include_out_of_service=False)
        reachable = set(top.connected_component(graph, int(slack.bus.iloc[0])))
        in_service = set(net.bus.index[net.bus.in_service])
        dead = sorted(in_service - reachable)
        if dead:
            shown = ", ".join(str(b) for b in dead[:5]) + (" ..." if len(dead) > 5 else "")
            problems.append(f"{name}: bus: {len(dead)} in-service buses are not connected to the "
                            f"slack: {shown}")
        cut = [h for h, b in zip(homes.index, homes.bus, strict=True) if b not in reachable]
        problems += [f"{name}: home {h}: bus {homes.at[h, 'bus']} is not energised" for h in cut]
    return problems


def check_feeder(feeder: Feeder) -> Feeder:
    """Raise :class:`GridError` listing every problem of ``feeder``; return it unchanged if none.

    Parameters
    ----------
    feeder
        The network and its home table.

    Returns
    -------
    Feeder
        The same feeder, for chaining.

    Raises
    ------
    GridError
        With every problem found, separated by ``"; "``.
    """
    problems = find_problems(feeder)
    if problems:
        raise GridError("; ".join(problems))
    return feeder
