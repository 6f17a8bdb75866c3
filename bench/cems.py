"""Benchmark: day-ahead CEMS plans of many random-but-realistic homes (seeded).

Run ``python bench/cems.py [--homes 184] [--workers 2] [--seed 0] [--repeat 3]``, or
``python bench/cems.py --scenario scenarios/congested.toml [--day 0]`` to plan the CEMS homes of
a scenario's day exactly as a run builds them (simbench profiles, heat pumps with their
buildings) instead of the synthetic homes.

Prints the wall time for all homes on a pool of workers: cold (starting the pool and
building the models included; run first, so nothing is built before) and warm (a pool kept
across days, the median of ``--repeat`` rounds), with the CPU time the plans took (other
processes on a shared machine stretch the wall time, not the CPU time). Then, for one
process: the model build time (pyomo model + HiGHS instance, once per process), and per home
the split between preparing the numbers, writing them into HiGHS, solving, reading and the
flexibility (median / mean / p90 / max), and the optimality gaps. Also the pyomo-Param update
path for comparison, and the bills and peaks with and without CEMS. No asserts: the numbers
depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sims.homes.cems import CemsPool, plan_day, uncontrolled_schedule  # noqa: E402
from sims.homes.cems.plan import _assign_slots, _model_for, model_data  # noqa: E402
from sims.homes.cems.synthetic import random_homes  # noqa: E402


def _stats(x) -> str:
    x = np.asarray(x) * 1e3
    return (
        f"median {np.median(x):6.1f}  mean {x.mean():6.1f}  p90 {np.percentile(x, 90):6.1f}"
        f"  max {x.max():7.1f} ms"
    )


def serial(homes, path: str) -> dict:
    """Plan every home in this process, timing each phase."""
    t0 = time.perf_counter()
    model = _model_for(homes[0])
    build = time.perf_counter() - t0
    prep, upd, solve, read, flex, total, gaps, plans = [], [], [], [], [], [], [], []
    solve_cpu, total_cpu = [], []
    for inp in homes:
        t0 = time.perf_counter()
        model = _model_for(inp)
        slots = _assign_slots(model, inp)
        model_data(inp, None, None, model.n_slots, model.max_cycle, slots)
        t1 = time.perf_counter()
        p = plan_day(inp, path=path)
        t2 = time.perf_counter()
        prep.append(t1 - t0)
        total.append(t2 - t1)
        upd.append(p.timings.get("update", np.nan))
        solve.append(p.timings.get("solve", np.nan))
        read.append(p.timings.get("read", np.nan))
        flex.append(p.timings.get("flex", np.nan))
        solve_cpu.append(p.timings.get("solve_cpu", np.nan))
        total_cpu.append(p.timings.get("total_cpu", np.nan))
        gaps.append(p.gap)
        plans.append(p)
    return dict(
        build=build,
        prep=prep,
        upd=upd,
        solve=solve,
        read=read,
        flex=flex,
        total=total,
        solve_cpu=solve_cpu,
        total_cpu=total_cpu,
        gaps=gaps,
        plans=plans,
    )


def scenario_homes(path: str, day: int) -> list:
    """The CEMS inputs of a scenario's day, as the home fleet of a run builds them."""
    from sims.homes.fleet import HomeFleet
    from sims.homes.population import draw_homes, home_series
    from testbed.run import scenario_feeder
    from testbed.scenario import load_scenario

    sc = load_scenario(path)
    sc = sc.with_overrides(control="cems", days=max(sc.days, day + 1))
    feeder = scenario_feeder(sc)
    ids = feeder.homes.index.tolist()
    specs = draw_homes(sc, ids, [int(b) for b in feeder.homes.bus])
    fleet = HomeFleet(sc, specs, home_series(sc, specs))
    return list(fleet.cems_inputs(day).values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--homes", type=int, default=184)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--pyomo-homes",
        type=int,
        default=40,
        help="homes solved with the pyomo-Param update path for comparison",
    )
    ap.add_argument("--scenario", help="plan this scenario's CEMS homes instead of random ones")
    ap.add_argument("--day", type=int, default=0, help="day of the scenario (with --scenario)")
    ap.add_argument("--buildings", action="store_true",
                    help="random homes' thermal loads are heat pumps in buildings")
    args = ap.parse_args()

    t0 = time.perf_counter()
    if args.scenario:
        homes = scenario_homes(args.scenario, args.day)
        what = f"CEMS homes of {args.scenario}, day {args.day}"
    else:
        homes = random_homes(args.homes, args.seed, buildings=args.buildings)
        what = f"random homes (seed {args.seed}{', buildings' if args.buildings else ''})"
    print(
        f"{len(homes)} {what} generated in {time.perf_counter() - t0:.2f} s; "
        f"{os.cpu_count()} CPUs"
    )
    feats = {
        "PV": sum(h.home.pv_kwp > 0 for h in homes),
        "battery": sum(h.battery is not None for h in homes),
        "EV": sum(bool(h.ev_sessions) for h in homes),
        "thermal": sum(h.thermal is not None for h in homes),
        "appliances": sum(len(h.appliances) for h in homes),
        "ToU": sum(h.tariff.name.startswith("tou") for h in homes),
    }
    print("  " + ", ".join(f"{k} {v}" for k, v in feats.items()))

    # ---- pool
    print(f"\n[pool of {args.workers} workers]")
    t0 = time.perf_counter()
    pool = CemsPool(args.workers)
    t_start = time.perf_counter() - t0
    rounds, cpu_rounds = [], []
    try:
        for _ in range(max(1, args.repeat)):
            t1 = time.perf_counter()
            plans = pool.plan_days(homes)
            rounds.append(time.perf_counter() - t1)
            cpu_rounds.append(sum(p.timings.get("total_cpu", 0.0) for p in plans))
    finally:
        pool.close()
    print(f"  pool start + model build in each worker: {t_start:.2f} s")
    print(
        f"  plan {len(homes)} homes, warm pool: "
        + ", ".join(f"{r:.2f}" for r in rounds)
        + f" s  -> median {np.median(rounds):.2f} s"
        f" ({np.median(rounds) / len(homes) * 1e3:.1f} ms per home wall)"
    )
    print(f"  cold (pool start + first round, nothing built before): {t_start + rounds[0]:.2f} s")
    cpu = float(np.median(cpu_rounds))
    print(
        f"  CPU time of the plans in the workers: {cpu:.2f} s -> {cpu / args.workers:.2f} s "
        f"per worker if each had a free core ({cpu / len(homes) * 1e3:.1f} ms CPU per home)"
    )
    print(f"  load average now: {os.getloadavg()[0]:.2f} (other processes share the cores)")
    g = np.array([p.gap for p in plans])
    print(f"  gap max {np.nanmax(g) * 100:.4f} %; fallbacks {sum(p.fallback for p in plans)}")

    # ---- one process, direct update path
    s = serial(homes, "direct")
    print("\n[1 process, direct HiGHS update]")
    print(f"  model build (template from the disk cache, or pyomo + HiGHS; once per process): "
          f"{s['build'] * 1e3:.0f} ms")
    print(f"  prepare numbers  {_stats(s['prep'])}")
    print(f"  write to HiGHS   {_stats(s['upd'])}")
    print(f"  HiGHS solve      {_stats(s['solve'])}")
    print(f"  read solution    {_stats(s['read'])}")
    print(f"  flexibility      {_stats(s['flex'])}")
    print(f"  plan_day total   {_stats(s['total'])}")
    print(f"  HiGHS solve CPU  {_stats(s['solve_cpu'])}")
    print(f"  plan_day CPU     {_stats(s['total_cpu'])}")
    gaps = np.array(s["gaps"])
    fb = sum(p.fallback for p in s["plans"])
    print(
        f"  gap: max {np.nanmax(gaps) * 100:.4f} %  median {np.nanmedian(gaps) * 100:.5f} %"
        f"  (HiGHS mip_gap, tolerance 0.01 %); fallbacks {fb}"
    )
    print(
        f"  sum of plan_day: {sum(s['total']):.2f} s wall, {sum(s['total_cpu']):.2f} s CPU "
        f"for {len(homes)} homes"
    )

    # ---- pyomo update path (subset)
    k = min(args.pyomo_homes, len(homes))
    if k:
        sp = serial(homes[:k], "pyomo")
        print(f"\n[1 process, pyomo Params + APPSI update_params, first {k} homes]")
        print(f"  set Params       {_stats(sp['upd'])}")
        print(f"  APPSI update+solve {_stats(sp['solve'])}")
        print(f"  plan_day total   {_stats(sp['total'])}")
        same = [
            abs(a.objective_eur - b.objective_eur) <= 1e-6 + 1e-4 * abs(b.objective_eur)
            for a, b in zip(s["plans"][:k], sp["plans"], strict=True)
        ]
        print(f"  same objective as the direct path: {sum(same)}/{k}")

    # ---- what the plans do
    def bills(mode):
        unc = [uncontrolled_schedule(h, mode) for h in homes]
        bill = sum(
            h.tariff.bill_eur(u["net_kw"], h.step_h) for h, u in zip(homes, unc, strict=True)
        )
        peak = np.sum([u["net_kw"] for u in unc], axis=0).max()
        stored = sum(
            (u["soc"][-1] - u["soc"][0]) * h.battery.capacity_kwh
            for h, u in zip(homes, unc, strict=True)
            if h.battery is not None
        )
        return bill, peak, stored

    bill_c = sum(p.bill_eur for p in plans)
    peak_c = np.sum([p.net_kw for p in plans], axis=0).max()
    print(
        f"\nCEMS: bills {bill_c:.2f} EUR, community peak {peak_c:.1f} kW (batteries end where they"
        " started)"
    )
    for mode in ("idle", "self_consumption"):
        bill_u, peak_u, stored = bills(mode)
        print(
            f"uncontrolled, battery {mode}: bills {bill_u:.2f} EUR (CEMS saves "
            f"{bill_u - bill_c:.2f} EUR, {100 * (bill_u - bill_c) / bill_u:.1f} %), peak "
            f"{peak_u:.1f} kW; batteries end {stored:+.1f} kWh from their start"
        )


if __name__ == "__main__":
    main()
