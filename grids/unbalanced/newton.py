"""Newton-Raphson fallback of the unbalanced load flow (steps the fixed point cannot solve).

The fixed-point current injection (:mod:`grids.unbalanced.kernels`) contracts slowly and then
diverges near a grid's loadability limit, where Newton-Raphson still converges. Such steps are
rare, so this solver favours clarity: scipy sparse matrices, one step at a time, a fresh
Jacobian per iteration.

Formulation: the unknowns are the sequence voltages in rectangular form (zero and negative
sequence at every position, positive sequence at the non-slack positions), the equations the
current balance of every sequence,

    F(V) = Y V - T^-1 conj(S_abc / (T V)) = 0.

``F`` depends on ``conj(V)`` through the loads, so its derivative is ``dF = A dV + B
conj(dV)`` with ``A = Y`` (block diagonal over the sequences) and, per position, ``B = -T^-1
diag(-conj(S) / conj(V_abc)^2) conj(T)``. With ``dV = dx + j dy`` the real Jacobian is
``[[Re(A + B), -Im(A - B)], [Im(A + B), Re(A - B)]]``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from grids.unbalanced.compile import T_012, T_ABC


def mismatch(y: tuple, s_abc: np.ndarray, v012: np.ndarray, m: int) -> float:
    """Largest per-phase power mismatch [p.u.] of sequence voltages ``v012`` ``[3, n]``.

    At non-slack positions ``max(|dP|, |dQ|)`` of ``V_abc conj(I_abc) - S`` on each phase;
    at slack positions with an injection ``|V_p| |dI_p|`` of the zero- and negative-sequence
    current imbalance (the positive sequence is the ext_grid's there).
    """
    v_abc = T_ABC @ v012
    i_load = T_012 @ np.conj(s_abc.T / v_abc)
    yv = np.vstack([y[k] @ v012[k] for k in range(3)])
    f = yv - i_load
    i_calc = T_ABC @ yv
    ds = v_abc * np.conj(i_calc) - s_abc.T
    out = float(np.max(np.maximum(np.abs(ds[:, :m].real), np.abs(ds[:, :m].imag)),
                       initial=0.0))
    inj = np.abs(s_abc[m:]).sum(axis=1) > 0
    if inj.any():
        f_sl = f[:, m:].copy()
        f_sl[1] = 0.0
        d_abc = np.abs(v_abc[:, m:]) * np.abs(T_ABC @ f_sl)
        out = max(out, float(d_abc[:, inj].max()))
    return out


def newton_raphson(y: tuple, s_abc: np.ndarray, v012: np.ndarray, m: int, tol: float,
                   max_iter: int = 30) -> tuple[np.ndarray, bool, int, float]:
    """Solve one step with Newton-Raphson.

    Parameters
    ----------
    y
        ``(Y0, Y1, Y2)`` in position order [p.u.] (CSR, ``n x n``).
    s_abc
        Injection per position and phase [p.u.] ``[n, 3]`` (generation positive).
    v012
        Starting sequence voltages ``[3, n]``; the positive sequence at positions ``>= m``
        (the slack buses) is kept fixed.
    m
        Number of non-slack positions.
    tol
        Tolerance on :func:`mismatch` [p.u.].
    max_iter
        Iteration cap.

    Returns
    -------
    v012
        The last iterate ``[3, n]``.
    converged, iterations, mismatch
        As the names say (mismatch in p.u.).
    """
    v = np.array(v012, dtype=complex)
    n = v.shape[1]
    free = np.ones((3, n), dtype=bool)
    free[1, m:] = False
    idx = np.flatnonzero(free.ravel())  # unknowns in sequence-major order s * n + b
    big = sp.block_diag([sp.csr_matrix(y[k]) for k in range(3)], format="csr")
    a_mat = big[idx][:, idx]
    conj_t = np.conj(T_ABC)
    rows = (np.arange(3)[:, None] * n)[:, :, None]
    cols = (np.arange(3)[None, :] * n)[:, :, None]
    mis = np.inf
    for it in range(max_iter + 1):
        mis = mismatch(y, s_abc, v, m)
        if not np.isfinite(mis):
            return v, False, it, mis
        if mis < tol:
            return v, True, it, mis
        if it == max_iter:
            break
        v_abc = T_ABC @ v
        i_load = T_012 @ np.conj(s_abc.T / v_abc)
        f = (big @ v.ravel()) - i_load.ravel()
        dvec = -np.conj(s_abc.T) / np.conj(v_abc) ** 2  # [3, n]
        # B per position: -T^-1 diag(d) conj(T) -> [3, 3, n]
        blocks = -np.einsum("ij,jb,jk->ikb", T_012, dvec, conj_t)
        b_rows = np.broadcast_to(rows + np.arange(n), (3, 3, n)).ravel()
        b_cols = np.broadcast_to(cols + np.arange(n), (3, 3, n)).ravel()
        b_mat = sp.csr_matrix((blocks.ravel(), (b_rows, b_cols)), shape=(3 * n, 3 * n))
        b_mat = b_mat[idx][:, idx]
        ap, am = a_mat + b_mat, a_mat - b_mat
        jac = sp.bmat([[ap.real, -am.imag], [ap.imag, am.real]], format="csc")
        rhs = -np.concatenate([f[idx].real, f[idx].imag])
        try:
            dx = spsolve(jac, rhs)
        except RuntimeError:
            return v, False, it, mis
        if not np.all(np.isfinite(dx)):
            return v, False, it, mis
        step = dx[:len(idx)] + 1j * dx[len(idx):]
        flat = v.ravel()
        flat[idx] += step
        v = flat.reshape(3, n)
    return v, False, max_iter, mis
