"""Numba kernels of the unbalanced load flow: arrays in, arrays out (no pandapower objects).

Algorithm (decision, see also :mod:`grids.unbalanced.loadflow`): fixed-point current injection
in the sequence frame, the algorithm of the balanced engine (:mod:`grids.balanced.kernels`)
applied to the three sequence networks at once. With the transposed-line model the
sequence networks are decoupled: the zero-, positive- and negative-sequence admittance
matrices ``Y0``, ``Y1``, ``Y2`` are separate, and only the loads couple them. For wye
constant-power injections ``S_p`` [p.u. per phase] the equations are

    I_abc = conj(S_abc / V_abc),   I_012 = T^-1 I_abc,   V_abc = T V_012,
    Y1_pp V1_p = I1_p - Y1_ps V1_s,   Y0 V0 = I0,   Y2 V2 = I2,

(the positive-sequence slack voltages fixed, the zero- and negative-sequence slack voltages
unknowns behind the ext_grid's impedance, exactly the equations ``runpp_3ph`` iterates on).
One iteration solves the three linear systems with the currents of the previous iterate:
two sparse triangular solves per sequence with the factors of
:mod:`grids.unbalanced.compile`, which share one sparsity pattern and one bus order
(*positions*: the non-slack buses in LU order, then the slack buses), so that one loop over
the pattern updates all three sequences.

One iteration is two passes over the buses:

* forward substitution by rows (the three sequences in the body of one loop);
* backward substitution by rows, fused with everything the new voltages of a bus allow at
  once: its phase voltages, their power mismatch, the phase currents and the sequence
  currents of the next right-hand side.

The true per-phase power mismatch at the new iterate is free, as in the balanced engine: the
linear systems are solved exactly, so at a non-slack bus ``S_calc - S = S (V_new - V_old) /
V_old`` on each phase. At a slack bus with an injection (rare) the same quantity measures the
change of its load currents, which drive its zero- and negative-sequence voltages. We stop on
``max(|dP|, |dQ|) < tol`` over buses and phases; that value is reported as the step's
mismatch (the tests check it against ``Ybus`` independently).

Batches are solved in chunks of :data:`LANES` steps, lanes inner (SIMD), as in the balanced
engine; a lane's voltages are frozen at the iteration it converges, so a step's result does
not depend on the other steps of its batch. A single step uses :func:`solve_one` (scalar
complex arithmetic) and the batch's result extraction with one lane.

Network data: six packed arrays ``net = (ints, int_offsets, floats, float_offsets, cplx,
cplx_offsets)`` built by :mod:`grids.unbalanced.netpack`; the ``I_*``, ``F_*`` and ``C_*``
constants below name the segments.

Inputs: a tuple of eight 2-D arrays ``(load_p, load_q, sgen_p, sgen_q, asym_p, asym_q,
conn_p, conn_q)``, each ``[n_steps or 1, n_columns]`` [MW], [Mvar]; every column injects at a
position and phase (or a third on each phase) with a factor (the column maps of
:mod:`grids.unbalanced.netpack`). They are checked inside the kernels as they are read: a
chunk with a NaN or infinite value is not solved (``iterations = -1``).

All kernels are compiled with ``cache=True``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from grids.balanced.kernels import _TAN_FAST, DIVERGED_PU, _atan_small

#: Steps per chunk of a batch (the inner loops run over the lanes of a chunk). Measured on
#: the reference feeder (8,192 steps, one thread, CPU time): 16/32/64/128 lanes took
#: 23.6/21.3/17.3/18.8 us per step: a chunk's state (21 rows per position, 3.3 MB at 64
#: lanes) outgrows the L2 cache, but the loop overhead of the ~2,000 lane loops of an
#: iteration is spread over more steps. (Four float32 iterations before the float64 ones, as
#: the balanced engine does, saved nothing here at any lane count: an iteration is bound by
#: its loop overhead, not by its arithmetic. Not kept.)
LANES = 64

_FAST = {"reassoc", "contract", "arcp", "nsz"}

#: ``sqrt(3) / 2``: ``a = -1/2 + j H``.
H = 0.8660254037844386

# ---------------------------------------------------------------- packed network segments
I_HAS_INJ = 0      # [n] 1 where the position can have a non-zero injection
I_L_PTR = 1        # [n+1] strict lower factors, CSR, common pattern of the 3 sequences
I_L_IDX = 2
I_U_PTR = 3        # [n+1] strict upper factors
I_U_IDX = 4
I_MAP_POS0 = 5     # column maps of the four inputs: position, phase (0..2, 3 = split)
I_MAP_PH0 = 6
I_MAP_POS1 = 7
I_MAP_PH1 = 8
I_MAP_POS2 = 9
I_MAP_PH2 = 10
I_MAP_POS3 = 11
I_MAP_PH3 = 12
I_BR_F = 13        # [n_br] from / to position of each internal branch
I_BR_T = 14
I_BUS_POS = 15     # [n_bus] position of each net.bus row, -1: not energised
I_LINE_BR = 16     # [n_line] internal branch, -1: out of service
I_LINE_NAN = 17
I_TRAFO_BR = 18
I_TRAFO_NAN = 19
I_EG_SLACK = 20    # [n_ext_grid] slack number, -1: none
I_BR_OTHER = 21    # branches of neither a line nor a trafo (losses)
I_YS_PTR = 22      # [n_slack+1] slack rows of Y without the ext_grid shunt, CSR
I_YS_IDX = 23
I_M = 24           # [1] number of non-slack positions
N_INT_SEGMENTS = 25
F_MAP_FAC0 = 0     # factors of the four column maps
F_MAP_FAC1 = 1
F_MAP_FAC2 = 2
F_MAP_FAC3 = 3
F_MAP_FAC2_MASKED = 4  # asymmetric-load factors with the connected rows zeroed
F_REF_RAD = 5      # [n] positive-sequence no-load angle [rad]
F_LINE_IBASE = 6   # [n_line] kA per p.u. current
F_TRAFO_HV = 7     # [n_trafo] loading [%] per p.u. phase current, HV / LV side
F_TRAFO_LV = 8
F_BASE_MVA = 9     # [1]
N_FLOAT_SEGMENTS = 10
C_L0 = 0           # values on the lower pattern: D^-1 L D of each sequence
C_L1 = 1
C_L2 = 2
C_U0 = 3           # values on the upper pattern: D^-1 U
C_U1 = 4
C_U2 = 5
C_UDI0 = 6         # [n] 1 / (3 diag(U)) (0 for the positive sequence's slack rows)
C_UDI1 = 7
C_UDI2 = 8
C_C1 = 9           # [n] D1^-1 (-Y1_ps V_s), 0 at slack positions
C_V1 = 10          # [n] positive-sequence start: no-load voltage, slack voltages
C_SCONST = 11      # [3n] constant injections per position and phase [p.u.]
C_REF = 12         # [n] unit phasor of the no-load angle
C_YS0 = 13         # values of I_YS_* per sequence
C_YS1 = 14
C_YS2 = 15
C_YFF0 = 16        # [n_br] per sequence: Yf entry multiplying V[f]
C_YFF1 = 17
C_YFF2 = 18
C_YFT0 = 19        # Yf entry multiplying V[t]
C_YFT1 = 20
C_YFT2 = 21
C_YTF0 = 22        # Yt entry multiplying V[f]
C_YTF1 = 23
C_YTF2 = 24
C_YTT0 = 25        # Yt entry multiplying V[t]
C_YTT1 = 26
C_YTT2 = 27
N_CPLX_SEGMENTS = 28


@njit(cache=True, nogil=True)
def _seg(packed, offsets, k):  # pragma: no cover - numba
    """Segment ``k`` of a packed array (a view)."""
    return packed[offsets[k]:offsets[k + 1]]


@njit(cache=True, nogil=True, fastmath=_FAST, inline="always")
def _to_abc(x0r, x0i, x1r, x1i, x2r, x2i):  # pragma: no cover - numba
    """Phase values ``T x_012`` (``a, b, c``) of sequence values, as six floats."""
    sr = x1r + x2r
    si = x1i + x2i
    dr = x1r - x2r
    di = x1i - x2i
    br = x0r - 0.5 * sr
    bi = x0i - 0.5 * si
    return (x0r + sr, x0i + si, br + H * di, bi - H * dr, br - H * di, bi + H * dr)


@njit(cache=True, nogil=True, fastmath=_FAST, inline="always")
def _abc_of(F, b, k):  # pragma: no cover - numba
    """Phase voltages of position ``b``, lane ``k`` of the sequence voltages ``F``."""
    return _to_abc(F[b, k], F[b, L + k], F[b, 2 * L + k], F[b, 3 * L + k], F[b, 4 * L + k],
                   F[b, 5 * L + k])


@njit(cache=True, nogil=True, fastmath=_FAST, inline="always")
def _to_012_times3(ar, ai, br, bi, cr, ci):  # pragma: no cover - numba
    """Three times the sequence values ``3 T^-1 x_abc`` (zero, positive, negative)."""
    sr = br + cr
    si = bi + ci
    dr = br - cr
    di = bi - ci
    mr = ar - 0.5 * sr
    mi = ai - 0.5 * si
    return (ar + sr, ai + si, mr - H * di, mi + H * dr, mr + H * di, mi - H * dr)


# =============================================================== batches: lanes of steps
# A chunk's working state is one array W [n, NC * LANES]: per position, NC rows of LANES lanes
# (row r of position i is W[i, r*LANES : (r+1)*LANES]). One array with a compile-time lane
# count: every offset between two rows of a position is a constant, so LLVM proves that the
# lane loops of a position do not overlap and vectorises them without run-time checks. (With
# one array per quantity, 15 arrays, it gave up and ran the fused loop scalar: a batch on
# the reference feeder took 290 us per step on one thread; 17 us with this layout, the lane
# loops split per sequence and the branch-free bus update.)
R_V = 0            # V_012 of the iterate: v0 re, v0 im, v1 re, v1 im, v2 re, v2 im
R_Y = 6            # right-hand sides, then forward-substituted vectors (same layout)
R_INV = 12         # 1 / |V_p|^2 of the iterate's phase voltages, p = a, b, c
R_S = 15           # specified injection per phase (a re, a im, ...) [p.u.]
NC = 21
L = LANES
OV = R_V * L
OY = R_Y * L
OI = R_INV * L
OS = R_S * L


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _fill_injections(step_ids, net, inputs, masked, W):  # pragma: no cover - numba
    """Write the specified injection of the lanes into ``W`` (rows ``R_S``; lanes beyond
    the chunk's steps get none) and return whether every input value read is finite.

    Columns outer, lanes inner: the writes of a column are consecutive (SIMD), the reads
    of a chunk's input rows stay in the cache."""
    ints, oi, flts, of, cplx, oc = net
    s_const = _seg(cplx, oc, C_SCONST)
    n = W.shape[0]
    K = step_ids.shape[0]
    s0 = step_ids[0]
    for i in range(n):
        for p in range(3):
            cr = s_const[3 * i + p].real
            ci = s_const[3 * i + p].imag
            for k in range(L):
                W[i, OS + 2 * p * L + k] = cr if k < K else 0.0
                W[i, OS + (2 * p + 1) * L + k] = ci if k < K else 0.0
    chk = 0.0
    for kind in range(4):
        pos = _seg(ints, oi, I_MAP_POS0 + 2 * kind)
        ph = _seg(ints, oi, I_MAP_PH0 + 2 * kind)
        fac = _seg(flts, of, F_MAP_FAC2_MASKED if (kind == 2 and masked)
                   else F_MAP_FAC0 + kind)
        pin = inputs[2 * kind]
        qin = inputs[2 * kind + 1]
        one_p = pin.shape[0] == 1
        one_q = qin.shape[0] == 1
        for e in range(pos.shape[0]):
            for k in range(K):
                chk += (pin[0 if one_p else s0 + k, e] + qin[0 if one_q else s0 + k, e]) * 0.0
            b = pos[e]
            f = fac[e]
            if b < 0 or f == 0.0:
                continue
            c = ph[e]
            lo = 0 if c == 3 else c
            hi = 3 if c == 3 else c + 1
            for cc in range(lo, hi):
                o = OS + 2 * cc * L
                for k in range(K):
                    W[b, o + k] += pin[0 if one_p else s0 + k, e] * f
                    W[b, o + L + k] += qin[0 if one_q else s0 + k, e] * f
    return chk == 0.0


@njit(cache=True, nogil=True, fastmath=_FAST, inline="always")
def _phase_step(W, i, p, k, qr, qi, vr, vi):  # pragma: no cover - numba
    """Phase ``p`` of position ``i``, lane ``k``, from the iterate's voltage ``q`` to the new
    one ``v``: its power mismatch ``max(|dP|, |dQ|)`` and its load current ``conj(S / v)``
    (``1 / |v|^2`` is stored for the next iteration)."""
    d = W[i, OI + p * L + k]
    sr = W[i, OS + 2 * p * L + k]
    si = W[i, OS + (2 * p + 1) * L + k]
    dvr = vr - qr
    dvi = vi - qi
    rr = (dvr * qr + dvi * qi) * d
    ri = (dvi * qr - dvr * qi) * d
    er = abs(sr * rr - si * ri)
    ei = abs(sr * ri + si * rr)
    dn = 1.0 / (vr * vr + vi * vi)
    W[i, OI + p * L + k] = dn
    e = er if (er > ei or er != er) else ei
    return e, (sr * vr + si * vi) * dn, (sr * vi - si * vr) * dn


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _bus_update(W, i, has_inj, c1r, c1i, d0r, d0i, d1r, d1i, d2r, d2i,
                mis):  # pragma: no cover - numba
    """After the backward substitution of position ``i`` (its new sequence voltages in its
    ``R_Y`` rows; at a slack position the caller has put the fixed positive-sequence voltage
    there): store them as the iterate, and the next right-hand side in ``R_Y``; with an
    injection also its phase voltages, their mismatch (into ``mis``) and currents.

    (No branch inside the lane loops: a select between two rows there kept LLVM from
    vectorising the loop.)"""
    if has_inj:
        for k in range(L):
            x0r = W[i, OY + k]
            x0i = W[i, OY + L + k]
            x1r = W[i, OY + 2 * L + k]
            x1i = W[i, OY + 3 * L + k]
            x2r = W[i, OY + 4 * L + k]
            x2i = W[i, OY + 5 * L + k]
            qa_r, qa_i, qb_r, qb_i, qc_r, qc_i = _to_abc(
                W[i, OV + k], W[i, OV + L + k], W[i, OV + 2 * L + k], W[i, OV + 3 * L + k],
                W[i, OV + 4 * L + k], W[i, OV + 5 * L + k])
            W[i, OV + k] = x0r
            W[i, OV + L + k] = x0i
            W[i, OV + 2 * L + k] = x1r
            W[i, OV + 3 * L + k] = x1i
            W[i, OV + 4 * L + k] = x2r
            W[i, OV + 5 * L + k] = x2i
            pa_r, pa_i, pb_r, pb_i, pc_r, pc_i = _to_abc(x0r, x0i, x1r, x1i, x2r, x2i)
            ea, ia_r, ia_i = _phase_step(W, i, 0, k, qa_r, qa_i, pa_r, pa_i)
            eb, ib_r, ib_i = _phase_step(W, i, 1, k, qb_r, qb_i, pb_r, pb_i)
            ec, ic_r, ic_i = _phase_step(W, i, 2, k, qc_r, qc_i, pc_r, pc_i)
            e = ea if (ea > eb or ea != ea) else eb
            e = e if (e > ec or e != e) else ec
            mk = mis[k]
            mis[k] = e if (e > mk or e != e) else mk
            j0r, j0i, j1r, j1i, j2r, j2i = _to_012_times3(ia_r, ia_i, ib_r, ib_i, ic_r, ic_i)
            W[i, OY + k] = d0r * j0r - d0i * j0i
            W[i, OY + L + k] = d0r * j0i + d0i * j0r
            W[i, OY + 2 * L + k] = c1r + d1r * j1r - d1i * j1i
            W[i, OY + 3 * L + k] = c1i + d1r * j1i + d1i * j1r
            W[i, OY + 4 * L + k] = d2r * j2r - d2i * j2i
            W[i, OY + 5 * L + k] = d2r * j2i + d2i * j2r
    else:
        for k in range(L):
            W[i, OV + k] = W[i, OY + k]
            W[i, OV + L + k] = W[i, OY + L + k]
            W[i, OV + 2 * L + k] = W[i, OY + 2 * L + k]
            W[i, OV + 3 * L + k] = W[i, OY + 3 * L + k]
            W[i, OV + 4 * L + k] = W[i, OY + 4 * L + k]
            W[i, OV + 5 * L + k] = W[i, OY + 5 * L + k]
            W[i, OY + k] = 0.0
            W[i, OY + L + k] = 0.0
            W[i, OY + 2 * L + k] = c1r
            W[i, OY + 3 * L + k] = c1i
            W[i, OY + 4 * L + k] = 0.0
            W[i, OY + 5 * L + k] = 0.0


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _chunk(step_ids, net, inputs, outs, tol, max_iter, masked):  # pragma: no cover - numba
    """Solve and extract the steps ``step_ids`` (at most ``LANES``) as one chunk."""
    ints, oi, flts, of, cplx, oc = net
    has_inj = _seg(ints, oi, I_HAS_INJ)
    l_ptr = _seg(ints, oi, I_L_PTR)
    l_idx = _seg(ints, oi, I_L_IDX)
    u_ptr = _seg(ints, oi, I_U_PTR)
    u_idx = _seg(ints, oi, I_U_IDX)
    m = _seg(ints, oi, I_M)[0]
    l0v = _seg(cplx, oc, C_L0)
    l1v = _seg(cplx, oc, C_L1)
    l2v = _seg(cplx, oc, C_L2)
    u0v = _seg(cplx, oc, C_U0)
    u1v = _seg(cplx, oc, C_U1)
    u2v = _seg(cplx, oc, C_U2)
    d0 = _seg(cplx, oc, C_UDI0)
    d1 = _seg(cplx, oc, C_UDI1)
    d2 = _seg(cplx, oc, C_UDI2)
    c1 = _seg(cplx, oc, C_C1)
    v1s = _seg(cplx, oc, C_V1)
    o_iter, o_mism, o_conv = outs[9], outs[10], outs[11]
    K = step_ids.shape[0]
    n = has_inj.shape[0]
    W = np.empty((n, NC * L))
    finite = _fill_injections(step_ids, net, inputs, masked, W)
    if not finite:
        for k in range(K):
            o_iter[step_ids[k]] = -1
            o_conv[step_ids[k]] = False
            o_mism[step_ids[k]] = np.nan
        return
    F = np.empty((n, 6 * L))  # the voltages of a lane, frozen when it converges
    mis = np.zeros(L)
    fin_mis = np.zeros(L)
    newly = np.zeros(L, dtype=np.bool_)
    done = np.zeros(L, dtype=np.bool_)
    stopped = np.zeros(L, dtype=np.bool_)
    iters = np.zeros(L, dtype=np.int64)
    for k in range(K, L):
        done[k] = True  # padding lanes
    # starting point: V0 = V2 = 0, V1 the no-load voltage; its phase voltages and the first
    # right-hand side (the fused update on W's R_Y rows holding the start)
    for i in range(n):
        vr = v1s[i].real
        vi = v1s[i].imag
        for k in range(L):
            W[i, OY + k] = 0.0
            W[i, OY + L + k] = 0.0
            W[i, OY + 2 * L + k] = vr
            W[i, OY + 3 * L + k] = vi
            W[i, OY + 4 * L + k] = 0.0
            W[i, OY + 5 * L + k] = 0.0
    # (the iterate's rows R_V and R_INV are not set: the mismatch of this first update,
    # computed from them, is discarded)
    for i in range(n):
        _bus_update(W, i, has_inj[i] != 0, c1[i].real, c1[i].imag, d0[i].real,
                    d0[i].imag, d1[i].real, d1[i].imag, d2[i].real, d2[i].imag, mis)

    for it in range(max_iter):
        for i in range(n):  # forward substitution by rows, three sequences
            for p in range(l_ptr[i], l_ptr[i + 1]):
                j = l_idx[p]
                a0r = l0v[p].real
                a0i = l0v[p].imag
                a1r = l1v[p].real
                a1i = l1v[p].imag
                a2r = l2v[p].real
                a2i = l2v[p].imag
                # one loop per sequence: with the three in one body LLVM did not
                # vectorise it (six rows of two positions: too many pointer checks)
                for k in range(L):
                    xr = W[j, OY + k]
                    xi = W[j, OY + L + k]
                    W[i, OY + k] -= a0r * xr - a0i * xi
                    W[i, OY + L + k] -= a0r * xi + a0i * xr
                for k in range(L):
                    xr = W[j, OY + 2 * L + k]
                    xi = W[j, OY + 3 * L + k]
                    W[i, OY + 2 * L + k] -= a1r * xr - a1i * xi
                    W[i, OY + 3 * L + k] -= a1r * xi + a1i * xr
                for k in range(L):
                    xr = W[j, OY + 4 * L + k]
                    xi = W[j, OY + 5 * L + k]
                    W[i, OY + 4 * L + k] -= a2r * xr - a2i * xi
                    W[i, OY + 5 * L + k] -= a2r * xi + a2i * xr
        for k in range(L):
            mis[k] = 0.0
        for i in range(n - 1, -1, -1):  # backward by rows, fused with the next rhs
            for p in range(u_ptr[i], u_ptr[i + 1]):
                j = u_idx[p]
                a0r = u0v[p].real
                a0i = u0v[p].imag
                a1r = u1v[p].real
                a1i = u1v[p].imag
                a2r = u2v[p].real
                a2i = u2v[p].imag
                for k in range(L):
                    xr = W[j, OV + k]
                    xi = W[j, OV + L + k]
                    W[i, OY + k] -= a0r * xr - a0i * xi
                    W[i, OY + L + k] -= a0r * xi + a0i * xr
                for k in range(L):
                    xr = W[j, OV + 2 * L + k]
                    xi = W[j, OV + 3 * L + k]
                    W[i, OY + 2 * L + k] -= a1r * xr - a1i * xi
                    W[i, OY + 3 * L + k] -= a1r * xi + a1i * xr
                for k in range(L):
                    xr = W[j, OV + 4 * L + k]
                    xi = W[j, OV + 5 * L + k]
                    W[i, OY + 4 * L + k] -= a2r * xr - a2i * xi
                    W[i, OY + 5 * L + k] -= a2r * xi + a2i * xr
            if i >= m:  # slack: the positive-sequence voltage is fixed
                vr = v1s[i].real
                vi = v1s[i].imag
                for k in range(L):
                    W[i, OY + 2 * L + k] = vr
                    W[i, OY + 3 * L + k] = vi
            _bus_update(W, i, has_inj[i] != 0, c1[i].real, c1[i].imag, d0[i].real,
                        d0[i].imag, d1[i].real, d1[i].imag, d2[i].real, d2[i].imag, mis)
        active = 0
        n_new = 0
        for k in range(L):
            newly[k] = False
            if done[k] or stopped[k]:
                continue
            iters[k] = it + 1
            if mis[k] < tol:
                done[k] = True
                newly[k] = True
                n_new += 1
                fin_mis[k] = mis[k]
            elif not (mis[k] < DIVERGED_PU):
                stopped[k] = True
            else:
                active += 1
        if n_new > 0:  # freeze the lanes that converged now
            for i in range(n):
                for r in range(6):
                    for k in range(L):
                        if newly[k]:
                            F[i, r * L + k] = W[i, OV + r * L + k]
        if active == 0:
            break
    for k in range(K):
        if not done[k]:
            fin_mis[k] = mis[k]
            for i in range(n):
                for r in range(6):
                    F[i, r * L + k] = W[i, OV + r * L + k]
    _extract(step_ids, F, net, outs)
    for k in range(K):
        s = step_ids[k]
        o_iter[s] = iters[k]
        o_conv[s] = done[k]
        o_mism[s] = fin_mis[k]


@njit(cache=True, nogil=True, error_model="numpy")
def solve_chunks(c0, c1, lanes, n_steps, net, inputs, outs, tol, max_iter,
                 masked):  # pragma: no cover - numba
    """Solve chunks ``c0 .. c1-1`` (chunk ``c`` = steps ``c*lanes .. (c+1)*lanes-1``).

    Releases the GIL, so that :mod:`grids.unbalanced.loadflow` runs disjoint chunk ranges on
    several Python threads.

    Parameters
    ----------
    c0, c1, lanes, n_steps
        Range of chunks, steps per chunk, number of steps.
    net
        The packed network.
    inputs
        The eight input arrays (module docstring).
    outs
        Output arrays written in place, element-major ``[n_rows, n_steps]``: ``(vm_pu,
        va_degree`` (rows ``3 bus + phase``), ``vuf_percent`` (rows: buses),
        ``line_i_ka`` (rows ``3 line + phase``),
        ``trafo_loading_percent`` (rows: trafos), ``trafo_p_hv_mw``, ``trafo_q_hv_mvar``
        (``3 trafo + phase``), ``ext_grid_p_mw``, ``ext_grid_q_mvar`` (``3 ext_grid +
        phase``), then 1-D ``[n_steps]``: ``iterations, max_mismatch_pu, converged,
        losses_mw)``.
    tol
        Per-phase power mismatch tolerance [p.u.].
    max_iter
        Iteration cap.
    masked
        Use the masked asymmetric-load factors (connections drive some rows).
    """
    for c in range(c0, c1):
        s0 = c * lanes
        s1 = min(s0 + lanes, n_steps)
        _chunk(np.arange(s0, s1), net, inputs, outs, tol, max_iter, masked)


@njit(cache=True, error_model="numpy")
def extract_steps(step_ids, F, net, outs):  # pragma: no cover
    """Results of the consecutive steps ``step_ids`` from sequence voltages ``F`` ``[n, 6 *
    LANES]`` (rows v0 re, v0 im, v1 re, ... of ``LANES`` lanes; used by the Newton
    fallback)."""
    _extract(step_ids, F, net, outs)


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _extract(step_ids, F, net, outs):  # pragma: no cover - numba
    """Results of the lanes of a chunk from the sequence voltages of all positions, ``F``
    ``[n, 6 * LANES]`` (rows v0 re, v0 im, v1 re, v1 im, v2 re, v2 im).

    Written element-major (the lanes of a chunk are consecutive in memory), each result
    where it is computed.
    """
    ints, oi, flts, of, cplx, oc = net
    bus_pos = _seg(ints, oi, I_BUS_POS)
    br_f = _seg(ints, oi, I_BR_F)
    br_t = _seg(ints, oi, I_BR_T)
    line_br = _seg(ints, oi, I_LINE_BR)
    line_nan = _seg(ints, oi, I_LINE_NAN)
    trafo_br = _seg(ints, oi, I_TRAFO_BR)
    trafo_nan = _seg(ints, oi, I_TRAFO_NAN)
    eg_slack = _seg(ints, oi, I_EG_SLACK)
    br_other = _seg(ints, oi, I_BR_OTHER)
    ys_ptr = _seg(ints, oi, I_YS_PTR)
    ys_idx = _seg(ints, oi, I_YS_IDX)
    m = _seg(ints, oi, I_M)[0]
    ref_rad = _seg(flts, of, F_REF_RAD)
    line_ibase = _seg(flts, of, F_LINE_IBASE)
    tr_hv = _seg(flts, of, F_TRAFO_HV)
    tr_lv = _seg(flts, of, F_TRAFO_LV)
    base_mva = _seg(flts, of, F_BASE_MVA)[0]
    ref = _seg(cplx, oc, C_REF)
    o_vm, o_va, o_vuf, o_li, o_tl, o_tp, o_tq, o_egp, o_egq = outs[:9]
    o_loss = outs[12]
    K = step_ids.shape[0]
    s0 = step_ids[0]
    s1 = s0 + K
    rad2deg = 180.0 / np.pi
    two_pi3 = 2.0 * np.pi / 3.0
    # ---- buses: per-phase magnitude and angle (relative to the no-load angle of the
    # phase: small angles, the series of _atan_small), unbalance factor. Computed into a
    # scratch of constant row offsets (one vectorised loop), then copied row by row: written
    # straight into seven output rows the loop did not vectorise.
    tmp = np.empty(7 * L)
    n_big = 0
    for j in range(bus_pos.shape[0]):
        b = bus_pos[j]
        if b < 0:
            for p in range(3):
                o_vm[3 * j + p, s0:s1] = np.nan
                o_va[3 * j + p, s0:s1] = np.nan
            o_vuf[j, s0:s1] = np.nan
            continue
        rar = ref[b].real  # unit phasors of the no-load angles of phases a, b (-120), c
        rai = ref[b].imag
        rbr = -0.5 * rar + H * rai
        rbi = -H * rar - 0.5 * rai
        rcr = -0.5 * rar - H * rai
        rci = H * rar - 0.5 * rai
        a0 = ref_rad[b]
        b0 = a0 - two_pi3
        c0 = a0 + two_pi3
        for k in range(K):
            x1r = F[b, 2 * L + k]
            x1i = F[b, 3 * L + k]
            x2r = F[b, 4 * L + k]
            x2i = F[b, 5 * L + k]
            pa_r, pa_i, pb_r, pb_i, pc_r, pc_i = _to_abc(F[b, k], F[b, L + k], x1r, x1i,
                                                         x2r, x2i)
            tmp[k] = np.sqrt(pa_r * pa_r + pa_i * pa_i)
            tmp[L + k] = np.sqrt(pb_r * pb_r + pb_i * pb_i)
            tmp[2 * L + k] = np.sqrt(pc_r * pc_r + pc_i * pc_i)
            war = pa_r * rar + pa_i * rai
            wai = pa_i * rar - pa_r * rai
            wbr = pb_r * rbr + pb_i * rbi
            wbi = pb_i * rbr - pb_r * rbi
            wcr = pc_r * rcr + pc_i * rci
            wci = pc_i * rcr - pc_r * rci
            da = (a0 + _atan_small(wai / war)) * rad2deg
            db = (b0 + _atan_small(wbi / wbr)) * rad2deg
            dc = (c0 + _atan_small(wci / wcr)) * rad2deg
            da = da - 360.0 if da > 180.0 else (da + 360.0 if da <= -180.0 else da)
            db = db - 360.0 if db > 180.0 else (db + 360.0 if db <= -180.0 else db)
            dc = dc - 360.0 if dc > 180.0 else (dc + 360.0 if dc <= -180.0 else dc)
            tmp[3 * L + k] = da
            tmp[4 * L + k] = db
            tmp[5 * L + k] = dc
            tmp[6 * L + k] = np.sqrt((x2r * x2r + x2i * x2i) / (x1r * x1r + x1i * x1i)) * 100.0
            n_big += ((1 if abs(wai) > _TAN_FAST * war else 0)
                      + (1 if abs(wbi) > _TAN_FAST * wbr else 0)
                      + (1 if abs(wci) > _TAN_FAST * wcr else 0))
        # explicit copy loops: a numba slice assignment (generic, with broadcasting
        # checks) cost more than the computation above
        for p in range(3):
            row = o_vm[3 * j + p, s0:s1]
            for k in range(K):
                row[k] = tmp[p * L + k]
            row = o_va[3 * j + p, s0:s1]
            for k in range(K):
                row[k] = tmp[(3 + p) * L + k]
        row = o_vuf[j, s0:s1]
        for k in range(K):
            row[k] = tmp[6 * L + k]
    if n_big > 0:  # a large angle: the library function for those
        for j in range(bus_pos.shape[0]):
            b = bus_pos[j]
            if b < 0:
                continue
            for k in range(K):
                pa_r, pa_i, pb_r, pb_i, pc_r, pc_i = _abc_of(F, b, k)
                for p in range(3):
                    vr = pa_r if p == 0 else (pb_r if p == 1 else pc_r)
                    vi = pa_i if p == 0 else (pb_i if p == 1 else pc_i)
                    off = 0.0 if p == 0 else (-two_pi3 if p == 1 else two_pi3)
                    a0 = ref_rad[b] + off
                    wr = vr * np.cos(a0) + vi * np.sin(a0)
                    wi = vi * np.cos(a0) - vr * np.sin(a0)
                    if not (abs(wi) <= _TAN_FAST * wr):
                        o_va[3 * j + p, s0 + k] = np.arctan2(vi, vr) * rad2deg
    # ---- branches
    loss = np.zeros(K)
    cur = np.empty(12 * L)  # phase currents a, b, c (re, im), from then to end: rows of L
    for j in range(line_br.shape[0]):
        r = line_br[j]
        if r < 0:
            fill = np.nan if line_nan[j] else 0.0
            for p in range(3):
                o_li[3 * j + p, s0:s1] = fill
            continue
        _line_lanes(r, F, br_f, br_t, cplx, oc, line_ibase[j], cur, loss)
        for p in range(3):
            row = o_li[3 * j + p, s0:s1]
            for k in range(K):
                row[k] = cur[p * L + k]
    for j in range(trafo_br.shape[0]):
        r = trafo_br[j]
        if r < 0:
            fill = np.nan if trafo_nan[j] else 0.0
            o_tl[j, s0:s1] = fill
            for p in range(3):
                o_tp[3 * j + p, s0:s1] = fill
                o_tq[3 * j + p, s0:s1] = fill
            continue
        _branch_lanes(r, F, br_f, br_t, cplx, oc, cur, loss)
        fh2 = tr_hv[j] * tr_hv[j]
        fl2 = tr_lv[j] * tr_lv[j]
        f = br_f[r]
        tl = o_tl[j, s0:s1]
        for k in range(K):
            best = 0.0
            for p in range(3):
                a2 = (cur[(2 * p) * L + k] * cur[(2 * p) * L + k]
                      + cur[(2 * p + 1) * L + k] * cur[(2 * p + 1) * L + k]) * fh2
                c2 = (cur[(6 + 2 * p) * L + k] * cur[(6 + 2 * p) * L + k]
                      + cur[(7 + 2 * p) * L + k] * cur[(7 + 2 * p) * L + k]) * fl2
                x = a2 if a2 > c2 else c2
                best = x if (x > best or x != x) else best
            tl[k] = np.sqrt(best)
            pa_r, pa_i, pb_r, pb_i, pc_r, pc_i = _abc_of(F, f, k)
            o_tp[3 * j, s0 + k] = (pa_r * cur[0 * L + k] + pa_i * cur[1 * L + k]) * base_mva
            o_tq[3 * j, s0 + k] = (pa_i * cur[0 * L + k] - pa_r * cur[1 * L + k]) * base_mva
            o_tp[3 * j + 1, s0 + k] = (pb_r * cur[2 * L + k] + pb_i * cur[3 * L + k]) * base_mva
            o_tq[3 * j + 1, s0 + k] = (pb_i * cur[2 * L + k] - pb_r * cur[3 * L + k]) * base_mva
            o_tp[3 * j + 2, s0 + k] = (pc_r * cur[4 * L + k] + pc_i * cur[5 * L + k]) * base_mva
            o_tq[3 * j + 2, s0 + k] = (pc_i * cur[4 * L + k] - pc_r * cur[5 * L + k]) * base_mva
    for j in range(br_other.shape[0]):
        _branch_lanes(br_other[j], F, br_f, br_t, cplx, oc, cur, loss)
    for k in range(K):
        o_loss[s0 + k] = loss[k] * base_mva
    # ---- ext_grids: V conj(I) per phase at the slack bus, I from Y without its shunt
    ys0 = _seg(cplx, oc, C_YS0)
    ys1 = _seg(cplx, oc, C_YS1)
    ys2 = _seg(cplx, oc, C_YS2)
    isq = np.empty((6, K))
    for j in range(eg_slack.shape[0]):
        q = eg_slack[j]
        if q < 0:
            for p in range(3):
                o_egp[3 * j + p, s0:s1] = 0.0
                o_egq[3 * j + p, s0:s1] = 0.0
            continue
        b = m + q
        isq[:, :] = 0.0
        for p in range(ys_ptr[q], ys_ptr[q + 1]):
            c = ys_idx[p]
            y0 = ys0[p]
            y1 = ys1[p]
            y2 = ys2[p]
            for k in range(K):
                isq[0, k] += y0.real * F[c, k] - y0.imag * F[c, L + k]
                isq[1, k] += y0.real * F[c, L + k] + y0.imag * F[c, k]
                isq[2, k] += y1.real * F[c, 2 * L + k] - y1.imag * F[c, 3 * L + k]
                isq[3, k] += y1.real * F[c, 3 * L + k] + y1.imag * F[c, 2 * L + k]
                isq[4, k] += y2.real * F[c, 4 * L + k] - y2.imag * F[c, 5 * L + k]
                isq[5, k] += y2.real * F[c, 5 * L + k] + y2.imag * F[c, 4 * L + k]
        for k in range(K):
            ia_r, ia_i, ib_r, ib_i, ic_r, ic_i = _to_abc(isq[0, k], isq[1, k], isq[2, k],
                                                         isq[3, k], isq[4, k], isq[5, k])
            pa_r, pa_i, pb_r, pb_i, pc_r, pc_i = _abc_of(F, b, k)
            o_egp[3 * j, s0 + k] = (pa_r * ia_r + pa_i * ia_i) * base_mva
            o_egq[3 * j, s0 + k] = (pa_i * ia_r - pa_r * ia_i) * base_mva
            o_egp[3 * j + 1, s0 + k] = (pb_r * ib_r + pb_i * ib_i) * base_mva
            o_egq[3 * j + 1, s0 + k] = (pb_i * ib_r - pb_r * ib_i) * base_mva
            o_egp[3 * j + 2, s0 + k] = (pc_r * ic_r + pc_i * ic_i) * base_mva
            o_egq[3 * j + 2, s0 + k] = (pc_i * ic_r - pc_r * ic_i) * base_mva


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _line_lanes(r, F, br_f, br_t, cplx, oc, i_base, cur, loss):  # pragma: no cover - numba
    """Phase current magnitude of line branch ``r`` per lane, the larger of its two ends
    [kA] (``i_base``: kA per p.u.), into ``cur`` rows 0-2; its losses added to ``loss``."""
    f = br_f[r]
    t = br_t[r]
    a0 = _seg(cplx, oc, C_YFF0)[r]
    a1 = _seg(cplx, oc, C_YFF1)[r]
    a2 = _seg(cplx, oc, C_YFF2)[r]
    b0 = _seg(cplx, oc, C_YFT0)[r]
    b1 = _seg(cplx, oc, C_YFT1)[r]
    b2 = _seg(cplx, oc, C_YFT2)[r]
    c0 = _seg(cplx, oc, C_YTF0)[r]
    c1 = _seg(cplx, oc, C_YTF1)[r]
    c2 = _seg(cplx, oc, C_YTF2)[r]
    d0 = _seg(cplx, oc, C_YTT0)[r]
    d1 = _seg(cplx, oc, C_YTT1)[r]
    d2 = _seg(cplx, oc, C_YTT2)[r]
    for k in range(loss.shape[0]):
        f0r = F[f, k]
        f0i = F[f, L + k]
        f1r = F[f, 2 * L + k]
        f1i = F[f, 3 * L + k]
        f2r = F[f, 4 * L + k]
        f2i = F[f, 5 * L + k]
        t0r = F[t, k]
        t0i = F[t, L + k]
        t1r = F[t, 2 * L + k]
        t1i = F[t, 3 * L + k]
        t2r = F[t, 4 * L + k]
        t2i = F[t, 5 * L + k]
        i0r = a0.real * f0r - a0.imag * f0i + b0.real * t0r - b0.imag * t0i
        i0i = a0.real * f0i + a0.imag * f0r + b0.real * t0i + b0.imag * t0r
        i1r = a1.real * f1r - a1.imag * f1i + b1.real * t1r - b1.imag * t1i
        i1i = a1.real * f1i + a1.imag * f1r + b1.real * t1i + b1.imag * t1r
        i2r = a2.real * f2r - a2.imag * f2i + b2.real * t2r - b2.imag * t2i
        i2i = a2.real * f2i + a2.imag * f2r + b2.real * t2i + b2.imag * t2r
        j0r = c0.real * f0r - c0.imag * f0i + d0.real * t0r - d0.imag * t0i
        j0i = c0.real * f0i + c0.imag * f0r + d0.real * t0i + d0.imag * t0r
        j1r = c1.real * f1r - c1.imag * f1i + d1.real * t1r - d1.imag * t1i
        j1i = c1.real * f1i + c1.imag * f1r + d1.real * t1i + d1.imag * t1r
        j2r = c2.real * f2r - c2.imag * f2i + d2.real * t2r - d2.imag * t2i
        j2i = c2.real * f2i + c2.imag * f2r + d2.real * t2i + d2.imag * t2r
        loss[k] += 3.0 * (f0r * i0r + f0i * i0i + f1r * i1r + f1i * i1i + f2r * i2r
                          + f2i * i2i + t0r * j0r + t0i * j0i + t1r * j1r + t1i * j1i
                          + t2r * j2r + t2i * j2i)
        a_r, a_i, b_r, b_i, c_r, c_i = _to_abc(i0r, i0i, i1r, i1i, i2r, i2i)
        e_r, e_i, g_r, g_i, h_r, h_i = _to_abc(j0r, j0i, j1r, j1i, j2r, j2i)
        fa = a_r * a_r + a_i * a_i
        fb = b_r * b_r + b_i * b_i
        fc = c_r * c_r + c_i * c_i
        ta = e_r * e_r + e_i * e_i
        tb = g_r * g_r + g_i * g_i
        tc = h_r * h_r + h_i * h_i
        cur[k] = np.sqrt(fa if fa > ta else ta) * i_base
        cur[L + k] = np.sqrt(fb if fb > tb else tb) * i_base
        cur[2 * L + k] = np.sqrt(fc if fc > tc else tc) * i_base


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _branch_lanes(r, F, br_f, br_t, cplx, oc, cur, loss):  # pragma: no cover - numba
    """Phase currents of branch ``r`` at both ends per lane into ``cur`` ``[12, K]`` (from
    a, b, c, then to a, b, c; re, im), and its losses (all phases) added to ``loss`` [p.u.]:
    ``3 Re sum_seq (V_f conj(I_f) + V_t conj(I_t))`` (the transform is unitary up to 3)."""
    f = br_f[r]
    t = br_t[r]
    a0 = _seg(cplx, oc, C_YFF0)[r]
    a1 = _seg(cplx, oc, C_YFF1)[r]
    a2 = _seg(cplx, oc, C_YFF2)[r]
    b0 = _seg(cplx, oc, C_YFT0)[r]
    b1 = _seg(cplx, oc, C_YFT1)[r]
    b2 = _seg(cplx, oc, C_YFT2)[r]
    c0 = _seg(cplx, oc, C_YTF0)[r]
    c1 = _seg(cplx, oc, C_YTF1)[r]
    c2 = _seg(cplx, oc, C_YTF2)[r]
    d0 = _seg(cplx, oc, C_YTT0)[r]
    d1 = _seg(cplx, oc, C_YTT1)[r]
    d2 = _seg(cplx, oc, C_YTT2)[r]
    for k in range(loss.shape[0]):
        f0r = F[f, k]
        f0i = F[f, L + k]
        f1r = F[f, 2 * L + k]
        f1i = F[f, 3 * L + k]
        f2r = F[f, 4 * L + k]
        f2i = F[f, 5 * L + k]
        t0r = F[t, k]
        t0i = F[t, L + k]
        t1r = F[t, 2 * L + k]
        t1i = F[t, 3 * L + k]
        t2r = F[t, 4 * L + k]
        t2i = F[t, 5 * L + k]
        i0r = a0.real * f0r - a0.imag * f0i + b0.real * t0r - b0.imag * t0i
        i0i = a0.real * f0i + a0.imag * f0r + b0.real * t0i + b0.imag * t0r
        i1r = a1.real * f1r - a1.imag * f1i + b1.real * t1r - b1.imag * t1i
        i1i = a1.real * f1i + a1.imag * f1r + b1.real * t1i + b1.imag * t1r
        i2r = a2.real * f2r - a2.imag * f2i + b2.real * t2r - b2.imag * t2i
        i2i = a2.real * f2i + a2.imag * f2r + b2.real * t2i + b2.imag * t2r
        j0r = c0.real * f0r - c0.imag * f0i + d0.real * t0r - d0.imag * t0i
        j0i = c0.real * f0i + c0.imag * f0r + d0.real * t0i + d0.imag * t0r
        j1r = c1.real * f1r - c1.imag * f1i + d1.real * t1r - d1.imag * t1i
        j1i = c1.real * f1i + c1.imag * f1r + d1.real * t1i + d1.imag * t1r
        j2r = c2.real * f2r - c2.imag * f2i + d2.real * t2r - d2.imag * t2i
        j2i = c2.real * f2i + c2.imag * f2r + d2.real * t2i + d2.imag * t2r
        loss[k] += 3.0 * (f0r * i0r + f0i * i0i + f1r * i1r + f1i * i1i + f2r * i2r
                          + f2i * i2i + t0r * j0r + t0i * j0i + t1r * j1r + t1i * j1i
                          + t2r * j2r + t2i * j2i)
        a_r, a_i, b_r, b_i, c_r, c_i = _to_abc(i0r, i0i, i1r, i1i, i2r, i2i)
        cur[0 * L + k] = a_r
        cur[1 * L + k] = a_i
        cur[2 * L + k] = b_r
        cur[3 * L + k] = b_i
        cur[4 * L + k] = c_r
        cur[5 * L + k] = c_i
        a_r, a_i, b_r, b_i, c_r, c_i = _to_abc(j0r, j0i, j1r, j1i, j2r, j2i)
        cur[6 * L + k] = a_r
        cur[7 * L + k] = a_i
        cur[8 * L + k] = b_r
        cur[9 * L + k] = b_i
        cur[10 * L + k] = c_r
        cur[11 * L + k] = c_i


# =============================================================== one step: scalar complex
@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _injections_one(net, inputs, masked):  # pragma: no cover - numba
    """Specified injection per position and phase [p.u.] ``[3n]`` (complex) for row 0 of
    the inputs, and whether every input value read is finite."""
    ints, oi, flts, of, cplx, oc = net
    s = _seg(cplx, oc, C_SCONST).copy()
    chk = 0.0
    for kind in range(4):
        pos = _seg(ints, oi, I_MAP_POS0 + 2 * kind)
        ph = _seg(ints, oi, I_MAP_PH0 + 2 * kind)
        fac = _seg(flts, of, F_MAP_FAC2_MASKED if (kind == 2 and masked)
                   else F_MAP_FAC0 + kind)
        pin = inputs[2 * kind]
        qin = inputs[2 * kind + 1]
        for e in range(pos.shape[0]):
            p = pin[0, e]
            q = qin[0, e]
            chk += (p + q) * 0.0
            b = pos[e]
            f = fac[e]
            if b < 0 or f == 0.0:
                continue
            c = ph[e]
            val = complex(p * f, q * f)
            if c < 3:
                s[3 * b + c] += val
            else:
                s[3 * b] += val
                s[3 * b + 1] += val
                s[3 * b + 2] += val
    return s, chk == 0.0


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def solve_one(net, inputs, masked, tol, max_iter, F, status):  # pragma: no cover - numba
    """Solve one step (row 0 of the inputs) with scalar complex arithmetic.

    Same algorithm and stopping rule as :func:`solve_chunks`. Per iteration: the forward and
    the backward substitution of the three sequences (interleaved: three independent
    dependency chains), then one branch-free pass over the positions (vectorised over
    them) for the phase voltages, mismatch, currents and the next right-hand side.

    Parameters
    ----------
    net, inputs, masked, tol, max_iter
        As for :func:`solve_chunks`.
    F
        ``[n, 6 * LANES]``, written: the sequence voltages in lane 0 of the rows of
        :func:`extract_steps`.
    status
        ``[2]`` written: iterations (-1: an input value is NaN or infinite, nothing
        solved) and 1 if converged else 0.

    Returns
    -------
    float
        The final mismatch [p.u.].
    """
    ints, oi, flts, of, cplx, oc = net
    has_inj = _seg(ints, oi, I_HAS_INJ)
    l_ptr = _seg(ints, oi, I_L_PTR)
    l_idx = _seg(ints, oi, I_L_IDX)
    u_ptr = _seg(ints, oi, I_U_PTR)
    u_idx = _seg(ints, oi, I_U_IDX)
    m = _seg(ints, oi, I_M)[0]
    l0v = _seg(cplx, oc, C_L0)
    l1v = _seg(cplx, oc, C_L1)
    l2v = _seg(cplx, oc, C_L2)
    u0v = _seg(cplx, oc, C_U0)
    u1v = _seg(cplx, oc, C_U1)
    u2v = _seg(cplx, oc, C_U2)
    d0 = _seg(cplx, oc, C_UDI0)
    d1 = _seg(cplx, oc, C_UDI1)
    d2 = _seg(cplx, oc, C_UDI2)
    c1 = _seg(cplx, oc, C_C1)
    v1s = _seg(cplx, oc, C_V1)
    n = has_inj.shape[0]
    s, finite = _injections_one(net, inputs, masked)
    if not finite:
        status[0] = -1
        status[1] = 0
        return 0.0
    inj = np.zeros(n)
    for i in range(n):
        inj[i] = 1.0 if has_inj[i] else 0.0
    sa = np.empty(n, dtype=np.complex128)
    sb = np.empty(n, dtype=np.complex128)
    sc = np.empty(n, dtype=np.complex128)
    for i in range(n):
        sa[i] = s[3 * i]
        sb[i] = s[3 * i + 1]
        sc[i] = s[3 * i + 2]
    v0 = np.zeros(n, dtype=np.complex128)
    v1 = v1s.copy()
    v2 = np.zeros(n, dtype=np.complex128)
    w0 = np.empty(n, dtype=np.complex128)  # the next iterate
    w1 = np.empty(n, dtype=np.complex128)
    w2 = np.empty(n, dtype=np.complex128)
    y0 = np.empty(n, dtype=np.complex128)
    y1 = np.empty(n, dtype=np.complex128)
    y2 = np.empty(n, dtype=np.complex128)
    err = np.zeros(n)
    # the first right-hand side from the starting point (its mismatch is discarded)
    _rhs_pass(v0, v1, v2, v0, v1, v2, sa, sb, sc, inj, d0, d1, d2, c1, y0, y1, y2, err)
    mis = 0.0
    done = False
    it_done = 0
    for it in range(max_iter):
        for i in range(n):  # forward by rows
            a0 = y0[i]
            a1 = y1[i]
            a2 = y2[i]
            for p in range(l_ptr[i], l_ptr[i + 1]):
                j = l_idx[p]
                a0 -= l0v[p] * y0[j]
                a1 -= l1v[p] * y1[j]
                a2 -= l2v[p] * y2[j]
            y0[i] = a0
            y1[i] = a1
            y2[i] = a2
        for i in range(n - 1, -1, -1):  # backward by rows
            a0 = y0[i]
            a1 = y1[i]
            a2 = y2[i]
            for p in range(u_ptr[i], u_ptr[i + 1]):
                j = u_idx[p]
                a0 -= u0v[p] * w0[j]
                a1 -= u1v[p] * w1[j]
                a2 -= u2v[p] * w2[j]
            w0[i] = a0
            w1[i] = a1 if i < m else v1s[i]
            w2[i] = a2
        _rhs_pass(v0, v1, v2, w0, w1, w2, sa, sb, sc, inj, d0, d1, d2, c1, y0, y1, y2, err)
        v0, w0 = w0, v0
        v1, w1 = w1, v1
        v2, w2 = w2, v2
        bits = err.view(np.int64)  # max over positions on the bit patterns (NaN wins)
        top = np.int64(0)
        for i in range(n):
            top = bits[i] if bits[i] > top else top
        bits[0] = top
        mis = err[0]
        it_done = it + 1
        if mis < tol:
            done = True
            break
        if not (mis < DIVERGED_PU):
            break
    for i in range(n):
        F[i, 0] = v0[i].real
        F[i, L] = v0[i].imag
        F[i, 2 * L] = v1[i].real
        F[i, 3 * L] = v1[i].imag
        F[i, 4 * L] = v2[i].real
        F[i, 5 * L] = v2[i].imag
    status[0] = it_done
    status[1] = 1 if done else 0
    return mis


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _rhs_pass(v0, v1, v2, w0, w1, w2, sa, sb, sc, inj, d0, d1, d2, c1, y0, y1, y2,
              err):  # pragma: no cover - numba
    """From the iterate ``v`` to the new voltages ``w`` of every position (one branch-free
    pass, vectorised over positions): per-phase mismatch into ``err`` and the next
    right-hand sides ``y`` (a position without an injection has ``S = 0``: no current)."""
    for i in range(v0.shape[0]):
        x0 = w0[i]
        x1 = w1[i]
        x2 = w2[i]
        qa_r, qa_i, qb_r, qb_i, qc_r, qc_i = _to_abc(v0[i].real, v0[i].imag, v1[i].real,
                                                     v1[i].imag, v2[i].real, v2[i].imag)
        pa_r, pa_i, pb_r, pb_i, pc_r, pc_i = _to_abc(x0.real, x0.imag, x1.real, x1.imag,
                                                     x2.real, x2.imag)
        ea, ia_r, ia_i = _phase_one(qa_r, qa_i, pa_r, pa_i, sa[i].real, sa[i].imag)
        eb, ib_r, ib_i = _phase_one(qb_r, qb_i, pb_r, pb_i, sb[i].real, sb[i].imag)
        ec, ic_r, ic_i = _phase_one(qc_r, qc_i, pc_r, pc_i, sc[i].real, sc[i].imag)
        e = ea if ea > eb else eb
        e = e if e > ec else ec
        nan = (ea != ea) or (eb != eb) or (ec != ec)
        g = inj[i]
        err[i] = (np.inf if nan else e) if g > 0.0 else 0.0
        j0r, j0i, j1r, j1i, j2r, j2i = _to_012_times3(ia_r, ia_i, ib_r, ib_i, ic_r, ic_i)
        y0[i] = d0[i] * complex(j0r * g, j0i * g)
        y1[i] = c1[i] + d1[i] * complex(j1r * g, j1i * g)
        y2[i] = d2[i] * complex(j2r * g, j2i * g)


@njit(cache=True, nogil=True, fastmath=_FAST, inline="always")
def _phase_one(qr, qi, vr, vi, sr, si):  # pragma: no cover - numba
    """Mismatch of a phase going from voltage ``q`` to ``v`` under injection ``S``, and its
    load current ``conj(S / v)``."""
    dq = 1.0 / (qr * qr + qi * qi)
    dvr = vr - qr
    dvi = vi - qi
    rr = (dvr * qr + dvi * qi) * dq
    ri = (dvi * qr - dvr * qi) * dq
    er = abs(sr * rr - si * ri)
    ei = abs(sr * ri + si * rr)
    dn = 1.0 / (vr * vr + vi * vi)
    return (er if er > ei else ei), (sr * vr + si * vi) * dn, (sr * vi - si * vr) * dn
