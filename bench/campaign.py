"""The campaign's cost: scenarios x typical days x control levels on local Dask workers.

Usage: ``PYTHONPATH=. python bench/campaign.py [--scenarios scenarios/campaign]
[--n-scenarios N] [--n-days 15] [--levels none,cems,market,dso] [--workers 2] [--out DIR]``

The whole campaign is 12 scenarios x 15 days x 4 levels = 720 day runs; ``--n-scenarios 2
--n-days 3`` runs a reduced one (the first scenarios of the folder, 3 typical days each). Each
task runs as in ``cosim sweep`` (:func:`testbed.sweep.worker.run_task`), instrumented in the
worker process to split its wall time into

- setup: scenario, feeder, results folder, world start (the simulators' set-up), i.e. what
  a task costs before its first step;
- plans: the CEMS plans of the day (``HomeFleet.plan``);
- negotiation: the day-ahead stage of the aggregators and the DSO (local market, requests,
  offers, orders, re-plans) less the plans inside it;
- operation: the rest of the simulated day (every step: homes, load flow, collector,
  the DSO's monitor, mosaik);
- KPIs: the KPIs and the flexibility tables at the end.

Printed: the sweep's wall time (tasks only, and with the typical days and the cluster),
the mean per task and level with its split, the warm-worker setup (tasks after the first of
each worker process), and the projection to 720 tasks on the same workers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

from testbed.campaign_cli import scenario_files
from testbed.scenario import load_scenario
from testbed.sweep import run_sweep

_TIMES: dict[str, float] = defaultdict(float)
_DEPTH = {"negotiation": 0}
_INSTRUMENTED = [False]


def _wrap(cls, name: str, key: str) -> None:
    original = getattr(cls, name, None)
    if original is None:  # the simulators were rebuilt: time what is still there
        return

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        if key == "negotiation":
            _DEPTH["negotiation"] += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            dt = time.perf_counter() - t0
            if key == "negotiation":
                _DEPTH["negotiation"] -= 1
                if not _DEPTH["negotiation"]:
                    _TIMES["negotiation"] += dt
            else:
                _TIMES[key] += dt
                if _DEPTH["negotiation"]:
                    _TIMES["plans_in_negotiation"] += dt

    setattr(cls, name, timed)


def _instrument() -> None:
    if _INSTRUMENTED[0]:
        return
    from sims.aggregator.simulator import AggregatorSim
    from sims.dso.simulator import DsoSim
    from sims.homes.fleet import HomeFleet

    _wrap(HomeFleet, "plan", "plans")
    _wrap(AggregatorSim, "step", "negotiation")
    _wrap(DsoSim, "_negotiation_step", "negotiation")
    _INSTRUMENTED[0] = True


def timed_task(task) -> dict:
    """:func:`testbed.sweep.worker.run_task` with the split of its time (module docstring)."""
    from testbed.sweep.worker import run_task

    _instrument()
    before = dict(_TIMES)
    res = run_task(task)
    d = {k: _TIMES[k] - before.get(k, 0.0) for k in _TIMES}
    tm = res.get("timings", {})
    plans = d.get("plans", 0.0)
    negotiation = d.get("negotiation", 0.0) - d.get("plans_in_negotiation", 0.0)
    res["split"] = {
        "setup_s": res.get("setup_s", 0.0), "plans_s": plans, "negotiation_s": negotiation,
        "operation_s": tm.get("run_s", 0.0) - plans - negotiation,
        "kpis_s": tm.get("kpis_s", 0.0),
    }
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", type=Path, nargs="+", default=[Path("scenarios/campaign")])
    p.add_argument("--n-scenarios", type=int, help="only the first N scenario files")
    p.add_argument("--n-days", type=int, default=15)
    p.add_argument("--levels", default="none,cems,market,dso")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, help="sweep folder (default runs/bench-campaign-<time>)")
    args = p.parse_args()
    files = scenario_files(args.scenarios)[:args.n_scenarios]
    scenarios = [load_scenario(f) for f in files]
    levels = [x.strip() for x in args.levels.split(",")]
    out = args.out or Path("runs") / f"bench-campaign-{time.strftime('%Y%m%d-%H%M%S')}"
    rows = []

    def on_result(task, res):
        rows.append({"scenario": task.scenario, "date": task.date, "level": task.level,
                     "status": res["status"], "pid": res.get("pid"),
                     "wall_s": res.get("wall_s"), **res.get("split", {})})

    # by reference, so that every worker process keeps one instrumented copy of the module
    from bench.campaign import timed_task as task_fn

    summary = run_sweep(scenarios, levels, out, n_days=args.n_days, workers=args.workers,
                        task_fn=task_fn, on_result=on_result)
    df = pd.DataFrame(rows)
    if df.empty:
        raise SystemExit(f"{out}: nothing ran (complete already?); use a new --out")
    df["warm"] = df.duplicated("pid")  # every task after the first of its worker process
    n = len(df)
    print(f"\n{len(scenarios)} scenarios x {args.n_days} days x {len(levels)} levels = {n} "
          f"tasks ({(df.status == 'complete').sum()} complete) on {args.workers} workers: "
          f"{summary.tasks_s:.1f} s for the tasks, {summary.wall_s:.1f} s in all (typical "
          f"days and cluster start included)")
    cols = ["wall_s", "setup_s", "plans_s", "negotiation_s", "operation_s", "kpis_s"]
    per_level = df[df.warm].groupby("level", sort=False)[cols].mean().reindex(levels)
    per_level["tasks"] = df[df.warm].groupby("level").size()
    with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", 140):
        print("\nmean per task and level [s] (warm workers):")
        print(per_level.to_string())
        share = per_level[cols[1:]].sum() / per_level[cols[1:]].sum().sum()
        print("\nshare of the warm tasks' time: " + ", ".join(
            f"{k.removesuffix('_s')} {100 * v:.0f} %" for k, v in share.items()))
    warm = df[df.warm]
    print(f"\nwarm-worker setup per task: median {statistics.median(warm.setup_s):.2f} s, "
          f"mean {warm.setup_s.mean():.2f} s (n = {len(warm)}); cold (first task of a "
          f"worker): {df[~df.warm].setup_s.mean():.2f} s")
    mean_task = per_level.wall_s.mean()  # campaign: equal numbers of tasks per level
    busy = summary.tasks_s * args.workers / n
    projected = 720 * busy / args.workers
    print(f"mean wall per task (warm, levels equally weighted): {mean_task:.2f} s; worker "
          f"time per task in this sweep: {busy:.2f} s -> 720 tasks on {args.workers} workers: "
          f"{projected / 60:.1f} min (target 30 min)")
    df.to_csv(out / "bench_campaign_tasks.csv", index=False)
    print(f"per-task timings: {out / 'bench_campaign_tasks.csv'}")


if __name__ == "__main__":
    main()
