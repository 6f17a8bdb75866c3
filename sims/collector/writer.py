"""Writes a run's time-series tables through pyarrow while the run goes.

The tables and their columns are the results contract (README "Results contract",
:mod:`testbed.results`): ``homes``, ``buses``, ``lines``, ``transformer``, ``grid``, one row
per element and step (long format), steps in time order, homes in home-id order, buses,
lines and transformers in the network's row order. In unbalanced runs (``unbalanced=True``)
``buses`` and ``lines`` have one row per element, phase and step: a ``phase`` column
(``"a"``, ``"b"``, ``"c"``, after the id) and, in ``buses``, the bus's ``vuf_percent``
(voltage unbalance factor [%], the same on its three rows).

:meth:`ResultsWriter.add_step` copies one step's arrays into preallocated column buffers (no
per-step DataFrame); every ``flush_every`` steps the buffered steps of *all* tables are turned
into Arrow tables and written as one part file per table, on a background thread, through
hidden temporary names, flushed to disk (``fsync``) and renamed together
(:mod:`sims.tables`). So after a crash or a kill each table reads, and every table holds the
same steps (up to the few microseconds in which one flush's renames happen).

:meth:`ResultsWriter.close` writes one file per table from the steps it kept in memory (up
to :data:`RETAIN_BYTES`; beyond, it reads the parts back): the flushes still queued then are
not written as parts (the run is ending; the final files hold every step), so a fast run does
not wait for a hundred ``fsync`` calls.

A full disk (``OSError`` ``ENOSPC``) while a part or a final file is written raises
:class:`sims.errors.DiskFull` naming the file; the half-written temporary file is removed and
what was written before stays readable (the parts already renamed; a table whose final file
could not be written stays a folder of parts). After such a failure :meth:`ResultsWriter.close`
writes nothing more.
"""

from __future__ import annotations

import errno
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from sims.errors import DiskFull
from sims.tables import consolidate, publish, write_hidden

__all__ = ["GRID_INPUTS", "HOME_COLUMNS", "PHASE_INPUTS", "TABLES", "ResultsWriter"]

TABLES = ("homes", "buses", "lines", "transformer", "grid")
#: Buffered steps kept in memory for the final files (beyond, the parts are read back).
RETAIN_BYTES = 256 << 20
#: Columns of the homes table after ``time, home_id`` (the homes' outputs of the same names).
HOME_COLUMNS = ("p_kw", "q_kvar", "base_kw", "pv_kw", "ev_kw", "hp_kw", "appliance_kw",
                "battery_kw", "soc", "controlled", "fallback", "limited_kw")
_HOME_FLAGS = ("controlled", "fallback")
#: The grid's outputs the writer takes (arrays in the network's row order, and two scalars).
GRID_INPUTS = ("vm_pu", "line_loading_percent", "trafo_p_mw", "trafo_q_mvar",
               "trafo_loading_percent", "losses_mw", "converged")
#: The grid's further outputs the writer takes in unbalanced runs.
PHASE_INPUTS = ("vuf_percent",)
_GRID_ARRAYS = GRID_INPUTS[:5]


def _tmp_name(final: Path) -> Path:
    """The hidden temporary name :func:`sims.tables.write_hidden` writes ``final`` under."""
    return final.parent / f".{final.name}.tmp"


def _disk_full(exc: OSError, path: Path) -> DiskFull:
    """:class:`DiskFull` naming ``path`` (``exc`` is ``ENOSPC``)."""
    return DiskFull(f"{path}: no space left on device (errno ENOSPC); the steps written "
                    f"before stay readable")


def _dictionary(ids: list[str]) -> tuple[np.ndarray, pa.Array]:
    """Dictionary codes of ids (sorted categories, the smallest signed integer, as pandas)."""
    cats = sorted(set(ids))
    dtype = np.int8 if len(cats) < 2**7 else np.int16 if len(cats) < 2**15 else np.int32
    pos = {c: i for i, c in enumerate(cats)}
    return np.array([pos[i] for i in ids], dtype=dtype), pa.array(cats, type=pa.string())


class ResultsWriter:
    """Buffers the steps of a run and writes them as Parquet part files (module docstring).

    Parameters
    ----------
    out_dir
        The run folder (created if missing).
    timezone
        Time zone of the ``time`` column.
    home_ids
        Home ids in the order of the homes' arrays (rows are written in sorted id order).
    bus_ids, line_ids, trafo_ids
        Ids of the network's buses, lines and transformers (row order of the grid's arrays).
    trafo_sn_mva
        Rating of each transformer [MVA] (``sn_mva`` column).
    flush_every
        Steps buffered before a flush [-].
    background
        Write the part files on a background thread.
    unbalanced
        The grid's arrays are per phase (``vm_pu`` and ``line_loading_percent`` three values
        per element, element-major a, b, c) and the tables get their ``phase`` column.
    """

    def __init__(self, out_dir: str | Path, *, timezone: str, home_ids: list[str],
                 bus_ids: list[str], line_ids: list[str], trafo_ids: list[str],
                 trafo_sn_mva: list[float], flush_every: int = 4, background: bool = True,
                 unbalanced: bool = False):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.time_type = pa.timestamp("ns", tz=timezone)
        self.flush_every = max(1, int(flush_every))
        self.home_order = np.argsort(np.asarray(home_ids, dtype=object), kind="stable")
        self.home_ids = pa.array([home_ids[i] for i in self.home_order], type=pa.string())
        self.unbalanced = bool(unbalanced)
        self.n_phase = 3 if unbalanced else 1
        self.bus_codes, self.bus_cats = _dictionary(list(bus_ids))
        self.line_codes, self.line_cats = _dictionary(list(line_ids))
        if unbalanced:
            self.bus_codes = np.repeat(self.bus_codes, 3)
            self.line_codes = np.repeat(self.line_codes, 3)
        self.phase_cats = pa.array(["a", "b", "c"], type=pa.string())
        self.trafo_ids = pa.array(list(trafo_ids), type=pa.string())
        self.trafo_sn = np.asarray(trafo_sn_mva, dtype=float)
        self.sizes = {"homes": len(home_ids), "buses": len(bus_ids), "lines": len(line_ids),
                      "transformer": len(trafo_ids), "grid": 1}
        self.parts = 0
        self.steps_written = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="results") \
            if background else None
        self._pending: list[Future] = []
        self._kept: list[tuple] | None = []  # every flushed job, while small enough
        self._kept_bytes = 0
        self.failed: BaseException | None = None  # the first write error (nothing written after)
        self._new_buffers()

    def _new_buffers(self) -> None:
        f, n = self.flush_every, self.sizes
        self.times = np.zeros(f, dtype=np.int64)
        self.buf = {
            **{c: np.empty((f, n["homes"])) for c in HOME_COLUMNS},
            "vm_pu": np.empty((f, n["buses"] * self.n_phase)),
            "line_loading_percent": np.empty((f, n["lines"] * self.n_phase)),
            "trafo_p_mw": np.empty((f, n["transformer"])),
            "trafo_q_mvar": np.empty((f, n["transformer"])),
            "trafo_loading_percent": np.empty((f, n["transformer"])),
            "vuf_percent": np.empty((f, n["buses"])),
            "losses_mw": np.empty(f),
            "converged": np.empty(f, dtype=bool),
        }
        self.k = 0

    # ------------------------------------------------------------------ steps
    def add_step(self, time_ns: int, homes: dict[str, np.ndarray], grid: dict) -> None:
        """Copy one step into the buffers; flush when ``flush_every`` steps are buffered.

        Parameters
        ----------
        time_ns
            The step's time [ns since the epoch, UTC].
        homes
            Every name of :data:`HOME_COLUMNS`: one value per home (``home_ids`` order).
        grid
            Every name of :data:`GRID_INPUTS`: arrays in row order, ``losses_mw`` and
            ``converged`` scalars (and of :data:`PHASE_INPUTS` in unbalanced runs).
        """
        self._raise_failed()
        k = self.k
        self.times[k] = time_ns
        order = self.home_order
        for c in HOME_COLUMNS:
            self.buf[c][k] = np.asarray(homes[c], dtype=float)[order]
        for c in _GRID_ARRAYS:
            self.buf[c][k] = grid[c]
        if self.unbalanced:
            self.buf["vuf_percent"][k] = grid["vuf_percent"]
        self.buf["losses_mw"][k] = float(grid["losses_mw"])
        self.buf["converged"][k] = bool(grid["converged"])
        self.k += 1
        if self.k >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered steps of every table to the writer (nothing if none)."""
        if self.k == 0:
            return
        job = (self.k, self.times, self.buf, self.parts)
        self.parts += 1
        self.steps_written += self.k
        self._new_buffers()
        if self._kept is not None:
            self._kept.append(job)
            self._kept_bytes += sum(a.nbytes for a in job[2].values())
            if self._kept_bytes > RETAIN_BYTES:
                self._kept = None
        if self._pool is None:
            self._write(*job)
        else:
            self._pending.append(self._pool.submit(self._write, *job))

    def _raise_failed(self) -> None:
        done = [f for f in self._pending if f.done()]
        for f in done:
            self._pending.remove(f)
            self._result(f)  # raises the writer thread's error here

    def _result(self, f: Future) -> None:
        try:
            f.result()
        except BaseException as exc:
            self.failed = self.failed or exc
            raise

    # ------------------------------------------------------------------ writing
    def _tables(self, k: int, times: np.ndarray, buf: dict) -> dict[str, pa.Table]:
        n = self.sizes

        def time_col(m: int) -> pa.Array:
            return pa.array(np.repeat(times[:k], m), type=self.time_type)

        def col(name: str) -> pa.Array:
            return pa.array(buf[name][:k].ravel())

        homes = {"time": time_col(n["homes"]),
                 "home_id": pa.concat_arrays([self.home_ids] * k)}
        for c in HOME_COLUMNS:
            homes[c] = pa.array(buf[c][:k].ravel() > 0.5) if c in _HOME_FLAGS else col(c)
        bus_id = pa.DictionaryArray.from_arrays(np.tile(self.bus_codes, k), self.bus_cats)
        line_id = pa.DictionaryArray.from_arrays(np.tile(self.line_codes, k), self.line_cats)
        m = self.n_phase
        buses = {"time": time_col(n["buses"] * m), "bus_id": bus_id}
        lines = {"time": time_col(n["lines"] * m), "line_id": line_id}
        if self.unbalanced:
            def phase(count: int) -> pa.Array:
                codes = np.tile(np.arange(3, dtype=np.int8), count * k)
                return pa.DictionaryArray.from_arrays(codes, self.phase_cats)

            buses["phase"] = phase(n["buses"])
            lines["phase"] = phase(n["lines"])
        buses["vm_pu"] = col("vm_pu")
        lines["loading_percent"] = col("line_loading_percent")
        if self.unbalanced:
            buses["vuf_percent"] = pa.array(np.repeat(buf["vuf_percent"][:k].ravel(), 3))
        return {
            "homes": pa.table(homes),
            "buses": pa.table(buses),
            "lines": pa.table(lines),
            "transformer": pa.table({
                "time": time_col(n["transformer"]),
                "trafo_id": pa.concat_arrays([self.trafo_ids] * k),
                "p_mw": col("trafo_p_mw"), "q_mvar": col("trafo_q_mvar"),
                "loading_percent": col("trafo_loading_percent"),
                "sn_mva": pa.array(np.tile(self.trafo_sn, k))}),
            "grid": pa.table({"time": time_col(1), "losses_mw": pa.array(buf["losses_mw"][:k]),
                              "converged": pa.array(buf["converged"][:k])}),
        }

    def _write(self, k: int, times: np.ndarray, buf: dict, part: int) -> None:
        moves = []
        try:
            for name, table in self._tables(k, times, buf).items():
                folder = self.out_dir / f"{name}.parquet"
                folder.mkdir(exist_ok=True)
                final = folder / f"part-{part:05d}.parquet"
                moves.append((_tmp_name(final), final))
                write_hidden(table, final)
        except OSError as exc:
            for tmp, _ in moves:
                tmp.unlink(missing_ok=True)  # the parts of this flush: none is published
            if exc.errno != errno.ENOSPC:
                raise
            raise _disk_full(exc, moves[-1][1] if moves else self.out_dir) from exc
        publish(moves)  # the tables of one flush appear together

    def wait(self) -> None:
        """Wait until every flushed part is on disk (raises the writer's error, if any)."""
        for f in self._pending:
            self._result(f)
        self._pending.clear()

    def close(self) -> None:
        """Flush, then write each table as one file (see the module docstring).

        Nothing is written after a write error (:attr:`failed`); the error is raised again.
        """
        try:
            if self.failed is None:
                self.flush()
            if self._kept is not None and self.failed is None:
                for f in self._pending:
                    f.cancel()  # not started yet: the final files hold these steps
                for f in self._pending:
                    if not f.cancelled():
                        self._result(f)
                self._pending.clear()
            else:
                self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        if self.failed is not None:
            raise self.failed
        whole = self._whole_tables() if self._kept is not None else {}
        for table in TABLES:
            path = self.out_dir / f"{table}.parquet"
            try:
                consolidate(path, table=whole.get(table))
            except OSError as exc:
                _tmp_name(path).unlink(missing_ok=True)  # the folder of parts is intact
                if exc.errno != errno.ENOSPC:
                    raise
                self.failed = _disk_full(exc, path)
                raise self.failed from exc

    def _whole_tables(self) -> dict[str, pa.Table]:
        """Every table from the kept steps (empty if no step was collected)."""
        jobs = self._kept
        if not jobs:
            return {}
        k = sum(j[0] for j in jobs)
        times = np.concatenate([j[1][:j[0]] for j in jobs])
        buf = {c: np.concatenate([j[2][c][:j[0]] for j in jobs]) for c in jobs[0][2]}
        return self._tables(k, times, buf)
