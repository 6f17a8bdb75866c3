"""Numba kernels of the load flow: arrays in, arrays out (no pandapower objects).

Algorithm (decision, see also :mod:`grids.loadflow`): fixed-point current injection with the
admittance matrix between non-slack buses, ``Y_pp``, factorised once (``L U``, from
:mod:`grids.compile`). For constant-power injections ``S`` [p.u.] the bus equations are

    Y_pp V_p = conj(S / V_p) - Y_ps V_s,

and one iteration solves them for ``V_p`` with the currents of the previous iterate on the
right-hand side: two sparse triangular solves, O(nnz(L + U)) per step. Radial LV grids
factorise without fill-in. The buses are numbered in the LU's fill-reducing order at compile
time, so no permutation is applied per iteration.

The true power mismatch at the new iterate is free: the linear system is solved exactly, so
``S_calc - S = S (V_new - V_old) / V_old`` at every bus with an injection (buses without one
have none). We stop on the quantity Newton-Raphson stops on, ``max(|dP|, |dQ|) < tol``,
without an extra product with ``Ybus``; that value is reported as the step's mismatch (the
tests check it against ``Ybus`` independently).

Batches are solved in chunks of ``lanes`` steps: every array of a chunk is ``[n_bus, lanes]``
so that the inner loops run over the steps of the chunk, contiguous in memory (SIMD), while
the sparse pattern (index loads) is shared by the steps of the chunk. Chunk ranges run on
Python threads (the kernels release the GIL). Lanes are independent: a step that diverges
(NaN, inf) never touches its neighbours; the chunk iterates until every lane has converged
or stopped, and a lane's voltages are frozen at the iteration it converges, so a step's result
does not depend on the other steps of its batch. A single step uses :func:`solve_one` (scalar
complex arithmetic, no lane loops).

The iteration contracts at a rate of roughly ``|Z S| / |V|^2`` (a few percent on LV feeders
at normal load, seven to eight iterations to 1e-10); near the loadability limit it slows and
then diverges, while Newton-Raphson still converges. :mod:`grids.loadflow` therefore re-solves
the steps that did not converge here with Newton-Raphson before flagging them.

All kernels are compiled with ``cache=True`` so that a new process loads them from disk.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: A lane whose mismatch exceeds this [p.u.] is treated as diverged and stops iterating.
DIVERGED_PU = 1e6

#: Steps per chunk of a batch. The inner loops run over the lanes of a chunk; LLVM vectorises
#: them (with run-time alias checks) when they are long enough: 64 lanes solve about three times
#: faster per step than 8 (measured: 150 vs 430 ns per forward substitution on the reference
#: feeder). Single steps use the scalar kernel :func:`solve_one` instead.
LANES = 64

#: LLVM fast-math flags of the lane loops: reassociation and contraction (FMA) let them
#: vectorise; no ``nnan``/``ninf``, so NaN and inf still propagate and are detected.
_FAST = {"reassoc", "contract", "arcp", "nsz"}

#: Above this |tan| of the angle relative to the no-load angle, ``np.arctan2`` is used instead
#: of the argument-halving series.
_TAN_FAST = 0.25


@njit(cache=True, nogil=True, error_model="numpy")
def _injections(step_ids, load_int, load_scale, sgen_int, sgen_scale, s_const_re, s_const_im,
                base_mva, inputs):  # pragma: no cover - numba
    """Specified injection S [p.u.] per internal bus and lane, ``[n_int, K]`` (re, im)."""
    load_p, load_q, sgen_p, sgen_q = inputs
    n_int = s_const_re.shape[0]
    K = step_ids.shape[0]
    s_re = np.empty((n_int, K))
    s_im = np.empty((n_int, K))
    for b in range(n_int):
        for k in range(K):
            s_re[b, k] = s_const_re[b]
            s_im[b, k] = s_const_im[b]
    inv_base = 1.0 / base_mva
    # element outer, lane inner: the K input rows being read stay in L1, writes are contiguous
    rlp = np.empty(K, dtype=np.int64)
    rlq = np.empty(K, dtype=np.int64)
    rgp = np.empty(K, dtype=np.int64)
    rgq = np.empty(K, dtype=np.int64)
    for k in range(K):
        s = step_ids[k]
        rlp[k] = s if load_p.shape[0] > 1 else 0
        rlq[k] = s if load_q.shape[0] > 1 else 0
        rgp[k] = s if sgen_p.shape[0] > 1 else 0
        rgq[k] = s if sgen_q.shape[0] > 1 else 0
    for e in range(load_int.shape[0]):
        b = load_int[e]
        if b >= 0:
            f = load_scale[e] * inv_base
            for k in range(K):
                s_re[b, k] -= load_p[rlp[k], e] * f
                s_im[b, k] -= load_q[rlq[k], e] * f
    for e in range(sgen_int.shape[0]):
        b = sgen_int[e]
        if b >= 0:
            f = sgen_scale[e] * inv_base
            for k in range(K):
                s_re[b, k] += sgen_p[rgp[k], e] * f
                s_im[b, k] += sgen_q[rgq[k], e] * f
    return s_re, s_im


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _chunk(step_ids, netw, inputs, outs, tol, max_iter):  # pragma: no cover - numba
    """Solve and extract the steps ``step_ids`` as one chunk (vectorised over its lanes)."""
    (pq_int, slack_int, vs_re, vs_im, c_re, c_im, vnl_re, vnl_im, inj_pos, noinj_pos,
     l_ptr, l_idx, l_re, l_im, u_ptr, u_idx, u_re, u_im, udi_re, udi_im,
     load_int, load_scale, sgen_int, sgen_scale, s_const_re, s_const_im,
     base_mva, n_int) = netw[0]
    K = step_ids.shape[0]
    m = pq_int.shape[0]

    s_re, s_im = _injections(step_ids, load_int, load_scale, sgen_int, sgen_scale,
                             s_const_re, s_const_im, base_mva, inputs)
    n_inj = inj_pos.shape[0]
    sp_re = np.empty((n_inj, K))  # S at the injection buses, in iteration order
    sp_im = np.empty((n_inj, K))
    for j in range(n_inj):
        bi = pq_int[inj_pos[j]]
        for k in range(K):
            sp_re[j, k] = s_re[bi, k]
            sp_im[j, k] = s_im[bi, k]

    # --- fixed-point current injection; V and the right-hand side swap buffers each iteration
    v_re = np.empty((m, K))
    v_im = np.empty((m, K))
    for i in range(m):
        for k in range(K):
            v_re[i, k] = vnl_re[i]
            v_im[i, k] = vnl_im[i]
    b_re = np.empty((m, K))
    b_im = np.empty((m, K))
    # a lane's voltages are frozen when it converges, so that a step's result does not depend
    # on the other steps of its chunk (which may need more iterations)
    fin_re = np.empty((m, K))
    fin_im = np.empty((m, K))
    mis = np.zeros(K)
    fin_mis = np.zeros(K)
    newly = np.zeros(K, dtype=np.bool_)
    done = np.zeros(K, dtype=np.bool_)
    stopped = np.zeros(K, dtype=np.bool_)
    iters = np.zeros(K, dtype=np.int64)
    # right-hand side of the first iteration, conj(S / V) + c; ``inv`` keeps 1 / |V|^2 of the
    # iterate the right-hand side was built from (the mismatch needs it, no second division)
    inv = np.empty((n_inj, K))
    for i in range(m):
        for k in range(K):
            b_re[i, k] = c_re[i]
            b_im[i, k] = c_im[i]
    for j in range(n_inj):
        i = inj_pos[j]
        for k in range(K):
            vr = v_re[i, k]
            vi = v_im[i, k]
            sr = sp_re[j, k]
            si = sp_im[j, k]
            d = 1.0 / (vr * vr + vi * vi)
            inv[j, k] = d
            b_re[i, k] += (sr * vr + si * vi) * d
            b_im[i, k] += (sr * vi - si * vr) * d
    n_noinj = noinj_pos.shape[0]
    for it in range(max_iter):
        # forward substitution, unit lower L (CSC)
        for j in range(m):
            for p in range(l_ptr[j], l_ptr[j + 1]):
                i = l_idx[p]
                lr = l_re[p]
                li = l_im[p]
                for k in range(K):
                    xr = b_re[j, k]
                    xi = b_im[j, k]
                    b_re[i, k] -= lr * xr - li * xi
                    b_im[i, k] -= lr * xi + li * xr
        # backward substitution, U (CSC) with inverted diagonal
        for j in range(m - 1, -1, -1):
            dr = udi_re[j]
            di = udi_im[j]
            for k in range(K):
                xr = b_re[j, k]
                xi = b_im[j, k]
                b_re[j, k] = xr * dr - xi * di
                b_im[j, k] = xr * di + xi * dr
            for p in range(u_ptr[j], u_ptr[j + 1]):
                i = u_idx[p]
                ur = u_re[p]
                ui = u_im[p]
                for k in range(K):
                    xr = b_re[j, k]
                    xi = b_im[j, k]
                    b_re[i, k] -= ur * xr - ui * xi
                    b_im[i, k] -= ur * xi + ui * xr
        # fused: the true mismatch at the new iterate, S (V_new - V_old) / V_old, and the
        # next right-hand side, written over the old iterate (the buffers swap below)
        for k in range(K):
            mis[k] = 0.0
        for j in range(n_noinj):
            i = noinj_pos[j]
            for k in range(K):
                v_re[i, k] = c_re[i]
                v_im[i, k] = c_im[i]
        for j in range(n_inj):
            i = inj_pos[j]
            for k in range(K):
                vr = v_re[i, k]
                vi = v_im[i, k]
                nr = b_re[i, k]
                ni = b_im[i, k]
                dvr = nr - vr
                dvi = ni - vi
                d = inv[j, k]
                rr = (dvr * vr + dvi * vi) * d
                ri = (dvi * vr - dvr * vi) * d
                sr = sp_re[j, k]
                si = sp_im[j, k]
                er = abs(sr * rr - si * ri)
                ei = abs(sr * ri + si * rr)
                e = er if er > ei else ei
                mk = mis[k]
                mis[k] = e if (e > mk or e != e) else mk
                dn = 1.0 / (nr * nr + ni * ni)
                inv[j, k] = dn
                v_re[i, k] = c_re[i] + (sr * nr + si * ni) * dn
                v_im[i, k] = c_im[i] + (sr * ni - si * nr) * dn
        v_re, b_re = b_re, v_re
        v_im, b_im = b_im, v_im
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
                        fin_re[i, k] = v_re[i, k]
                        fin_im[i, k] = v_im[i, k]
        if active == 0:
            break

    # --- full voltage vector and results
    vf_re = np.empty((n_int, K))
    vf_im = np.empty((n_int, K))
    for k in range(K):
        if not done[k]:  # the last iterate of a lane that did not converge
            fin_mis[k] = mis[k]
    for i in range(m):
        bi = pq_int[i]
        for k in range(K):
            vf_re[bi, k] = fin_re[i, k] if done[k] else v_re[i, k]
            vf_im[bi, k] = fin_im[i, k] if done[k] else v_im[i, k]
    for j in range(slack_int.shape[0]):
        for k in range(K):
            vf_re[slack_int[j], k] = vs_re[j]
            vf_im[slack_int[j], k] = vs_im[j]
    _extract(step_ids, vf_re, vf_im, s_re, s_im, netw, outs)
    o_iter, o_mism, o_conv = outs[7], outs[8], outs[9]
    for k in range(K):
        s = step_ids[k]
        o_iter[s] = iters[k]
        o_conv[s] = done[k]
        o_mism[s] = fin_mis[k]


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _extract(step_ids, vf_re, vf_im, s_re, s_im, netw, outs):  # pragma: no cover - numba
    """Results of the lanes of a chunk from the full internal voltages ``[n_int, K]``."""
    slack_int = netw[0][1]
    base_mva = netw[0][26]
    n_int = netw[0][27]
    (y_ptr, y_idx, y_re, y_im, ref_re, ref_im, ref_deg, bus_int,
     br_f, br_t, yf_ff_re, yf_ff_im, yf_ft_re, yf_ft_im, yt_tf_re, yt_tf_im, yt_tt_re, yt_tt_im,
     line_br, line_base, line_nan, trafo_br, trafo_hv, trafo_lv, trafo_nan, eg_int) = netw[1]
    o_vm, o_va, o_line, o_trafo, o_egp, o_egq, o_loss = outs[:7]
    K = step_ids.shape[0]
    nbr = br_f.shape[0]
    rad2deg = 180.0 / np.pi
    # magnitude and angle of every internal bus; the angle relative to the no-load angle
    vm = np.empty((n_int, K))
    va = np.empty((n_int, K))
    worst = np.full(K, -1.0)  # per lane (no reduction across lanes: keeps the loop SIMD)
    for b in range(n_int):
        rr = ref_re[b]
        ri = ref_im[b]
        a0 = ref_deg[b] / rad2deg
        for k in range(K):
            vr = vf_re[b, k]
            vi = vf_im[b, k]
            vm[b, k] = np.sqrt(vr * vr + vi * vi)
            # w = V * conj(ref): near the positive real axis
            wr = vr * rr + vi * ri
            wi = vi * rr - vr * ri
            t = wi / wr
            # atan(t) = 2 atan(t / (1 + sqrt(1 + t^2))), twice, then the odd series
            t = t / (1.0 + np.sqrt(1.0 + t * t))
            t = t / (1.0 + np.sqrt(1.0 + t * t))
            t2 = t * t
            ser = 1.0 / 15.0
            ser = 1.0 / 13.0 - t2 * ser
            ser = 1.0 / 11.0 - t2 * ser
            ser = 1.0 / 9.0 - t2 * ser
            ser = 1.0 / 7.0 - t2 * ser
            ser = 1.0 / 5.0 - t2 * ser
            ser = 1.0 / 3.0 - t2 * ser
            ser = 1.0 - t2 * ser
            va[b, k] = (a0 + 4.0 * t * ser) * rad2deg
            x = abs(wi) - _TAN_FAST * wr
            worst[k] = x if x > worst[k] else worst[k]
    if np.any(worst >= 0.0):  # a large angle: the library function for those
        for b in range(n_int):
            for k in range(K):
                vr = vf_re[b, k]
                vi = vf_im[b, k]
                wr = vr * ref_re[b] + vi * ref_im[b]
                wi = vi * ref_re[b] - vr * ref_im[b]
                if not (wr > 0.0 and abs(wi) < _TAN_FAST * wr):
                    va[b, k] = np.arctan2(vi, vr) * rad2deg
    # branch currents [p.u.] at both ends, and losses
    i_f = np.empty((nbr, K))
    i_t = np.empty((nbr, K))
    loss = np.zeros(K)
    for r in range(nbr):
        f = br_f[r]
        t = br_t[r]
        a_r = yf_ff_re[r]
        a_i = yf_ff_im[r]
        b_r = yf_ft_re[r]
        b_i = yf_ft_im[r]
        c_r = yt_tf_re[r]
        c_i = yt_tf_im[r]
        d_r = yt_tt_re[r]
        d_i = yt_tt_im[r]
        for k in range(K):
            vfr = vf_re[f, k]
            vfi = vf_im[f, k]
            vtr = vf_re[t, k]
            vti = vf_im[t, k]
            ifr = a_r * vfr - a_i * vfi + b_r * vtr - b_i * vti
            ifi = a_r * vfi + a_i * vfr + b_r * vti + b_i * vtr
            itr = c_r * vfr - c_i * vfi + d_r * vtr - d_i * vti
            iti = c_r * vfi + c_i * vfr + d_r * vti + d_i * vtr
            i_f[r, k] = np.sqrt(ifr * ifr + ifi * ifi)
            i_t[r, k] = np.sqrt(itr * itr + iti * iti)
            loss[k] += (vfr * ifr + vfi * ifi) + (vtr * itr + vti * iti)  # per lane
    # ext_grid power: S_calc - S_spec at the slack buses
    n_sl = slack_int.shape[0]
    sl_re = np.zeros((n_sl, K))
    sl_im = np.zeros((n_sl, K))
    for j in range(n_sl):
        b = slack_int[j]
        for p in range(y_ptr[b], y_ptr[b + 1]):
            c = y_idx[p]
            yr = y_re[p]
            yi = y_im[p]
            for k in range(K):
                sl_re[j, k] += yr * vf_re[c, k] - yi * vf_im[c, k]
                sl_im[j, k] += yr * vf_im[c, k] + yi * vf_re[c, k]
        for k in range(K):
            ir = sl_re[j, k]
            ii = sl_im[j, k]
            vr = vf_re[b, k]
            vi = vf_im[b, k]
            sl_re[j, k] = vr * ir + vi * ii - s_re[b, k]
            sl_im[j, k] = vi * ir - vr * ii - s_im[b, k]
    # outputs: bus/branch outer, lane inner (reads contiguous, the K output rows stay in L1)
    for k in range(K):
        o_loss[step_ids[k]] = loss[k] * base_mva
    for j in range(bus_int.shape[0]):
        b = bus_int[j]
        if b >= 0:
            for k in range(K):
                o_vm[step_ids[k], j] = vm[b, k]
                o_va[step_ids[k], j] = va[b, k]
        else:
            for k in range(K):
                o_vm[step_ids[k], j] = np.nan
                o_va[step_ids[k], j] = np.nan
    for j in range(line_br.shape[0]):
        r = line_br[j]
        fac = line_base[j]
        if r >= 0:
            for k in range(K):
                a = i_f[r, k]
                c = i_t[r, k]
                o_line[step_ids[k], j] = (a if a > c else c) * fac
        else:
            fill = np.nan if line_nan[j] else 0.0
            for k in range(K):
                o_line[step_ids[k], j] = fill
    for j in range(trafo_br.shape[0]):
        r = trafo_br[j]
        if r >= 0:
            for k in range(K):
                a = i_f[r, k] * trafo_hv[j]
                c = i_t[r, k] * trafo_lv[j]
                o_trafo[step_ids[k], j] = a if a > c else c
        else:
            fill = np.nan if trafo_nan[j] else 0.0
            for k in range(K):
                o_trafo[step_ids[k], j] = fill
    for j in range(eg_int.shape[0]):
        b = eg_int[j]
        q = -1
        for qq in range(n_sl):
            if b >= 0 and slack_int[qq] == b:
                q = qq
        for k in range(K):
            if q >= 0:
                o_egp[step_ids[k], j] = sl_re[q, k] * base_mva
                o_egq[step_ids[k], j] = sl_im[q, k] * base_mva
            else:
                o_egp[step_ids[k], j] = 0.0
                o_egq[step_ids[k], j] = 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def solve_chunks(c0, c1, lanes, n_steps, netw, inputs, outs, tol, max_iter):  # pragma: no cover
    """Solve chunks ``c0 .. c1-1`` (chunk ``c`` = steps ``c*lanes .. (c+1)*lanes-1``).

    Releases the GIL, so that :mod:`grids.loadflow` runs disjoint chunk ranges on several
    Python threads at once (our own thread pool rather than ``prange``: numba's parfor
    lowering rejects the nested tuples of read-only arrays, and a pool costs nothing to start).

    Parameters
    ----------
    c0, c1
        Range of chunks.
    lanes
        Steps per chunk (:data:`LANES` by default).
    n_steps
        Number of steps (rows of the outputs).
    netw
        ``(solver arrays, result arrays)``: two tuples built by :class:`grids.loadflow.LoadFlow`
        from :class:`grids.compile.CompiledNet`.
    inputs
        ``(load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar)``, each ``[n_steps or 1, n_el]``.
    outs
        Output arrays written in place: ``(vm_pu, va_degree, line_loading_percent,
        trafo_loading_percent, ext_grid_p_mw, ext_grid_q_mvar, losses_mw, iterations,
        max_mismatch_pu, converged)``.
    tol
        Mismatch tolerance [p.u.], ``max(|dP|, |dQ|)`` over buses.
    max_iter
        Iteration cap of the fixed point.
    """
    for c in range(c0, c1):
        s0 = c * lanes
        s1 = min(s0 + lanes, n_steps)
        _chunk(np.arange(s0, s1), netw, inputs, outs, tol, max_iter)


@njit(cache=True, error_model="numpy")
def extract_steps(step_ids, vf_re, vf_im, s_re, s_im, netw, outs):  # pragma: no cover
    """Results of steps ``step_ids`` from full voltages ``[n_int, K]`` (Newton fallback)."""
    _extract(step_ids, vf_re, vf_im, s_re, s_im, netw, outs)


@njit(cache=True, error_model="numpy")
def solve_one(step, netw, inputs, outs, tol, max_iter):  # pragma: no cover - numba
    """Solve one step with scalar complex arithmetic (no lane loops: the single-step path).

    Same algorithm, stopping rule and outputs as :func:`solve_chunks`; ``step`` is the row of
    the inputs and outputs.
    """
    (pq_int, slack_int, vs_re, vs_im, c_re, c_im, vnl_re, vnl_im, inj_pos, noinj_pos,
     l_ptr, l_idx, l_re, l_im, u_ptr, u_idx, u_re, u_im, udi_re, udi_im,
     load_int, load_scale, sgen_int, sgen_scale, s_const_re, s_const_im,
     base_mva, n_int) = netw[0]
    step_ids = np.full(1, step, dtype=np.int64)
    s_re, s_im = _injections(step_ids, load_int, load_scale, sgen_int, sgen_scale,
                             s_const_re, s_const_im, base_mva, inputs)
    m = pq_int.shape[0]
    n_inj = inj_pos.shape[0]
    sp = np.empty(n_inj, dtype=np.complex128)
    for j in range(n_inj):
        bi = pq_int[inj_pos[j]]
        sp[j] = complex(s_re[bi, 0], s_im[bi, 0])
    cc = np.empty(m, dtype=np.complex128)
    v = np.empty(m, dtype=np.complex128)
    for i in range(m):
        cc[i] = complex(c_re[i], c_im[i])
        v[i] = complex(vnl_re[i], vnl_im[i])
    lv = np.empty(l_re.shape[0], dtype=np.complex128)
    for p in range(l_re.shape[0]):
        lv[p] = complex(l_re[p], l_im[p])
    uv = np.empty(u_re.shape[0], dtype=np.complex128)
    for p in range(u_re.shape[0]):
        uv[p] = complex(u_re[p], u_im[p])
    ud = np.empty(m, dtype=np.complex128)
    for i in range(m):
        ud[i] = complex(udi_re[i], udi_im[i])
    b = np.empty(m, dtype=np.complex128)
    mis = 0.0
    done = False
    it_done = 0
    for it in range(max_iter):
        b[:] = cc
        for j in range(n_inj):
            i = inj_pos[j]
            b[i] += (sp[j] / v[i]).conjugate()
        for j in range(m):
            x = b[j]
            for p in range(l_ptr[j], l_ptr[j + 1]):
                b[l_idx[p]] -= lv[p] * x
        for j in range(m - 1, -1, -1):
            x = b[j] * ud[j]
            b[j] = x
            for p in range(u_ptr[j], u_ptr[j + 1]):
                b[u_idx[p]] -= uv[p] * x
        mis = 0.0
        for j in range(n_inj):
            i = inj_pos[j]
            d = sp[j] * ((b[i] - v[i]) / v[i])
            e = max(abs(d.real), abs(d.imag))
            if e > mis or e != e:
                mis = e
        v, b = b, v
        it_done = it + 1
        if mis < tol:
            done = True
            break
        if not (mis < DIVERGED_PU):
            break
    vf_re = np.empty((n_int, 1))
    vf_im = np.empty((n_int, 1))
    for i in range(m):
        vf_re[pq_int[i], 0] = v[i].real
        vf_im[pq_int[i], 0] = v[i].imag
    for j in range(slack_int.shape[0]):
        vf_re[slack_int[j], 0] = vs_re[j]
        vf_im[slack_int[j], 0] = vs_im[j]
    _extract(step_ids, vf_re, vf_im, s_re, s_im, netw, outs)
    outs[7][step] = it_done
    outs[8][step] = mis
    outs[9][step] = done
