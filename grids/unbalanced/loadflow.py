"""Public API of the unbalanced (three-phase) load flow: :class:`UnbalancedLoadFlow`.

>>> lf = UnbalancedLoadFlow(net)              # compile once; ``net`` is not modified
>>> res = lf.run(asym_p_mw=P, asym_q_mvar=Q)  # [n_steps, n_asymmetric_load, 3] or [n, 3]
>>> res.vm_pu                                 # [n_steps, n_bus, 3], net.bus row order

Design decisions
----------------
* Exact by construction: the three sequence networks are pandapower's own, built as
  ``runpp_3ph`` builds them (:mod:`grids.unbalanced.compile`); the engine solves the same
  equations to a tight tolerance. Lines are 3x3 phase impedance and shunt admittance matrices
  of a transposed line from positive- and zero-sequence data, the neutral solidly grounded
  and Kron-reduced (diagonal in the sequence frame); transformers with their vector group and
  zero-sequence T model; the ext_grid ideal in the positive sequence and behind its
  short-circuit impedance in the negative and zero sequence (as ``runpp_3ph``). Missing
  zero-sequence data: documented defaults with a warning (:mod:`grids.unbalanced.defaults`).
* Balanced loads and sgens (``net.load``, ``net.sgen``) put a third of their power on each
  phase, as ``runpp_3ph`` does; ``asymmetric_load`` rows their phase powers (a, b, c);
  ``asymmetric_sgen`` rows are constant at the net's values.
* Speed: fixed-point current injection on once-factorised sequence matrices, the three
  sequences in one pass over a shared sparsity pattern, vectorised over chunks of steps and
  parallel over chunks (:mod:`grids.unbalanced.kernels`). It stops on the true per-phase
  power mismatch, ``max(|dP|, |dQ|) < tolerance_mva / sn_mva`` over buses and phases.
* Robustness: a step on which the fixed point does not converge is re-solved with
  Newton-Raphson (:mod:`grids.unbalanced.newton`) and marked in ``newton_fallback``; if that
  fails too, the step is flagged ``converged = False`` and all its numbers are NaN.
* Inputs are checked as the kernels read them: a NaN or infinite value raises
  :class:`grids.errors.LoadflowInputError` naming the argument, element, phase and step.

Phase connections (the input form for homes)
--------------------------------------------
A home is one asymmetric-load row on one phase, or on all three (a three-phase device).
Building ``[n_steps, n_asymmetric_load, 3]`` arrays for that each step is wasteful;
:class:`PhaseConnections` says once where each column of ``connection_p_mw`` goes (a row of
``net.asymmetric_load`` and a phase, or ``"abc"``: a third on each phase), and
``lf.run(connection_p_mw=P, connection_q_mvar=Q)`` takes ``[n_steps, n_connections]`` (or
``[n_connections]``). Rows that a connection names take their power from their connections
alone (their net values, or ``asym_p_mw`` values, are not used); several connections may
name one row (a home with a single-phase and a three-phase device). See
:func:`grids.networks.phases.single_phase_net`, which builds such a net and its connections
from a balanced net and a phase per load.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numba
import numpy as np
import pandas as pd

from grids.balanced.buffers import BufferPool
from grids.balanced.loadflow import _pool  # one process-wide pool for both engines
from grids.errors import LoadflowInputError
from grids.unbalanced import kernels
from grids.unbalanced.compile import CompiledNet3, compile_net
from grids.unbalanced.netpack import SPLIT, ColumnMap, asym_map, balanced_map, pack_network
from grids.unbalanced.newton import newton_raphson

#: Batches with at most this many steps run on the calling thread.
SERIAL_MAX_STEPS = 64

#: Phase names and codes (``"abc"``: a third of the power on each phase).
PHASE_CODES = {"a": 0, "b": 1, "c": 2, "abc": SPLIT}

_INPUTS = ("load_p_mw", "load_q_mvar", "sgen_p_mw", "sgen_q_mvar", "asym_p_mw",
           "asym_q_mvar", "connection_p_mw", "connection_q_mvar")


@dataclass(frozen=True)
class PhaseConnections:
    """Where each column of ``connection_p_mw`` connects (see the module docstring).

    Attributes
    ----------
    asym_row
        Row (position, 0-based) in ``net.asymmetric_load`` of each connection.
    phase
        Phase code of each connection: 0, 1, 2 for a, b, c; 3 for all three (a third each).
    """

    asym_row: np.ndarray
    phase: np.ndarray

    @classmethod
    def of(cls, asym_row, phase) -> PhaseConnections:
        """From rows and phases given as codes or names (``"a"``, ``"b"``, ``"c"``,
        ``"abc"``).

        Raises
        ------
        ValueError
            An unknown phase name or code (named with its connection).
        """
        rows = np.asarray(asym_row, dtype=np.int64).ravel()
        raw = list(np.asarray(phase).ravel())
        if len(raw) != len(rows):
            raise ValueError(f"phase: {len(raw)} values for {len(rows)} connections")
        codes = np.empty(len(raw), dtype=np.int64)
        for j, p in enumerate(raw):
            if isinstance(p, str | np.str_):
                if str(p).lower() not in PHASE_CODES:
                    raise ValueError(f"phase: connection {j}: {str(p)!r} is not one of a, b, c, "
                                     "abc")
                codes[j] = PHASE_CODES[str(p).lower()]
            else:
                if int(p) not in (0, 1, 2, SPLIT):
                    raise ValueError(f"phase: connection {j}: code {p!r} is not 0, 1, 2 or 3")
                codes[j] = int(p)
        for a in (rows, codes):
            a.setflags(write=False)
        return cls(rows, codes)

    def __len__(self) -> int:
        return len(self.asym_row)


@dataclass(slots=True, eq=False)
class UnbalancedLoadFlowResult:
    """Results of one :meth:`UnbalancedLoadFlow.run` call (read-only numpy arrays).

    Phases are the last axis (a, b, c). NaN where a bus is not energised or the step did not
    converge; branches out of service are 0.

    Attributes
    ----------
    vm_pu, va_degree
        Phase-to-neutral voltage magnitude [p.u.] and angle [degree], ``[n_steps, n_bus, 3]``
        in ``net.bus`` row order.
    vuf_percent
        Voltage unbalance factor ``|V2| / |V1| * 100`` [%], ``[n_steps, n_bus]``.
    line_i_ka
        Phase current of each line, the larger of its two ends [kA], ``[n_steps, n_line,
        3]``.
    line_loading_percent
        ``line_i_ka / (max_i_ka * df * parallel) * 100`` [%], likewise (a property,
        computed on first access).
    trafo_loading_percent
        Loading of the most loaded phase and side [%], as ``runpp_3ph``'s
        ``res_trafo_3ph.loading_percent``, ``[n_steps, n_trafo]``.
    trafo_p_hv_mw, trafo_q_hv_mvar
        Power flowing into each transformer at its HV side, per phase [MW], [Mvar],
        ``[n_steps, n_trafo, 3]``.
    ext_grid_p_mw, ext_grid_q_mvar
        Power each ext_grid supplies per phase [MW], [Mvar], ``[n_steps, n_ext_grid, 3]``
        (as ``runpp_3ph``: the net injection at its bus, so a load at the slack bus is
        netted off).
    losses_mw
        Active losses of all branches and phases [MW], ``[n_steps]``.
    converged, iterations, max_mismatch_mva, newton_fallback
        Per step: converged, iterations (fixed point plus Newton), final per-phase power
        mismatch [MVA], whether Newton-Raphson was needed.
    energised
        ``[n_bus]``: in service and connected to an ext_grid.
    bus_index, line_index, trafo_index, ext_grid_index
        The net's labels of the rows.
    line_i_max_ka
        ``max_i_ka * df * parallel`` of each line.
    """

    vm_pu: np.ndarray
    va_degree: np.ndarray
    vuf_percent: np.ndarray
    line_i_ka: np.ndarray
    trafo_loading_percent: np.ndarray
    trafo_p_hv_mw: np.ndarray
    trafo_q_hv_mvar: np.ndarray
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
    line_i_max_ka: np.ndarray = field(repr=False)
    _line_loading: np.ndarray | None = field(default=None, repr=False)

    @property
    def line_loading_percent(self) -> np.ndarray:
        """``line_i_ka / (max_i_ka * df * parallel) * 100`` [%], ``[n_steps, n_line, 3]``
        (computed on first access: a year's batch would otherwise write 300 MB more)."""
        if self._line_loading is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = self.line_i_ka * (100.0 / self.line_i_max_ka)[None, :, None]
            out.flags.writeable = False
            self._line_loading = out
        return self._line_loading

    @property
    def n_steps(self) -> int:
        """Number of steps."""
        return int(self.converged.shape[0])

    def to_frames(self, step_index=None) -> dict[str, pd.DataFrame]:
        """The results as DataFrames labelled with the net's indices.

        Parameters
        ----------
        step_index
            Labels of the steps (e.g. timestamps); ``range(n_steps)`` by default.

        Returns
        -------
        dict
            ``vm_pu``, ``va_degree`` (columns: ``(bus, phase)``), ``vuf_percent`` (bus),
            ``line_i_ka``, ``line_loading_percent`` (``(line, phase)``),
            ``trafo_loading_percent`` (trafo), ``trafo_p_hv_mw``, ``trafo_q_hv_mvar``
            (``(trafo, phase)``), ``ext_grid_p_mw``, ``ext_grid_q_mvar`` (``(ext_grid,
            phase)``) and ``summary`` (``losses_mw``, ``converged``, ``iterations``,
            ``max_mismatch_mva``, ``newton_fallback``). Phases are ``"a"``, ``"b"``, ``"c"``.
        """
        idx = pd.RangeIndex(self.n_steps) if step_index is None else pd.Index(step_index)

        def flat(values, labels, name):
            return pd.DataFrame(values, index=idx, columns=pd.Index(labels, name=name))

        def phased(values, labels, name):
            cols = pd.MultiIndex.from_product([labels, ["a", "b", "c"]],
                                              names=[name, "phase"])
            return pd.DataFrame(values.reshape(self.n_steps, -1), index=idx, columns=cols)

        return {
            "vm_pu": phased(self.vm_pu, self.bus_index, "bus"),
            "va_degree": phased(self.va_degree, self.bus_index, "bus"),
            "vuf_percent": flat(self.vuf_percent, self.bus_index, "bus"),
            "line_i_ka": phased(self.line_i_ka, self.line_index, "line"),
            "line_loading_percent": phased(self.line_loading_percent, self.line_index, "line"),
            "trafo_loading_percent": flat(self.trafo_loading_percent, self.trafo_index,
                                          "trafo"),
            "trafo_p_hv_mw": phased(self.trafo_p_hv_mw, self.trafo_index, "trafo"),
            "trafo_q_hv_mvar": phased(self.trafo_q_hv_mvar, self.trafo_index, "trafo"),
            "ext_grid_p_mw": phased(self.ext_grid_p_mw, self.ext_grid_index, "ext_grid"),
            "ext_grid_q_mvar": phased(self.ext_grid_q_mvar, self.ext_grid_index, "ext_grid"),
            "summary": pd.DataFrame({
                "losses_mw": self.losses_mw, "converged": self.converged,
                "iterations": self.iterations, "max_mismatch_mva": self.max_mismatch_mva,
                "newton_fallback": self.newton_fallback}, index=idx),
        }

    @property
    def all_converged(self) -> bool:
        """True if every step converged."""
        return bool(self.converged.all())


class UnbalancedLoadFlow:
    """Unbalanced AC load flow of a pandapower network, compiled once, solved in numba.

    Parameters
    ----------
    net
        pandapower network (not modified, not referenced after compilation).
    connections
        Optional :class:`PhaseConnections` for ``connection_p_mw`` / ``connection_q_mvar``.
    tolerance_mva
        Tolerance on the largest per-phase active or reactive power mismatch [MVA]. At the
        default, 1e-10, the voltages are within 5e-9 p.u. of runpp_3ph's fixed point on every
        test grid (measured; ten times tighter costs about one iteration more).
    max_iteration
        Iteration cap of the fixed point before the Newton fallback.
    newton_fallback
        Re-solve non-converged steps with Newton-Raphson before flagging them.
    threads
        Threads for batches (default ``numba.get_num_threads()``).
    compiled
        The net already compiled (:func:`grids.unbalanced.compile.compile_net`, e.g. from a
        disk cache), instead of ``net``.

    Raises
    ------
    grids.errors.UnsupportedElement
        An element the engine cannot represent (named).
    grids.errors.GridError
        pandapower cannot convert the net, or a sequence matrix is singular.
    """

    def __init__(self, net=None, *, connections: PhaseConnections | None = None,
                 tolerance_mva: float = 1e-10, max_iteration: int = 100,
                 newton_fallback: bool = True, threads: int | None = None,
                 compiled: CompiledNet3 | None = None):
        if (net is None) == (compiled is None):
            raise ValueError("UnbalancedLoadFlow: give exactly one of net or compiled")
        self.compiled: CompiledNet3 = compiled if compiled is not None else compile_net(net)
        c = self.compiled
        self.tolerance_mva = float(tolerance_mva)
        self.max_iteration = int(max_iteration)
        self.newton_fallback = bool(newton_fallback)
        self.threads = int(threads) if threads else numba.get_num_threads()
        self.lanes = kernels.LANES
        self._tol_pu = self.tolerance_mva / c.base_mva
        n_asym = len(c.asym_index)
        if connections is None:
            connections = PhaseConnections.of(np.zeros(0, np.int64), np.zeros(0, np.int64))
        bad = np.flatnonzero((connections.asym_row < 0) | (connections.asym_row >= n_asym))
        if len(bad):
            raise ValueError(f"connections: asym_row {int(connections.asym_row[bad[0]])} of "
                             f"connection {int(bad[0])} is not a row of net.asymmetric_load "
                             f"({n_asym} rows)")
        self.connections = connections
        rows = connections.asym_row
        conn_fac = c.asym_factor[rows] / np.where(connections.phase == SPLIT, 3.0, 1.0)
        conn_map = ColumnMap(c.asym_pos[rows].astype(np.int64),
                             connections.phase.astype(np.int64), conn_fac)
        masked = c.asym_factor.copy()
        masked[rows] = 0.0
        self._maps = (balanced_map(c.load_pos, c.load_factor),
                      balanced_map(c.sgen_pos, c.sgen_factor),
                      asym_map(c.asym_pos, c.asym_factor), conn_map)
        self._net = tuple(pack_network(c, self._maps, np.repeat(masked, 3)))
        self._defaults = {
            "load_p_mw": c.load_p0[None, :].copy(), "load_q_mvar": c.load_q0[None, :].copy(),
            "sgen_p_mw": c.sgen_p0[None, :].copy(), "sgen_q_mvar": c.sgen_q0[None, :].copy(),
            "asym_p_mw": c.asym_p0.reshape(1, -1).copy(),
            "asym_q_mvar": c.asym_q0.reshape(1, -1).copy(),
            "connection_p_mw": np.zeros((1, len(connections))),
            "connection_q_mvar": np.zeros((1, len(connections))),
        }
        self._labels = {"load_p_mw": ("load", c.load_index), "load_q_mvar": ("load", c.load_index),
                        "sgen_p_mw": ("sgen", c.sgen_index), "sgen_q_mvar": ("sgen", c.sgen_index),
                        "asym_p_mw": ("asymmetric_load", c.asym_index),
                        "asym_q_mvar": ("asymmetric_load", c.asym_index),
                        "connection_p_mw": ("connection", np.arange(len(connections))),
                        "connection_q_mvar": ("connection", np.arange(len(connections)))}
        self._n_el = {k: len(v[1]) for k, v in self._labels.items()}
        self._buffers = BufferPool()
        # the single-step path: the voltages' scratch and the output rows, laid out once
        n_bus, n_line, n_tr, n_eg = (c.n_bus, len(c.line_index), len(c.trafo_index),
                                     len(c.ext_grid_index))
        rows = (3 * n_bus, 3 * n_bus, n_bus, 3 * n_line, n_tr, 3 * n_tr, 3 * n_tr, 3 * n_eg,
                3 * n_eg, 1, 1)
        edges = np.concatenate([[0], np.cumsum(rows)])
        self._one_edges = tuple(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))
        self._one_width = int(edges[-1])
        self._scratch = threading.local()  # per thread: the single step's voltages
        self._step0 = np.zeros(1, dtype=np.int64)

    def release_memory(self) -> None:
        """Release the memory kept from dropped batch results."""
        self._buffers.clear()

    # ------------------------------------------------------------------ inputs
    def _prepare(self, name: str, value) -> np.ndarray:
        """Shape-check one input: 2-D float64 C array ``[n_steps or 1, n_columns]``."""
        if value is None:
            return self._defaults[name]
        n_el = self._n_el[name]
        asym = name.startswith("asym")
        arr = np.asarray(value, dtype=np.float64)
        want = (n_el, 3) if asym else (n_el,)
        if arr.shape == want:
            arr = arr[None]
        if arr.ndim != len(want) + 1 or arr.shape[1:] != want:
            kind = self._labels[name][0]
            shape = "[n_steps, " + ", ".join(str(x) for x in want) + "]"
            raise LoadflowInputError(f"{name}: shape {np.shape(value)} does not match {shape} "
                                     f"({n_el} {kind} rows)")
        arr = arr.reshape(arr.shape[0], -1)
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        return arr

    def _raise_non_finite(self, ins: tuple) -> None:
        for name, arr in zip(_INPUTS, ins, strict=True):
            bad = np.argwhere(~np.isfinite(arr))
            if len(bad):
                kind, labels = self._labels[name]
                step, col = (int(x) for x in bad[0])
                phase = ""
                if name.startswith("asym"):
                    col, ph = divmod(col, 3)
                    phase = f" phase {'abc'[ph]}"
                label = labels[col].item() if hasattr(labels[col], "item") else labels[col]
                value = float(arr[step, bad[0][1]])
                raise LoadflowInputError(
                    f"{name}: value {value} for {kind} {label!r} (row {col}){phase} at step "
                    f"{step} is not finite ({len(bad)} non-finite value(s) in all)")
        raise AssertionError("the kernels reported a non-finite input, but none was found")

    # ------------------------------------------------------------------ solve
    def run(self, asym_p_mw=None, asym_q_mvar=None, *, load_p_mw=None, load_q_mvar=None,
            sgen_p_mw=None, sgen_q_mvar=None, connection_p_mw=None, connection_q_mvar=None,
            parallel: bool | None = None) -> UnbalancedLoadFlowResult:
        """Solve one step or a batch of steps.

        Parameters
        ----------
        asym_p_mw, asym_q_mvar
            Phase powers of the asymmetric loads [MW], [Mvar], ``[n_steps,
            n_asymmetric_load, 3]`` in ``net.asymmetric_load`` row order, phases a, b, c
            (load convention), or ``[n_asymmetric_load, 3]`` for one step; ``None``: the
            net's values. Each row's ``scaling`` applies, as in pandapower.
        load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar
            Balanced loads and sgens (a third on each phase), ``[n_steps, n]`` or ``[n]``;
            ``None``: the net's values.
        connection_p_mw, connection_q_mvar
            Powers of the :class:`PhaseConnections` given at construction, ``[n_steps,
            n_connections]`` or ``[n_connections]``. When either is given, the rows the
            connections name take their power from them alone (a missing one is 0).
        parallel
            Spread the batch over ``self.threads`` threads; default: when it has more than
            ``SERIAL_MAX_STEPS`` steps.

        Returns
        -------
        UnbalancedLoadFlowResult

        Raises
        ------
        grids.errors.LoadflowInputError
            A wrong shape, a non-finite value (names element, phase and step), or inputs
            that disagree on the number of steps.
        """
        given = {"load_p_mw": load_p_mw, "load_q_mvar": load_q_mvar, "sgen_p_mw": sgen_p_mw,
                 "sgen_q_mvar": sgen_q_mvar, "asym_p_mw": asym_p_mw,
                 "asym_q_mvar": asym_q_mvar, "connection_p_mw": connection_p_mw,
                 "connection_q_mvar": connection_q_mvar}
        masked = connection_p_mw is not None or connection_q_mvar is not None
        ins = tuple(self._prepare(name, given[name]) for name in _INPUTS)
        n_steps = 1
        for name, a in zip(_INPUTS, ins, strict=True):
            rows = a.shape[0]
            if rows != 1:
                if n_steps not in (1, rows):
                    raise LoadflowInputError(
                        f"{name}: {rows} steps, but another input has {n_steps} steps")
                n_steps = rows
        return self._solve(n_steps, ins, masked, parallel)

    def _solve(self, n_steps: int, ins: tuple, masked: bool, parallel: bool | None
               ) -> UnbalancedLoadFlowResult:
        if n_steps == 1:
            res = self._solve_one(ins, masked)
            if res is not None:
                return res
        return self._solve_batch(n_steps, ins, masked, parallel)

    def _solve_one(self, ins: tuple, masked: bool) -> UnbalancedLoadFlowResult | None:
        """One step on the scalar kernel; ``None`` if it did not converge (the caller then
        takes the batch path, which has the Newton fallback)."""
        status = np.empty(2, dtype=np.int64)
        frozen = getattr(self._scratch, "frozen", None)
        if frozen is None:  # lane 0 of the rows of kernels.extract_steps
            frozen = self._scratch.frozen = np.zeros((self.compiled.n_pos,
                                                      6 * kernels.LANES))
        mis = kernels.solve_one(self._net, ins, masked, self._tol_pu, self.max_iteration,
                                frozen, status)
        if status[0] < 0:
            self._raise_non_finite(ins)
        if not status[1]:
            return None
        buf = np.empty(self._one_width)
        parts = [buf[a:b].reshape(b - a, 1) for a, b in self._one_edges]
        iters = status[0:1].copy()
        conv = np.ones(1, dtype=np.bool_)
        outs = (*parts[:9], iters, parts[10][0], conv, parts[9][0])
        kernels.extract_steps(self._step0, frozen, self._net, outs)
        parts[10][0, 0] = mis * self.compiled.base_mva
        return self._result(parts, 1, iters, conv, np.zeros(1, dtype=np.bool_))

    def _solve_batch(self, n_steps: int, ins: tuple, masked: bool, parallel: bool | None
                     ) -> UnbalancedLoadFlowResult:
        c = self.compiled
        n_bus, n_line, n_tr, n_eg = (c.n_bus, len(c.line_index), len(c.trafo_index),
                                     len(c.ext_grid_index))
        # the float results in one buffer (reused once a previous result is dropped); the
        # kernels write element-major arrays [n_rows, n_steps], the results are views of
        # their transposes
        rows = (3 * n_bus, 3 * n_bus, n_bus, 3 * n_line, n_tr, 3 * n_tr, 3 * n_tr, 3 * n_eg,
                3 * n_eg, 1, 1)
        edges = np.concatenate([[0], np.cumsum(rows)]) * n_steps
        buf = self._buffers.take(int(edges[-1]))
        parts = [buf[a:b].reshape(r, n_steps)
                 for a, b, r in zip(edges[:-1], edges[1:], rows, strict=True)]
        iters = np.zeros(n_steps, dtype=np.int64)
        conv = np.zeros(n_steps, dtype=np.bool_)
        mism, loss = parts[10][0], parts[9][0]
        outs = (*parts[:9], iters, mism, conv, loss)
        lanes = self.lanes
        n_chunks = -(-n_steps // lanes)
        threads = self.threads if parallel is not False else 1
        if parallel is None and n_steps <= SERIAL_MAX_STEPS:
            threads = 1
        args = (n_steps, self._net, ins, outs, self._tol_pu, self.max_iteration, masked)
        if threads <= 1 or n_chunks < 2:
            kernels.solve_chunks(0, n_chunks, lanes, *args)
        else:
            n_blocks = min(n_chunks, 8 * threads)
            cuts = np.linspace(0, n_chunks, n_blocks + 1).astype(np.int64)
            pool = _pool(threads)
            futures = [pool.submit(kernels.solve_chunks, int(a), int(b), lanes, *args)
                       for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
            for fut in futures:
                fut.result()
        if iters.min() < 0:
            self._raise_non_finite(ins)
        fallback = np.zeros(n_steps, dtype=np.bool_)
        if not conv.all():
            self._fallback(np.flatnonzero(~conv), ins, masked, outs, fallback)
            bad = ~conv
            if bad.any():
                for a in parts[:10]:
                    a[:, bad] = np.nan
        if c.base_mva != 1.0:
            mism *= c.base_mva
        self._buffers.give(buf)
        return self._result(parts, n_steps, iters, conv, fallback)

    def _result(self, parts: list, n_steps: int, iters, conv, fallback
                ) -> UnbalancedLoadFlowResult:
        """The read-only result of the element-major output rows ``parts``."""
        c = self.compiled
        for a in (*parts, iters, conv, fallback):
            a.flags.writeable = False

        def phased(a):
            return a.T.reshape(n_steps, a.shape[0] // 3, 3)

        return UnbalancedLoadFlowResult(
            phased(parts[0]), phased(parts[1]), parts[2].T, phased(parts[3]), parts[4].T,
            phased(parts[5]), phased(parts[6]), phased(parts[7]), phased(parts[8]),
            parts[9][0], conv, iters, parts[10][0], fallback, c.energised, c.bus_index,
            c.line_index, c.trafo_index, c.ext_grid_index, c.line_i_max_ka)

    def _s_abc(self, step: int, ins: tuple, masked: bool) -> np.ndarray:
        """Specified injection per position and phase [p.u.] ``[n, 3]`` of one step (Python,
        for the Newton fallback)."""
        c = self.compiled
        s = c.s_const.copy()
        for kind, mp in enumerate(self._maps):
            p_in, q_in = ins[2 * kind], ins[2 * kind + 1]
            p = p_in[step if p_in.shape[0] > 1 else 0]
            q = q_in[step if q_in.shape[0] > 1 else 0]
            fac = mp.factor
            if kind == 2 and masked:
                fac = self._net[2][self._net[3][kernels.F_MAP_FAC2_MASKED]:
                                   self._net[3][kernels.F_MAP_FAC2_MASKED + 1]]
            ok = mp.pos >= 0
            val = fac * (p + 1j * q)
            for ph in range(3):
                sel = ok & ((mp.phase == ph) | (mp.phase == SPLIT))
                np.add.at(s[:, ph], mp.pos[sel], val[sel])
        return s

    def _fallback(self, steps: np.ndarray, ins: tuple, masked: bool, outs: tuple,
                  fallback: np.ndarray) -> None:
        """Newton-Raphson for the steps the fixed point did not converge on (in place)."""
        if not self.newton_fallback:
            return
        c = self.compiled
        iters, mism, conv = outs[9], outs[10], outs[11]
        n = c.n_pos
        v_start = np.zeros((3, n), dtype=complex)
        v_start[1] = np.concatenate([c.v1_nl, c.v_slack])
        for s in steps:
            fallback[s] = True
            s_abc = self._s_abc(int(s), ins, masked)
            v, ok, it, mis = newton_raphson(c.y, s_abc, v_start, c.n_pq, self._tol_pu)
            if ok:
                lanes = kernels.LANES
                frozen = np.zeros((n, 6 * lanes))
                for q in range(3):
                    frozen[:, 2 * q * lanes] = v[q].real
                    frozen[:, (2 * q + 1) * lanes] = v[q].imag
                kernels.extract_steps(np.array([s], dtype=np.int64), frozen, self._net, outs)
                conv[s] = True
                mism[s] = mis
            elif np.isfinite(mis) and not (mism[s] <= mis):
                mism[s] = mis
            iters[s] = int(iters[s]) + it
