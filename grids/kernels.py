"""Numba kernels of the load flow: arrays in, arrays out (no pandapower objects).

Algorithm (decision, see also :mod:`grids.loadflow`): fixed-point current injection with the
admittance matrix between non-slack buses, ``Y_pp``, factorised once (``L U``, from
:mod:`grids.compile`). For constant-power injections ``S`` [p.u.] the bus equations are

    Y_pp V_p = conj(S / V_p) - Y_ps V_s,

and one iteration solves them for ``V_p`` with the currents of the previous iterate on the
right-hand side: two sparse triangular solves, O(nnz(L + U)) per step. Radial LV grids
factorise without fill-in. The true power mismatch at the new iterate is free: because the
linear system is solved exactly, ``S_calc - S = S (V_new - V_old) / V_old`` at every bus with
an injection (buses without injection have none), so we stop on the same quantity Newton-
Raphson stops on, ``max(|dP|, |dQ|) < tol``, without an extra product with ``Ybus``. After
the loop the mismatch is recomputed from ``Ybus`` for the report (``max_mismatch``).

Steps are solved in chunks of ``K``: every array of a chunk is ``[n_bus, K]`` so that the inner
loop runs over the steps of the chunk, contiguous in memory (SIMD), while the sparse pattern
(index loads) is shared by the ``K`` steps. Chunks are distributed over threads with
``prange``. Lanes of a chunk are independent: a step that diverges (NaN, inf) never touches
its neighbours; the chunk iterates until every lane has converged or stopped.

The iteration contracts at a rate of roughly ``|Z S| / |V|^2`` (a few percent on LV feeders
at normal load, seven to eight iterations to 1e-10); near the loadability limit it slows and
then diverges, while Newton-Raphson still converges. :mod:`grids.loadflow` therefore re-solves
the steps that did not converge here with Newton-Raphson (scipy sparse) before flagging them.

All kernels are compiled with ``cache=True`` so that a new process loads them from disk.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: A lane whose mismatch exceeds this [p.u.] is treated as diverged and stops iterating.
DIVERGED_PU = 1e6


@njit(cache=True, nogil=True)
def _chunk(step_ids, netw, inputs, outs, tol, max_iter):  # pragma: no cover - numba
    """Solve and extract the steps ``step_ids`` (one chunk, ``K = len(step_ids)`` lanes)."""
    (pq_int, slack_int, vs_re, vs_im, c_re, c_im, vnl_re, vnl_im, inj_pos,
     perm_r, perm_c, l_ptr, l_idx, l_re, l_im, u_ptr, u_idx, u_re, u_im, udi_re, udi_im,
     y_ptr, y_idx, y_re, y_im, load_int, load_scale, sgen_int, sgen_scale,
     s_const_re, s_const_im, base_mva, n_int,
     bus_int, br_f, br_t, yf_ff_re, yf_ff_im, yf_ft_re, yf_ft_im,
     yt_tf_re, yt_tf_im, yt_tt_re, yt_tt_im, line_br, line_base, line_nan,
     trafo_br, trafo_hv, trafo_lv, trafo_nan, eg_int) = netw
    load_p, load_q, sgen_p, sgen_q = inputs
    K = step_ids.shape[0]
    m = pq_int.shape[0]

    # --- specified injections S [p.u.] per internal bus and lane
    s_re = np.empty((n_int, K))
    s_im = np.empty((n_int, K))
    for b in range(n_int):
        for k in range(K):
            s_re[b, k] = s_const_re[b]
            s_im[b, k] = s_const_im[b]
    inv_base = 1.0 / base_mva
    for k in range(K):
        s = step_ids[k]
        rp = s if load_p.shape[0] > 1 else 0
        rq = s if load_q.shape[0] > 1 else 0
        for e in range(load_int.shape[0]):
            b = load_int[e]
            if b >= 0:
                s_re[b, k] -= load_p[rp, e] * load_scale[e] * inv_base
                s_im[b, k] -= load_q[rq, e] * load_scale[e] * inv_base
        rp = s if sgen_p.shape[0] > 1 else 0
        rq = s if sgen_q.shape[0] > 1 else 0
        for e in range(sgen_int.shape[0]):
            b = sgen_int[e]
            if b >= 0:
                s_re[b, k] += sgen_p[rp, e] * sgen_scale[e] * inv_base
                s_im[b, k] += sgen_q[rq, e] * sgen_scale[e] * inv_base

    # --- fixed-point current injection
    v_re = np.empty((m, K))
    v_im = np.empty((m, K))
    for i in range(m):
        for k in range(K):
            v_re[i, k] = vnl_re[i]
            v_im[i, k] = vnl_im[i]
    b_re = np.empty((m, K))
    b_im = np.empty((m, K))
    mis = np.zeros(K)
    done = np.zeros(K, dtype=np.bool_)
    stopped = np.zeros(K, dtype=np.bool_)
    iters = np.zeros(K, dtype=np.int64)
    n_inj = inj_pos.shape[0]
    for it in range(max_iter):
        # right-hand side conj(S / V) + c, scattered to the LU row order
        for i in range(m):
            r = perm_r[i]
            for k in range(K):
                b_re[r, k] = c_re[i]
                b_im[r, k] = c_im[i]
        for j in range(n_inj):
            i = inj_pos[j]
            bi = pq_int[i]
            r = perm_r[i]
            for k in range(K):
                vr = v_re[i, k]
                vi = v_im[i, k]
                sr = s_re[bi, k]
                si = s_im[bi, k]
                d = 1.0 / (vr * vr + vi * vi)
                b_re[r, k] += (sr * vr + si * vi) * d
                b_im[r, k] += (sr * vi - si * vr) * d
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
        # mismatch at the new iterate: S (V_new - V_old) / V_old, at injection buses
        for k in range(K):
            mis[k] = 0.0
        for j in range(n_inj):
            i = inj_pos[j]
            bi = pq_int[i]
            q = perm_c[i]
            for k in range(K):
                vr = v_re[i, k]
                vi = v_im[i, k]
                dvr = b_re[q, k] - vr
                dvi = b_im[q, k] - vi
                d = 1.0 / (vr * vr + vi * vi)
                # ratio = dV / V_old
                rr = (dvr * vr + dvi * vi) * d
                ri = (dvi * vr - dvr * vi) * d
                sr = s_re[bi, k]
                si = s_im[bi, k]
                er = abs(sr * rr - si * ri)
                ei = abs(sr * ri + si * rr)
                e = er if er > ei else ei
                if not (e <= mis[k]):  # also propagates NaN
                    mis[k] = e
        for i in range(m):
            q = perm_c[i]
            for k in range(K):
                v_re[i, k] = b_re[q, k]
                v_im[i, k] = b_im[q, k]
        active = 0
        for k in range(K):
            if done[k] or stopped[k]:
                continue
            iters[k] = it + 1
            if mis[k] < tol:
                done[k] = True
            elif not (mis[k] < DIVERGED_PU):
                stopped[k] = True
            else:
                active += 1
        if active == 0:
            break

    # --- full voltage vector and results
    vf_re = np.empty((n_int, K))
    vf_im = np.empty((n_int, K))
    for i in range(m):
        bi = pq_int[i]
        for k in range(K):
            vf_re[bi, k] = v_re[i, k]
            vf_im[bi, k] = v_im[i, k]
    for j in range(slack_int.shape[0]):
        for k in range(K):
            vf_re[slack_int[j], k] = vs_re[j]
            vf_im[slack_int[j], k] = vs_im[j]
    _extract(step_ids, vf_re, vf_im, s_re, s_im, netw, outs)
    _vm, _va, _ll, _tl, _egp, _egq, _loss, o_iter, _mism, o_conv = outs
    for k in range(K):
        s = step_ids[k]
        o_iter[s] = iters[k]
        o_conv[s] = done[k]


@njit(cache=True, nogil=True)
def _extract(step_ids, vf_re, vf_im, s_re, s_im, netw, outs):  # pragma: no cover - numba
    """Results of the lanes of a chunk from the full internal voltages ``[n_int, K]``."""
    (pq_int, slack_int, vs_re, vs_im, c_re, c_im, vnl_re, vnl_im, inj_pos,
     perm_r, perm_c, l_ptr, l_idx, l_re, l_im, u_ptr, u_idx, u_re, u_im, udi_re, udi_im,
     y_ptr, y_idx, y_re, y_im, load_int, load_scale, sgen_int, sgen_scale,
     s_const_re, s_const_im, base_mva, n_int,
     bus_int, br_f, br_t, yf_ff_re, yf_ff_im, yf_ft_re, yf_ft_im,
     yt_tf_re, yt_tf_im, yt_tt_re, yt_tt_im, line_br, line_base, line_nan,
     trafo_br, trafo_hv, trafo_lv, trafo_nan, eg_int) = netw
    o_vm, o_va, o_line, o_trafo, o_egp, o_egq, o_loss, _it, o_mism, _cv = outs
    K = step_ids.shape[0]
    nbr = br_f.shape[0]
    rad2deg = 180.0 / np.pi
    # bus power from Ybus: S_calc = V conj(Y V); mismatch at non-slack buses
    sc_re = np.empty((n_int, K))
    sc_im = np.empty((n_int, K))
    acc_re = np.empty(K)
    acc_im = np.empty(K)
    for b in range(n_int):
        for k in range(K):
            acc_re[k] = 0.0
            acc_im[k] = 0.0
        for p in range(y_ptr[b], y_ptr[b + 1]):
            c = y_idx[p]
            yr = y_re[p]
            yi = y_im[p]
            for k in range(K):
                acc_re[k] += yr * vf_re[c, k] - yi * vf_im[c, k]
                acc_im[k] += yr * vf_im[c, k] + yi * vf_re[c, k]
        for k in range(K):
            vr = vf_re[b, k]
            vi = vf_im[b, k]
            sc_re[b, k] = vr * acc_re[k] + vi * acc_im[k]
            sc_im[b, k] = vi * acc_re[k] - vr * acc_im[k]
    mism = np.zeros(K)
    for i in range(pq_int.shape[0]):
        b = pq_int[i]
        for k in range(K):
            er = abs(sc_re[b, k] - s_re[b, k])
            ei = abs(sc_im[b, k] - s_im[b, k])
            e = er if er > ei else ei
            if not (e <= mism[k]):
                mism[k] = e
    # branch currents [p.u.] at both ends and losses
    i_f = np.empty((nbr, K))
    i_t = np.empty((nbr, K))
    loss = np.zeros(K)
    for r in range(nbr):
        f = br_f[r]
        t = br_t[r]
        for k in range(K):
            vfr = vf_re[f, k]
            vfi = vf_im[f, k]
            vtr = vf_re[t, k]
            vti = vf_im[t, k]
            ifr = yf_ff_re[r] * vfr - yf_ff_im[r] * vfi + yf_ft_re[r] * vtr - yf_ft_im[r] * vti
            ifi = yf_ff_re[r] * vfi + yf_ff_im[r] * vfr + yf_ft_re[r] * vti + yf_ft_im[r] * vtr
            itr = yt_tf_re[r] * vfr - yt_tf_im[r] * vfi + yt_tt_re[r] * vtr - yt_tt_im[r] * vti
            iti = yt_tf_re[r] * vfi + yt_tf_im[r] * vfr + yt_tt_re[r] * vti + yt_tt_im[r] * vtr
            i_f[r, k] = np.sqrt(ifr * ifr + ifi * ifi)
            i_t[r, k] = np.sqrt(itr * itr + iti * iti)
            loss[k] += (vfr * ifr + vfi * ifi) + (vtr * itr + vti * iti)
    for k in range(K):
        s = step_ids[k]
        o_mism[s] = mism[k]
        o_loss[s] = loss[k] * base_mva
        for j in range(bus_int.shape[0]):
            b = bus_int[j]
            if b >= 0:
                vr = vf_re[b, k]
                vi = vf_im[b, k]
                o_vm[s, j] = np.sqrt(vr * vr + vi * vi)
                o_va[s, j] = np.arctan2(vi, vr) * rad2deg
            else:
                o_vm[s, j] = np.nan
                o_va[s, j] = np.nan
        for j in range(line_br.shape[0]):
            r = line_br[j]
            if r >= 0:
                a = i_f[r, k]
                c = i_t[r, k]
                o_line[s, j] = (a if a > c else c) * line_base[j]
            elif line_nan[j]:
                o_line[s, j] = np.nan
            else:
                o_line[s, j] = 0.0
        for j in range(trafo_br.shape[0]):
            r = trafo_br[j]
            if r >= 0:
                a = i_f[r, k] * trafo_hv[j]
                c = i_t[r, k] * trafo_lv[j]
                o_trafo[s, j] = a if a > c else c
            elif trafo_nan[j]:
                o_trafo[s, j] = np.nan
            else:
                o_trafo[s, j] = 0.0
        for j in range(eg_int.shape[0]):
            b = eg_int[j]
            if b >= 0:
                o_egp[s, j] = (sc_re[b, k] - s_re[b, k]) * base_mva
                o_egq[s, j] = (sc_im[b, k] - s_im[b, k]) * base_mva
            else:
                o_egp[s, j] = 0.0
                o_egq[s, j] = 0.0


@njit(cache=True, parallel=True)
def solve_parallel(n_steps, chunk, netw, inputs, outs, tol, max_iter):  # pragma: no cover
    """Solve ``n_steps`` steps in chunks of ``chunk`` lanes, chunks spread over threads.

    Parameters
    ----------
    n_steps
        Number of steps (rows of the outputs).
    chunk
        Lanes per chunk (steps solved together, vectorised).
    netw
        Tuple of network arrays built by :func:`grids.loadflow.LoadFlow` from
        :class:`grids.compile.CompiledNet`.
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
    n_chunks = (n_steps + chunk - 1) // chunk
    for c in prange(n_chunks):
        s0 = c * chunk
        s1 = min(s0 + chunk, n_steps)
        _chunk(np.arange(s0, s1), netw, inputs, outs, tol, max_iter)


@njit(cache=True)
def solve_serial(n_steps, chunk, netw, inputs, outs, tol, max_iter):  # pragma: no cover
    """Like :func:`solve_parallel` on the calling thread (single steps, small batches)."""
    n_chunks = (n_steps + chunk - 1) // chunk
    for c in range(n_chunks):
        s0 = c * chunk
        s1 = min(s0 + chunk, n_steps)
        _chunk(np.arange(s0, s1), netw, inputs, outs, tol, max_iter)


@njit(cache=True)
def extract_steps(step_ids, vf_re, vf_im, s_re, s_im, netw, outs):  # pragma: no cover
    """Results of given steps from full voltages ``[n_int, len(step_ids)]`` (NR fallback)."""
    _extract(step_ids, vf_re, vf_im, s_re, s_im, netw, outs)
