"""Pack a :class:`grids.unbalanced.compile.CompiledNet3` into the six arrays the kernels take.

As in :mod:`grids.balanced.netpack`: every per-network array is a segment of one of three
packed arrays (int64, float64, complex128) with an offsets array; the segment numbers are the
``I_*``, ``F_*`` and ``C_*`` constants of :mod:`grids.unbalanced.kernels`.

The three sequences share one sparsity pattern: the union of the patterns of their factors
(the positive-sequence factors, ``m x m``, embedded in ``n x n``), each sequence with its own
values on it (zero where its factor has no entry; on radial grids the patterns are equal).
The kernels then run one loop over the pattern and update the three sequences in its body.
The diagonal of ``U`` is moved off the dependency chains as in the balanced engine: the
kernels hold ``D^-1 L D`` and ``D^-1 U`` (``D = diag(U)``), and the right-hand sides
``D^-1 b``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from grids.unbalanced import kernels as k
from grids.unbalanced.compile import CompiledNet3

#: Phase code of a column that is split equally over the three phases (a balanced element).
SPLIT = 3


class PackedNet(NamedTuple):
    """The network as the kernels take it: three packed arrays and their offsets."""

    ints: np.ndarray
    int_offsets: np.ndarray
    floats: np.ndarray
    float_offsets: np.ndarray
    cplx: np.ndarray
    cplx_offsets: np.ndarray


class ColumnMap(NamedTuple):
    """Where the columns of one kind of input inject: position (-1: ignored), phase (0, 1,
    2 or :data:`SPLIT`) and factor (per-unit injection per MW of the column, sign and
    scaling included, a third for a split column)."""

    pos: np.ndarray
    phase: np.ndarray
    factor: np.ndarray


def _pack(segments: list, n_segments: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    if len(segments) != n_segments:
        raise AssertionError(f"{len(segments)} segments, the kernels expect {n_segments}")
    arrays = [np.ascontiguousarray(s, dtype=dtype).ravel() for s in segments]
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(a) for a in arrays])
    packed = np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)
    for a in (packed, offsets):
        a.setflags(write=False)
    return packed, offsets


def balanced_map(pos: np.ndarray, factor: np.ndarray) -> ColumnMap:
    """Columns of balanced elements (load, sgen): a third on each phase."""
    return ColumnMap(np.asarray(pos, np.int64), np.full(len(pos), SPLIT, np.int64),
                     np.asarray(factor, float))


def asym_map(pos: np.ndarray, factor: np.ndarray) -> ColumnMap:
    """Columns of asymmetric elements, ``[n_el, 3]`` flattened (row-major: a, b, c)."""
    return ColumnMap(np.repeat(np.asarray(pos, np.int64), 3),
                     np.tile(np.arange(3, dtype=np.int64), len(pos)),
                     np.repeat(np.asarray(factor, float), 3))


def pack_network(c: CompiledNet3, maps: tuple[ColumnMap, ...],
                 asym_masked_factor: np.ndarray) -> PackedNet:
    """Build the packed network of ``c`` for :mod:`grids.unbalanced.kernels`.

    Parameters
    ----------
    c
        The compiled network.
    maps
        The :class:`ColumnMap` of the four inputs: loads, sgens, asymmetric loads,
        connections.
    asym_masked_factor
        The factors of the asymmetric-load columns when connections are given (zero for
        the rows the connections drive).
    """
    n, m = c.n_pos, c.n_pq

    def embed(mat, size):
        mat = sp.csr_matrix(mat)
        if size == n:
            return mat
        out = sp.lil_matrix((n, n), dtype=complex)
        out[:size, :size] = mat
        return sp.csr_matrix(out)

    lows, ups, udis = [], [], []
    for lu, size in zip(c.lu, (n, m, n), strict=True):
        udi = np.zeros(n, complex)
        udi[:size] = 1.0 / lu.udiag
        d = sp.diags(udi[:size])
        dinv = sp.diags(lu.udiag)
        lows.append(embed(d @ lu.lower @ dinv, size))
        ups.append(embed(d @ lu.upper, size))
        udis.append(udi)
    l_ptr, l_idx, l_vals = _common_pattern(lows, n, n)
    u_ptr, u_idx, u_vals = _common_pattern(ups, n, n)

    has_inj = np.zeros(n, dtype=np.int64)
    for mp in maps:
        has_inj[mp.pos[mp.pos >= 0]] = 1
    has_inj[np.abs(c.s_const).sum(axis=1) > 0] = 1
    c1 = np.zeros(n, complex)
    c1[:m] = udis[1][:m] * c.c1
    v1_start = np.concatenate([c.v1_nl, c.v_slack])
    ref_rad = np.deg2rad(c.ref_deg)
    ys = [sp.csr_matrix(y) for y in c.y_res_slack]
    ys_ptr, ys_idx, ys_vals = _common_pattern(ys, c.n_slack, n)

    ints = [
        has_inj,                                   # I_HAS_INJ
        l_ptr, l_idx, u_ptr, u_idx,                # I_L_PTR, I_L_IDX, I_U_PTR, I_U_IDX
        maps[0].pos, maps[0].phase,                # I_MAP_POS0, I_MAP_PH0 (loads)
        maps[1].pos, maps[1].phase,                # (sgens)
        maps[2].pos, maps[2].phase,                # (asymmetric loads)
        maps[3].pos, maps[3].phase,                # (connections)
        c.br_f, c.br_t,                            # I_BR_F, I_BR_T
        c.bus_pos,                                 # I_BUS_POS
        c.line_br, c.line_bus_nan,                 # I_LINE_BR, I_LINE_NAN
        c.trafo_br, c.trafo_bus_nan,               # I_TRAFO_BR, I_TRAFO_NAN
        c.eg_slack, c.br_other,                    # I_EG_SLACK, I_BR_OTHER
        ys_ptr, ys_idx,                            # I_YS_PTR, I_YS_IDX
        [m],                                       # I_M
    ]
    floats = [
        maps[0].factor, maps[1].factor, maps[2].factor, maps[3].factor,  # F_MAP_FAC0..3
        asym_masked_factor,                        # F_MAP_FAC2_MASKED
        ref_rad,                                   # F_REF_RAD
        c.line_i_base_ka,                          # F_LINE_IBASE
        c.trafo_factor_hv, c.trafo_factor_lv,      # F_TRAFO_HV, F_TRAFO_LV
        [c.base_mva],                              # F_BASE_MVA
    ]
    cplx = [
        l_vals[0], l_vals[1], l_vals[2],           # C_L0, C_L1, C_L2
        u_vals[0], u_vals[1], u_vals[2],           # C_U0, C_U1, C_U2
        udis[0] / 3, udis[1] / 3, udis[2] / 3,     # C_UDI0, C_UDI1, C_UDI2 (with the 1/3
        #                                            of the phase-to-sequence transform)
        c1,                                        # C_C1
        v1_start,                                  # C_V1
        c.s_const.ravel(),                         # C_SCONST [n*3]
        np.exp(1j * ref_rad),                      # C_REF
        ys_vals[0], ys_vals[1], ys_vals[2],        # C_YS0..2
        c.yf_ff[0], c.yf_ff[1], c.yf_ff[2],        # C_YFF0..2
        c.yf_ft[0], c.yf_ft[1], c.yf_ft[2],        # C_YFT0..2
        c.yt_tf[0], c.yt_tf[1], c.yt_tf[2],        # C_YTF0..2
        c.yt_tt[0], c.yt_tt[1], c.yt_tt[2],        # C_YTT0..2
    ]
    return PackedNet(*_pack(ints, k.N_INT_SEGMENTS, np.int64),
                     *_pack(floats, k.N_FLOAT_SEGMENTS, np.float64),
                     *_pack(cplx, k.N_CPLX_SEGMENTS, np.complex128))


def _common_pattern(mats: list[sp.csr_matrix], n_rows: int, n_cols: int):
    """Union pattern (CSR) of sparse matrices of one shape and the values of each on it."""
    union = sp.csr_matrix((n_rows, n_cols), dtype=float)
    for mat in mats:
        union = union + sp.csr_matrix(abs(mat) > 0, dtype=float)
    union = sp.csr_matrix(union)
    union.sort_indices()
    rows = np.repeat(np.arange(n_rows), np.diff(union.indptr))
    cols = union.indices
    values = [np.asarray(sp.csr_matrix(mat)[rows, cols]).ravel().astype(complex) if len(rows)
              else np.zeros(0, complex) for mat in mats]
    return union.indptr, union.indices, values
