"""Compile a pandapower network once into the arrays of the unbalanced load flow.

Design decision: exactness by construction, as in :mod:`grids.balanced.compile`. The three
sequence networks are pandapower's own, built the way ``runpp_3ph`` builds them (mode
``pf_3ph``: ``_pd2ppc`` for the positive, negative and zero sequence, the ext_grid's
short-circuit impedance added to the negative- and zero-sequence bus shunts, ``makeYbus`` for
each), on a private copy of the net completed by
:func:`grids.unbalanced.defaults.with_sequence_data`. So the line model (3x3 phase matrices of
a transposed line with its neutral solidly grounded and Kron-reduced, which are diagonal in
the sequence frame: ``Z1`` twice and ``Z0``), the transformer with its vector group and
zero-sequence T model, tap positions, switches, out-of-service and islanded elements are
what ``runpp_3ph`` sees.

The per-unit system is pandapower's ``pf_3ph`` one: phase-to-neutral voltage base
``vn_kv / sqrt(3)``, power base ``sn_mva`` per phase (impedance base ``vn_kv**2 / (3 sn_mva)``).

What this module adds:

* one bus numbering for the three sequences, *positions*: the non-slack buses in a
  fill-reducing order of the whole network with the slack buses last (:func:`_positions`),
  renumbered level by level as the balanced engine does, then the slack buses;
* sparse LU factors without pivoting of the positive-sequence ``Y_pp`` (slack voltages
  fixed) and of the whole zero- and negative-sequence ``Y`` (the ext_grid's impedance is a
  shunt at the slack bus; their voltages are unknowns there);
* the injection of every load, sgen, asymmetric load and sgen per position and phase;
* the branch admittances of every line and transformer in each sequence, with ratings;
* the slack rows of ``Y`` without the ext_grid shunt, for the ext_grid's power (as
  ``runpp_3ph`` computes it).

Supported: ``bus``, ``line``, ``trafo`` (vector groups ``Dyn``, ``YNyn``, ``Yzn``), ``switch``,
``ext_grid``, ``load`` and ``sgen`` (balanced: a third of the power on each phase, as
``runpp_3ph``), ``asymmetric_load``, ``asymmetric_sgen`` (wye, constant power), ``shunt``. Any
in-service row of another element table (``storage`` included: ``runpp_3ph`` ignores it) or a
delta-connected or voltage-dependent load raises :class:`grids.errors.UnsupportedElement`
naming it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from grids.balanced.compile import _level_order
from grids.errors import GridError, UnsupportedElement
from grids.unbalanced.defaults import with_sequence_data

#: Element tables the engine cannot represent when they hold an in-service row.
UNSUPPORTED_TABLES: tuple[str, ...] = (
    "gen", "dcline", "ward", "xward", "impedance", "trafo3w", "tcsc", "svc", "ssc", "vsc",
    "motor", "line_dc", "bus_dc", "source_dc", "b2b_vsc", "storage",
)

#: The three sequences, in the order of every per-sequence tuple here.
SEQUENCES = ("zero", "positive", "negative")

#: ``a = exp(j 120 deg)``; ``V_abc = T V_012`` with ``T = [[1, 1, 1], [1, a^2, a], [1, a, a^2]]``.
A = np.exp(2j * np.pi / 3)
T_ABC = np.array([[1, 1, 1], [1, A * A, A], [1, A, A * A]])
T_012 = np.linalg.inv(T_ABC)


def _frozen(a, dtype=None) -> np.ndarray:
    out = np.ascontiguousarray(a, dtype=dtype).copy()
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class LUFactor:
    """``Y = L D U1`` of one sequence in position order: strict lower ``L`` and strict upper
    ``U`` (CSC, the factors of ``scipy.sparse.linalg.splu`` without pivoting) and ``diag(U)``."""

    lower: sp.csc_matrix
    upper: sp.csc_matrix
    udiag: np.ndarray


@dataclass(frozen=True)
class CompiledNet3:
    """A pandapower network reduced to what the unbalanced kernels need.

    Buses are numbered by *position* (see the module docstring): ``0 .. m-1`` the non-slack
    buses, ``m .. n-1`` the slack buses. Powers are in per unit of ``base_mva`` per phase,
    voltages of the phase-to-neutral base. Per-sequence tuples are ``(zero, positive,
    negative)``. Arrays are read-only; the sparse matrices must not be modified.

    Attributes
    ----------
    base_mva
        Power base [MVA] (``net.sn_mva``).
    bus_index, line_index, trafo_index, ext_grid_index, load_index, sgen_index, asym_index,
    asym_sgen_index
        The net's row labels of each table.
    n_pos, n_pq
        Positions ``n`` and non-slack positions ``m``.
    int_of_pos
        pandapower's internal (``ppci``) bus of each position.
    bus_pos
        Position of each ``net.bus`` row, -1: not energised.
    energised
        ``bus_pos >= 0``.
    v_slack
        Positive-sequence voltage of each slack bus [p.u.] (fixed).
    y
        ``Y`` of each sequence, CSR in position order (the zero and negative sequence with
        the ext_grid shunt).
    y_res_slack
        Slack rows of ``Y`` without the ext_grid shunt (CSR, position columns), per sequence:
        the ext_grid's power is ``V conj(Y_res V)`` there, as ``runpp_3ph`` reports it.
    lu
        :class:`LUFactor` of the zero-sequence ``Y`` (n x n), the positive-sequence ``Y_pp``
        (m x m), the negative-sequence ``Y`` (n x n).
    c1
        ``-Y_ps V_slack``: the current the slack voltages drive into each non-slack bus in
        the positive sequence. [m]
    v1_nl
        Positive-sequence no-load voltage of the non-slack buses (the starting point). [m]
    ref_deg
        Positive-sequence no-load voltage angle of each position [degree].
    load_pos, load_factor
        Position (-1: ignored) and the factor of each load: its per-phase injection is
        ``factor * (p + j q)`` on each phase (``-scaling / 3 / base_mva``). ``sgen_*``
        likewise (``+scaling / 3 / base_mva``).
    asym_pos, asym_factor
        Position and factor (``-scaling / base_mva``) of each asymmetric load (per phase).
    s_const
        Constant injection per position and phase [p.u.] ``[n, 3]``: the asymmetric sgens
        at the net's values.
    br_f, br_t
        From / to position of every internal branch.
    yf_ff, yf_ft, yt_tf, yt_tt
        Per sequence: the branch entries of ``Yf`` and ``Yt`` (``yf_ff`` multiplies
        ``V[f]``...). ``[n_br]`` each.
    line_br, trafo_br
        Internal branch of each line / trafo, -1: out of service (result 0).
    line_bus_nan, trafo_bus_nan
        The result is NaN (a bus of the branch is not energised), as pandapower reports it.
    line_i_base_ka
        kA per p.u. of a line's current (``base_mva / (vn_kv / sqrt(3))``).
    line_i_max_ka
        ``max_i_ka * df * parallel`` of each line.
    trafo_factor_hv, trafo_factor_lv
        Loading [%] per p.u. of a side's phase current, as ``runpp_3ph`` computes it:
        ``i_base * vn_kv * sqrt(3) / sn_mva * 100 / parallel / df``.
    br_other
        Internal branches of neither a line nor a trafo (they count in the losses).
    eg_slack
        Slack number (0 .. n_slack-1) of each ext_grid, -1: none.
    """

    base_mva: float
    bus_index: np.ndarray
    line_index: np.ndarray
    trafo_index: np.ndarray
    ext_grid_index: np.ndarray
    load_index: np.ndarray
    sgen_index: np.ndarray
    asym_index: np.ndarray
    asym_sgen_index: np.ndarray
    n_pos: int
    n_pq: int
    int_of_pos: np.ndarray
    bus_pos: np.ndarray
    energised: np.ndarray
    v_slack: np.ndarray
    y: tuple
    y_res_slack: tuple
    lu: tuple
    c1: np.ndarray
    v1_nl: np.ndarray
    ref_deg: np.ndarray
    load_pos: np.ndarray
    load_factor: np.ndarray
    sgen_pos: np.ndarray
    sgen_factor: np.ndarray
    asym_pos: np.ndarray
    asym_factor: np.ndarray
    load_p0: np.ndarray
    load_q0: np.ndarray
    sgen_p0: np.ndarray
    sgen_q0: np.ndarray
    asym_p0: np.ndarray
    asym_q0: np.ndarray
    s_const: np.ndarray
    br_f: np.ndarray
    br_t: np.ndarray
    yf_ff: tuple
    yf_ft: tuple
    yt_tf: tuple
    yt_tt: tuple
    line_br: np.ndarray
    trafo_br: np.ndarray
    line_bus_nan: np.ndarray
    trafo_bus_nan: np.ndarray
    line_i_base_ka: np.ndarray
    line_i_max_ka: np.ndarray
    trafo_factor_hv: np.ndarray
    trafo_factor_lv: np.ndarray
    br_other: np.ndarray
    eg_slack: np.ndarray

    @property
    def n_bus(self) -> int:
        """Rows of ``net.bus``."""
        return len(self.bus_index)

    @property
    def n_slack(self) -> int:
        """Slack positions."""
        return self.n_pos - self.n_pq


def check_supported(net) -> None:
    """Raise :class:`UnsupportedElement` naming every element the engine cannot model.

    Parameters
    ----------
    net
        pandapower network (not modified).
    """
    problems: list[str] = []
    for table in UNSUPPORTED_TABLES:
        df = net.get(table) if hasattr(net, "get") else None
        if df is None or not hasattr(df, "empty") or df.empty:
            continue
        active = df.index[df["in_service"].astype(bool)] if "in_service" in df else df.index
        if len(active):
            problems.append(f"{table} rows {list(active)[:10]} (in service)")
    for table in ("load", "asymmetric_load", "sgen", "asymmetric_sgen"):
        df = net.get(table)
        if df is None or not len(df):
            continue
        on = df["in_service"].astype(bool)
        if "type" in df:
            kind = df["type"].astype(object).where(df["type"].notna(), "").astype(str)
            bad = df.index[on & (kind.str.lower() == "delta")]
            if len(bad):
                problems.append(f"{table} rows {list(bad)[:10]} are delta-connected (type); "
                                "only wye (phase-neutral) connections are supported")
        zip_cols = [c for c in ("const_z_p_percent", "const_i_p_percent",
                                "const_z_q_percent", "const_i_q_percent",
                                "const_z_percent", "const_i_percent") if c in df]
        if zip_cols:
            bad = df.index[on & (df[zip_cols].fillna(0).abs() > 0).any(axis=1)]
            if len(bad):
                problems.append(f"{table} rows {list(bad)[:10]} have constant-impedance/"
                                "current (ZIP) parts; only constant power is supported")
    if len(net.ext_grid):
        eg = net.ext_grid[net.ext_grid["in_service"].astype(bool)]
        dup = eg["bus"][eg["bus"].duplicated(keep=False)]
        if len(dup):
            problems.append(f"ext_grid rows {list(dup.index)} share bus {sorted(set(dup))}")
    if getattr(net, "controller", None) is not None and len(net.controller):
        if net.controller["in_service"].astype(bool).any():
            problems.append("controller rows (in service): control loops are not run")
    if problems:
        raise UnsupportedElement("network not supported by the unbalanced load flow: "
                                 + "; ".join(problems))


def _sequence_networks(net):
    """pandapower's three sequence networks of ``net`` (a private copy), as ``runpp_3ph``
    builds them: ``(ppci0, ppci1, ppci2)``, the bus lookup of each, and the ext_grid shunt
    ``runpp_3ph`` removes again for the ext_grid's results."""
    from pandapower.auxiliary import _add_pf_options, _add_ppc_options
    from pandapower.build_bus import _add_ext_grid_sc_impedance
    from pandapower.pd2ppc import _pd2ppc

    net._options = {}
    _add_ppc_options(net, calculate_voltage_angles=True, trafo_model="t",
                     check_connectivity=True, mode="pf_3ph", switch_rx_ratio=2.0,
                     init_vm_pu="flat", init_va_degree="flat", enforce_p_lims=False,
                     enforce_q_lims=False, recycle=None, voltage_depend_loads=False,
                     neglect_open_switch_branches=False)
    _add_pf_options(net, tolerance_mva=1e-8, trafo_loading="current", numba=True, ac=True,
                    algorithm="nr", max_iteration=30, only_v_results=False, use_umfpack=True,
                    permc_spec=None, lightsim2grid=False, v_debug=False)
    if "user_pf_options" in net and len(net.user_pf_options):
        for key, wanted in (("trafo_loading", "current"), ("trafo_model", "t")):
            got = net.user_pf_options.get(key, wanted)
            if got != wanted:
                raise UnsupportedElement(f"pandapower option {key}={got!r} "
                                         f"(net.user_pf_options) is not supported; need "
                                         f"{wanted!r}")
    lookups = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, ppci1 = _pd2ppc(net, 1)
        lookups.append(net._pd2ppc_lookups["bus"].copy())
        _, ppci2 = _pd2ppc(net, 2)
        lookups.append(net._pd2ppc_lookups["bus"].copy())
        eg_shunt = _add_ext_grid_sc_impedance(net, ppci2)
        _, ppci0 = _pd2ppc(net, 0)
        lookups.append(net._pd2ppc_lookups["bus"].copy())
    return (ppci0, ppci1, ppci2), lookups, eg_shunt


def _factor(mat: sp.csc_matrix) -> LUFactor:
    """LU without pivoting in the given order (raises GridError if singular or pivoting)."""
    n = mat.shape[0]
    if n == 0:
        z = sp.csc_matrix((0, 0), dtype=complex)
        return LUFactor(z, z, np.zeros(0, complex))
    try:
        lu = splu(mat.tocsc(), permc_spec="NATURAL", diag_pivot_thresh=0.0,
                  options={"SymmetricMode": True})
    except RuntimeError as exc:
        raise GridError(f"a sequence admittance matrix is singular: {exc}") from exc
    ident = np.arange(n)
    if not (np.array_equal(lu.perm_r, ident) and np.array_equal(lu.perm_c, ident)):
        raise GridError("the LU factorisation of a sequence admittance matrix needed "
                        "pivoting; the engine requires diagonal pivots")
    udiag = lu.U.diagonal()
    if np.any(udiag == 0) or not np.all(np.isfinite(udiag)):
        raise GridError("a sequence admittance matrix is singular (zero pivot)")
    low = sp.tril(lu.L, k=-1).tocsc()
    up = sp.triu(lu.U, k=1).tocsc()
    low.sort_indices()
    up.sort_indices()
    return LUFactor(low, up, _frozen(udiag, complex))


def _fill(mat: sp.csc_matrix, order: np.ndarray) -> int:
    """Entries of ``L`` when ``mat`` is factorised in ``order`` without pivoting."""
    p = mat[order][:, order].tocsc()
    try:
        lu = splu(p, permc_spec="NATURAL", diag_pivot_thresh=0.0,
                  options={"SymmetricMode": True})
    except RuntimeError:
        return np.iinfo(np.int64).max
    return int(lu.L.nnz)


def _positions(y1: sp.csc_matrix, y2: sp.csc_matrix, slack_int: np.ndarray,
               n_int: int) -> np.ndarray:
    """Internal bus of each position: the non-slack buses in a fill-reducing order of the
    whole network with the slack buses last, renumbered level by level.

    The zero- and negative-sequence matrices are factorised over all buses with the slack
    buses last, so the order must keep their fill low too: a minimum-degree order of the
    positive-sequence ``Y_pp`` alone may eliminate the LV busbar early, which fills the
    slack's row (74 extra entries on the IEEE European LV feeder). Three candidates are
    factorised and the one with the least fill is taken: minimum degree of ``Y_pp``,
    minimum degree of the whole ``Y`` with the slack buses moved last, and the buses by
    decreasing distance (in branches) from the slack (no fill on a radial network).
    """
    pq_mask = np.ones(n_int, dtype=bool)
    pq_mask[slack_int] = False
    pq = np.flatnonzero(pq_mask).astype(np.int64)
    if len(pq) == 0:
        return slack_int.astype(np.int64)
    candidates = []
    for mat, sub in ((y1, pq), (y2, np.arange(n_int))):
        try:
            lu = splu(mat[sub][:, sub].tocsc(), permc_spec="MMD_AT_PLUS_A",
                      diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        except RuntimeError:
            continue
        order = sub[np.argsort(lu.perm_c)]
        candidates.append(order[pq_mask[order]])
    from scipy.sparse.csgraph import shortest_path
    graph = (abs(y2) > 0).astype(np.int8)
    dist = shortest_path(graph, unweighted=True, indices=slack_int).min(axis=0)
    if np.all(np.isfinite(dist[pq])):
        candidates.append(pq[np.lexsort((pq, -dist[pq]))])
    if not candidates:
        raise GridError("the positive-sequence admittance matrix between non-slack buses is "
                        "singular")
    fills = [_fill(y2, np.concatenate([o, slack_int])) for o in candidates]
    pq = candidates[int(np.argmin(fills))]
    full = np.concatenate([pq, slack_int])
    lu = splu(y2[full][:, full].tocsc(), permc_spec="NATURAL", diag_pivot_thresh=0.0,
              options={"SymmetricMode": True})
    level = _level_order(lu.L)
    level = level[level < len(pq)]  # the slack buses stay last
    return np.concatenate([pq[level], slack_int]).astype(np.int64)


def compile_net(net) -> CompiledNet3:
    """Compile ``net`` for the unbalanced load flow (the net itself is not modified).

    Parameters
    ----------
    net
        pandapower network; missing zero-sequence data are completed with the documented
        defaults of :mod:`grids.unbalanced.defaults` (with a warning).

    Returns
    -------
    CompiledNet3

    Raises
    ------
    UnsupportedElement
        An element the engine cannot represent (named).
    GridError
        pandapower cannot convert the net, or a sequence admittance matrix is singular.
    """
    from pandapower.pf.ppci_variables import _get_pf_variables_from_ppci
    from pandapower.pypower.idx_brch import F_BUS, T_BUS
    from pandapower.pypower.idx_bus import BASE_KV, BS, BUS_TYPE, GS, REF
    from pandapower.pypower.makeYbus import makeYbus

    check_supported(net)
    work = with_sequence_data(net)
    try:
        ppcis, lookups, eg_shunt = _sequence_networks(work)
    except (UnsupportedElement, GridError):
        raise
    except Exception as exc:  # pandapower raises many types; name the cause
        raise GridError(f"pandapower could not convert the network for a three-phase "
                        f"load flow: {exc!r}") from exc
    ppci0, ppci1, ppci2 = ppcis
    n_int = ppci1["bus"].shape[0]
    if n_int == 0:
        raise GridError("no energised bus: does the network have an in-service ext_grid?")
    for k, p in ((0, ppci0), (2, ppci2)):
        if (p["bus"].shape[0] != n_int or not np.array_equal(lookups[0], lookups[1])
                or not np.array_equal(lookups[0], lookups[2])
                or not np.array_equal(p["bus"][:, BASE_KV], ppci1["bus"][:, BASE_KV])):
            raise GridError(f"pandapower's sequence networks 1 and {k} number the buses "
                            "differently")
        if len(p["branch"]) != len(ppci1["branch"]) or not np.array_equal(
                p["internal"]["branch_is"], ppci1["internal"]["branch_is"]):
            raise GridError(f"pandapower's sequence networks 1 and {k} have different "
                            "branches")
    base_mva = float(ppci1["baseMVA"])
    bus_lookup = lookups[0]
    mats = [makeYbus(p["baseMVA"], p["bus"], p["branch"]) for p in (ppci0, ppci1, ppci2)]
    ybus = [m[0].tocsc() for m in mats]
    yf = [m[1].tocsr() for m in mats]
    yt = [m[2].tocsr() for m in mats]
    # the ext_grid's results: Y0 and Y2 with the ext_grid shunt taken off again (runpp_3ph
    # takes the negative-sequence shunt off both)
    ref_mask = ppci1["bus"][:, BUS_TYPE] == REF
    y_res = []
    for k, p in ((0, ppci0), (2, ppci2)):
        bus = p["bus"].copy()
        if eg_shunt is not None:
            bus[ref_mask, GS] -= eg_shunt[0]
            bus[ref_mask, BS] -= eg_shunt[1]
        y_res.append((k, makeYbus(p["baseMVA"], bus, p["branch"])[0].tocsc()))
    y_res_by_seq = {0: y_res[0][1], 1: ybus[1], 2: y_res[1][1]}

    v_init = _get_pf_variables_from_ppci(ppci1)[13]
    slack_int = np.flatnonzero(ref_mask).astype(np.int64)
    if len(slack_int) == 0:
        raise GridError("no in-service ext_grid feeds an energised bus")
    int_of_pos = _positions(ybus[1], ybus[2], slack_int, n_int)
    n = len(int_of_pos)
    m = n - len(slack_int)
    pos_of_int = np.full(n_int, -1, dtype=np.int64)
    pos_of_int[int_of_pos] = np.arange(n)
    v_slack = v_init[slack_int]

    def perm(mat):
        return mat.tocsr()[int_of_pos][:, int_of_pos].tocsc()

    y_pos = [perm(y) for y in ybus]
    y1 = y_pos[1]
    c1 = -(y1[:m][:, m:] @ v_slack) if m else np.zeros(0, complex)
    lu = (_factor(y_pos[0]), _factor(y1[:m][:, :m].tocsc()), _factor(y_pos[2]))
    if m:
        lu1 = splu(y1[:m][:, :m].tocsc(), permc_spec="NATURAL", diag_pivot_thresh=0.0,
                   options={"SymmetricMode": True})
        v1_nl = lu1.solve(c1)
    else:
        v1_nl = np.zeros(0, complex)
    v_all = np.concatenate([v1_nl, v_slack])
    y_res_slack = tuple(y_res_by_seq[k].tocsr()[int_of_pos[m:]][:, int_of_pos].tocsr()
                        for k in range(3))
    for mat in y_res_slack:
        mat.sort_indices()

    # ------------------------------------------------------------------ injections
    bus_int = np.full(len(net.bus), -1, dtype=np.int64)
    bi = bus_lookup[net.bus.index.to_numpy(np.int64)]
    ok = (bi >= 0) & (bi < n_int)
    bus_int[ok] = bi[ok]
    bus_int[~net.bus["in_service"].to_numpy(bool)] = -1
    bus_pos = np.where(bus_int >= 0, pos_of_int[np.maximum(bus_int, 0)], -1)
    pos_of_bus_label = dict(zip(net.bus.index.to_numpy(), bus_pos, strict=True))

    def element(df):
        if df is None or len(df) == 0:
            z = np.zeros(0)
            return np.zeros(0, dtype=np.int64), z
        pos = np.array([pos_of_bus_label.get(b, -1) for b in df["bus"].to_numpy()],
                       dtype=np.int64)
        pos[~df["in_service"].to_numpy(bool)] = -1
        scale = df["scaling"].to_numpy(float) if "scaling" in df else np.ones(len(df))
        return pos, scale

    load_pos, load_scale = element(net.load)
    sgen_pos, sgen_scale = element(net.sgen)
    asym = net.get("asymmetric_load")
    asym = asym if asym is not None else net.load.iloc[0:0]
    asym_pos, asym_scale = element(asym)
    asgen = net.get("asymmetric_sgen")
    s_const = np.zeros((n, 3), dtype=complex)
    if asgen is not None and len(asgen):
        ag_pos, ag_scale = element(asgen)
        for ph, c in enumerate("abc"):
            s = (asgen[f"p_{c}_mw"].to_numpy(float) + 1j * asgen[f"q_{c}_mvar"].to_numpy(float))
            ok = ag_pos >= 0
            np.add.at(s_const[:, ph], ag_pos[ok], s[ok] * ag_scale[ok] / base_mva)

    def cols(df, names):
        if len(df) == 0:
            return np.zeros((0, len(names)))
        return np.column_stack([df[c].to_numpy(float) for c in names])

    asym_p0 = cols(asym, ["p_a_mw", "p_b_mw", "p_c_mw"])
    asym_q0 = cols(asym, ["q_a_mvar", "q_b_mvar", "q_c_mvar"])
    load_p0 = net.load["p_mw"].to_numpy(float)
    load_q0 = net.load["q_mvar"].to_numpy(float)
    sgen_p0 = net.sgen["p_mw"].to_numpy(float)
    sgen_q0 = net.sgen["q_mvar"].to_numpy(float)
    load_factor = -load_scale / 3.0 / base_mva
    sgen_factor = sgen_scale / 3.0 / base_mva
    asym_factor = -asym_scale / base_mva
    _check_injections(work, ppci1, n, pos_of_int,
                      ((load_pos, load_factor, load_p0, load_q0),
                       (sgen_pos, sgen_factor, sgen_p0, sgen_q0),
                       (asym_pos, asym_factor, asym_p0, asym_q0)), s_const)

    # ------------------------------------------------------------------ branches
    f_int = ppci1["branch"][:, F_BUS].real.astype(np.int64)
    t_int = ppci1["branch"][:, T_BUS].real.astype(np.int64)
    nbr = len(f_int)
    rows = np.arange(nbr)

    def entry(mat, c):
        return np.asarray(mat[rows, c]).ravel().astype(complex) if nbr else np.zeros(0, complex)

    yf_ff = tuple(entry(yf[k], f_int) for k in range(3))
    yf_ft = tuple(entry(yf[k], t_int) for k in range(3))
    yt_tf = tuple(entry(yt[k], f_int) for k in range(3))
    yt_tt = tuple(entry(yt[k], t_int) for k in range(3))
    base_kv = ppci1["bus"][:, BASE_KV]
    i_base_f = base_mva / (base_kv[f_int] / np.sqrt(3)) if nbr else np.zeros(0)
    i_base_t = base_mva / (base_kv[t_int] / np.sqrt(3)) if nbr else np.zeros(0)
    branch_is = np.asarray(ppci1["internal"]["branch_is"], dtype=bool)
    ppc_to_ppci = np.full(len(branch_is), -1, dtype=np.int64)
    ppc_to_ppci[branch_is] = np.arange(int(branch_is.sum()))
    br_lookup = work._pd2ppc_lookups["branch"]

    def branch_map(elm, df, bus_cols):
        k = len(df)
        if k == 0 or elm not in br_lookup:
            return np.full(k, -1, dtype=np.int64), np.zeros(k, dtype=bool)
        lo, hi = br_lookup[elm]
        br = ppc_to_ppci[lo:hi]
        nan = np.zeros(k, dtype=bool)
        for col in bus_cols:
            nan |= np.array([pos_of_bus_label.get(b, -1) < 0 for b in df[col].to_numpy()])
        return br, nan & (br < 0)

    line_br, line_nan = branch_map("line", net.line, ("from_bus", "to_bus"))
    trafo_br, trafo_nan = branch_map("trafo", net.trafo, ("hv_bus", "lv_bus"))
    line_i_base = np.zeros(len(net.line))
    line_i_max = np.ones(len(net.line))
    if len(net.line):
        ok = line_br >= 0
        line_i_base[ok] = i_base_f[line_br[ok]]
        if np.any(i_base_f[line_br[ok]] != i_base_t[line_br[ok]]):
            raise UnsupportedElement("a line connects buses of different rated voltage")
        line_i_max = (net.line["max_i_ka"].to_numpy(float) * net.line["df"].to_numpy(float)
                      * net.line["parallel"].to_numpy(float))
    fac_hv = np.zeros(len(net.trafo))
    fac_lv = np.zeros(len(net.trafo))
    if len(net.trafo):
        tr = net.trafo
        ok = trafo_br >= 0
        fac = (np.sqrt(3) / tr["sn_mva"].to_numpy(float) * 100.0
               / tr["parallel"].to_numpy(float) / tr["df"].to_numpy(float))
        fac_hv[ok] = i_base_f[trafo_br[ok]] * tr["vn_hv_kv"].to_numpy(float)[ok] * fac[ok]
        fac_lv[ok] = i_base_t[trafo_br[ok]] * tr["vn_lv_kv"].to_numpy(float)[ok] * fac[ok]
    used = np.zeros(nbr, dtype=bool)
    used[line_br[line_br >= 0]] = True
    used[trafo_br[trafo_br >= 0]] = True
    eg_slack = np.full(len(net.ext_grid), -1, dtype=np.int64)
    for j, (b, on) in enumerate(zip(net.ext_grid["bus"], net.ext_grid["in_service"],
                                    strict=True)):
        p = pos_of_bus_label.get(b, -1)
        if on and p >= m:
            eg_slack[j] = p - m

    i64 = np.int64
    return CompiledNet3(
        base_mva=base_mva,
        bus_index=_frozen(net.bus.index.to_numpy()),
        line_index=_frozen(net.line.index.to_numpy()),
        trafo_index=_frozen(net.trafo.index.to_numpy()),
        ext_grid_index=_frozen(net.ext_grid.index.to_numpy()),
        load_index=_frozen(net.load.index.to_numpy()),
        sgen_index=_frozen(net.sgen.index.to_numpy()),
        asym_index=_frozen(asym.index.to_numpy()),
        asym_sgen_index=_frozen(asgen.index.to_numpy() if asgen is not None
                                else np.zeros(0, i64)),
        n_pos=int(n), n_pq=int(m),
        int_of_pos=_frozen(int_of_pos, i64),
        bus_pos=_frozen(bus_pos, i64),
        energised=_frozen(bus_pos >= 0),
        v_slack=_frozen(v_slack, complex),
        y=tuple(y.tocsr() for y in y_pos),
        y_res_slack=y_res_slack,
        lu=lu,
        c1=_frozen(c1, complex),
        v1_nl=_frozen(v1_nl, complex),
        ref_deg=_frozen(np.angle(v_all, deg=True), float),
        load_pos=_frozen(load_pos, i64), load_factor=_frozen(load_factor, float),
        sgen_pos=_frozen(sgen_pos, i64), sgen_factor=_frozen(sgen_factor, float),
        asym_pos=_frozen(asym_pos, i64), asym_factor=_frozen(asym_factor, float),
        load_p0=_frozen(load_p0, float), load_q0=_frozen(load_q0, float),
        sgen_p0=_frozen(sgen_p0, float), sgen_q0=_frozen(sgen_q0, float),
        asym_p0=_frozen(asym_p0, float), asym_q0=_frozen(asym_q0, float),
        s_const=_frozen(s_const, complex),
        br_f=_frozen(pos_of_int[f_int], i64), br_t=_frozen(pos_of_int[t_int], i64),
        yf_ff=tuple(_frozen(a) for a in yf_ff), yf_ft=tuple(_frozen(a) for a in yf_ft),
        yt_tf=tuple(_frozen(a) for a in yt_tf), yt_tt=tuple(_frozen(a) for a in yt_tt),
        line_br=_frozen(line_br, i64), trafo_br=_frozen(trafo_br, i64),
        line_bus_nan=_frozen(line_nan), trafo_bus_nan=_frozen(trafo_nan),
        line_i_base_ka=_frozen(line_i_base, float), line_i_max_ka=_frozen(line_i_max, float),
        trafo_factor_hv=_frozen(fac_hv, float), trafo_factor_lv=_frozen(fac_lv, float),
        br_other=_frozen(np.flatnonzero(~used), i64),
        eg_slack=_frozen(eg_slack, i64),
    )


def _s_abc(n, s_const, maps) -> np.ndarray:
    """Injection per position and phase [p.u.] ``[n, 3]`` of balanced ``(pos, factor, p, q)``
    maps (a third on each phase) and one asymmetric map (p and q ``[n_el, 3]``)."""
    s = np.zeros((n, 3), dtype=complex) + s_const
    for pos, fac, p, q in maps:
        ok = pos >= 0
        for ph in range(3):
            pp = p[ok] if p.ndim == 1 else p[ok, ph]
            qq = q[ok] if q.ndim == 1 else q[ok, ph]
            np.add.at(s[:, ph], pos[ok], fac[ok] * (pp + 1j * qq))
    return s


def s_abc_at_net_values(c: CompiledNet3) -> np.ndarray:
    """Injection per position and phase [p.u.] ``[n, 3]`` at the net's values."""
    return _s_abc(c.n_pos, c.s_const, ((c.load_pos, c.load_factor, c.load_p0, c.load_q0),
                                       (c.sgen_pos, c.sgen_factor, c.sgen_p0, c.sgen_q0),
                                       (c.asym_pos, c.asym_factor, c.asym_p0, c.asym_q0)))


def _check_injections(work, ppci1, n, pos_of_int, maps, s_const) -> None:
    """Our per-phase injections at the net's values equal ``runpp_3ph``'s own mapping."""
    from pandapower.pf.runpp_3ph import _load_mapping

    base = float(ppci1["baseMVA"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s_del, s_wye = _load_mapping(work, ppci1)
    s_pp = np.zeros((n, 3), dtype=complex)
    s_pp[pos_of_int[np.arange(ppci1["bus"].shape[0])]] = (-s_wye / base).T
    s_ours = _s_abc(n, s_const, maps)
    bad = np.argwhere(np.abs(s_ours - s_pp) > 1e-9 * (1 + np.abs(s_pp)))
    if len(bad) or np.abs(s_del).max(initial=0.0) > 0:
        raise UnsupportedElement(
            f"pandapower injects power at positions {bad[:10, 0].tolist()} that the engine "
            "does not model (a delta connection or another element type?)")
