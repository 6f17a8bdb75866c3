"""A district of K feeders: cost per home-day for K = 1, 2, 4, 8, and 1 worker against 2.

Usage: ``python bench/district.py [--scenario FILE] [--k 1,2,4,8] [--n-days 2]
[--level none] [--workers 2] [--repeat 5] [--out DIR]``

Each feeder (the reference feeder with ``grid.layout_seed`` 1..K) runs ``n`` typical days as
separate sweep tasks (``cosim sweep --feeders K``) on a local cluster started once and warmed
up (each worker runs a task before the timing). For each K, a first sweep builds the
district's feeders in the workers (each feeder in the worker its tasks go to:
:mod:`testbed.sweep.placement`; its time is shown as ``first_s``), then ``--repeat`` sweeps of
each district (each into its own folder; the Ks interleaved, in reverse order every other
round, so that a shared machine's load drifting over minutes weighs on every K alike) are
timed: the time from the first task submitted to the last result, divided by the home-days
(K x days x homes), best and median (on a shared machine the best repeat is the closest to
the machine's capacity). The workers'
registry keeps what the sweep built (:func:`sims.registry.reserve`), so the timed sweeps are
the warm cost of the tasks at every K. The 1-worker speed-up: the K = 4 district on a second
cluster of 1 worker, each of its repeats run right after one on 2 workers (so that both see
the same load of a shared machine): best against best, and the median of the paired ratios.
Also shown: the driver's CPU seconds while the tasks ran (Dask's scheduler and client, the
manifest) and the tasks' own split (median over the timed tasks of the run's timings).
Targets: the cost per home-day constant within 20 % over K, and 2 workers at least 1.6 x
faster than 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
import warnings
from pathlib import Path

import pandas as pd

from testbed.scenario import DEFAULT_SCENARIO, load_scenario
from testbed.sweep import run_sweep
from testbed.sweep.worker import THREAD_ENV

SPLIT = ("prepare_s", "world_s", "run_s", "close_s", "kpis_s")


def cluster(workers: int):
    """A warm-able LocalCluster like the sweep's own (loopback, one thread per worker)."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                        env=THREAD_ENV)


def sweep(sc, k: int, args, out: Path, address: str, split: list | None = None):
    s = run_sweep([sc], [args.level], out, n_days=args.n_days, feeders=k, scheduler=address,
                  progress=False, on_result=None if split is None else
                  lambda t, r: split.append(r.get("timings", {})))
    if s.failed:
        raise SystemExit(f"{out}: {s.failed} task(s) failed")
    return s


def row(sc, k: int, args, first, runs, split) -> dict:
    times = [s.tasks_s for s in runs]
    tasks_s, best = statistics.median(times), min(times)
    home_days = k * args.n_days * sc.n_homes
    d = pd.read_parquet(runs[0].out_dir / "district.parquet").iloc[0]
    out = {"K": k, "tasks": runs[0].ran, "first_s": first.tasks_s, "tasks_s": tasks_s,
           "best_s": best, "repeats_s": " ".join(f"{t:.2f}" for t in times),
           "driver_cpu_s": statistics.median(s.tasks_cpu_s for s in runs),
           "home_days": home_days, "ms_per_home_day": 1000 * tasks_s / home_days,
           "best_ms_per_home_day": 1000 * best / home_days,
           "s_per_feeder_day": tasks_s / (k * args.n_days)}
    for key in SPLIT:
        out[key] = statistics.median(t.get(key, 0.0) for t in split)
    out["district peak trafo [%]"] = d["grid.max_trafo_loading_percent"]
    out["district losses [kWh/yr]"] = d["grid.losses_kwh"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    p.add_argument("--k", default="1,2,4,8")
    p.add_argument("--n-days", type=int, default=2)
    p.add_argument("--level", default="none")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5, help="timed sweeps per K")
    p.add_argument("--out", type=Path, help="folder of the sweeps (default runs/bench-"
                   "district-<time>)")
    args = p.parse_args()
    # the two clusters' HTTP endpoints (loopback) cannot both have dask's default port
    warnings.filterwarnings("ignore", message="Port .* is already in use")
    sc = load_scenario(args.scenario)
    ks = [int(x) for x in args.k.split(",")]
    k_ref = 4 if 4 in ks else ks[-1]
    out = args.out or Path("runs") / f"bench-district-{time.strftime('%Y%m%d-%H%M%S')}"
    rows = []
    load0 = os.getloadavg()
    with cluster(args.workers) as many, cluster(1) as one:
        for c, name in ((many, "warm-up"), (one, "warm-up-1")):
            run_sweep([sc], [args.level], out / name, n_days=max(2, args.workers),
                      progress=False, scheduler=c.scheduler_address)
        firsts = {k: sweep(sc, k, args, out / f"k{k}" / "first", many.scheduler_address)
                  for k in ks}
        runs, split = {k: [] for k in ks}, {k: [] for k in ks}
        for r in range(args.repeat):  # the Ks interleaved, the order reversed every repeat
            for k in ks if r % 2 == 0 else ks[::-1]:
                runs[k].append(sweep(sc, k, args, out / f"k{k}" / f"r{r}",
                                     many.scheduler_address, split[k]))
        for k in ks:
            rows.append(row(sc, k, args, firsts[k], runs[k], split[k]))
            print({key: round(v, 4) if isinstance(v, float) else v
                   for key, v in rows[-1].items()}, flush=True)
        # 1 worker against 2, paired repeats
        sweep(sc, k_ref, args, out / f"k{k_ref}-1worker" / "first", one.scheduler_address)
        pairs = []
        for r in range(args.repeat):
            two = sweep(sc, k_ref, args, out / f"k{k_ref}-paired" / f"r{r}",
                        many.scheduler_address)
            solo = sweep(sc, k_ref, args, out / f"k{k_ref}-1worker" / f"r{r}",
                         one.scheduler_address)
            pairs.append((solo.tasks_s, two.tasks_s))
            print(f"K = {k_ref} pair {r}: 1 worker {solo.tasks_s:.2f} s, {args.workers} "
                  f"workers {two.tasks_s:.2f} s ({solo.tasks_s / two.tasks_s:.2f} x)",
                  flush=True)
    table = pd.DataFrame(rows)
    print(f"load average of the machine (1, 5, 15 min) at the start: "
          f"{', '.join(f'{x:.2f}' for x in load0)}; at the end: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", 250,
                           "display.max_columns", 30):
        print(table.to_string(index=False))
    for col, what in (("ms_per_home_day", "median"), ("best_ms_per_home_day", "best")):
        spread = table[col].max() / table[col].min() - 1
        print(f"cost per home-day ({what} of {args.repeat}): {table[col].min():.2f}-"
              f"{table[col].max():.2f} ms on {args.workers} workers (spread "
              f"{100 * spread:.0f} %, target <= 20 %)")
    first_ms = 1000 * table.first_s / table.home_days
    print(f"first sweep of each district (feeders built in it): {first_ms.min():.2f}-"
          f"{first_ms.max():.2f} ms per home-day ("
          + ", ".join(f"K={k}: {v:.2f}" for k, v in zip(table.K, first_ms, strict=True))
          + ")")
    print(f"one feeder-day: {table.s_per_feeder_day.mean():.2f} s of wall time on "
          f"{args.workers} workers ({table.s_per_feeder_day.mean() * args.workers:.2f} s of "
          f"one worker), control {args.level}; per task (median): "
          + ", ".join(f"{k} {table[k].median():.3f} s" for k in SPLIT)
          + f"; the driver's CPU while tasks run: {table.driver_cpu_s.median():.2f} s a sweep")
    solo, two = zip(*pairs, strict=True)
    ratios = [a / b for a, b in pairs]
    print(f"K = {k_ref} on 1 worker: best {min(solo):.2f} s, median "
          f"{statistics.median(solo):.2f} s; on {args.workers}: best {min(two):.2f} s, median "
          f"{statistics.median(two):.2f} s; speed-up best/best {min(solo) / min(two):.2f} x, "
          f"median of paired {statistics.median(ratios):.2f} x (target >= 1.6 x)")


if __name__ == "__main__":
    main()
