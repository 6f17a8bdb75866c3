"""Pack a :class:`grids.balanced.compile.CompiledNet` into the six arrays the kernels take.

The kernels (:mod:`grids.balanced.kernels`) number buses by *position*: the non-slack buses in LU
order, then the slack buses. This module renumbers every per-network array of the compiled
net into positions, turns the triangular factors into row-oriented (CSR) form, and
concatenates the arrays of each dtype into one packed array with an offsets array; the
segment numbers are the ``I_*``, ``F_*`` and ``C_*`` constants of :mod:`grids.balanced.kernels`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from grids.balanced import kernels as k
from grids.balanced.compile import CompiledNet


class PackedNet(NamedTuple):
    """The network as the kernels take it: three packed arrays and their offsets."""

    ints: np.ndarray
    int_offsets: np.ndarray
    floats: np.ndarray
    float_offsets: np.ndarray
    cplx: np.ndarray
    cplx_offsets: np.ndarray


def _pack(segments: list, n_segments: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``segments`` (in segment-number order) and return (packed, offsets)."""
    if len(segments) != n_segments:
        raise AssertionError(f"{len(segments)} segments, the kernels expect {n_segments}")
    arrays = [np.ascontiguousarray(s, dtype=dtype).ravel() for s in segments]
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(a) for a in arrays])
    packed = np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)
    for a in (packed, offsets):
        a.setflags(write=False)
    return packed, offsets


def positions(c: CompiledNet) -> np.ndarray:
    """Internal bus of each position: ``pq_int`` (LU order), then ``slack_int``."""
    return np.concatenate([c.pq_int, c.slack_int]).astype(np.int64)


def pack_network(c: CompiledNet) -> PackedNet:
    """Build the packed network of ``c`` for :mod:`grids.balanced.kernels`.

    Parameters
    ----------
    c
        The compiled network.

    Returns
    -------
    PackedNet
    """
    m = len(c.pq_int)
    n_sl = len(c.slack_int)
    int_of_pos = positions(c)
    pos = np.full(c.n_int, -1, dtype=np.int64)
    pos[int_of_pos] = np.arange(m + n_sl)

    def at_pos(idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        return np.where(idx >= 0, pos[np.maximum(idx, 0)], -1)

    def cx(re, im) -> np.ndarray:
        return np.asarray(re, dtype=float) + 1j * np.asarray(im, dtype=float)

    # buses that can carry an injection (others keep the constant right-hand side)
    inj = np.zeros(c.n_int, dtype=bool)
    inj[c.load_int[c.load_int >= 0]] = True
    inj[c.sgen_int[c.sgen_int >= 0]] = True
    inj[(c.s_const_re != 0) | (c.s_const_im != 0)] = True
    has_inj = inj[c.pq_int].astype(np.int64)

    def csr(indptr, indices, re, im):
        mat = sp.csc_matrix((cx(re, im), indices, indptr), shape=(m, m)).tocsr()
        mat.sort_indices()
        return mat

    # Y_pp = L D U1 (D = diag(U), U1 unit upper). The kernels solve with the diagonal moved
    # off the dependency chains: z = (D^-1 L D)^-1 D^-1 b forward, x = U1^-1 z backward, so
    # each bus waits for one complex multiply-add per pass instead of two.
    udi = cx(c.ud_inv_re, c.ud_inv_im)
    low = csr(c.l_indptr, c.l_indices, c.l_re, c.l_im)
    low = sp.diags(udi) @ low @ sp.diags(1.0 / udi)
    low = sp.csr_matrix(low)
    low.sort_indices()
    up = sp.csr_matrix(sp.diags(udi) @ csr(c.u_indptr, c.u_indices, c.u_re, c.u_im))
    up.sort_indices()
    ybus = sp.csr_matrix((cx(c.y_re, c.y_im), c.y_indices, c.y_indptr),
                         shape=(c.n_int, c.n_int))
    ys = ybus[c.slack_int].tocsc()[:, int_of_pos].tocsr()  # slack rows, position columns
    ys.sort_indices()
    eg_slack = np.full(len(c.eg_int), -1, dtype=np.int64)
    for j, b in enumerate(c.eg_int):
        hit = np.flatnonzero(c.slack_int == b) if b >= 0 else []
        if len(hit):
            eg_slack[j] = hit[0]

    used = np.zeros(len(c.br_f), dtype=bool)
    used[c.line_br[c.line_br >= 0]] = True
    used[c.trafo_br[c.trafo_br >= 0]] = True
    other = np.flatnonzero(~used)

    ints = [
        has_inj,                                   # I_HAS_INJ
        low.indptr, low.indices,                   # I_L_PTR, I_L_IDX
        up.indptr, up.indices,                     # I_U_PTR, I_U_IDX
        at_pos(c.load_int), at_pos(c.sgen_int),    # I_LOAD_POS, I_SGEN_POS
        ys.indptr, ys.indices,                     # I_YS_PTR, I_YS_IDX
        at_pos(c.br_f), at_pos(c.br_t),            # I_BR_F, I_BR_T
        at_pos(c.bus_int),                         # I_BUS_POS
        c.line_br, c.line_bus_nan,                 # I_LINE_BR, I_LINE_NAN
        c.trafo_br, c.trafo_bus_nan,               # I_TRAFO_BR, I_TRAFO_NAN
        eg_slack,                                  # I_EG_SLACK
        other,                                     # I_BR_OTHER
    ]
    floats = [
        c.load_scale, c.sgen_scale,                # F_LOAD_SCALE, F_SGEN_SCALE
        np.deg2rad(c.ref_deg[int_of_pos]),         # F_REF_RAD
        c.line_i_base,                             # F_LINE_BASE
        c.trafo_i_base_hv, c.trafo_i_base_lv,      # F_TRAFO_HV, F_TRAFO_LV
        [c.base_mva],                              # F_BASE_MVA
    ]
    cplx = [
        low.data, up.data,                         # C_L, C_U
        udi,                                       # C_UDI
        udi * cx(c.c_re, c.c_im),                  # C_C
        cx(c.v_nl_re, c.v_nl_im),                  # C_VNL
        cx(c.v_slack_re, c.v_slack_im),            # C_VS
        cx(c.s_const_re, c.s_const_im)[int_of_pos],  # C_SCONST
        ys.data,                                   # C_YS
        cx(c.ref_re, c.ref_im)[int_of_pos],        # C_REF
        cx(c.yf_ff_re, c.yf_ff_im), cx(c.yf_ft_re, c.yf_ft_im),  # C_YFF, C_YFT
        cx(c.yt_tf_re, c.yt_tf_im), cx(c.yt_tt_re, c.yt_tt_im),  # C_YTF, C_YTT
    ]
    return PackedNet(*_pack(ints, k.N_INT_SEGMENTS, np.int64),
                     *_pack(floats, k.N_FLOAT_SEGMENTS, np.float64),
                     *_pack(cplx, k.N_CPLX_SEGMENTS, np.complex128))
