"""Compile a pandapower network once into frozen arrays for the numba load flow.

Design decision: exactness by construction. The network-to-matrix conversion is pandapower's
own (``_pd2ppc`` then ``makeYbus``), run once on a deep copy of the user's network with the
options ``runpp`` uses by default (Newton-Raphson, ``calculate_voltage_angles=True``,
``trafo_model='t'``, ``trafo_loading='current'``, connectivity check on). Transformer models,
tap positions, phase shifts, shunts, line switches (auxiliary buses), bus-bus switches (fused
buses), out-of-service elements and islanded buses are therefore exactly what ``runpp`` sees.
What this module adds is the bookkeeping around those matrices:

* which internal bus every ``net.bus`` row maps to (or none: out of service / islanded);
* which internal bus every load, sgen and storage row injects into, with its scaling;
* the rows of ``Yf``/``Yt`` belonging to every line and transformer, with their ratings;
* the slack (ext_grid) buses with their fixed complex voltages;
* a sparse LU factorisation of ``Y_pp`` (the admittance matrix between non-slack buses),
  computed once with ``scipy.sparse.linalg.splu`` and stored as plain CSC arrays, which the
  kernels in :mod:`grids.balanced.kernels` use for the fixed-point current-injection iteration.

The user's network is never modified: everything runs on ``copy.deepcopy(net)``.

Supported: ``bus``, ``line``, ``trafo``, ``switch``, ``ext_grid`` (one per internal bus),
``load`` (constant power only), ``sgen``, ``storage`` (constant, values of the net),
``shunt`` (part of ``Ybus``). Any in-service row of another element table raises
:class:`grids.errors.UnsupportedElement` naming it.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from grids.errors import GridError, UnsupportedElement

#: Element tables the engine cannot represent when they hold an in-service row.
UNSUPPORTED_TABLES: tuple[str, ...] = (
    "gen", "dcline", "ward", "xward", "impedance", "trafo3w", "tcsc", "svc", "ssc", "vsc",
    "motor", "asymmetric_load", "asymmetric_sgen", "line_dc", "bus_dc", "source_dc",
    "b2b_vsc",
)

#: The ``runpp`` options the compiled model reproduces (pandapower's defaults, NR).
RUNPP_OPTIONS: dict = dict(
    algorithm="nr", calculate_voltage_angles=True, init="auto", max_iteration="auto",
    tolerance_mva=1e-10, trafo_model="t", trafo_loading="current", enforce_p_lims=False,
    enforce_q_lims=False, check_connectivity=True, voltage_depend_loads=True,
    consider_line_temperature=False, distributed_slack=False, tdpf=False, tdpf_delay_s=None,
)


def _frozen(a: np.ndarray, dtype=None) -> np.ndarray:
    """C-contiguous copy of ``a`` (optionally cast), marked read-only."""
    out = np.ascontiguousarray(a, dtype=dtype).copy()
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class CompiledNet:
    """A pandapower network reduced to the arrays the kernels need (all read-only).

    Internal buses are pandapower's ``ppci`` buses (in service and energised), numbered
    ``0 .. n_int-1``. Powers are in per unit of ``base_mva``.

    Attributes
    ----------
    base_mva
        System base power [MVA] (``net.sn_mva``).
    bus_index, line_index, trafo_index, load_index, sgen_index, ext_grid_index
        The net's row labels of each table, in row order.
    bus_int
        Internal bus of each ``net.bus`` row, ``-1`` if not energised. [n_bus]
    energised
        ``bus_int >= 0``. [n_bus]
    n_int
        Number of internal buses.
    slack_int, v_slack_re, v_slack_im
        Internal index and fixed complex voltage [p.u.] of each slack bus. [n_slack]
    pq_int
        Internal index of each non-slack bus, in the order of the ``Y_pp`` rows, which is the
        fill-reducing order of the LU factors renumbered level by level in the elimination
        tree (:func:`_level_order`; no permutation left). [n_pq]
    pos_of_int
        Position of each internal bus in ``pq_int`` (``-1`` for slack buses). [n_int]
    c_re, c_im
        ``-Y_ps @ V_s``: the current the slack voltages drive into each non-slack bus. [n_pq]
    v_nl_re, v_nl_im
        No-load voltage of each non-slack bus [p.u.], the starting point. [n_pq]
    y_indptr, y_indices, y_re, y_im
        ``Ybus`` in CSR form (internal numbering).
    ref_re, ref_im
        Unit phasor of the no-load voltage angle of each internal bus: angles are computed
        relative to it (small angles, fast and exact ``atan``). ``ref_deg``: that angle
        [degree]. [n_int]
    l_indptr, l_indices, l_re, l_im
        Strictly lower part of unit-diagonal ``L`` in CSC form.
    u_indptr, u_indices, u_re, u_im
        Strictly upper part of ``U`` in CSC form.
    ud_inv_re, ud_inv_im
        ``1 / diag(U)``.
    load_int, load_scale
        Internal bus (``-1`` if ignored: out of service or not energised) and ``scaling`` of
        each load. ``sgen_int``, ``sgen_scale`` likewise.
    load_p0, load_q0, sgen_p0, sgen_q0
        Nominal values of the net [MW], [Mvar] (before scaling).
    s_const_re, s_const_im
        Constant injection per internal bus [p.u.] from elements without inputs (storage).
    br_f, br_t, yf_*, yt_*
        From/to internal bus and the two entries of each ``Yf``/``Yt`` row for every internal
        branch (``yf_ff`` multiplies ``V[f]``, ``yf_ft`` multiplies ``V[t]``).
    line_br, trafo_br
        Internal branch of each line / trafo (``-1``: out of service, result 0).
    line_i_base, trafo_i_base_hv, trafo_i_base_lv
        Factor turning a branch-end current in p.u. into loading [%]:
        ``base_mva / (sqrt(3) * base_kv) / i_max_ka * 100`` for lines (``i_max = max_i_ka * df
        * parallel``) and ``base_mva / (sqrt(3) * base_kv) * vn_kv * sqrt(3) / sn_mva * 100
        / parallel / df`` for the transformer sides, as pandapower computes them.
    line_bus_nan, trafo_bus_nan
        True where pandapower reports the loading as NaN (branch of a not-energised bus).
    eg_int
        Internal bus of each ext_grid (``-1`` if out of service / not energised).
    """

    base_mva: float
    bus_index: np.ndarray
    line_index: np.ndarray
    trafo_index: np.ndarray
    load_index: np.ndarray
    sgen_index: np.ndarray
    ext_grid_index: np.ndarray
    bus_int: np.ndarray
    energised: np.ndarray
    n_int: int
    slack_int: np.ndarray
    v_slack_re: np.ndarray
    v_slack_im: np.ndarray
    pq_int: np.ndarray
    pos_of_int: np.ndarray
    c_re: np.ndarray
    c_im: np.ndarray
    v_nl_re: np.ndarray
    v_nl_im: np.ndarray
    y_indptr: np.ndarray
    y_indices: np.ndarray
    y_re: np.ndarray
    y_im: np.ndarray
    ref_re: np.ndarray
    ref_im: np.ndarray
    ref_deg: np.ndarray
    l_indptr: np.ndarray
    l_indices: np.ndarray
    l_re: np.ndarray
    l_im: np.ndarray
    u_indptr: np.ndarray
    u_indices: np.ndarray
    u_re: np.ndarray
    u_im: np.ndarray
    ud_inv_re: np.ndarray
    ud_inv_im: np.ndarray
    load_int: np.ndarray
    load_scale: np.ndarray
    load_p0: np.ndarray
    load_q0: np.ndarray
    sgen_int: np.ndarray
    sgen_scale: np.ndarray
    sgen_p0: np.ndarray
    sgen_q0: np.ndarray
    s_const_re: np.ndarray
    s_const_im: np.ndarray
    br_f: np.ndarray
    br_t: np.ndarray
    yf_ff_re: np.ndarray
    yf_ff_im: np.ndarray
    yf_ft_re: np.ndarray
    yf_ft_im: np.ndarray
    yt_tf_re: np.ndarray
    yt_tf_im: np.ndarray
    yt_tt_re: np.ndarray
    yt_tt_im: np.ndarray
    line_br: np.ndarray
    trafo_br: np.ndarray
    line_i_base: np.ndarray
    trafo_i_base_hv: np.ndarray
    trafo_i_base_lv: np.ndarray
    line_bus_nan: np.ndarray
    trafo_bus_nan: np.ndarray
    eg_int: np.ndarray
    lu_fill: float

    @property
    def n_bus(self) -> int:
        """Number of rows of ``net.bus``."""
        return len(self.bus_index)

    @property
    def n_pq(self) -> int:
        """Number of non-slack internal buses (unknowns)."""
        return len(self.pq_int)


def check_supported(net) -> None:
    """Raise :class:`UnsupportedElement` if ``net`` has an element the engine cannot model.

    Parameters
    ----------
    net
        pandapower network (not modified).

    Raises
    ------
    UnsupportedElement
        Naming every offending table and row index (all of them in one message).
    """
    problems: list[str] = []
    for table in UNSUPPORTED_TABLES:
        df = net.get(table) if hasattr(net, "get") else None
        if df is None or not hasattr(df, "empty") or df.empty:
            continue
        active = df.index[df["in_service"].astype(bool)] if "in_service" in df else df.index
        if len(active):
            problems.append(f"{table} rows {list(active)[:10]} (in service)")
    load = net.load
    if len(load):
        zip_cols = [c for c in ("const_z_p_percent", "const_i_p_percent",
                                "const_z_q_percent", "const_i_q_percent") if c in load]
        zip_bad = load.index[load["in_service"].astype(bool)
                             & (load[zip_cols].fillna(0).abs() > 0).any(axis=1)]
        if len(zip_bad):
            problems.append(f"load rows {list(zip_bad)[:10]} have constant-impedance/current "
                            "(ZIP) parts; only constant-power loads are supported")
    if len(net.ext_grid):
        eg = net.ext_grid[net.ext_grid["in_service"].astype(bool)]
        dup = eg["bus"][eg["bus"].duplicated(keep=False)]
        if len(dup):
            problems.append(f"ext_grid rows {list(dup.index)} share bus {sorted(set(dup))}")
    if getattr(net, "controller", None) is not None and len(net.controller):
        if net.controller["in_service"].astype(bool).any():
            problems.append("controller rows (in service): control loops are not run")
    if problems:
        raise UnsupportedElement("network not supported by the load-flow engine: "
                                 + "; ".join(problems))


def _build_ppci(net):
    """Run pandapower's own conversion on ``net`` (a private copy): ppc, ppci and Ybus."""
    from pandapower.auxiliary import _add_auxiliary_elements, _init_runpp_options
    from pandapower.pd2ppc import _pd2ppc
    from pandapower.pypower.makeYbus import makeYbus

    _init_runpp_options(net, passed_parameters={"algorithm": "nr", "tolerance_mva": 1e-10},
                        lightsim2grid=False, **RUNPP_OPTIONS)
    opts = net["_options"]
    for key, wanted in (("trafo_loading", "current"), ("distributed_slack", False),
                        ("tdpf", False), ("ac", True)):
        if opts.get(key, wanted) != wanted:
            raise UnsupportedElement(f"pandapower option {key}={opts.get(key)!r} "
                                     f"(net.user_pf_options) is not supported; need {wanted!r}")
    _add_auxiliary_elements(net)
    i64 = np.int64
    net._pd2ppc_lookups = {"bus": np.array([], dtype=i64), "bus_dc": np.array([], dtype=i64),
                           "ext_grid": np.array([], dtype=i64), "gen": np.array([], dtype=i64),
                           "branch": np.array([], dtype=i64),
                           "branch_dc": np.array([], dtype=i64)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ppc, ppci = _pd2ppc(net)
    ybus, yf, yt = makeYbus(ppci["baseMVA"], ppci["bus"], ppci["branch"])
    return ppc, ppci, ybus.tocsr(), yf.tocsr(), yt.tocsr()


def _level_order(lower) -> np.ndarray:
    """A renumbering of a factorisation that keeps its fill but groups independent columns.

    Any ordering in which every column of the elimination tree comes after its children
    eliminates the same way (same fill-in). Sorting the columns by their height in that tree
    (leaves 0, a parent one more than its highest child; stable) is such an ordering, and
    consecutive columns of equal height do not depend on each other. The triangular solves
    then no longer run one long dependency chain (a feeder's trunk, bus after bus, each
    waiting for the previous update): the processor overlaps the updates of the different
    feeders and branches. Measured on the reference feeder (before the other changes of
    the same commit): the scalar single-step kernel went from 64 to 54 us.

    Parameters
    ----------
    lower
        The unit lower factor ``L`` (any sparse format) of a structurally symmetric matrix.

    Returns
    -------
    numpy.ndarray
        New position -> old column.
    """
    low = sp.csc_matrix(lower)
    n = low.shape[0]
    parent = np.full(n, -1, dtype=np.int64)
    for j in range(n):
        rows = low.indices[low.indptr[j]:low.indptr[j + 1]]
        below = rows[rows > j]
        if len(below):
            parent[j] = below.min()
    height = np.zeros(n, dtype=np.int64)
    for j in range(n):  # children have smaller numbers than their parent
        p = parent[j]
        if p >= 0 and height[p] < height[j] + 1:
            height[p] = height[j] + 1
    return np.argsort(height, kind="stable")


def compile_net(net) -> CompiledNet:
    """Compile ``net`` into a :class:`CompiledNet` (the net itself is not modified).

    Parameters
    ----------
    net
        pandapower network with buses, lines, transformers, switches, ext_grids, loads, sgens
        (and optionally storage, shunts).

    Returns
    -------
    CompiledNet

    Raises
    ------
    UnsupportedElement
        The net holds an element the engine cannot represent (named in the message).
    GridError
        pandapower cannot convert the net (e.g. no ext_grid), or ``Y_pp`` is singular.
    """
    from pandapower.pypower.idx_brch import F_BUS, T_BUS
    from pandapower.pypower.idx_bus import BASE_KV, PD, QD
    from pandapower.pypower.idx_gen import GEN_BUS, GEN_STATUS

    check_supported(net)
    work = copy.deepcopy(net)
    try:
        ppc, ppci, ybus, yf, yt = _build_ppci(work)
    except (UnsupportedElement, GridError):
        raise
    except Exception as exc:  # pandapower raises many types; name the cause
        raise GridError(f"pandapower could not convert the network: {exc!r}") from exc

    base_mva = float(ppci["baseMVA"])
    n_int = ppci["bus"].shape[0]
    if n_int == 0:
        raise GridError("no energised bus: does the network have an in-service ext_grid?")
    lookups = work._pd2ppc_lookups
    bus_lookup = lookups["bus"]

    def to_int(buses: np.ndarray) -> np.ndarray:
        idx = bus_lookup[np.asarray(buses, dtype=np.int64)]
        return np.where((idx >= 0) & (idx < n_int), idx, -1).astype(np.int64)

    bus_int = to_int(net.bus.index.values)
    bus_int[~net.bus["in_service"].values.astype(bool)] = -1

    # slack buses: ext_grids (gens are rejected), voltage as pandapower initialises it
    gen = ppci["gen"]
    on = gen[:, GEN_STATUS] > 0
    slack_int = np.unique(gen[on, GEN_BUS].real.astype(np.int64))
    if len(slack_int) == 0:
        raise GridError("no in-service ext_grid feeds an energised bus")
    from pandapower.pf.ppci_variables import _get_pf_variables_from_ppci
    v0 = _get_pf_variables_from_ppci(ppci)[13]
    v_slack = v0[slack_int]
    pq_mask = np.ones(n_int, dtype=bool)
    pq_mask[slack_int] = False
    pq_int = np.flatnonzero(pq_mask).astype(np.int64)

    ybus_c = ybus.tocsc()
    y_pp = ybus_c[pq_int][:, pq_int].tocsc()
    y_ps = ybus_c[pq_int][:, slack_int]
    c = -(y_ps @ v_slack)
    try:
        # 1) fill-reducing order (minimum degree on A^T + A), 2) renumber the non-slack buses
        # in that order and factorise again without any permutation, so that the kernels work
        # in LU order directly (no scatter/gather per iteration).
        lu = splu(y_pp, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                  options={"SymmetricMode": True})
        pq_int = pq_int[np.argsort(lu.perm_c)]
        y_pp = ybus_c[pq_int][:, pq_int].tocsc()
        y_ps = ybus_c[pq_int][:, slack_int]
        c = -(y_ps @ v_slack)
        lu = splu(y_pp, permc_spec="NATURAL", diag_pivot_thresh=0.0,
                  options={"SymmetricMode": True})
        # 3) the same elimination, renumbered level by level (see _level_order)
        order = _level_order(lu.L)
        if not np.array_equal(order, np.arange(len(order))):
            pq_int = pq_int[order]
            y_pp = ybus_c[pq_int][:, pq_int].tocsc()
            y_ps = ybus_c[pq_int][:, slack_int]
            c = -(y_ps @ v_slack)
            lu = splu(y_pp, permc_spec="NATURAL", diag_pivot_thresh=0.0,
                      options={"SymmetricMode": True})
    except RuntimeError as exc:
        raise GridError(f"the admittance matrix between non-slack buses is singular: {exc}"
                        ) from exc
    ident = np.arange(len(pq_int))
    if not (np.array_equal(lu.perm_r, ident) and np.array_equal(lu.perm_c, ident)):
        raise GridError("the LU factorisation of Y_pp needed pivoting (an unusual admittance "
                        "matrix); the engine requires diagonal pivots")
    pos_of_int = np.full(n_int, -1, dtype=np.int64)
    pos_of_int[pq_int] = np.arange(len(pq_int))
    v_nl = lu.solve(c) if len(pq_int) else np.zeros(0, dtype=complex)
    v_all = np.empty(n_int, dtype=complex)
    v_all[pq_int] = v_nl
    v_all[slack_int] = v_slack
    ref = np.exp(1j * np.angle(v_all))
    low = sp.tril(lu.L, k=-1).tocsc()
    up = sp.triu(lu.U, k=1).tocsc()
    low.sort_indices()
    up.sort_indices()
    udiag = lu.U.diagonal()
    if np.any(udiag == 0):
        raise GridError("the admittance matrix between non-slack buses is singular")
    lu_fill = (lu.L.nnz + lu.U.nnz - len(pq_int)) / max(y_pp.nnz, 1)

    # injections
    def element_arrays(df, sign_note=""):
        if len(df) == 0:
            z = np.zeros(0)
            return np.zeros(0, dtype=np.int64), z, z, z
        idx = to_int(df["bus"].values)
        idx[~df["in_service"].values.astype(bool)] = -1
        scale = df["scaling"].values.astype(float) if "scaling" in df else np.ones(len(df))
        return (idx, scale, df["p_mw"].values.astype(float), df["q_mvar"].values.astype(float))

    load_int, load_scale, load_p0, load_q0 = element_arrays(net.load)
    sgen_int, sgen_scale, sgen_p0, sgen_q0 = element_arrays(net.sgen)
    s_const = np.zeros(n_int, dtype=complex)
    storage = net.get("storage")
    if storage is not None and len(storage):
        st_int, st_scale, st_p, st_q = element_arrays(storage)
        ok = st_int >= 0
        np.add.at(s_const, st_int[ok], -(st_p[ok] + 1j * st_q[ok]) * st_scale[ok] / base_mva)

    # consistency: our injections at the net's values equal pandapower's bus PD/QD
    s_net = s_const.copy()
    ok = load_int >= 0
    np.add.at(s_net, load_int[ok], -(load_p0[ok] + 1j * load_q0[ok]) * load_scale[ok] / base_mva)
    ok = sgen_int >= 0
    np.add.at(s_net, sgen_int[ok], (sgen_p0[ok] + 1j * sgen_q0[ok]) * sgen_scale[ok] / base_mva)
    s_pp = -(ppci["bus"][:, PD] + 1j * ppci["bus"][:, QD]) / base_mva
    bad = np.flatnonzero(np.abs(s_net - s_pp) > 1e-9 * (1 + np.abs(s_pp)))
    if len(bad):
        raise UnsupportedElement(
            f"pandapower injects power at internal buses {bad[:10].tolist()} that the engine "
            "does not model (an element type other than load, sgen, storage?)")

    # branches
    f = ppci["branch"][:, F_BUS].real.astype(np.int64)
    t = ppci["branch"][:, T_BUS].real.astype(np.int64)
    nbr = len(f)
    rows = np.arange(nbr)

    def entry(mat, cols):
        return np.asarray(mat[rows, cols]).ravel().astype(complex) if nbr else np.zeros(0, complex)

    yf_ff, yf_ft = entry(yf, f), entry(yf, t)
    yt_tf, yt_tt = entry(yt, f), entry(yt, t)
    base_kv = ppci["bus"][:, BASE_KV]
    i_base_ka_f = base_mva / (np.sqrt(3) * base_kv[f]) if nbr else np.zeros(0)
    i_base_ka_t = base_mva / (np.sqrt(3) * base_kv[t]) if nbr else np.zeros(0)

    branch_is = np.asarray(ppci["internal"]["branch_is"], dtype=bool)
    ppc_to_ppci_br = np.full(len(branch_is), -1, dtype=np.int64)
    ppc_to_ppci_br[branch_is] = np.arange(int(branch_is.sum()))

    def branch_map(element, df, bus_cols):
        n = len(df)
        if n == 0 or element not in lookups["branch"]:
            return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
        lo, hi = lookups["branch"][element]
        br = ppc_to_ppci_br[lo:hi]
        nan = np.zeros(n, dtype=bool)
        for col in bus_cols:
            nan |= bus_int_of_net_bus(df[col].values) < 0
        return br, nan & (br < 0)

    bus_pos = {b: i for i, b in enumerate(net.bus.index.values)}

    def bus_int_of_net_bus(buses):
        return np.array([bus_int[bus_pos[b]] for b in buses], dtype=np.int64)

    line_br, line_nan = branch_map("line", net.line, ("from_bus", "to_bus"))
    trafo_br, trafo_nan = branch_map("trafo", net.trafo, ("hv_bus", "lv_bus"))
    line_i_base = np.zeros(len(net.line))
    if len(net.line):
        i_max = (net.line["max_i_ka"].values * net.line["df"].values
                 * net.line["parallel"].values)
        ok = line_br >= 0
        with np.errstate(divide="ignore"):
            line_i_base[ok] = i_base_ka_f[line_br[ok]] / i_max[ok] * 100.0
        if np.any(i_base_ka_f[line_br[ok]] != i_base_ka_t[line_br[ok]]):
            raise UnsupportedElement("a line connects buses of different rated voltage")
    trafo_hv = np.zeros(len(net.trafo))
    trafo_lv = np.zeros(len(net.trafo))
    if len(net.trafo):
        tr = net.trafo
        ok = trafo_br >= 0
        fac = np.sqrt(3) / tr["sn_mva"].values * 100.0 / tr["parallel"].values / tr["df"].values
        trafo_hv[ok] = (i_base_ka_f[trafo_br[ok]] * tr["vn_hv_kv"].values[ok] * fac[ok])
        trafo_lv[ok] = (i_base_ka_t[trafo_br[ok]] * tr["vn_lv_kv"].values[ok] * fac[ok])

    eg_int = to_int(net.ext_grid["bus"].values) if len(net.ext_grid) else np.zeros(0, np.int64)
    if len(net.ext_grid):
        eg_int[~net.ext_grid["in_service"].values.astype(bool)] = -1

    ycsr = ybus.tocsr()
    ycsr.sort_indices()
    i64, f64 = np.int64, np.float64
    return CompiledNet(
        base_mva=base_mva,
        bus_index=_frozen(net.bus.index.values),
        line_index=_frozen(net.line.index.values),
        trafo_index=_frozen(net.trafo.index.values),
        load_index=_frozen(net.load.index.values),
        sgen_index=_frozen(net.sgen.index.values),
        ext_grid_index=_frozen(net.ext_grid.index.values),
        bus_int=_frozen(bus_int, i64),
        energised=_frozen(bus_int >= 0),
        n_int=int(n_int),
        slack_int=_frozen(slack_int, i64),
        v_slack_re=_frozen(v_slack.real, f64),
        v_slack_im=_frozen(v_slack.imag, f64),
        pq_int=_frozen(pq_int, i64),
        pos_of_int=_frozen(pos_of_int, i64),
        c_re=_frozen(c.real, f64),
        c_im=_frozen(c.imag, f64),
        v_nl_re=_frozen(v_nl.real, f64),
        v_nl_im=_frozen(v_nl.imag, f64),
        y_indptr=_frozen(ycsr.indptr, i64),
        y_indices=_frozen(ycsr.indices, i64),
        y_re=_frozen(ycsr.data.real, f64),
        y_im=_frozen(ycsr.data.imag, f64),
        ref_re=_frozen(ref.real, f64),
        ref_im=_frozen(ref.imag, f64),
        ref_deg=_frozen(np.angle(v_all, deg=True), f64),
        l_indptr=_frozen(low.indptr, i64),
        l_indices=_frozen(low.indices, i64),
        l_re=_frozen(low.data.real, f64),
        l_im=_frozen(low.data.imag, f64),
        u_indptr=_frozen(up.indptr, i64),
        u_indices=_frozen(up.indices, i64),
        u_re=_frozen(up.data.real, f64),
        u_im=_frozen(up.data.imag, f64),
        ud_inv_re=_frozen((1.0 / udiag).real, f64),
        ud_inv_im=_frozen((1.0 / udiag).imag, f64),
        load_int=_frozen(load_int, i64),
        load_scale=_frozen(load_scale, f64),
        load_p0=_frozen(load_p0, f64),
        load_q0=_frozen(load_q0, f64),
        sgen_int=_frozen(sgen_int, i64),
        sgen_scale=_frozen(sgen_scale, f64),
        sgen_p0=_frozen(sgen_p0, f64),
        sgen_q0=_frozen(sgen_q0, f64),
        s_const_re=_frozen(s_const.real, f64),
        s_const_im=_frozen(s_const.imag, f64),
        br_f=_frozen(f, i64),
        br_t=_frozen(t, i64),
        yf_ff_re=_frozen(yf_ff.real, f64),
        yf_ff_im=_frozen(yf_ff.imag, f64),
        yf_ft_re=_frozen(yf_ft.real, f64),
        yf_ft_im=_frozen(yf_ft.imag, f64),
        yt_tf_re=_frozen(yt_tf.real, f64),
        yt_tf_im=_frozen(yt_tf.imag, f64),
        yt_tt_re=_frozen(yt_tt.real, f64),
        yt_tt_im=_frozen(yt_tt.imag, f64),
        line_br=_frozen(line_br, i64),
        trafo_br=_frozen(trafo_br, i64),
        line_i_base=_frozen(line_i_base, f64),
        trafo_i_base_hv=_frozen(trafo_hv, f64),
        trafo_i_base_lv=_frozen(trafo_lv, f64),
        line_bus_nan=_frozen(line_nan),
        trafo_bus_nan=_frozen(trafo_nan),
        eg_int=_frozen(eg_int, i64),
        lu_fill=float(lu_fill),
    )
