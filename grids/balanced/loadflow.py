"""Public API of the numba load-flow engine: :class:`LoadFlow` and :class:`LoadFlowResult`.

>>> lf = LoadFlow(net)                       # compile once; ``net`` is not modified
>>> res = lf.run(load_p_mw=P, load_q_mvar=Q, sgen_p_mw=S)   # [n_steps, n_el] or 1-D
>>> res.vm_pu                                # [n_steps, n_bus], net.bus row order

Design decisions
----------------
* Exact by construction: the admittance matrices and every model detail come from
  pandapower's own conversion, run once at compile time (:mod:`grids.balanced.compile`); the result
  equals ``pandapower.runpp(net, algorithm='nr')`` to the solver tolerance (a few 1e-10 p.u.
  in voltage at the default ``tolerance_mva=1e-11``).
* Speed: a fixed-point current-injection iteration on a once-factorised ``Y_pp``, vectorised
  over chunks of steps and parallel over chunks (:mod:`grids.balanced.kernels`). It stops on the
  true
  power mismatch, ``max(|dP|, |dQ|) < tolerance_mva / sn_mva``.
* Robustness: a step on which the fixed point does not converge within ``max_iteration``
  (heavy load near the loadability limit) is re-solved with Newton-Raphson
  (:mod:`grids.balanced.newton`) and marked in ``newton_fallback``; if that fails too, the step is
  flagged ``converged = False`` with its iterations and mismatch, and all its numbers are NaN
  (never silently returned). Other steps of the batch are unaffected.
* Islanded or out-of-service buses are not energised: NaN voltages, ``energised = False``.
* Inputs are checked as the kernels read them, before a step is iterated on: a NaN or
  infinite value raises :class:`grids.errors.LoadflowInputError` naming the argument, the
  element and the step, and no result is returned (other chunks of the batch may have been
  solved meanwhile; a chunk with such a value never is).
* Single steps (1-D inputs, as the grid simulator calls it) take a scalar kernel and return
  read-only views of one row; batches return one array per result.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp

from grids.balanced import kernels
from grids.balanced.buffers import BufferPool
from grids.balanced.compile import CompiledNet, compile_net
from grids.balanced.netpack import pack_network, positions
from grids.balanced.newton import newton_raphson
from grids.errors import LoadflowInputError

#: Batches with at most this many steps run on the calling thread (no thread dispatch).
SERIAL_MAX_STEPS = 64

_POOLS: dict[int, ThreadPoolExecutor] = {}

_INPUTS = ("load_p_mw", "load_q_mvar", "sgen_p_mw", "sgen_q_mvar")


def _constant(value) -> np.ndarray:
    arr = np.array([value])
    arr.setflags(write=False)
    return arr


#: Shared read-only ``converged`` and ``newton_fallback`` of a converged single step.
_TRUE_1 = _constant(True)
_FALSE_1 = _constant(False)


def _pool(threads: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``threads`` worker threads (created on first use)."""
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(max_workers=threads,
                                             thread_name_prefix="loadflow")
    return _POOLS[threads]


@dataclass(slots=True, eq=False)
class LoadFlowResult:
    """Results of one :meth:`LoadFlow.run` call (read-only numpy arrays).

    Not a frozen dataclass: constructing a frozen one with these 18 fields took 2.3-4 us,
    a tenth of a single step (measured); the arrays themselves are read-only.

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
    trafo_p_hv_mw, trafo_q_hv_mvar
        Power flowing into each transformer at its HV side [MW], [Mvar], ``[n_steps,
        n_trafo]`` (pandapower's ``res_trafo.p_hv_mw``, ``q_hv_mvar``); 0 for out-of-service
        transformers, NaN where pandapower reports NaN.
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
    trafo_p_hv_mw: np.ndarray
    trafo_q_hv_mvar: np.ndarray
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
            "trafo_p_hv_mw": frame(self.trafo_p_hv_mw, self.trafo_index, "trafo"),
            "trafo_q_hv_mvar": frame(self.trafo_q_hv_mvar, self.trafo_index, "trafo"),
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
    compiled
        The net already compiled (:func:`grids.balanced.compile.compile_net`, for example
        from a cache), instead of ``net``.
    float32_iterations
        Iterations of a batch done in float32 before the float64 ones (default
        :data:`grids.balanced.kernels.F32_ITERS`, 4; 0: float64 only). They only choose the starting
        point of the float64 iterations, which alone decide convergence, so the results
        meet the same tolerance either way (they differ by the convergence error, about
        1e-10 p.u. at the default tolerance). Single steps are always solved in float64.

    Notes
    -----
    A large batch (16 MB of results or more, e.g. a year on the reference feeder: 260 MB)
    writes into the memory of one of the last two batch results if nothing refers to that
    result any more (:class:`grids.balanced.buffers.BufferPool`; a result still referred to is never
    touched). Memory fresh from the system cost 0.5 us per step to zero here, and up to
    13 us per step on this virtual machine when its host had to map it again. The memory of
    up to two dropped results is therefore held until :meth:`release_memory` or the end of
    the instance.

    Raises
    ------
    grids.errors.UnsupportedElement
        The net holds an element the engine cannot represent (named).
    grids.errors.GridError
        pandapower cannot convert the net, or it has no energised bus.
    """

    def __init__(self, net=None, *, tolerance_mva: float = 1e-11, max_iteration: int = 100,
                 newton_fallback: bool = True, threads: int | None = None,
                 float32_iterations: int | None = None, compiled: CompiledNet | None = None):
        if (net is None) == (compiled is None):
            raise ValueError("LoadFlow: give exactly one of net or compiled")
        self.compiled: CompiledNet = compiled if compiled is not None else compile_net(net)
        c = self.compiled
        self.tolerance_mva = float(tolerance_mva)
        self.max_iteration = int(max_iteration)
        self.newton_fallback = bool(newton_fallback)
        self.threads = int(threads) if threads else numba.get_num_threads()
        self.lanes = kernels.LANES
        self.float32_iterations = (kernels.F32_ITERS if float32_iterations is None
                                   else int(float32_iterations))
        if self.float32_iterations < 0:
            raise ValueError(f"float32_iterations: {float32_iterations}, must be >= 0")
        self._tol_pu = self.tolerance_mva / c.base_mva
        # the six arrays the kernels take (grids.balanced.netpack), as a plain tuple
        self._net = tuple(pack_network(c))
        self._int_of_pos = positions(c)
        n_tr, n_eg = len(c.trafo_index), len(c.ext_grid_index)
        sizes = (c.n_bus, c.n_bus, len(c.line_index), n_tr, n_eg, n_eg, n_tr, n_tr, 1, 1)
        self._one_offsets = tuple(int(x) for x in np.concatenate([[0], np.cumsum(sizes)]))
        o = self._one_offsets
        # the row index of each single-step result, built once (vm .. tq, then losses and
        # the mismatch as [1] columns)
        self._one_index = (tuple((slice(None), slice(o[k], o[k + 1])) for k in range(8))
                           + ((slice(None), o[8]), (slice(None), o[9])))
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
        self._n_el = {name: len(lab) for name, (_, lab) in self._labels.items()}
        self._ybus = None  # built on first Newton fallback
        self._buffers = BufferPool()

    def release_memory(self) -> None:
        """Release the memory kept from dropped batch results (see Notes)."""
        self._buffers.clear()

    # ------------------------------------------------------------------ inputs
    def _prepare(self, name: str, value) -> np.ndarray:
        """Shape-check one input: 2-D float64 C array ``[n_steps or 1, n_el]``.

        Finiteness is checked by the kernels as they read the values (free there, while a
        separate pass over a year's batch costs about 0.3 us per step); :meth:`_raise_non_finite`
        then names the value.
        """
        if value is None:
            return self._defaults[name]
        if (type(value) is np.ndarray and value.dtype == np.float64 and value.ndim == 1
                and value.shape[0] == self._n_el[name] and value.flags.c_contiguous):
            return value[None, :]  # the common single-step case, checked cheaply
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        n_el = self._n_el[name]
        if arr.ndim != 2 or arr.shape[1] != n_el:
            kind = self._labels[name][0]
            raise LoadflowInputError(
                f"{name}: shape {np.shape(value)} does not match [n_steps, {n_el}] "
                f"({n_el} {kind} rows in the net)")
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        return arr

    def _raise_non_finite(self, ins: tuple) -> None:
        """Raise the error naming the first non-finite input value (the kernels found one)."""
        for name, arr in zip(_INPUTS, ins, strict=True):
            bad = np.argwhere(~np.isfinite(arr))
            if len(bad):
                kind, labels = self._labels[name]
                step, col = (int(x) for x in bad[0])
                label = labels[col].item() if hasattr(labels[col], "item") else labels[col]
                raise LoadflowInputError(
                    f"{name}: value {float(arr[step, col])} for {kind} {label!r} (row {col}) "
                    f"at step {step} is not finite ({len(bad)} non-finite value(s) in all)")
        raise AssertionError("the kernels reported a non-finite input, but none was found")

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
        grids.errors.LoadflowInputError
            An input has the wrong shape or a non-finite value (names element and step), or
            the inputs disagree on the number of steps. No result is returned then, and a
            step with a non-finite value is never solved (the kernels check each chunk's
            inputs before iterating on it).
        """
        ins = (self._prepare("load_p_mw", load_p_mw), self._prepare("load_q_mvar", load_q_mvar),
               self._prepare("sgen_p_mw", sgen_p_mw), self._prepare("sgen_q_mvar", sgen_q_mvar))
        n_steps = 1
        for name, a in zip(_INPUTS, ins, strict=True):
            rows = a.shape[0]
            if rows != 1:
                if n_steps not in (1, rows):
                    raise LoadflowInputError(
                        f"{name}: {rows} steps, but another input has {n_steps} steps")
                n_steps = rows
        return self._solve(n_steps, ins, parallel)

    def _solve(self, n_steps: int, ins: tuple, parallel: bool | None) -> LoadFlowResult:
        if n_steps == 1:
            res = self._solve_one(ins)
            if res is not None:
                return res
        return self._solve_batch(n_steps, ins, parallel)

    def _solve_one(self, ins: tuple) -> LoadFlowResult | None:
        """One step on the scalar kernel; ``None`` if it did not converge (the caller then
        takes the batch path, which has the Newton fallback).

        The results are read-only views of one row the kernel writes: one allocation and
        one ``setflags`` instead of ten of each (about 8 us of a 40 us call).
        """
        c = self.compiled
        row = np.empty((1, self._one_offsets[-1]))
        status = np.empty(2, dtype=np.int64)
        kernels.solve_one(self._net, ins, row, status, self._tol_pu, self.max_iteration)
        if status[0] < 0:
            self._raise_non_finite(ins)
        if not status[1]:
            return None
        row.setflags(write=False)
        status.setflags(write=False)
        vm, va, line, trafo, egp, egq, tp, tq, loss, mism = map(row.__getitem__,
                                                                self._one_index)
        return LoadFlowResult(vm, va, line, trafo, egp, egq, tp, tq, loss, _TRUE_1,
                              status[0:1], mism, _FALSE_1, c.energised, c.bus_index,
                              c.line_index, c.trafo_index, c.ext_grid_index)

    def _solve_batch(self, n_steps: int, ins: tuple, parallel: bool | None
                     ) -> LoadFlowResult:
        """Steps in chunks of lanes, on the thread pool when large (see :meth:`run`)."""
        c = self.compiled
        n_eg = len(c.ext_grid_index)
        n_tr = len(c.trafo_index)
        # the float results in one buffer (reused once a previous result is dropped, see
        # grids.balanced.buffers); the kernels write element-major arrays [n_element, n_steps] (a
        # chunk's lanes are then consecutive in memory, see kernels._extract), the results
        # are their transposes
        rows = (c.n_bus, c.n_bus, len(c.line_index), n_tr, n_eg, n_eg, 1, 1, n_tr, n_tr)
        edges = np.concatenate([[0], np.cumsum(rows)]) * n_steps
        buf = self._buffers.take(int(edges[-1]))
        vm_, va_, line_, trafo_, egp_, egq_, loss_, mism_, tp_, tq_ = (
            buf[a:b].reshape(r, n_steps) for a, b, r in zip(edges[:-1], edges[1:], rows,
                                                              strict=True))
        outs = (vm_, va_, line_, trafo_, egp_, egq_, loss_[0],
                np.zeros(n_steps, dtype=np.int64), mism_[0],
                np.zeros(n_steps, dtype=np.bool_), tp_, tq_)
        vm, va, line, trafo, egp, egq, loss, iters, mism, conv, tp, tq = (
            a.T for a in outs)
        lanes = self.lanes
        n_chunks = -(-n_steps // lanes)
        threads = self.threads if parallel is not False else 1
        if parallel is None and n_steps <= SERIAL_MAX_STEPS:
            threads = 1
        args = (n_steps, self._net, ins, outs, self._tol_pu, self.max_iteration,
                self.float32_iterations)
        if threads <= 1 or n_chunks < 2:
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
        if iters.min() < 0:
            self._raise_non_finite(ins)
        fallback = np.zeros(n_steps, dtype=np.bool_)
        if not conv.all():
            self._fallback(np.flatnonzero(~conv), ins, outs, fallback)
            bad = ~conv
            if bad.any():
                for a in (vm, va, line, trafo, egp, egq, loss, tp, tq):
                    a[bad] = np.nan
        if c.base_mva != 1.0:
            mism *= c.base_mva
        for a in (*outs, vm, va, line, trafo, egp, egq, tp, tq):
            a.flags.writeable = False
        fallback.flags.writeable = False
        self._buffers.give(buf)
        return LoadFlowResult(vm, va, line, trafo, egp, egq, tp, tq, loss, conv, iters, mism,
                              fallback, c.energised, c.bus_index, c.line_index, c.trafo_index,
                              c.ext_grid_index)

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
                v_pos = v[self._int_of_pos, None]  # [n_pos, 1], position order
                s_pos = s_spec[self._int_of_pos, None]
                kernels.extract_steps(ids, np.ascontiguousarray(v_pos.real),
                                      np.ascontiguousarray(v_pos.imag),
                                      np.ascontiguousarray(s_pos.real),
                                      np.ascontiguousarray(s_pos.imag), self._net, outs)
                conv[s] = True
                mism[s] = mis
            elif np.isfinite(mis) and not (mism[s] <= mis):
                mism[s] = mis
            iters[s] = n_fp + it
