"""The ``cosim days`` and ``cosim sweep`` commands (parsers and their work; cosim.py calls in).

Every input is checked before anything runs: scenario files (all of them), control levels
against every scenario, the feeders, the options; a problem is one line, exit code 2.
``cosim sweep`` exits 0 when every task is complete, 1 when some failed (their one-line
errors are in the manifest and in ``sweep.parquet``; run the same command again to retry
them), 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from testbed.errors import ScenarioError
from testbed.scenario import CONTROL_LEVELS, DEFAULT_SCENARIO, Scenario, load_scenario

SUMMARY_KPIS = {
    "grid.max_trafo_loading_percent": "peak trafo [%]",
    "grid.overload_minutes": "overload [min]",
    "grid.voltage_violations": "V viol. [bus-steps]",
    "grid.losses_kwh": "losses [kWh]",
    "homes.total_bill_eur": "bills [EUR]",
    "flex.ordered_eur": "flex cost [EUR]",
}


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``days`` and ``sweep`` to cosim's sub-commands."""
    days = sub.add_parser("days", help="choose a scenario's typical days (tsam) and write them")
    days.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO,
                      help="scenario TOML file (default: the shipped scenarios/default.toml)")
    days.add_argument("--n", type=int, default=15, help="number of typical days (default 15)")
    days.add_argument("--out", type=Path, help="CSV file (default: runs/days/<name>-<n>.csv)")
    sw = sub.add_parser("sweep", help="run scenarios x days x control levels on Dask, "
                        "resumable, with annual KPIs")
    sw.add_argument("--scenarios", type=Path, nargs="+", required=True,
                    help="scenario files and/or folders of *.toml files")
    sw.add_argument("--days", choices=("typical", "all"), default="typical",
                    help="typical days (default) or all 366 days of 2016")
    sw.add_argument("--n-days", type=int, default=15, help="number of typical days (15)")
    sw.add_argument("--levels", default="none,cems,market,dso",
                    help="comma-separated control levels (default: none,cems,market,dso)")
    sw.add_argument("--out", type=Path, required=True,
                    help="sweep folder (created; an existing one is resumed)")
    sw.add_argument("--workers", type=int, default=2,
                    help="worker processes of the local cluster (default 2)")
    sw.add_argument("--scheduler", help="address of a running Dask scheduler "
                    "(tcp://host:8786 or tls://host:8786) instead of a local cluster")
    sw.add_argument("--tls-ca-file", type=Path, help="CA certificate (tls:// scheduler)")
    sw.add_argument("--tls-cert", type=Path, help="client certificate (tls:// scheduler)")
    sw.add_argument("--tls-key", type=Path, help="client private key (tls:// scheduler)")
    sw.add_argument("--feeders", type=int,
                    help="a district of K reference feeders (grid.layout_seed 1..K)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.add_argument("--no-report", action="store_true", help="do not write the sweep's "
                    "report.html at the end")
    sw.add_argument("--task-reports", action="store_true", help="also write the run report of "
                    "every task (about 0.5 s each, after the sweep)")


def _fail(msg: str) -> int:
    print(f"cosim: error: {msg}", file=sys.stderr)
    return 2


def days_main(args: argparse.Namespace) -> int:
    """``cosim days``: print and write a scenario's typical days."""
    from testbed.run import scenario_feeder
    from testbed.typical_days import typical_days, write_days

    scenario = load_scenario(args.scenario)
    if not 2 <= args.n <= 366:
        return _fail(f"--n: must be in 2..366 (got {args.n})")
    table = typical_days(scenario, scenario_feeder(scenario), args.n)
    out = args.out or Path("runs") / "days" / f"{scenario.name}-{args.n}.csv"
    write_days(table, out)
    show = table.drop(columns=["members", "scenario"]).assign(
        members=table.members.str.split().str.len())
    with pd.option_context("display.float_format", "{:,.1f}".format, "display.width", 120):
        print(show.to_string(index=False))
    print(f"\n{scenario.name}: {len(table)} typical days, weights sum to "
          f"{int(table.weight.sum())}; days: {out}")
    return 0


def scenario_files(paths: list[Path]) -> list[Path]:
    """The scenario files named by files and folders (a folder: its ``*.toml``, sorted)."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.toml"))
            if not found:
                raise ScenarioError(f"{p}: --scenarios: folder holds no *.toml file")
            files += found
        else:
            files.append(p)
    return files


def _check_sweep(args: argparse.Namespace) -> tuple[list[Scenario], list[str], object]:
    """Every input of ``cosim sweep``, checked; raises ScenarioError/SystemExit-like errors."""
    from testbed.run import scenario_feeder

    problems = []
    levels = [x.strip() for x in args.levels.split(",") if x.strip()]
    bad = [lv for lv in levels if lv not in CONTROL_LEVELS]
    if bad or not levels:
        problems.append(f"--levels: must be a comma-separated list of "
                        f"{', '.join(CONTROL_LEVELS)} (got {args.levels!r})")
    if not 2 <= args.n_days <= 366:
        problems.append(f"--n-days: must be in 2..366 (got {args.n_days})")
    if args.workers < 1:
        problems.append(f"--workers: must be >= 1 (got {args.workers})")
    if args.feeders is not None and args.feeders < 1:
        problems.append(f"--feeders: must be >= 1 (got {args.feeders})")
    tls = [args.tls_ca_file, args.tls_cert, args.tls_key]
    if any(tls):
        if not all(tls):
            problems.append("--tls-ca-file, --tls-cert, --tls-key: give all three")
        if not (args.scheduler or "").startswith("tls://"):
            problems.append(f"--scheduler: TLS files need a tls:// address "
                            f"(got {args.scheduler!r})")
        problems += [f"{p}: TLS file not found" for p in tls if p and not p.is_file()]
    if problems:
        raise ScenarioError(problems)
    scenarios = [load_scenario(p) for p in scenario_files(args.scenarios)]
    names = [s.name for s in scenarios]
    for s in scenarios:
        if names.count(s.name) > 1:
            problems.append(f"{s.source}: name: scenario names in a sweep must be distinct "
                            f"(got {s.name!r})")
        if args.feeders and s.grid_source != "reference":
            problems.append(f"{s.source}: grid.source: --feeders needs the reference feeder "
                            f"(got {s.grid_source!r})")
        for level in levels:
            try:
                s.with_overrides(control=level)
            except ScenarioError as exc:
                problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    for s in scenarios:  # every grid loads and passes its checks before anything runs
        scenario_feeder(s)
    security = None
    if any(tls):
        from distributed import Security

        security = Security(tls_ca_file=str(args.tls_ca_file),
                            tls_client_cert=str(args.tls_cert),
                            tls_client_key=str(args.tls_key), require_encryption=True)
    return scenarios, levels, security


def sweep_main(args: argparse.Namespace) -> int:
    """``cosim sweep``: run the tasks, print the annual KPIs; exit 1 if some task failed."""
    from testbed.sweep import run_sweep

    scenarios, levels, security = _check_sweep(args)
    summary = run_sweep(scenarios, levels, args.out, days=args.days, n_days=args.n_days,
                        feeders=args.feeders, workers=args.workers, scheduler=args.scheduler,
                        security=security, progress=not args.quiet)
    annual = pd.read_parquet(summary.out_dir / "annual.parquet")
    cols = [c for c in SUMMARY_KPIS if c in annual]
    show = annual[["scenario", "feeder", "level", "status", *cols]].rename(columns=SUMMARY_KPIS)
    with pd.option_context("display.float_format", "{:,.1f}".format, "display.width", 160,
                           "display.max_rows", 500):
        print(show.to_string(index=False))
    print(f"\nsweep: {summary.complete} of {summary.total} tasks complete, {summary.failed} "
          f"failed ({summary.ran} run now, {summary.skipped} complete before) in "
          f"{summary.wall_s:.1f} s; annual KPIs: {summary.out_dir / 'annual.parquet'}")
    if summary.failed:
        sweep = pd.read_parquet(summary.out_dir / "sweep.parquet")
        for r in sweep[sweep.status == "failed"].head(10).itertuples():
            print(f"failed: {r.scenario} {r.date} {r.level}: {r.error}", file=sys.stderr)
        return 1
    return 0
