"""Numba kernels of the load flow: arrays in, arrays out (no pandapower objects).

Algorithm (decision, see also :mod:`grids.balanced.loadflow`): fixed-point current injection with
the
admittance matrix between non-slack buses, ``Y_pp``, factorised once (``L U``, from
:mod:`grids.balanced.compile`). For constant-power injections ``S`` [p.u.] the bus equations are

    Y_pp V_p = conj(S / V_p) - Y_ps V_s,

and one iteration solves them for ``V_p`` with the currents of the previous iterate on the
right-hand side: two sparse triangular solves, O(nnz(L + U)) per step. Radial LV grids
factorise without fill-in. The buses are numbered in the LU's order at compile time (no
permutation per iteration), and that order groups independent columns level by level
(:func:`grids.balanced.compile._level_order`) so that the solves are not one long dependency chain.

One iteration is two passes over the buses:

* forward substitution with ``L`` by rows (each bus gathers from the buses below it in the
  elimination tree and is written once);
* backward substitution with ``U`` by rows, fused with everything the new voltage of a bus
  allows at once: its power mismatch and the right-hand side of the next iteration. (The
  single-step kernel does the latter in a third, branch-free pass over the buses instead, so
  that it vectorises over buses: 0.8 instead of 1.6 us per iteration on the reference feeder.)

The diagonal of ``U`` is moved off the dependency chains (``Y_pp = L D U1``; the kernels hold
``D^-1 L D`` and ``D^-1 U``, see :mod:`grids.balanced.netpack`).

The true power mismatch at the new iterate is free: the linear system is solved exactly, so
``S_calc - S = S (V_new - V_old) / V_old`` at every bus with an injection (buses without one
have none). We stop on the quantity Newton-Raphson stops on, ``max(|dP|, |dQ|) < tol``,
without an extra product with ``Ybus``; that value is reported as the step's mismatch (the
tests check it against ``Ybus`` independently).

Batches are solved in chunks of ``lanes`` steps: every working array of a chunk is
``[n_bus, lanes]`` so that the inner loops run over the steps of the chunk, contiguous in
memory (SIMD), while the sparse pattern (index loads) is shared by the steps of the chunk.
Chunk ranges run on Python threads (the kernels release the GIL). Lanes are independent: a
step that diverges (NaN, inf) never touches its neighbours; the chunk iterates until every
lane has converged or stopped, and a lane's voltages are frozen at the iteration it
converges, so a step's result does not depend on the other steps of its batch. A single step
uses :func:`solve_one` (scalar complex arithmetic, no lane loops).

A batch chunk first does :data:`F32_ITERS` iterations in float32 on the deviation from the
no-load voltage (:func:`_iterate_f32`: twice the lanes per SIMD register, no mismatch), then
float64 iterations from there until the float64 mismatch is below the tolerance: on the
reference feeder 4 + 2 instead of 6 float64 iterations. Convergence is only ever decided in
float64, so the result meets the same tolerance as from ``V_nl``.

The iteration contracts at a rate of roughly ``|Z S| / |V|^2`` (a few percent on LV feeders
at normal load, six to eight iterations to 1e-11); near the loadability limit it slows and
then diverges, while Newton-Raphson still converges. :mod:`grids.balanced.loadflow` therefore
re-solves
the steps that did not converge here with Newton-Raphson before flagging them.

Network data
------------
The kernels take the network as six arrays, ``net = (ints, int_offsets, floats,
float_offsets, cplx, cplx_offsets)``: every per-network array is a segment of one of three
packed arrays, segment ``k`` being ``packed[offsets[k]:offsets[k + 1]]`` (built by
:mod:`grids.balanced.netpack`; the ``I_*``, ``F_*`` and ``C_*`` constants below name the segments).
A call therefore passes six arrays rather than fifty: numba's dispatcher checks the type of
every argument on each call: 7 us per call with the fifty arrays, 2 us now (measured).

Buses are numbered by *position*: ``0 .. m-1`` the non-slack buses in LU order, then the
slack buses.

Inputs are checked inside the kernels as they are read: a chunk (or single step) with a NaN
or infinite value is not solved; its steps get ``iterations = -1`` and the caller raises the
error that names the value.

All kernels are compiled with ``cache=True`` so that a new process loads them from disk.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: A lane whose mismatch exceeds this [p.u.] is treated as diverged and stops iterating.
DIVERGED_PU = 1e6

#: Steps per chunk of a batch. The inner loops run over the lanes of a chunk; LLVM vectorises
#: them when they are long enough (measured on the reference feeder, 1 thread, 8,192 steps:
#: 9.9 us per step at 64 lanes, 9.3 at 128, 10.5 at 32, 14.0 at 16; 64 keeps a chunk's
#: working set near the L2 cache). Single steps use the scalar kernel :func:`solve_one`.
LANES = 64

#: Iterations of a batch chunk done in float32 before the float64 ones (see
#: :func:`_iterate_f32`). Measured on the reference feeder (2,048 random draws from no load
#: to 1.2x load and full PV): the float64 iterations from ``V_nl`` are 6, after 3/4/5/6
#: float32 iterations 3/2/2/2, so 4 saves four float64 iterations for four float32 ones
#: (about 0.37 against 1.0 us per step each). The default of
#: :class:`grids.balanced.loadflow.LoadFlow`.
F32_ITERS = 4

#: LLVM fast-math flags of the lane loops: reassociation and contraction (FMA) let them
#: vectorise; no ``nnan``/``ninf``, so NaN and inf still propagate and are detected.
_FAST = {"reassoc", "contract", "arcp", "nsz"}

#: Above this |tan| of the angle relative to the no-load angle (7.1 degree), ``np.arctan2``
#: is used instead of the series of :func:`_atan_small`.
_TAN_FAST = 0.125

# ---------------------------------------------------------------- packed network segments
# int64 segments
I_HAS_INJ = 0      # [m] 1 where the bus can have a non-zero injection
I_L_PTR = 1        # [m+1] strictly lower L, CSR (rows = positions)
I_L_IDX = 2
I_U_PTR = 3        # [m+1] strictly upper U, CSR
I_U_IDX = 4
I_LOAD_POS = 5     # [n_load] position of each load's bus, -1: ignored
I_SGEN_POS = 6     # [n_sgen]
I_YS_PTR = 7       # [n_slack+1] rows of Ybus at the slack buses, CSR (columns = positions)
I_YS_IDX = 8
I_BR_F = 9         # [n_br] from / to position of each internal branch
I_BR_T = 10
I_BUS_POS = 11     # [n_bus] position of each net.bus row, -1: not energised
I_LINE_BR = 12     # [n_line] internal branch of each line, -1: out of service
I_LINE_NAN = 13    # [n_line] 1: NaN result (bus not energised)
I_TRAFO_BR = 14
I_TRAFO_NAN = 15
I_EG_SLACK = 16    # [n_ext_grid] slack number (0 .. n_slack-1) of each ext_grid, -1: none
I_BR_OTHER = 17    # internal branches of neither a line nor a trafo (they count in losses)
N_INT_SEGMENTS = 18
# float64 segments
F_LOAD_SCALE = 0   # [n_load] pandapower's scaling
F_SGEN_SCALE = 1   # [n_sgen]
F_REF_RAD = 2      # [n_pos] no-load angle [rad]
F_LINE_BASE = 3    # [n_line] p.u. current -> loading [%]
F_TRAFO_HV = 4     # [n_trafo] likewise, HV and LV side
F_TRAFO_LV = 5
F_BASE_MVA = 6     # [1]
N_FLOAT_SEGMENTS = 7
# complex128 segments
C_L = 0            # values of I_L_*: D^-1 L D (D = diag(U))
C_U = 1            # values of I_U_*: D^-1 U
C_UDI = 2          # [m] 1 / diag(U)
C_C = 3            # [m] D^-1 (-Y_ps V_s)
C_VNL = 4          # [m] no-load voltage, the starting point
C_VS = 5           # [n_slack] slack voltages
C_SCONST = 6       # [n_pos] constant injections (storage) [p.u.]
C_YS = 7           # values of I_YS_*
C_REF = 8          # [n_pos] unit phasor of the no-load angle
C_YFF = 9          # [n_br] Yf entry multiplying V[f]
C_YFT = 10         # [n_br] Yf entry multiplying V[t]
C_YTF = 11         # [n_br] Yt entry multiplying V[f]
C_YTT = 12         # [n_br] Yt entry multiplying V[t]
N_CPLX_SEGMENTS = 13


@njit(cache=True, nogil=True)
def _seg(packed, offsets, k):  # pragma: no cover - numba
    """Segment ``k`` of a packed array (a view)."""
    return packed[offsets[k]:offsets[k + 1]]


@njit(cache=True, nogil=True)
def _solver_arrays(net):  # pragma: no cover - numba
    """The segments the iteration uses: ``(has_inj, l_ptr, l_idx, u_ptr, u_idx, l_val, u_val,
    udi, c_rhs, v_nl, v_slack)``."""
    ints, oi, flts, of, cplx, oc = net
    return (_seg(ints, oi, I_HAS_INJ), _seg(ints, oi, I_L_PTR), _seg(ints, oi, I_L_IDX),
            _seg(ints, oi, I_U_PTR), _seg(ints, oi, I_U_IDX), _seg(cplx, oc, C_L),
            _seg(cplx, oc, C_U), _seg(cplx, oc, C_UDI), _seg(cplx, oc, C_C),
            _seg(cplx, oc, C_VNL), _seg(cplx, oc, C_VS))


@njit(cache=True, nogil=True)
def _result_arrays(net):  # pragma: no cover - numba
    """The segments the result extraction uses: ``(ys_ptr, ys_idx, br_f, br_t, bus_pos,
    line_br, line_nan, trafo_br, trafo_nan, eg_slack, br_other, ref_rad, line_base, trafo_hv,
    trafo_lv, base_mva, ys_val, ref, yff, yft, ytf, ytt)``."""
    ints, oi, flts, of, cplx, oc = net
    return (_seg(ints, oi, I_YS_PTR), _seg(ints, oi, I_YS_IDX), _seg(ints, oi, I_BR_F),
            _seg(ints, oi, I_BR_T), _seg(ints, oi, I_BUS_POS), _seg(ints, oi, I_LINE_BR),
            _seg(ints, oi, I_LINE_NAN), _seg(ints, oi, I_TRAFO_BR),
            _seg(ints, oi, I_TRAFO_NAN), _seg(ints, oi, I_EG_SLACK),
            _seg(ints, oi, I_BR_OTHER), _seg(flts, of, F_REF_RAD),
            _seg(flts, of, F_LINE_BASE), _seg(flts, of, F_TRAFO_HV),
            _seg(flts, of, F_TRAFO_LV), _seg(flts, of, F_BASE_MVA)[0],
            _seg(cplx, oc, C_YS), _seg(cplx, oc, C_REF), _seg(cplx, oc, C_YFF),
            _seg(cplx, oc, C_YFT), _seg(cplx, oc, C_YTF), _seg(cplx, oc, C_YTT))


@njit(cache=True, nogil=True, fastmath=_FAST)
def _atan_small(t):  # pragma: no cover - numba
    """``atan(t)`` for ``|t| <= 0.125`` to double precision: the odd Taylor series to
    ``t**15``. The series alternates, so the error is below the first omitted term,
    ``t**17 / 17``: at most 2e-16 of the value itself (``0.125**16 / 17``) and 1.3e-17 rad,
    thirty times below the rounding of the angle it is added to (an ulp of ``pi`` is 4.4e-16).
    (Up to ``t**23``, as before, cost 0.2-0.3 us more per step of a batch.)

    The polynomial in ``z = t*t`` is evaluated in Estrin's scheme (pairs, then pairs of
    pairs) rather than Horner's: a shorter dependency chain, which took about 0.7 us per
    step off a batch's result extraction on the reference feeder.
    """
    z = t * t
    z2 = z * z
    z4 = z2 * z2
    p01 = 1.0 - z * (1.0 / 3.0)
    p23 = 1.0 / 5.0 - z * (1.0 / 7.0)
    p45 = 1.0 / 9.0 - z * (1.0 / 11.0)
    p67 = 1.0 / 13.0 - z * (1.0 / 15.0)
    q0 = p01 + z2 * p23
    q1 = p45 + z2 * p67
    return t * (q0 + z4 * q1)


# =============================================================== batches: lanes of steps
@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _injections(step_ids, net, inputs):  # pragma: no cover - numba
    """Specified injection S [p.u.] per position and lane, ``[n_pos, K]`` (re, im), and
    whether every input value read is finite."""
    ints, oi, flts, of, cplx, oc = net
    load_pos = _seg(ints, oi, I_LOAD_POS)
    sgen_pos = _seg(ints, oi, I_SGEN_POS)
    load_scale = _seg(flts, of, F_LOAD_SCALE)
    sgen_scale = _seg(flts, of, F_SGEN_SCALE)
    s_const = _seg(cplx, oc, C_SCONST)
    inv_base = 1.0 / _seg(flts, of, F_BASE_MVA)[0]
    load_p, load_q, sgen_p, sgen_q = inputs
    n_pos = s_const.shape[0]
    n_load = load_pos.shape[0]
    n_sgen = sgen_pos.shape[0]
    K = step_ids.shape[0]
    s_re = np.empty((n_pos, K))
    s_im = np.empty((n_pos, K))
    for b in range(n_pos):
        for k in range(K):
            s_re[b, k] = s_const[b].real
            s_im[b, k] = s_const[b].imag
    lf = load_scale * inv_base
    gf = sgen_scale * inv_base
    # lane outer: each step's input rows are read front to back (streams for the prefetcher);
    # the finiteness check is a separate, vectorised pass over the same rows (x * 0 is NaN
    # exactly when x is NaN or infinite; no ``nnan`` flag, so it is not folded away)
    chk = 0.0
    for k in range(K):
        st = step_ids[k]
        lp = load_p[st if load_p.shape[0] > 1 else 0]
        lq = load_q[st if load_q.shape[0] > 1 else 0]
        gp = sgen_p[st if sgen_p.shape[0] > 1 else 0]
        gq = sgen_q[st if sgen_q.shape[0] > 1 else 0]
        for e in range(n_load):
            chk += (lp[e] + lq[e]) * 0.0
        for e in range(n_sgen):
            chk += (gp[e] + gq[e]) * 0.0
        for e in range(n_load):
            b = load_pos[e]
            if b >= 0:
                s_re[b, k] -= lp[e] * lf[e]
                s_im[b, k] -= lq[e] * lf[e]
        for e in range(n_sgen):
            b = sgen_pos[e]
            if b >= 0:
                s_re[b, k] += gp[e] * gf[e]
                s_im[b, k] += gq[e] * gf[e]
    return s_re, s_im, chk == 0.0


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _iterate_f32(n_iter, has_inj, l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, udi, v_nl,
                 s_re, s_im, v_re, v_im):  # pragma: no cover - numba
    """``n_iter`` iterations from ``V_nl`` in float32, the result into ``v_re``, ``v_im``
    ``[m, K]`` (float64): the starting point of the float64 iterations of a chunk.

    The iterate is the deviation from the no-load voltage, which solves
    ``Y_pp X = conj(S / (V_nl + X))`` (as ``Y_pp V_nl = -Y_ps V_s``): it is a few percent of
    ``V``, so float32's relative rounding (6e-8) is a few 1e-9 p.u. of ``V``, and the
    right-hand side has no large constant term to cancel. (Iterating on ``V`` itself in
    float32 left the float64 iterations one more to do.)

    Twice as many lanes fit in a SIMD register, and no mismatch is computed (the count is
    fixed), so an iteration costs about 0.37 us per step against 1.0 in float64 (reference
    feeder, 1 thread, measured in one process). The float64 iterations then take the
    iterate to the tolerance, and only they decide convergence, so the result is as exact
    as from ``V_nl`` (see :data:`F32_ITERS`). ``n_iter = 0`` writes ``V_nl``.
    """
    f4 = np.float32
    m = has_inj.shape[0]
    K = s_re.shape[1]
    one = f4(1.0)
    zero = f4(0.0)
    if n_iter == 0:
        for i in range(m):
            for k in range(K):
                v_re[i, k] = v_nl[i].real
                v_im[i, k] = v_nl[i].imag
        return
    # [bus, re/im, lane]: the real and imaginary parts in one array. With two arrays (as in
    # the float64 iterations) LLVM checks at every matrix entry whether they overlap before
    # it runs the vectorised loop; this layout made a whole batch 19 % faster (measured, A/B
    # in one process; in the float64 iterations it made no difference)
    X = np.empty((m, 2, K), dtype=f4)  # the iterate X
    lr = np.empty(l_val.shape[0], dtype=f4)
    li = np.empty(l_val.shape[0], dtype=f4)
    for p in range(l_val.shape[0]):
        lr[p] = f4(l_val[p].real)
        li[p] = f4(l_val[p].imag)
    ur = np.empty(u_val.shape[0], dtype=f4)
    ui = np.empty(u_val.shape[0], dtype=f4)
    for p in range(u_val.shape[0]):
        ur[p] = f4(u_val[p].real)
        ui[p] = f4(u_val[p].imag)
    W = np.empty((m, 2, K), dtype=f4)
    Y = np.empty((m, 2, K), dtype=f4)  # right-hand side, then forward-substituted
    for i in range(m):
        dr = udi[i].real
        di = udi[i].imag
        vr = v_nl[i].real
        vi = v_nl[i].imag
        d = 1.0 / (vr * vr + vi * vi)
        for k in range(K):
            sr = s_re[i, k]
            si = s_im[i, k]
            wr = dr * sr + di * si
            wi = di * sr - dr * si
            W[i, 0, k] = f4(wr)
            W[i, 1, k] = f4(wi)
            Y[i, 0, k] = f4((wr * vr - wi * vi) * d)
            Y[i, 1, k] = f4((wr * vi + wi * vr) * d)
    for _ in range(n_iter):
        for i in range(m):  # forward substitution by rows
            for p in range(l_ptr[i], l_ptr[i + 1]):
                j = l_idx[p]
                a = lr[p]
                b = li[p]
                for k in range(K):
                    xr = Y[j, 0, k]
                    xi = Y[j, 1, k]
                    Y[i, 0, k] -= a * xr - b * xi
                    Y[i, 1, k] -= a * xi + b * xr
        for i in range(m - 1, -1, -1):  # backward by rows, then the next right-hand side
            for p in range(u_ptr[i], u_ptr[i + 1]):
                j = u_idx[p]
                a = ur[p]
                b = ui[p]
                for k in range(K):
                    xr = X[j, 0, k]
                    xi = X[j, 1, k]
                    Y[i, 0, k] -= a * xr - b * xi
                    Y[i, 1, k] -= a * xi + b * xr
            if has_inj[i]:
                nr = f4(v_nl[i].real)
                ni = f4(v_nl[i].imag)
                for k in range(K):
                    xr = Y[i, 0, k]
                    xi = Y[i, 1, k]
                    X[i, 0, k] = xr
                    X[i, 1, k] = xi
                    vr = nr + xr
                    vi = ni + xi
                    d4 = one / (vr * vr + vi * vi)
                    wr = W[i, 0, k]
                    wi = W[i, 1, k]
                    Y[i, 0, k] = (wr * vr - wi * vi) * d4
                    Y[i, 1, k] = (wr * vi + wi * vr) * d4
            else:
                for k in range(K):
                    X[i, 0, k] = Y[i, 0, k]
                    X[i, 1, k] = Y[i, 1, k]
                    Y[i, 0, k] = zero
                    Y[i, 1, k] = zero
    for i in range(m):
        nr = v_nl[i].real
        ni = v_nl[i].imag
        for k in range(K):
            v_re[i, k] = nr + X[i, 0, k]
            v_im[i, k] = ni + X[i, 1, k]


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _chunk(step_ids, net, inputs, outs, tol, max_iter, n_f32):  # pragma: no cover - numba
    """Solve and extract the steps ``step_ids`` as one chunk (vectorised over its lanes)."""
    # the segments one by one rather than through _solver_arrays: returned as a tuple, they
    # made this loop nest twice as slow (measured, 0.8 -> 1.5 us per iteration and step)
    ints, oi, flts, of, cplx, oc = net
    has_inj = _seg(ints, oi, I_HAS_INJ)
    l_ptr = _seg(ints, oi, I_L_PTR)
    l_idx = _seg(ints, oi, I_L_IDX)
    u_ptr = _seg(ints, oi, I_U_PTR)
    u_idx = _seg(ints, oi, I_U_IDX)
    l_val = _seg(cplx, oc, C_L)
    u_val = _seg(cplx, oc, C_U)
    udi = _seg(cplx, oc, C_UDI)
    c_rhs = _seg(cplx, oc, C_C)
    v_nl = _seg(cplx, oc, C_VNL)
    v_slack = _seg(cplx, oc, C_VS)
    o_iter, o_mism, o_conv = outs[7], outs[8], outs[9]
    K = step_ids.shape[0]
    m = has_inj.shape[0]
    n_sl = v_slack.shape[0]

    s_re, s_im, finite = _injections(step_ids, net, inputs)
    if not finite:  # not solved; the caller raises the error naming the value
        for k in range(K):
            o_iter[step_ids[k]] = -1
            o_conv[step_ids[k]] = False
            o_mism[step_ids[k]] = np.nan
        return

    # v: the iterate; y: right-hand side D^-1 (c + conj(S / v)), then (in place) the
    # forward-substituted vector z
    v_re = np.empty((m, K))
    v_im = np.empty((m, K))
    y_re = np.empty((m, K))
    y_im = np.empty((m, K))
    inv = np.empty((m, K))  # 1 / |v|^2 of the iterate y was built from (injection buses)
    # voltages of all positions; a lane's rows 0..m-1 are frozen here when it converges, so
    # that a step's result does not depend on the other steps of its chunk
    vf_re = np.empty((m + n_sl, K))
    vf_im = np.empty((m + n_sl, K))
    mis = np.zeros(K)
    fin_mis = np.zeros(K)
    newly = np.zeros(K, dtype=np.bool_)
    done = np.zeros(K, dtype=np.bool_)
    stopped = np.zeros(K, dtype=np.bool_)
    iters = np.zeros(K, dtype=np.int64)
    # the starting point: V_nl plus the deviation the float32 iterations found
    n32 = n_f32 if max_iter > n_f32 + 1 else 0
    _iterate_f32(n32, has_inj, l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, udi, v_nl, s_re, s_im,
                 v_re, v_im)
    # ... and the first right-hand side there
    for i in range(m):
        cr = c_rhs[i].real
        ci = c_rhs[i].imag
        dr = udi[i].real
        di = udi[i].imag
        if has_inj[i]:
            for k in range(K):
                sr = s_re[i, k]
                si = s_im[i, k]
                vr = v_re[i, k]
                vi = v_im[i, k]
                d = 1.0 / (vr * vr + vi * vi)
                inv[i, k] = d
                tr = (sr * vr + si * vi) * d
                ti = (sr * vi - si * vr) * d
                y_re[i, k] = cr + dr * tr - di * ti
                y_im[i, k] = ci + dr * ti + di * tr
        else:
            for k in range(K):
                y_re[i, k] = cr
                y_im[i, k] = ci
    for it in range(n32, max_iter):
        # forward substitution by rows: z_i = y_i - sum_j (D^-1 L D)_ij z_j
        for i in range(m):
            for p in range(l_ptr[i], l_ptr[i + 1]):
                j = l_idx[p]
                lr = l_val[p].real
                li = l_val[p].imag
                for k in range(K):
                    xr = y_re[j, k]
                    xi = y_im[j, k]
                    y_re[i, k] -= lr * xr - li * xi
                    y_im[i, k] -= lr * xi + li * xr
        # backward substitution by rows, x_i = z_i - sum_j (D^-1 U)_ij x_j, fused with what
        # the new voltage of bus i gives at once: its mismatch S (V_new - V_old) / V_old
        # and the next right-hand side D^-1 (c + conj(S / V_new))
        for k in range(K):
            mis[k] = 0.0
        for i in range(m - 1, -1, -1):
            for p in range(u_ptr[i], u_ptr[i + 1]):
                j = u_idx[p]
                ur = u_val[p].real
                ui = u_val[p].imag
                for k in range(K):
                    xr = v_re[j, k]
                    xi = v_im[j, k]
                    y_re[i, k] -= ur * xr - ui * xi
                    y_im[i, k] -= ur * xi + ui * xr
            cr = c_rhs[i].real
            ci = c_rhs[i].imag
            if has_inj[i]:
                dr = udi[i].real
                di = udi[i].imag
                for k in range(K):
                    xr = y_re[i, k]
                    xi = y_im[i, k]
                    vr = v_re[i, k]
                    vi = v_im[i, k]
                    dvr = xr - vr
                    dvi = xi - vi
                    d = inv[i, k]
                    rr = (dvr * vr + dvi * vi) * d
                    ri = (dvi * vr - dvr * vi) * d
                    sr = s_re[i, k]
                    si = s_im[i, k]
                    er = abs(sr * rr - si * ri)
                    ei = abs(sr * ri + si * rr)
                    e = er if er > ei else ei
                    mk = mis[k]
                    mis[k] = e if (e > mk or e != e) else mk
                    dn = 1.0 / (xr * xr + xi * xi)
                    inv[i, k] = dn
                    tr = (sr * xr + si * xi) * dn
                    ti = (sr * xi - si * xr) * dn
                    y_re[i, k] = cr + dr * tr - di * ti
                    y_im[i, k] = ci + dr * ti + di * tr
                    v_re[i, k] = xr
                    v_im[i, k] = xi
            else:
                for k in range(K):
                    v_re[i, k] = y_re[i, k]
                    v_im[i, k] = y_im[i, k]
                    y_re[i, k] = cr
                    y_im[i, k] = ci
        active = 0
        n_new = 0
        for k in range(K):
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
        if n_new > 0:  # freeze the lanes that converged now (row-wise, masked)
            for i in range(m):
                for k in range(K):
                    if newly[k]:
                        vf_re[i, k] = v_re[i, k]
                        vf_im[i, k] = v_im[i, k]
        if active == 0:
            break

    # --- lanes that did not converge: their last iterate; slack rows
    for k in range(K):
        if not done[k]:
            fin_mis[k] = mis[k]
            for i in range(m):
                vf_re[i, k] = v_re[i, k]
                vf_im[i, k] = v_im[i, k]
    for j in range(n_sl):
        for k in range(K):
            vf_re[m + j, k] = v_slack[j].real
            vf_im[m + j, k] = v_slack[j].imag
    _extract(step_ids, vf_re, vf_im, s_re, s_im, net, outs)
    for k in range(K):
        s = step_ids[k]
        o_iter[s] = iters[k]
        o_conv[s] = done[k]
        o_mism[s] = fin_mis[k]


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _branch_lanes(r, vf_re, vf_im, yff, yft, ytf, ytt, br_f, br_t, f2, t2, out, loss
                  ):  # pragma: no cover - numba
    """Loading of branch ``r`` per lane, ``sqrt(max(f2 |I_f|^2, t2 |I_t|^2))`` (into
    ``out``, e.g. a row of the output: one pass, no temporaries), and its losses added to
    ``loss`` [p.u.]."""
    f = br_f[r]
    t = br_t[r]
    a_r = yff[r].real
    a_i = yff[r].imag
    b_r = yft[r].real
    b_i = yft[r].imag
    c_r = ytf[r].real
    c_i = ytf[r].imag
    d_r = ytt[r].real
    d_i = ytt[r].imag
    for k in range(out.shape[0]):
        vfr = vf_re[f, k]
        vfi = vf_im[f, k]
        vtr = vf_re[t, k]
        vti = vf_im[t, k]
        ifr = a_r * vfr - a_i * vfi + b_r * vtr - b_i * vti
        ifi = a_r * vfi + a_i * vfr + b_r * vti + b_i * vtr
        itr = c_r * vfr - c_i * vfi + d_r * vtr - d_i * vti
        iti = c_r * vfi + c_i * vfr + d_r * vti + d_i * vtr
        a = (ifr * ifr + ifi * ifi) * f2
        c = (itr * itr + iti * iti) * t2
        out[k] = np.sqrt(a if a > c else c)
        loss[k] += (vfr * ifr + vfi * ifi) + (vtr * itr + vti * iti)


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _from_power_lanes(r, vf_re, vf_im, yff, yft, br_f, br_t, scale, p_out, q_out
                      ):  # pragma: no cover - numba
    """Power flowing into branch ``r`` at its from bus, ``scale * V_f conj(I_f)``, per lane
    (into ``p_out``, ``q_out``, e.g. rows of the outputs)."""
    f = br_f[r]
    t = br_t[r]
    a_r = yff[r].real
    a_i = yff[r].imag
    b_r = yft[r].real
    b_i = yft[r].imag
    for k in range(p_out.shape[0]):
        vfr = vf_re[f, k]
        vfi = vf_im[f, k]
        vtr = vf_re[t, k]
        vti = vf_im[t, k]
        ifr = a_r * vfr - a_i * vfi + b_r * vtr - b_i * vti
        ifi = a_r * vfi + a_i * vfr + b_r * vti + b_i * vtr
        p_out[k] = (vfr * ifr + vfi * ifi) * scale
        q_out[k] = (vfi * ifr - vfr * ifi) * scale


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _extract(step_ids, vf_re, vf_im, s_re, s_im, net, outs):  # pragma: no cover - numba
    """Results of the lanes of a chunk from the voltages of all positions ``[n_pos, K]``.

    Each result is computed where it is written (bus by bus, line by line; lanes inner),
    without ``[n, K]`` temporaries. The 2-D outputs are element-major, ``[n_element,
    n_steps]``, so that the lanes of a chunk write consecutive memory (SIMD stores):
    writing step rows instead (one scalar store per lane, 2.5 kB apart) cost about 1.1 us
    per step on the reference feeder, 12 % of a batch (measured).
    """
    (ys_ptr, ys_idx, br_f, br_t, bus_pos, line_br, line_nan, trafo_br, trafo_nan, eg_slack,
     br_other, ref_rad, line_base, trafo_hv, trafo_lv, base_mva, ys_val, ref, yff, yft, ytf,
     ytt) = _result_arrays(net)
    K = step_ids.shape[0]
    s0 = step_ids[0]  # the steps of a chunk are consecutive
    o_vm, o_va, o_line, o_trafo, o_egp, o_egq, o_loss = outs[:7]
    o_tp, o_tq = outs[10], outs[11]
    s1 = s0 + K
    # the outputs are written through the chunk's part of a row, o[j, s0:s1], indexed by
    # the lane: indexed by the step s0 + k instead, LLVM cannot drop numba's negative-index
    # wraparound and does not vectorise the stores (measured: the bus loop twice as slow)
    n_pos = vf_re.shape[0]
    n_sl = ys_ptr.shape[0] - 1
    m = n_pos - n_sl
    rad2deg = 180.0 / np.pi
    # magnitude and angle of each net bus; the angle relative to the no-load angle
    n_big = 0  # lane-bus pairs beyond the series' range (an integer sum: still SIMD)
    for j in range(bus_pos.shape[0]):
        b = bus_pos[j]
        vm_row = o_vm[j, s0:s1]
        va_row = o_va[j, s0:s1]
        if b < 0:
            for k in range(K):
                vm_row[k] = np.nan
                va_row[k] = np.nan
            continue
        rr = ref[b].real
        ri = ref[b].imag
        a0 = ref_rad[b]
        for k in range(K):
            vr = vf_re[b, k]
            vi = vf_im[b, k]
            vm_row[k] = np.sqrt(vr * vr + vi * vi)
            # w = V * conj(ref): near the positive real axis
            wr = vr * rr + vi * ri
            wi = vi * rr - vr * ri
            va_row[k] = (a0 + _atan_small(wi / wr)) * rad2deg
            n_big += 1 if abs(wi) > _TAN_FAST * wr else 0
    if n_big > 0:  # a large angle: the library function for those
        for j in range(bus_pos.shape[0]):
            b = bus_pos[j]
            if b < 0:
                continue
            for k in range(K):
                vr = vf_re[b, k]
                vi = vf_im[b, k]
                wr = vr * ref[b].real + vi * ref[b].imag
                wi = vi * ref[b].real - vr * ref[b].imag
                if not (abs(wi) <= _TAN_FAST * wr):
                    o_va[j, s0 + k] = np.arctan2(vi, vr) * rad2deg
    # branches: loading where a line / trafo needs it, losses of every branch
    scratch = np.empty(K)  # the loading of branches that are neither line nor trafo
    loss = np.zeros(K)
    for j in range(line_br.shape[0]):
        r = line_br[j]
        if r >= 0:
            fac2 = line_base[j] * line_base[j]
            _branch_lanes(r, vf_re, vf_im, yff, yft, ytf, ytt, br_f, br_t, fac2, fac2,
                          o_line[j, s0:s1], loss)
        else:
            o_line[j, s0:s1] = np.nan if line_nan[j] else 0.0
    for j in range(trafo_br.shape[0]):
        r = trafo_br[j]
        if r >= 0:
            _branch_lanes(r, vf_re, vf_im, yff, yft, ytf, ytt, br_f, br_t,
                          trafo_hv[j] * trafo_hv[j], trafo_lv[j] * trafo_lv[j],
                          o_trafo[j, s0:s1], loss)
            # HV-side power (the branch's from end is the HV bus, as in pandapower's ppc)
            _from_power_lanes(r, vf_re, vf_im, yff, yft, br_f, br_t, base_mva,
                              o_tp[j, s0:s1], o_tq[j, s0:s1])
        else:
            fill = np.nan if trafo_nan[j] else 0.0
            o_trafo[j, s0:s1] = fill
            o_tp[j, s0:s1] = fill
            o_tq[j, s0:s1] = fill
    for j in range(br_other.shape[0]):
        _branch_lanes(br_other[j], vf_re, vf_im, yff, yft, ytf, ytt, br_f, br_t, 0.0, 0.0,
                      scratch, loss)
    o_loss[s0:s1] = loss * base_mva
    # ext_grid power: S_calc - S_spec at the slack buses
    ir = np.empty(K)
    ii = np.empty(K)
    for j in range(eg_slack.shape[0]):
        q = eg_slack[j]
        if q < 0:
            o_egp[j, s0:s1] = 0.0
            o_egq[j, s0:s1] = 0.0
            continue
        b = m + q
        for k in range(K):
            ir[k] = 0.0
            ii[k] = 0.0
        for p in range(ys_ptr[q], ys_ptr[q + 1]):
            c = ys_idx[p]
            yr = ys_val[p].real
            yi = ys_val[p].imag
            for k in range(K):
                ir[k] += yr * vf_re[c, k] - yi * vf_im[c, k]
                ii[k] += yr * vf_im[c, k] + yi * vf_re[c, k]
        p_row = o_egp[j, s0:s1]
        q_row = o_egq[j, s0:s1]
        for k in range(K):
            vr = vf_re[b, k]
            vi = vf_im[b, k]
            p_row[k] = (vr * ir[k] + vi * ii[k] - s_re[b, k]) * base_mva
            q_row[k] = (vi * ir[k] - vr * ii[k] - s_im[b, k]) * base_mva


@njit(cache=True, nogil=True, error_model="numpy")
def solve_chunks(c0, c1, lanes, n_steps, net, inputs, outs, tol, max_iter,
                 n_f32):  # pragma: no cover - numba
    """Solve chunks ``c0 .. c1-1`` (chunk ``c`` = steps ``c*lanes .. (c+1)*lanes-1``).

    Releases the GIL, so that :mod:`grids.balanced.loadflow` runs disjoint chunk ranges on several
    Python threads at once (our own thread pool rather than ``prange``: numba's parfor
    lowering rejects the tuples of arrays, and a pool costs nothing to start).

    Parameters
    ----------
    c0, c1
        Range of chunks.
    lanes
        Steps per chunk (:data:`LANES` by default).
    n_steps
        Number of steps (rows of the outputs).
    net
        The packed network (see the module docstring).
    inputs
        ``(load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar)``, each ``[n_steps or 1, n_el]``.
    outs
        Output arrays written in place: ``(vm_pu, va_degree, line_loading_percent,
        trafo_loading_percent, ext_grid_p_mw, ext_grid_q_mvar, losses_mw, iterations,
        max_mismatch_pu, converged, trafo_p_hv_mw, trafo_q_hv_mvar)``; the 2-D ones are
        element-major, ``[n_element, n_steps]`` (:mod:`grids.balanced.loadflow` hands out their
        transposes). ``iterations`` is -1
        for the steps of a chunk whose inputs hold a non-finite value (not solved).
    tol
        Mismatch tolerance [p.u.], ``max(|dP|, |dQ|)`` over buses.
    max_iter
        Iteration cap of the fixed point (float32 and float64 iterations together).
    n_f32
        Float32 iterations before the float64 ones (:data:`F32_ITERS`); none if
        ``max_iter <= n_f32 + 1``.
    """
    for c in range(c0, c1):
        s0 = c * lanes
        s1 = min(s0 + lanes, n_steps)
        _chunk(np.arange(s0, s1), net, inputs, outs, tol, max_iter, n_f32)


@njit(cache=True, error_model="numpy")
def extract_steps(step_ids, vf_re, vf_im, s_re, s_im, net, outs):  # pragma: no cover
    """Results of the consecutive steps ``step_ids`` from voltages and injections
    ``[n_pos, K]`` in position order (used by the Newton fallback)."""
    _extract(step_ids, vf_re, vf_im, s_re, s_im, net, outs)


# =============================================================== one step: scalar complex
@njit(cache=True, nogil=True, error_model="numpy")
def _injections_one(net, inputs):  # pragma: no cover - numba
    """Specified injection S [p.u.] per position for row 0 of the inputs (complex), and
    whether every input value read is finite: the single-step twin of :func:`_injections`."""
    ints, oi, flts, of, cplx, oc = net
    load_pos = _seg(ints, oi, I_LOAD_POS)
    sgen_pos = _seg(ints, oi, I_SGEN_POS)
    load_scale = _seg(flts, of, F_LOAD_SCALE)
    sgen_scale = _seg(flts, of, F_SGEN_SCALE)
    inv_base = 1.0 / _seg(flts, of, F_BASE_MVA)[0]
    load_p, load_q, sgen_p, sgen_q = inputs
    s = _seg(cplx, oc, C_SCONST).copy()
    chk = 0.0  # x * 0 is NaN exactly when x is NaN or infinite
    for e in range(load_pos.shape[0]):
        p = load_p[0, e]
        q = load_q[0, e]
        chk += (p + q) * 0.0
        b = load_pos[e]
        if b >= 0:
            f = load_scale[e] * inv_base
            s[b] -= complex(p * f, q * f)
    for e in range(sgen_pos.shape[0]):
        p = sgen_p[0, e]
        q = sgen_q[0, e]
        chk += (p + q) * 0.0
        b = sgen_pos[e]
        if b >= 0:
            f = sgen_scale[e] * inv_base
            s[b] += complex(p * f, q * f)
    return s, chk == 0.0


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FAST)
def solve_one(net, inputs, out, status, tol, max_iter):  # pragma: no cover - numba
    """Solve one step with scalar complex arithmetic (no lane loops: the single-step path).

    Same algorithm and stopping rule as :func:`solve_chunks`, for row 0 of the inputs.

    Parameters
    ----------
    net, inputs, tol, max_iter
        As for :func:`solve_chunks`.
    out
        ``[1, width]`` float64 row, written in place, in this order: ``vm_pu``,
        ``va_degree`` ``[n_bus]`` each, ``line_loading_percent`` ``[n_line]``,
        ``trafo_loading_percent`` ``[n_trafo]``, ``ext_grid_p_mw``, ``ext_grid_q_mvar``
        ``[n_ext_grid]`` each, ``trafo_p_hv_mw``, ``trafo_q_hv_mvar`` ``[n_trafo]`` each,
        ``losses_mw``, max mismatch [MVA].
    status
        ``[2]`` int64, written: iterations (-1: an input value is NaN or infinite, nothing
        solved) and 1 if converged else 0.
    """
    (has_inj, l_ptr, l_idx, u_ptr, u_idx, l_val, u_val, udi, c_rhs, v_nl,
     v_slack) = _solver_arrays(net)
    base_mva = _seg(net[2], net[3], F_BASE_MVA)[0]
    s, finite = _injections_one(net, inputs)
    m = has_inj.shape[0]
    n_pos = s.shape[0]
    if not finite:
        status[0] = -1
        status[1] = 0
        return

    # w = D^-1 conj(S): the next right-hand side is D^-1 c + w V / |V|^2
    w = np.empty(m, dtype=np.complex128)
    s_re = np.empty(m)
    s_im = np.empty(m)
    for i in range(m):
        w[i] = udi[i] * s[i].conjugate()
        s_re[i] = s[i].real
        s_im[i] = s[i].imag
    v = v_nl.copy()       # the iterate
    vn = np.empty(m, dtype=np.complex128)  # the next one (the two swap each iteration)
    y = np.empty(m, dtype=np.complex128)
    inv = np.empty(m)
    err = np.empty(m)
    for i in range(m):  # first right-hand side
        x = v[i]
        d = 1.0 / (x.real * x.real + x.imag * x.imag)
        inv[i] = d
        y[i] = c_rhs[i] + w[i] * x * d if has_inj[i] else c_rhs[i]
    mis = 0.0
    done = False
    it_done = 0
    for it in range(max_iter):
        for i in range(m):  # forward by rows
            acc = y[i]
            for p in range(l_ptr[i], l_ptr[i + 1]):
                acc -= l_val[p] * y[l_idx[p]]
            y[i] = acc
        for i in range(m - 1, -1, -1):  # backward by rows
            x = y[i]
            for p in range(u_ptr[i], u_ptr[i + 1]):
                x -= u_val[p] * vn[u_idx[p]]
            vn[i] = x
        # mismatch and next right-hand side, bus by bus in one branch-free loop (SIMD:
        # unlike in _chunk, where the lanes are the vector, here the buses must be)
        for i in range(m):
            x = vn[i]
            old = v[i]
            xr = x.real
            xi = x.imag
            vr = old.real
            vi = old.imag
            dvr = xr - vr
            dvi = xi - vi
            d = inv[i]
            rr = (dvr * vr + dvi * vi) * d
            ri = (dvi * vr - dvr * vi) * d
            sr = s_re[i]
            si = s_im[i]
            er = abs(sr * rr - si * ri)
            ei = abs(sr * ri + si * rr)
            inj = has_inj[i] != 0
            err[i] = (er if er > ei else ei) if inj else 0.0
            dn = 1.0 / (xr * xr + xi * xi)
            inv[i] = dn
            y[i] = c_rhs[i] + w[i] * x * dn if inj else c_rhs[i]
        v, vn = vn, v
        # max over buses on the bit patterns: for non-negative doubles the integer order is
        # the float order, and a NaN (sign cleared by abs) is above inf, so it wins
        bits = err.view(np.int64)
        top = np.int64(0)
        for i in range(m):
            top = bits[i] if bits[i] > top else top
        bits[0] = top
        mis = err[0]
        it_done = it + 1
        if mis < tol:
            done = True
            break
        if not (mis < DIVERGED_PU):
            break
    vf_re = np.empty(n_pos)
    vf_im = np.empty(n_pos)
    for i in range(m):
        vf_re[i] = v[i].real
        vf_im[i] = v[i].imag
    for j in range(n_pos - m):
        vf_re[m + j] = v_slack[j].real
        vf_im[m + j] = v_slack[j].imag
    _extract_one(vf_re, vf_im, s, net, out[0])
    out[0, out.shape[1] - 1] = mis * base_mva
    status[0] = it_done
    status[1] = 1 if done else 0


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _extract_one(vf_re, vf_im, s, net, row):  # pragma: no cover - numba
    """Results of one step from the voltages and injections ``s`` of all positions, into the
    flat ``row`` (layout as in :func:`solve_one`; the mismatch is written by the caller).

    Magnitudes and angles are computed over the positions in contiguous loops (SIMD), then
    gathered into ``net.bus`` order.
    """
    (ys_ptr, ys_idx, br_f, br_t, bus_pos, line_br, line_nan, trafo_br, trafo_nan, eg_slack,
     _br_other, ref_rad, line_base, trafo_hv, trafo_lv, base_mva, ys_val, ref, yff, yft, ytf,
     ytt) = _result_arrays(net)
    n_pos = vf_re.shape[0]
    n_sl = ys_ptr.shape[0] - 1
    m = n_pos - n_sl
    n_bus = bus_pos.shape[0]
    n_line = line_br.shape[0]
    n_trafo = trafo_br.shape[0]
    n_eg = eg_slack.shape[0]
    rad2deg = 180.0 / np.pi
    vm = np.empty(n_pos)
    va = np.empty(n_pos)
    n_large = 0.0  # a count, not a max: a sum reduction keeps the loop SIMD
    for b in range(n_pos):
        vr = vf_re[b]
        vi = vf_im[b]
        rr = ref[b].real
        ri = ref[b].imag
        vm[b] = np.sqrt(vr * vr + vi * vi)
        wr = vr * rr + vi * ri
        wi = vi * rr - vr * ri
        va[b] = (ref_rad[b] + _atan_small(wi / wr)) * rad2deg
        n_large += 1.0 if abs(wi) > _TAN_FAST * wr else 0.0
    if n_large > 0.0:  # a large angle: the library function for those
        for b in range(n_pos):
            wr = vf_re[b] * ref[b].real + vf_im[b] * ref[b].imag
            wi = vf_im[b] * ref[b].real - vf_re[b] * ref[b].imag
            if not (abs(wi) <= _TAN_FAST * wr):
                va[b] = np.arctan2(vf_im[b], vf_re[b]) * rad2deg
    for j in range(n_bus):
        b = bus_pos[j]
        row[j] = vm[b] if b >= 0 else np.nan
        row[n_bus + j] = va[b] if b >= 0 else np.nan
    nbr = br_f.shape[0]
    i_f2 = np.empty(nbr)
    i_t2 = np.empty(nbr)
    loss = 0.0
    for r in range(nbr):
        f = br_f[r]
        t = br_t[r]
        vfr = vf_re[f]
        vfi = vf_im[f]
        vtr = vf_re[t]
        vti = vf_im[t]
        a = yff[r]
        bb = yft[r]
        c = ytf[r]
        d = ytt[r]
        ifr = a.real * vfr - a.imag * vfi + bb.real * vtr - bb.imag * vti
        ifi = a.real * vfi + a.imag * vfr + bb.real * vti + bb.imag * vtr
        itr = c.real * vfr - c.imag * vfi + d.real * vtr - d.imag * vti
        iti = c.real * vfi + c.imag * vfr + d.real * vti + d.imag * vtr
        i_f2[r] = ifr * ifr + ifi * ifi
        i_t2[r] = itr * itr + iti * iti
        loss += (vfr * ifr + vfi * ifi) + (vtr * itr + vti * iti)
    o = 2 * n_bus
    for j in range(n_line):
        r = line_br[j]
        if r >= 0:
            a2 = i_f2[r]
            c2 = i_t2[r]
            row[o + j] = np.sqrt(a2 if a2 > c2 else c2) * line_base[j]
        else:
            row[o + j] = np.nan if line_nan[j] else 0.0
    o += n_line
    for j in range(n_trafo):
        r = trafo_br[j]
        if r >= 0:
            a2 = i_f2[r] * trafo_hv[j] * trafo_hv[j]
            c2 = i_t2[r] * trafo_lv[j] * trafo_lv[j]
            row[o + j] = np.sqrt(a2 if a2 > c2 else c2)
        else:
            row[o + j] = np.nan if trafo_nan[j] else 0.0
    o += n_trafo
    o_eg = o
    o += 2 * n_eg
    for j in range(n_trafo):  # HV-side power (branch from end = HV bus)
        r = trafo_br[j]
        if r >= 0:
            vfr = vf_re[br_f[r]]
            vfi = vf_im[br_f[r]]
            vtr = vf_re[br_t[r]]
            vti = vf_im[br_t[r]]
            a = yff[r]
            bb = yft[r]
            ifr = a.real * vfr - a.imag * vfi + bb.real * vtr - bb.imag * vti
            ifi = a.real * vfi + a.imag * vfr + bb.real * vti + bb.imag * vtr
            row[o + j] = (vfr * ifr + vfi * ifi) * base_mva
            row[o + n_trafo + j] = (vfi * ifr - vfr * ifi) * base_mva
        else:
            fill = np.nan if trafo_nan[j] else 0.0
            row[o + j] = fill
            row[o + n_trafo + j] = fill
    o += 2 * n_trafo
    for j in range(n_eg):
        q = eg_slack[j]
        if q < 0:
            row[o_eg + j] = 0.0
            row[o_eg + n_eg + j] = 0.0
            continue
        ir = 0.0
        ii = 0.0
        for p in range(ys_ptr[q], ys_ptr[q + 1]):
            c = ys_idx[p]
            yv = ys_val[p]
            ir += yv.real * vf_re[c] - yv.imag * vf_im[c]
            ii += yv.real * vf_im[c] + yv.imag * vf_re[c]
        vr = vf_re[m + q]
        vi = vf_im[m + q]
        row[o_eg + j] = (vr * ir + vi * ii - s[m + q].real) * base_mva
        row[o_eg + n_eg + j] = (vi * ir - vr * ii - s[m + q].imag) * base_mva
    row[o] = loss * base_mva
