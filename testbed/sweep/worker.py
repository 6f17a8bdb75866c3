"""What a Dask worker runs: :func:`run_task`, with a per-process memo of read-only inputs.

A warm worker reuses what does not change between tasks, through
:func:`testbed.prepared.prepare` and the process registry behind it (:mod:`sims.registry`):
the scenario's feeder and its compiled load flow, the DSO's view of the grid (keyed by the
grid's parameters, so every day and level of a feeder shares them), the homes of each day,
the simbench profile columns (:mod:`sims.homes.profile_data`), and the compiled numba kernels;
all of them are read-only in a run. Each task sizes the registry to its sweep
(:func:`sims.registry.reserve` with the sweep's distinct feeder-days, ``Task.keep``), so a
worker keeps what it built for the sweep instead of rebuilding feeders evicted by others.
Results are never cached: every task writes its own run folder. Its result tables are written
once, at the end of the run (``WorldOptions.flush_every`` = the run's steps), not as the run
goes: a task cut short is run again from scratch, so parts written on the way would never be
read, and writing, syncing and removing them cost a warm task about 8 % of its CPU time. The
tables are the same.

Threads: a worker runs one task at a time on one core. Each task caps numba at one thread
(``numba.set_num_threads(1)`` in the task's thread, so the load flow's batches run on it alone)
and BLAS/OpenMP at one thread (threadpoolctl); local clusters also start their workers with
``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` set to 1
(:data:`THREAD_ENV`). ``NUMBA_NUM_THREADS`` is deliberately left alone: a spawned worker
imports the sweep's main module (and numba with it) before the Nanny applies its environment,
and numba fails at its next compilation if that variable changes once its threads run. HiGHS
runs single-threaded (the CEMS sets ``threads = 1``) and the CEMS's own process pool is off in a
sweep (``cems.workers = 1``, :func:`testbed.sweep.tasks.sweep_scenario`).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from sims import registry
from testbed.scenario import parse_scenario
from testbed.sweep.tasks import Task, folder_complete

THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_CAPPED = False


def _cap_threads() -> None:
    """One numba thread for the task in this thread, one BLAS thread in this process (run-time
    calls only; see the module docstring)."""
    global _CAPPED
    import numba

    if numba.config.NUMBA_NUM_THREADS > 1:
        numba.set_num_threads(1)  # thread-local: the task's thread
    if _CAPPED:
        return
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (tsam)
        pass
    _CAPPED = True


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (what the manifest records of a failure)."""
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0]}" if msg else type(exc).__name__


def run_task(task: Task) -> dict:
    """Run one task into its folder, unless it is complete already.

    Parameters
    ----------
    task
        The task (:class:`testbed.sweep.tasks.Task`).

    Returns
    -------
    dict
        ``key``, ``status`` (``complete``, ``skipped`` when the folder was complete, or
        ``failed``), ``error`` (one line, failures only), ``wall_s`` (the run's),
        ``setup_s`` (time before the world runs: scenario, feeder, world start; from the
        run's timings), ``timings``, ``kpis``, ``pid`` (the worker process) and
        ``numba_threads`` (numba's threads for the task, and the process's pool). Failures
        are returned, not raised, so that the sweep goes on.
    """
    t0 = time.perf_counter()
    out = {"key": task.key, "status": "failed", "error": "", "wall_s": 0.0, "setup_s": 0.0,
           "timings": {}, "kpis": {}, "pid": os.getpid()}
    folder = Path(task.folder)
    if folder_complete(folder):
        out["status"] = "skipped"
        return out
    try:
        _cap_threads()
        if task.keep:
            registry.reserve(task.keep)
        import numba

        out["numba_threads"] = (numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
        from testbed.run import run_scenario
        from testbed.world import WorldOptions

        if folder.exists():  # a run cut short under this key: start it again
            shutil.rmtree(folder)
        scenario = parse_scenario(task.text, source=Path(task.source) if task.source else None)
        t_parse = time.perf_counter()
        from testbed.prepared import prepare

        prepared = prepare(scenario)  # found in this process when a task shared it before
        t_prepared = time.perf_counter()
        # one flush, at the end: a task cut short is run again from scratch (its folder is
        # removed), so part files written as it goes would never be read
        result = run_scenario(scenario, folder, progress=False, prepared=prepared,
                              options=WorldOptions(flush_every=scenario.n_steps))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, the sweep goes on
        out.update(error=one_line(exc), wall_s=time.perf_counter() - t0)
        return out
    tm = result.timings
    out.update(status="complete", wall_s=result.wall_s, kpis=result.kpis,
               setup_s=(t_prepared - t0) + tm.get("setup_s", 0.0) + tm.get("world_s", 0.0),
               timings={**tm, "parse_s": t_parse - t0, "prepare_s": t_prepared - t_parse})
    return out
