"""A district of K feeders: cost per home-day for K = 1, 2, 4, 8, and 1 worker against 2.

Usage: ``python bench/district.py [--scenario FILE] [--k 1,2,4,8] [--n-days 2]
[--level none] [--workers 2] [--repeat 3] [--out DIR]``

Each feeder (the reference feeder with ``grid.layout_seed`` 1..K) runs ``n`` typical days as
separate sweep tasks (``cosim sweep --feeders K``) on a local cluster started once and warmed
up (each worker runs one task before the timing), so the figures are the warm cost of the
tasks: the time from the first task submitted to the last result, divided by the home-days
(K x days x homes), for the best and the median of ``--repeat`` sweeps (each into its own
folder; on a shared machine the best repeat is the closest to the machine's capacity). Then
the same K = 4 district on a warm cluster of 1 worker, for the speed-up of 2 workers over 1.
Targets: the cost per home-day constant within 20 % over K, and 2 workers at least 1.6 x
faster than 1.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

import pandas as pd

from testbed.scenario import DEFAULT_SCENARIO, load_scenario
from testbed.sweep import run_sweep
from testbed.sweep.worker import THREAD_ENV


def cluster(workers: int):
    """A warm-able LocalCluster like the sweep's own (loopback, one thread per worker)."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                        env=THREAD_ENV)


def timed(sc, k: int, args, out: Path, address: str) -> dict:
    times = []
    for r in range(args.repeat):
        s = run_sweep([sc], [args.level], out / f"r{r}", n_days=args.n_days, feeders=k,
                      scheduler=address, progress=False)
        if s.failed:
            raise SystemExit(f"{out}: {s.failed} task(s) failed")
        times.append(s.tasks_s)
    tasks_s, best = statistics.median(times), min(times)
    home_days = k * args.n_days * sc.n_homes
    d = pd.read_parquet(out / "r0" / "district.parquet").iloc[0]
    return {"K": k, "tasks": s.ran, "tasks_s": tasks_s, "best_s": best,
            "repeats_s": " ".join(f"{t:.1f}" for t in times), "home_days": home_days,
            "ms_per_home_day": 1000 * tasks_s / home_days,
            "best_ms_per_home_day": 1000 * best / home_days,
            "s_per_feeder_day": tasks_s / (k * args.n_days),
            "district peak trafo [%]": d["grid.max_trafo_loading_percent"],
            "district losses [kWh/yr]": d["grid.losses_kwh"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    p.add_argument("--k", default="1,2,4,8")
    p.add_argument("--n-days", type=int, default=2)
    p.add_argument("--level", default="none")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3, help="sweeps per K (median)")
    p.add_argument("--out", type=Path, help="folder of the sweeps (default runs/bench-"
                   "district-<time>)")
    args = p.parse_args()
    sc = load_scenario(args.scenario)
    ks = [int(x) for x in args.k.split(",")]
    out = args.out or Path("runs") / f"bench-district-{time.strftime('%Y%m%d-%H%M%S')}"
    rows = []
    with cluster(args.workers) as c:
        run_sweep([sc], [args.level], out / "warm-up", n_days=args.workers, progress=False,
                  scheduler=c.scheduler_address)
        for k in ks:
            rows.append(timed(sc, k, args, out / f"k{k}", c.scheduler_address))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    k_ref = 4 if 4 in ks else ks[-1]
    with cluster(1) as c:
        run_sweep([sc], [args.level], out / "warm-up-1", n_days=2, progress=False,
                  scheduler=c.scheduler_address)
        one = timed(sc, k_ref, args, out / f"k{k_ref}-1worker", c.scheduler_address)
    ref = table.set_index("K").loc[k_ref]
    with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", 180):
        print(table.to_string(index=False))
    for col, what in (("ms_per_home_day", "median"), ("best_ms_per_home_day", "best")):
        spread = table[col].max() / table[col].min() - 1
        print(f"cost per home-day ({what} of {args.repeat}): {table[col].min():.2f}-"
              f"{table[col].max():.2f} ms on {args.workers} workers (spread "
              f"{100 * spread:.0f} %, target <= 20 %)")
    print(f"one feeder-day: {table.s_per_feeder_day.mean():.2f} s of wall time on "
          f"{args.workers} workers ({table.s_per_feeder_day.mean() * args.workers:.2f} s of "
          f"one worker), control {args.level}")
    for col, what in (("tasks_s", "median"), ("best_s", "best")):
        print(f"K = {k_ref} ({what}) on 1 worker: {one[col]:.1f} s; on {args.workers}: "
              f"{ref[col]:.1f} s; speed-up {one[col] / ref[col]:.2f} x (target >= 1.6 x)")


if __name__ == "__main__":
    main()
