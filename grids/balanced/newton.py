"""Newton-Raphson fallback for the steps the fixed-point iteration does not converge on.

The fixed-point current injection (:mod:`grids.balanced.kernels`) contracts slowly and then
diverges as a
step approaches the grid's loadability limit, where Newton-Raphson (quadratic convergence,
polar coordinates, the method ``runpp`` uses) still converges. Such steps are rare (absurd or
extreme loads), so this solver favours clarity over speed: scipy sparse matrices, one step at a
time, a fresh Jacobian per iteration.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve


def newton_raphson(ybus: sp.csr_matrix, s_spec: np.ndarray, v0: np.ndarray, pq: np.ndarray,
                   tol: float, max_iter: int = 30) -> tuple[np.ndarray, bool, int, float]:
    """Solve one step with Newton-Raphson (all non-slack buses PQ).

    Parameters
    ----------
    ybus
        Bus admittance matrix [p.u.], internal numbering.
    s_spec
        Specified complex injection per internal bus [p.u.] (generation positive).
    v0
        Starting complex voltages [p.u.]; slack entries are kept fixed.
    pq
        Internal indices of the non-slack buses.
    tol
        Convergence tolerance on ``max(|dP|, |dQ|)`` [p.u.].
    max_iter
        Iteration cap.

    Returns
    -------
    v
        Complex voltages [p.u.] of the last iterate.
    converged
        Whether the mismatch fell below ``tol``.
    iterations
        Newton iterations done.
    mismatch
        Final ``max(|dP|, |dQ|)`` [p.u.].
    """
    v = v0.astype(complex).copy()
    npq = len(pq)
    mismatch = np.inf
    for it in range(max_iter + 1):
        i_bus = ybus @ v
        mis = v * np.conj(i_bus) - s_spec
        f = np.r_[mis[pq].real, mis[pq].imag]
        mismatch = float(np.max(np.abs(f))) if npq else 0.0
        if not np.isfinite(mismatch):
            return v, False, it, mismatch
        if mismatch < tol:
            return v, True, it, mismatch
        if it == max_iter:
            break
        diag_v = sp.diags(v)
        diag_i = sp.diags(i_bus)
        diag_vn = sp.diags(v / np.abs(v))
        ds_dvm = diag_v @ np.conj(ybus @ diag_vn) + np.conj(diag_i) @ diag_vn
        ds_dva = 1j * diag_v @ np.conj(diag_i - ybus @ diag_v)
        a = ds_dva[pq][:, pq]
        b = ds_dvm[pq][:, pq]
        jac = sp.bmat([[a.real, b.real], [a.imag, b.imag]], format="csc")
        dx = spsolve(jac, -f)
        va = np.angle(v)
        vm = np.abs(v)
        va[pq] += dx[:npq]
        vm[pq] += dx[npq:]
        v = vm * np.exp(1j * va)
    return v, False, max_iter, mismatch
