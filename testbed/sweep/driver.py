"""Run a sweep on Dask distributed: a LocalCluster on loopback, or a running scheduler.

:func:`run_sweep` computes (or reuses) the days of every scenario, writes the manifest, skips
every task whose folder is complete, runs the others on the cluster (the tasks of a feeder on
one worker, one task running and the next queued per worker thread:
:mod:`testbed.sweep.placement`), records each result in the manifest as it arrives, and
writes ``sweep.parquet``, ``annual.parquet`` (and ``district.parquet``) at the end. A failing
task is recorded with its one-line error and the sweep goes on. See :mod:`testbed.sweep` for
the folder layout.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from testbed.scenario import Scenario
from testbed.sweep.collect import annual_table, district_table, sweep_table
from testbed.sweep.days import resolve_days
from testbed.sweep.manifest import write_manifest
from testbed.sweep.placement import DEPTH, Placement
from testbed.sweep.tasks import Task, complete_meta, make_tasks, project_version
from testbed.sweep.worker import THREAD_ENV, one_line, run_task


@dataclass
class SweepSummary:
    """What a sweep did: tasks in all, complete (now), failed, run now, found complete; its
    wall time and the part of it from the first task submitted to the last result."""

    out_dir: Path
    total: int
    complete: int
    failed: int
    ran: int
    skipped: int
    wall_s: float
    tasks_s: float = 0.0
    tasks_cpu_s: float = 0.0


@contextmanager
def dask_client(workers: int = 2, scheduler: str | None = None, security=None
                ) -> Iterator:
    """A Dask client: on ``scheduler`` if given, else on a new LocalCluster.

    The LocalCluster has ``workers`` worker processes of one thread each, listens on
    127.0.0.1 only (the dashboard is off; the scheduler's HTTP endpoints for health and
    metrics listen on 127.0.0.1), and starts its workers with one BLAS/OpenMP thread
    (:data:`testbed.sweep.worker.THREAD_ENV`; numba is capped per task).

    Parameters
    ----------
    workers
        Worker processes of the local cluster.
    scheduler
        Address of a running scheduler (``tcp://host:8786``, ``tls://...``).
    security
        ``distributed.Security`` for a ``tls://`` scheduler.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, security=security, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    # ``env`` is set in each worker process (dask's pre-spawn-environ would also change this
    # process's environment)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None,
                           silence_logs=logging.ERROR, env=THREAD_ENV)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def _submitter(client, task_fn: Callable[[Task], dict], placement: Placement,
               refresh_s: float = 1.0) -> Callable[..., list]:
    """``submit(done_key=None)``: note that the task ``done_key`` finished, then submit what
    each worker should run next (:mod:`testbed.sweep.placement`) until every worker has
    :data:`DEPTH` tasks per thread plus one; return the new futures. The workers are asked of
    the scheduler at most every ``refresh_s`` (workers that join get tasks; while there is
    none, two tasks go to no worker in particular)."""
    where: dict[str, str | None] = {}  # future key -> its worker
    load: dict[str | None, int] = {}
    seen = {"at": -refresh_s, "slots": {}}

    def slots() -> dict[str | None, int]:
        now = time.monotonic()
        if now - seen["at"] >= refresh_s:
            info = client.scheduler_info()["workers"]
            seen["at"] = now
            seen["slots"] = {w: DEPTH * max(1, int(info[w].get("nthreads", 1))) + 1
                             for w in sorted(info)}
            placement.set_workers(list(seen["slots"]))
        return seen["slots"] or {None: DEPTH + 1}

    def submit(done_key: str | None = None) -> list:
        if done_key is not None:
            load[where.pop(done_key)] -= 1
        new = []
        room = slots()
        for depth in range(1, max(room.values()) + 1):  # one task each before any gets two
            for w, n in room.items():
                if load.get(w, 0) >= min(depth, n):
                    continue
                task = placement.next_for(w)
                if task is None:
                    return new
                key = f"cosim-{task.key}"
                new.append(client.submit(task_fn, task, key=key, pure=False,
                                         workers=None if w is None else [w],
                                         allow_other_workers=True))
                where[key] = w
                load[w] = load.get(w, 0) + 1
        return new

    return submit


def _header(levels: list[str], days: str, n_days: int, feeders: int | None) -> dict:
    return {"version": project_version(), "levels": levels, "days": days, "n_days": n_days,
            "feeders": feeders}


def run_sweep(scenarios: list[Scenario], levels: list[str], out_dir: str | Path, *,
              days: str = "typical", n_days: int = 15, feeders: int | None = None,
              workers: int = 2, scheduler: str | None = None, security=None,
              progress: bool = True, task_fn: Callable[[Task], dict] = run_task,
              on_result: Callable[[Task, dict], None] | None = None) -> SweepSummary:
    """Run every (scenario, feeder, day, level) task that is not complete yet.

    Parameters
    ----------
    scenarios
        Validated scenarios with distinct names.
    levels
        Control levels, e.g. ``["none", "cems", "market", "dso"]``.
    out_dir
        The sweep folder (created; an existing one is resumed).
    days
        ``"typical"`` (``n_days`` typical days per scenario) or ``"all"`` (366 days).
    n_days
        Number of typical days.
    feeders
        Run a district of this many reference feeders (``grid.layout_seed`` 1..K).
    workers, scheduler, security
        The cluster (:func:`dask_client`).
    progress
        Show a tqdm bar over the tasks (done, failed, left, ETA) on stderr.
    task_fn
        The task function the workers run (:func:`testbed.sweep.worker.run_task`; benches
        wrap it).
    on_result
        Called with each task and its result as it arrives.

    Returns
    -------
    SweepSummary
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"sweep: scenario names must be distinct (got {', '.join(dup)} twice)")
    table = resolve_days(scenarios, days, n_days, out_dir)
    tasks = make_tasks(scenarios, table, levels, out_dir, feeders)
    state = {}
    for t in tasks:
        meta = complete_meta(t.folder)
        state[t.key] = {"status": "complete" if meta else "pending", "error": "",
                        "wall_s": meta.get("wall_s") if meta else None}
    header = _header(levels, days, n_days, feeders)

    def save_manifest() -> None:
        write_manifest(out_dir, header, [{**t.row(), **state[t.key]} for t in tasks])

    save_manifest()
    pending = [t for t in tasks if state[t.key]["status"] != "complete"]
    skipped = len(tasks) - len(pending)
    print(f"cosim: sweep: {len(tasks)} tasks ({len(scenarios)} scenarios x "
          f"{'' if not feeders else f'{feeders} feeders x '}days x {len(levels)} levels), "
          f"{skipped} complete already, {len(pending)} to run -> {out_dir}", file=sys.stderr)
    done = failed = 0
    t_tasks = t_last = time.perf_counter()
    c_tasks = c_last = time.process_time()
    try:
        if pending:
            with dask_client(workers, scheduler, security) as client:
                from distributed import as_completed

                by_key = {f"cosim-{t.key}": t for t in pending}
                placement = Placement(pending)
                submit = _submitter(client, task_fn, placement)
                t_tasks, c_tasks = time.perf_counter(), time.process_time()
                futures = as_completed(submit())
                bar = tqdm(total=len(pending), unit="task", desc="sweep", file=sys.stderr,
                           disable=not progress, dynamic_ncols=True)
                for fut in futures:
                    task = by_key[fut.key]
                    futures.update(submit(fut.key))
                    try:
                        res = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a worker died, a task raised
                        res = {"status": "failed", "error": one_line(exc), "wall_s": None}
                    fut.release()
                    t_last, c_last = time.perf_counter(), time.process_time()
                    status = "complete" if res["status"] in ("complete", "skipped") \
                        else "failed"
                    state[task.key] = {"status": status, "error": res.get("error", ""),
                                       "wall_s": res.get("wall_s")}
                    done += status == "complete"
                    failed += status == "failed"
                    save_manifest()
                    if on_result is not None:
                        on_result(task, res)
                    bar.set_postfix_str(f"done {done}, failed {failed}, "
                                        f"left {len(pending) - done - failed}", refresh=False)
                    bar.update(1)
                bar.close()
    finally:
        _write_tables(out_dir, tasks, state, scenarios, feeders)
    complete = sum(s["status"] == "complete" for s in state.values())
    return SweepSummary(out_dir=out_dir, total=len(tasks), complete=complete,
                        failed=sum(s["status"] == "failed" for s in state.values()),
                        ran=done + failed, skipped=skipped, wall_s=time.perf_counter() - t0,
                        tasks_s=t_last - t_tasks, tasks_cpu_s=c_last - c_tasks)


def _write_tables(out_dir: Path, tasks: list[Task], state: dict[str, dict],
                  scenarios: list[Scenario], feeders: int | None) -> None:
    """Write ``sweep.parquet``, ``annual.parquet`` and (district) ``district.parquet``."""
    sweep = sweep_table(tasks, state)
    sweep.to_parquet(out_dir / "sweep.parquet", index=False)
    annual = annual_table(sweep, {s.name: s for s in scenarios})
    annual.to_parquet(out_dir / "annual.parquet", index=False)
    if feeders:
        district_table(annual).to_parquet(out_dir / "district.parquet", index=False)
