"""Public API of the numba load-flow engine: :class:`LoadFlow` and :class:`LoadFlowResult`.

>>> lf = LoadFlow(net)                       # compile once; ``net`` is not modified
>>> res = lf.run(load_p_mw=P, load_q_mvar=Q, sgen_p_mw=S)   # [n_steps, n_el] or 1-D
>>> res.vm_pu                                # [n_steps, n_bus], net.bus row order

Design decisions
----------------
* Exact by construction: the admittance matrices and every model detail come from
  pandapower's own conversion, run once at compile time (:mod:`grids.compile`); the result
  equals ``pandapower.runpp(net, algorithm='nr')`` to the solver tolerance (a few 1e-10 p.u.
  in voltage at the default ``tolerance_mva=1e-11``).
* Speed: a fixed-point current-injection iteration on a once-factorised ``Y_pp``, vectorised
  over chunks of steps and parallel over chunks (:mod:`grids.kernels`). It stops on the true
  power mismatch, ``max(|dP|, |dQ|) < tolerance_mva / sn_mva``.
* Robustness: a step on which the fixed point does not converge within ``max_iteration``
  (heavy load near the loadability limit) is re-solved with Newton-Raphson
  (:mod:`grids.newton`) and marked in ``newton_fallback``; if that fails too, the step is
  flagged ``converged = False`` with its iterations and mismatch, and all its numbers are NaN
  (never silently returned). Other steps of the batch are unaffected.
* Islanded or out-of-service buses are not energised: NaN voltages, ``energised = False``.
* Inputs are checked before solving: a NaN or infinite value raises
  :class:`testbed.errors.LoadflowInputError` naming the argument, the element and the step.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp

from grids import kernels
from grids.compile import CompiledNet, compile_net
from grids.newton import newton_raphson
from testbed.errors import LoadflowInputError

#: Batches with at most this many steps run on the calling thread (no thread dispatch).
SERIAL_MAX_STEPS = 64

_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``threads`` worker threads (created on first use)."""
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(max_workers=threads,
                                             thread_name_prefix="loadflow")
    return _POOLS[threads]


@dataclass(frozen=True)
class LoadFlowResult:
    """Results of one :meth:`LoadFlow.run` call (read-only numpy arrays).

    Attributes
    ----------
    vm_pu
        Voltage magnitude [p.u.], ``[n_steps, n_bus]`` in ``net.bus`` row order; NaN where
        the bus is not energised or the step did not converge.
    va_degree
        Voltage angle [degree], likewise.
    line_loading_percent
        ``max(I_from, I_to) / (max_i_ka * df * parallel)`` [%], ``[n_steps, n_line]``;
        0 for out-of-service lines, NaN for lines at a not-energised bus.
    trafo_loading_percent
        pandapower's ``trafo_loading='current'`` [%], ``[n_steps, n_trafo]``.
    ext_grid_p_mw, ext_grid_q_mvar
        Power supplied by each ext_grid [MW], [Mvar], ``[n_steps, n_ext_grid]``.
    losses_mw
        Active losses of all branches (lines, transformers incl. iron losses) [MW],
        ``[n_steps]``.
    converged
        ``[n_steps]`` bool.
    iterations
        Iterations used (fixed point, plus Newton's if it was needed), ``[n_steps]``.
    max_mismatch_mva
        Final ``max(|dP|, |dQ|)`` over non-slack buses [MVA], recomputed from ``Ybus``.
    newton_fallback
        ``[n_steps]`` bool: the step needed the Newton-Raphson fallback.
    energised
        ``[n_bus]`` bool: the bus is in service and connected to an ext_grid.
    bus_index, line_index, trafo_index, ext_grid_index
        The net's labels of the rows, for :meth:`to_frames`.
    """

    vm_pu: np.ndarray
    va_degree: np.ndarray
    line_loading_percent: np.ndarray
    trafo_loading_percent: np.ndarray
    ext_grid_p_mw: np.ndarray
    ext_grid_q_mvar: np.ndarray
    losses_mw: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    max_mismatch_mva: np.ndarray
    newton_fallback: np.ndarray
    energised: np.ndarray
    bus_index: np.ndarray = field(repr=False)
    line_index: np.ndarray = field(repr=False)
    trafo_index: np.ndarray = field(repr=False)
    ext_grid_index: np.ndarray = field(repr=False)

    @property
    def n_steps(self) -> int:
        """Number of steps."""
        return int(self.converged.shape[0])

    @property
    def all_converged(self) -> bool:
        """True if every step converged."""
        return bool(self.converged.all())

    def to_frames(self, step_index=None) -> dict[str, pd.DataFrame]:
        """The results as DataFrames labelled with the net's indices.

        Parameters
        ----------
        step_index
            Labels of the steps (e.g. timestamps); ``range(n_steps)`` by default.

        Returns
        -------
        dict
            ``vm_pu``, ``va_degree`` (columns: bus index), ``line_loading_percent`` (line
            index), ``trafo_loading_percent`` (trafo index), ``ext_grid_p_mw``,
            ``ext_grid_q_mvar`` (ext_grid index) and ``summary`` (``losses_mw``,
            ``converged``, ``iterations``, ``max_mismatch_mva``, ``newton_fallback``).
        """
        idx = pd.RangeIndex(self.n_steps) if step_index is None else pd.Index(step_index)

        def frame(values, cols, name):
            return pd.DataFrame(values, index=idx, columns=pd.Index(cols, name=name))

        return {
            "vm_pu": frame(self.vm_pu, self.bus_index, "bus"),
            "va_degree": frame(self.va_degree, self.bus_index, "bus"),
            "line_loading_percent": frame(self.line_loading_percent, self.line_index, "line"),
            "trafo_loading_percent": frame(self.trafo_loading_percent, self.trafo_index,
                                           "trafo"),
            "ext_grid_p_mw": frame(self.ext_grid_p_mw, self.ext_grid_index, "ext_grid"),
            "ext_grid_q_mvar": frame(self.ext_grid_q_mvar, self.ext_grid_index, "ext_grid"),
            "summary": pd.DataFrame({
                "losses_mw": self.losses_mw, "converged": self.converged,
                "iterations": self.iterations, "max_mismatch_mva": self.max_mismatch_mva,
                "newton_fallback": self.newton_fallback}, index=idx),
        }


class LoadFlow:
    """Balanced AC load flow of a pandapower network, compiled once, solved in numba.

    Parameters
    ----------
    net
        pandapower network (not modified, not referenced after compilation).
    tolerance_mva
        Convergence tolerance on the largest bus active or reactive power mismatch [MVA],
        as pandapower's ``tolerance_mva``. The default, 1e-11, is ten times tighter than the
        1e-10 of the reference ``runpp``: at 1e-10 a heavily loaded reference feeder keeps
        errors of up to 2.4e-6 % in transformer loading and 1.1e-8 MW at the ext_grid
        (measured), above the issue's thresholds; 1e-11 costs about one more iteration.
    max_iteration
        Iteration cap of the fixed-point iteration before the Newton fallback.
    newton_fallback
        Re-solve non-converged steps with Newton-Raphson before flagging them.
    threads
        Threads for batches (default: ``numba.get_num_threads()``, i.e. ``NUMBA_NUM_THREADS``
        or the number of cores). May be changed on the instance.

    Raises
    ------
    testbed.errors.UnsupportedElement
        The net holds an element the engine cannot represent (named).
    testbed.errors.GridError
        pandapower cannot convert the net, or it has no energised bus.
    """

    def __init__(self, net, *, tolerance_mva: float = 1e-11, max_iteration: int = 100,
                 newton_fallback: bool = True, threads: int | None = None):
        self.compiled: CompiledNet = compile_net(net)
        c = self.compiled
        self.tolerance_mva = float(tolerance_mva)
        self.max_iteration = int(max_iteration)
        self.newton_fallback = bool(newton_fallback)
        self.threads = int(threads) if threads else numba.get_num_threads()
        self.lanes = kernels.LANES
        self._tol_pu = self.tolerance_mva / c.base_mva
        inj = np.zeros(c.n_int, dtype=bool)
        inj[c.load_int[c.load_int >= 0]] = True
        inj[c.sgen_int[c.sgen_int >= 0]] = True
        inj[c.s_const_re != 0] = True
        inj[c.s_const_im != 0] = True
        inj_pos = np.flatnonzero(inj[c.pq_int]).astype(np.int64)
        noinj_pos = np.flatnonzero(~inj[c.pq_int]).astype(np.int64)
        self._netw = (
            (c.pq_int, c.slack_int, c.v_slack_re, c.v_slack_im, c.c_re, c.c_im,
             c.v_nl_re, c.v_nl_im, inj_pos, noinj_pos,
             c.l_indptr, c.l_indices, c.l_re, c.l_im,
             c.u_indptr, c.u_indices, c.u_re, c.u_im, c.ud_inv_re, c.ud_inv_im,
             c.load_int, c.load_scale, c.sgen_int, c.sgen_scale,
             c.s_const_re, c.s_const_im, float(c.base_mva), int(c.n_int)),
            (c.y_indptr, c.y_indices, c.y_re, c.y_im, c.ref_re, c.ref_im, c.ref_deg, c.bus_int,
             c.br_f, c.br_t, c.yf_ff_re, c.yf_ff_im, c.yf_ft_re, c.yf_ft_im,
             c.yt_tf_re, c.yt_tf_im, c.yt_tt_re, c.yt_tt_im,
             c.line_br, c.line_i_base, c.line_bus_nan,
             c.trafo_br, c.trafo_i_base_hv, c.trafo_i_base_lv, c.trafo_bus_nan, c.eg_int),
        )
        self._defaults = {
            "load_p_mw": c.load_p0[None, :].copy(),
            "load_q_mvar": c.load_q0[None, :].copy(),
            "sgen_p_mw": c.sgen_p0[None, :].copy(),
            "sgen_q_mvar": c.sgen_q0[None, :].copy(),
        }
        self._labels = {"load_p_mw": ("load", c.load_index),
                        "load_q_mvar": ("load", c.load_index),
                        "sgen_p_mw": ("sgen", c.sgen_index),
                        "sgen_q_mvar": ("sgen", c.sgen_index)}
        self._ybus = None  # built on first Newton fallback

    # ------------------------------------------------------------------ inputs
    def _prepare(self, name: str, value) -> np.ndarray:
        """Validate one input: 2-D float64 C array ``[n_steps or 1, n_el]``."""
        if value is None:
            return self._defaults[name]
        kind, labels = self._labels[name]
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != len(labels):
            raise LoadflowInputError(
                f"{name}: shape {np.shape(value)} does not match [n_steps, {len(labels)}] "
                f"({len(labels)} {kind} rows in the net)")
        arr = np.ascontiguousarray(arr)
        if not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr))
            step, col = (int(x) for x in bad[0])
            label = labels[col].item() if hasattr(labels[col], "item") else labels[col]
            raise LoadflowInputError(
                f"{name}: value {float(arr[step, col])} for {kind} {label!r} (row {col}) "
                f"at step {step} is not finite ({len(bad)} non-finite value(s) in all)")
        return arr

    # ------------------------------------------------------------------ solve
    def run(self, load_p_mw=None, load_q_mvar=None, sgen_p_mw=None, sgen_q_mvar=None, *,
            parallel: bool | None = None) -> LoadFlowResult:
        """Solve one step or a batch of steps.

        Parameters
        ----------
        load_p_mw, load_q_mvar
            Load active [MW] and reactive [Mvar] power, ``[n_steps, n_load]`` in ``net.load``
            row order, or 1-D ``[n_load]`` for one step; ``None``: the values of the net.
            Each load's ``scaling`` of the net applies, as in pandapower.
        sgen_p_mw, sgen_q_mvar
            Static generator active [MW] / reactive [Mvar] power, ``[n_steps, n_sgen]``
            (generation positive), likewise.
        parallel
            Spread the batch over ``self.threads`` threads; default: when it has more than
            ``SERIAL_MAX_STEPS`` steps.

        Returns
        -------
        LoadFlowResult

        Raises
        ------
        testbed.errors.LoadflowInputError
            An input has the wrong shape or a non-finite value (names element and step), or
            the inputs disagree on the number of steps. Nothing is solved then.
        """
        inputs = {"load_p_mw": load_p_mw, "load_q_mvar": load_q_mvar,
                  "sgen_p_mw": sgen_p_mw, "sgen_q_mvar": sgen_q_mvar}
        arrays = {k: self._prepare(k, v) for k, v in inputs.items()}
        lengths = {k: a.shape[0] for k, a in arrays.items() if inputs[k] is not None}
        n_steps = max(lengths.values(), default=1)
        for k, n in lengths.items():
            if n not in (1, n_steps):
                raise LoadflowInputError(
                    f"{k}: {n} steps, but another input has {n_steps} steps")
        return self._solve(n_steps, tuple(arrays.values()), parallel)

    def _solve(self, n_steps: int, ins: tuple, parallel: bool | None) -> LoadFlowResult:
        c = self.compiled
        n_eg = len(c.ext_grid_index)
        outs = (
            np.empty((n_steps, c.n_bus)), np.empty((n_steps, c.n_bus)),
            np.empty((n_steps, len(c.line_index))), np.empty((n_steps, len(c.trafo_index))),
            np.empty((n_steps, n_eg)), np.empty((n_steps, n_eg)), np.empty(n_steps),
            np.zeros(n_steps, dtype=np.int64), np.empty(n_steps),
            np.zeros(n_steps, dtype=np.bool_),
        )
        lanes = self.lanes
        n_chunks = -(-n_steps // lanes)
        threads = self.threads if parallel is not False else 1
        if parallel is None and n_steps <= SERIAL_MAX_STEPS:
            threads = 1
        args = (n_steps, self._netw, ins, outs, self._tol_pu, self.max_iteration)
        if n_steps == 1:
            kernels.solve_one(0, *args[1:])
        elif threads <= 1 or n_chunks < 2:
            kernels.solve_chunks(0, n_chunks, lanes, *args)
        else:
            # blocks of chunks, a few per thread for load balance (steps differ in iterations)
            n_blocks = min(n_chunks, 8 * threads)
            edges = np.linspace(0, n_chunks, n_blocks + 1).astype(np.int64)
            pool = _pool(threads)
            futures = [pool.submit(kernels.solve_chunks, int(a), int(b), lanes, *args)
                       for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
            for fut in futures:
                fut.result()
        vm, va, line, trafo, egp, egq, loss, iters, mism, conv = outs
        fallback = np.zeros(n_steps, dtype=np.bool_)
        if not conv.all():
            self._fallback(np.flatnonzero(~conv), ins, outs, fallback)
        bad = ~conv
        if bad.any():
            for a in (vm, va, line, trafo, egp, egq, loss):
                a[bad] = np.nan
        mism *= c.base_mva
        arrays = dict(vm_pu=vm, va_degree=va, line_loading_percent=line,
                      trafo_loading_percent=trafo, ext_grid_p_mw=egp, ext_grid_q_mvar=egq,
                      losses_mw=loss, converged=conv, iterations=iters,
                      max_mismatch_mva=mism, newton_fallback=fallback)
        for a in arrays.values():
            a.setflags(write=False)
        return LoadFlowResult(**arrays, energised=c.energised, bus_index=c.bus_index,
                              line_index=c.line_index, trafo_index=c.trafo_index,
                              ext_grid_index=c.ext_grid_index)

    def _s_spec(self, step: int, ins: tuple) -> np.ndarray:
        """Specified injection per internal bus [p.u.] of one step (Python, for Newton)."""
        c = self.compiled
        lp, lq, gp, gq = (a[step if a.shape[0] > 1 else 0] for a in ins)
        s = (c.s_const_re + 1j * c.s_const_im).astype(complex)
        ok = c.load_int >= 0
        np.add.at(s, c.load_int[ok], -(lp[ok] + 1j * lq[ok]) * c.load_scale[ok] / c.base_mva)
        ok = c.sgen_int >= 0
        np.add.at(s, c.sgen_int[ok], (gp[ok] + 1j * gq[ok]) * c.sgen_scale[ok] / c.base_mva)
        return s

    def _fallback(self, steps: np.ndarray, ins: tuple, outs: tuple,
                  fallback: np.ndarray) -> None:
        """Newton-Raphson for the steps the fixed point did not converge on (in place)."""
        if not self.newton_fallback:
            return
        c = self.compiled
        if self._ybus is None:
            self._ybus = sp.csr_matrix((c.y_re + 1j * c.y_im, c.y_indices, c.y_indptr),
                                       shape=(c.n_int, c.n_int))
        iters, mism, conv = outs[7], outs[8], outs[9]
        v0 = np.empty(c.n_int, dtype=complex)
        v0[c.pq_int] = c.v_nl_re + 1j * c.v_nl_im
        v0[c.slack_int] = c.v_slack_re + 1j * c.v_slack_im
        for s in steps:
            fallback[s] = True
            s_spec = self._s_spec(int(s), ins)
            v, ok, it, mis = newton_raphson(self._ybus, s_spec, v0, c.pq_int, self._tol_pu)
            n_fp = int(iters[s])
            if ok:
                ids = np.array([s], dtype=np.int64)

                def col(x):
                    return np.ascontiguousarray(x[:, None])

                kernels.extract_steps(ids, col(v.real), col(v.imag), col(s_spec.real),
                                      col(s_spec.imag), self._netw, outs)
                conv[s] = True
                mism[s] = mis
            elif np.isfinite(mis) and not (mism[s] <= mis):
                mism[s] = mis
            iters[s] = n_fp + it
