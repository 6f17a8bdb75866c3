"""Checks a network must pass before a run: one slack, connected, positive impedances, homes mapped.

``check_feeder`` collects every problem and raises one :class:`~testbed.errors.GridError` listing
them all, so a user fixes a grid file in one go. The testbed studies LV feeders: every home must
sit on an LV bus (below :data:`LV_MAX_KV`), and there must be at least one home.

``table_problems`` checks the shape of a network read from a file (every table a table with
pandapower's columns and numeric columns numeric, elements on existing buses) before anything
looks inside it.
"""

from __future__ import annotations

import math

import numpy as np
import pandapower as pp
import pandapower.topology as top
import pandas as pd

from grids.errors import GridError
from grids.networks.feeder import Feeder

LV_MAX_KV = 1.0  # LV: nominal voltage below 1 kV (IEC 60038); the KPIs' voltage band uses it
# Columns naming buses, per element table.
BUS_COLUMNS = {
    "load": ("bus",), "sgen": ("bus",), "storage": ("bus",), "gen": ("bus",),
    "ext_grid": ("bus",), "shunt": ("bus",), "motor": ("bus",), "ward": ("bus",),
    "xward": ("bus",), "asymmetric_load": ("bus",), "asymmetric_sgen": ("bus",),
    "switch": ("bus",), "line": ("from_bus", "to_bus"), "trafo": ("hv_bus", "lv_bus"),
    "trafo3w": ("hv_bus", "mv_bus", "lv_bus"), "impedance": ("from_bus", "to_bus"),
    "dcline": ("from_bus", "to_bus"),
}
# Columns the testbed computes with: must be numeric in a network read from a file.
NUMERIC_COLUMNS = {
    "bus": ("vn_kv",),
    "line": ("length_km", "r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km", "max_i_ka", "df",
             "parallel"),
    "trafo": ("sn_mva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "vkr_percent", "pfe_kw",
              "i0_percent", "shift_degree", "parallel"),
    "load": ("p_mw", "q_mvar", "scaling"),
    "ext_grid": ("vm_pu", "va_degree"),
}
_EMPTY = pp.create_empty_network()
ELEMENT_TABLES = tuple(k for k in _EMPTY.keys()
                       if isinstance(_EMPTY[k], pd.DataFrame) and not k.startswith(("_", "res_")))


def _shown(items: list) -> str:
    return ", ".join(str(x) for x in items[:5]) + (" ..." if len(items) > 5 else "")


def table_problems(net: pp.pandapowerNet, name: str) -> list[str]:
    """Problems of the shape of a network read from a file (empty when its tables are usable).

    Every element table of pandapower's empty network must be a table; those the testbed
    computes with must have the columns it reads, integer row labels, numeric columns numeric
    and ``in_service`` boolean; every element must name existing buses; ``sn_mva`` and
    ``f_hz`` must be positive numbers.

    Parameters
    ----------
    net
        A network decoded from a file.
    name
        Name of the network in the messages (the file name).
    """
    problems: list[str] = []
    for key in ("sn_mva", "f_hz"):
        v = net.get(key)
        if (not isinstance(v, int | float | np.number) or isinstance(v, bool)
                or not math.isfinite(v) or v <= 0):
            problems.append(f"{name}: {key}: must be a number > 0 (got {v!r})")
    for table in ELEMENT_TABLES:
        if table not in net:
            continue
        df, empty = net[table], _EMPTY[table].columns
        if not isinstance(df, pd.DataFrame):
            problems.append(f"{name}: {table}: must be a table (got {type(df).__name__})")
            continue
        if not len(df):
            continue
        used = NUMERIC_COLUMNS.get(table, ()) + BUS_COLUMNS.get(table, ())
        missing = [c for c in used + ("in_service",) if c in empty and c not in df.columns]
        if missing:
            problems.append(f"{name}: {table}: missing column(s) {_shown(missing)}")
            continue
        if not pd.api.types.is_integer_dtype(df.index):
            problems.append(f"{name}: {table}: row index must be integers "
                            f"(got {df.index.dtype})")
        if "in_service" in df and not pd.api.types.is_bool_dtype(df.in_service):
            problems.append(f"{name}: {table}.in_service: must be true or false "
                            f"(got {df.in_service.dtype})")
        for col in used:
            if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
                problems.append(f"{name}: {table}.{col}: must be numeric (got {df[col].dtype})")
    if problems:
        return problems
    for table, cols in BUS_COLUMNS.items():
        df = net[table] if table in net else None
        if df is None or not len(df):
            continue
        for col in cols:
            if table == "switch" and col != "bus":
                continue
            bad = df.index[~df[col].isin(net.bus.index)].tolist()
            if bad:
                problems.append(f"{name}: {table} {_shown(bad)}: {col} names no existing bus "
                                f"(got {df.at[bad[0], col]})")
    return problems


def check_tables(net: pp.pandapowerNet, name: str) -> None:
    """Raise :class:`GridError` with every problem of :func:`table_problems`, if any."""
    problems = table_problems(net, name)
    if problems:
        raise GridError("; ".join(problems))


def _rule(name: str, table: str, df: pd.DataFrame, col: str, ok: pd.Series, rule: str
          ) -> list[str]:
    """One line naming the rows of ``df`` where ``ok`` is false, with the first value."""
    bad = df.index[~ok.to_numpy(dtype=bool)].tolist()
    if not bad:
        return []
    value = df.at[bad[0], col]
    value = value.item() if isinstance(value, np.generic) else value
    return [f"{name}: {table} {_shown(bad)}: {col} {rule} (got {value!r})"]


def _element_problems(net: pp.pandapowerNet, name: str, lines: pd.DataFrame,
                      trafos: pd.DataFrame) -> list[str]:
    """Values a load flow would turn into NaN or a silently different network."""
    out: list[str] = []
    for col, lo, hi in (("df", 0.0, 1.0), ("parallel", 1, None)):
        v = lines[col]
        ok = (v > lo) & (v <= hi) if hi is not None else v >= lo
        out += _rule(name, "line", lines, col, ok, f"must be in ({lo:g}, {hi:g}]" if hi
                     else f"must be >= {lo}")
    vn = net.bus.vn_kv
    for side in ("hv", "lv"):
        col, bus = f"vn_{side}_kv", trafos[f"{side}_bus"]
        if not bus.isin(vn.index).all():
            continue
        ratio = trafos[col].to_numpy() / vn.loc[bus].to_numpy()
        ok = (ratio >= 0.8) & (ratio <= 1.25)
        if not ok.all():
            i = trafos.index[~ok][0]
            out += _rule(name, "trafo", trafos, col, pd.Series(ok),
                         f"must be within -20 %/+25 % of its {side}_bus's nominal voltage "
                         f"({vn[trafos.at[i, f'{side}_bus']]:g} kV at trafo {i})")
    for col in ("pfe_kw", "i0_percent"):
        out += _rule(name, "trafo", trafos, col, trafos[col] >= 0, "must be >= 0")
    out += _rule(name, "trafo", trafos, "shift_degree", np.isfinite(trafos.shift_degree),
                 "must be finite")
    eg = net.ext_grid[net.ext_grid.in_service]
    out += _rule(name, "ext_grid", eg, "vm_pu", (eg.vm_pu >= 0.5) & (eg.vm_pu <= 1.5),
                 "must be in [0.5, 1.5]")
    out += _rule(name, "ext_grid", eg, "va_degree", np.isfinite(eg.va_degree), "must be finite")
    for table, cols in (("sgen", ("p_mw", "q_mvar", "scaling")), ("storage", ("p_mw", "q_mvar")),
                        ("shunt", ("p_mw", "q_mvar")), ("gen", ("p_mw", "vm_pu"))):
        df = net[table] if table in net else None
        if df is None or not len(df) or "in_service" not in df:
            continue
        df = df[df.in_service.astype(bool)]
        for col in cols:
            if col in df:
                v = pd.to_numeric(df[col], errors="coerce")
                out += _rule(name, table, df, col, np.isfinite(v), "must be finite")
    return out


def _home_load_problems(net: pp.pandapowerNet, name: str, homes: pd.DataFrame) -> list[str]:
    """A home's load must take the home's power as it is: scaling 1, constant power."""
    if "load" not in homes or not homes["load"].isin(net.load.index).all():
        return []
    loads = net.load.loc[homes["load"]]
    why = "for a home's load: the home's power is written into it each step"
    out = _rule(name, "load", loads, "scaling", loads.scaling == 1.0, f"must be 1 {why}")
    for col in ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent",
                "const_i_q_percent"):
        if col in loads:
            out += _rule(name, "load", loads, col, loads[col].fillna(0.0) == 0.0,
                         f"must be 0 {why} as constant power")
    return out


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
    problems = table_problems(net, name)
    if problems:
        return problems
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
    for col in ("x_ohm_per_km", "c_nf_per_km", "g_us_per_km"):
        bad = lines.index[~(lines[col] >= 0)] if col in lines else []
        problems += [f"{name}: line {i}: {col} must be >= 0, got {lines.at[i, col]}"
                     for i in bad]
    vn = net.bus.vn_kv
    if len(lines) and lines.from_bus.isin(vn.index).all() and lines.to_bus.isin(vn.index).all():
        v_from, v_to = vn.loc[lines.from_bus].to_numpy(), vn.loc[lines.to_bus].to_numpy()
        bad = lines.index[~np.isclose(v_from, v_to, rtol=1e-6, atol=0.0)].tolist()
        if bad:
            i = bad[0]
            problems.append(f"{name}: line {_shown(bad)}: joins buses of different nominal "
                            "voltage; only a transformer may change the voltage level (got line "
                            f"{i}: {vn[lines.at[i, 'from_bus']]:g} kV to "
                            f"{vn[lines.at[i, 'to_bus']]:g} kV)")
    trafos = net.trafo[net.trafo.in_service]
    if not len(trafos):
        problems.append(f"{name}: trafo: the testbed studies LV feeders supplied by an MV/LV "
                        "transformer (its loading, its upgrade) (got no in-service transformer)")
    for col in ("sn_mva", "vk_percent"):
        bad = trafos.index[~(trafos[col] > 0)]
        problems += [f"{name}: trafo {i}: {col} must be > 0, got {trafos.at[i, col]}" for i in bad]
    bad = trafos.index[~(trafos.vkr_percent >= 0) | (trafos.vkr_percent >= trafos.vk_percent)]
    problems += [f"{name}: trafo {i}: vkr_percent must be in [0, vk_percent), "
                 f"got {trafos.at[i, 'vkr_percent']}" for i in bad]
    problems += _element_problems(net, name, lines, trafos)

    if not len(homes):
        problems.append(f"{name}: load: the testbed needs at least one home, one per "
                        "in-service load (got no in-service load)")
    missing = homes.index[~homes.bus.isin(net.bus.index)]
    problems += [f"{name}: home {h}: bus {homes.at[h, 'bus']} does not exist" for h in missing]
    on_bus = homes.bus[homes.bus.isin(net.bus.index)]
    high = on_bus[net.bus.vn_kv.loc[on_bus].to_numpy() >= LV_MAX_KV]
    if len(high):
        kv = sorted(set(net.bus.vn_kv.loc[high].tolist()))
        problems.append(f"{name}: home: the testbed studies LV feeders, every home must be "
                        f"on a bus below {LV_MAX_KV:g} kV (got {len(high)} of {len(homes)} "
                        f"homes at {', '.join(f'{v:g}' for v in kv)} kV: "
                        f"{_shown(high.index.tolist())})")
    if "load" in homes:
        missing = homes.index[~homes["load"].isin(net.load.index)]
        problems += [f"{name}: home {h}: load {homes.at[h, 'load']} does not exist"
                     for h in missing]
        problems += _home_load_problems(net, name, homes)
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
