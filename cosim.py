"""Command line of the testbed: ``cosim run [--scenario FILE] [--days N] [--start DATE] ...``.

Parses the command line, loads and validates the scenario and its grid (every problem reported
before anything runs), runs the co-simulation and prints the KPI table.
``python cosim.py run ...`` works as well as the installed ``cosim`` script.

Exit codes: 0 done; 1 the run failed (a simulator stopped it, the disk is full); 2 bad input
(one line naming file, field and value, before anything runs); 3 the run completed but the
load flow did not converge at some steps (their grid KPIs are null); 130 / 143 interrupted
by SIGINT / SIGTERM (stopped at the end of the current step, the results kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import signal
import sys
from pathlib import Path

import pandas as pd

from testbed.errors import (
    USER_ERRORS,
    DiskFull,
    RunInterrupted,
    RunStopped,
    SimulatorFailed,
    TestbedError,
)
from testbed.scenario import CONTROL_LEVELS, DEFAULT_SCENARIO, load_scenario

EXIT_CODES = """exit codes:
  0    done
  1    the run failed: a simulator stopped it, or no space left on the device
  2    bad input: one line naming the file, field and value, before anything runs
  3    the run completed but the load flow did not converge at some steps (their grid
       KPIs are null in kpis.json, the deferral is not credible; meta.json says how many)
  130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: the run stops at the end of the
       current step and keeps its results (meta.json status "interrupted")"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cosim", description=__doc__.splitlines()[0],
                                epilog=EXIT_CODES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario and write its results folder")
    run.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO,
                     help="scenario TOML file (default: the shipped scenarios/default.toml)")
    run.add_argument("--days", type=int, help="number of days (overrides the scenario)")
    run.add_argument("--start", type=str, help="first day YYYY-MM-DD (overrides the scenario)")
    run.add_argument("--out", type=Path, help="results folder (default: runs/<name>-<control>-"
                     "<timestamp>)")
    run.add_argument("--control", choices=CONTROL_LEVELS,
                     help="control level (overrides the scenario)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--no-report", action="store_true", help="do not write report.html")
    run.add_argument("--actors", choices=("inprocess", "process"), default="inprocess",
                     help="run the aggregators and the DSO in this process (default) or each "
                     "in its own process (mosaik cmd: simulators)")
    cmp = sub.add_parser("compare", help="run a scenario at several control levels and "
                         "compare their KPIs side by side")
    cmp.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO,
                     help="scenario TOML file (default: the shipped scenarios/default.toml)")
    cmp.add_argument("--levels", default="none,cems",
                     help="comma-separated control levels (default: none,cems)")
    cmp.add_argument("--days", type=int, help="number of days (overrides the scenario)")
    cmp.add_argument("--start", type=str, help="first day YYYY-MM-DD (overrides the scenario)")
    cmp.add_argument("--out", type=Path, help="folder holding one run folder per level "
                     "(default: runs/<name>-compare-<timestamp>)")
    cmp.add_argument("--quiet", action="store_true", help="no progress bar")
    cmp.add_argument("--actors", choices=("inprocess", "process"), default="inprocess",
                     help="the aggregators and the DSO in this process or in their own")
    cmp.add_argument("--no-report", action="store_true",
                     help="do not write report.html (the comparison's and each level's)")
    rep = sub.add_parser("report", help="write the HTML report of a run, comparison or sweep "
                         "folder")
    rep.add_argument("folder", type=Path, help="a folder written by cosim run, cosim compare "
                     "or cosim sweep")
    rep.add_argument("--out", type=Path, help="HTML file (default: FOLDER/report.html)")
    rep.add_argument("--task-reports", action="store_true", help="a sweep folder: also write "
                     "the run report of every task that has none (about 0.5 s each)")
    from testbed.campaign_cli import add_commands

    add_commands(sub)  # days, sweep
    return p


def _report(folder: Path, out: Path | None = None, task_reports: bool = False) -> int:
    """Write the HTML report of a run, comparison or sweep folder (and with ``task_reports``
    a sweep's task reports first); print where, or a one-line error."""
    from testbed.report import write_report, write_task_reports

    try:
        if task_reports:
            written, there = write_task_reports(folder)
            print(f"task reports: {len(written)} written ({there} there already)")
        path = write_report(folder, out)
    except USER_ERRORS as exc:
        print(f"cosim: error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {path}  ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def _warn(line: str | None, level: str | None = None) -> None:
    if line:
        print(f"cosim: warning: {f'{level}: ' if level else ''}{line}", file=sys.stderr)


#: True when this process is the ``cosim`` command (:func:`script`), not a caller of main().
_AS_COMMAND = False


def script() -> None:
    """The ``cosim`` command: :func:`main`, then exit with its code.

    The stop handlers of a run stay installed after the run (``testbed.run.stop_on_signals``),
    and once :func:`main` has returned SIGINT and SIGTERM are ignored: the results are whole
    and the exit code is decided. The interpreter's shutdown resets every handler set from
    Python to the system default (not one set to ``SIG_IGN``), so a Ctrl-C in that last
    moment would otherwise kill the process with no line said (exit -2).
    """
    global _AS_COMMAND
    _AS_COMMAND = True
    code = main()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cosim`` script; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command in ("run", "compare"):
        from testbed.run import stop_on_signals

        with stop_on_signals(restore=not _AS_COMMAND):
            return _run(args)
    if args.command == "report":
        return _report(args.folder, args.out, args.task_reports)
    if args.command in ("days", "sweep"):
        from testbed import campaign_cli

        try:
            code = (campaign_cli.days_main if args.command == "days"
                    else campaign_cli.sweep_main)(args)
        except USER_ERRORS as exc:
            print(f"cosim: error: {exc}", file=sys.stderr)
            return 2
        if args.command == "sweep" and not args.no_report:
            code = max(code, _report(args.out, task_reports=args.task_reports))
        return code
    return _run(args)


def _interrupted(exc: RunInterrupted) -> int:
    """Print the one line of an interrupted run; its exit code."""
    from testbed.run import EXIT_SIGNAL, signal_received

    print(f"cosim: {exc}", file=sys.stderr)
    return EXIT_SIGNAL.get(exc.signum or signal_received(), 130)


def _run(args: argparse.Namespace) -> int:
    """``cosim run`` and ``cosim compare``; returns the exit code."""
    from testbed.run import EXIT_NONCONVERGED

    try:
        scenario = load_scenario(args.scenario)
        overrides = {}
        if args.days is not None:
            overrides["days"] = args.days
        if getattr(args, "control", None) is not None:
            overrides["control"] = args.control
        if args.start is not None:
            try:
                overrides["start"] = dt.date.fromisoformat(args.start)
            except ValueError:
                raise TestbedError(f"--start: must be a date YYYY-MM-DD "
                                   f"(got {args.start!r})") from None
        if overrides:
            scenario = scenario.with_overrides(**overrides)
        from testbed.folders import check_compare_folder, check_run_folder
        from testbed.prechecks import check_aggregators, connection_warning
        from testbed.run import (
            WorldOptions,
            compare_levels,
            kpi_table,
            nonconverged_warning,
            run_scenario,
            scenario_feeder,
        )

        options = WorldOptions(actors_in_process=args.actors == "inprocess")

        if args.command == "compare":
            levels = [x.strip() for x in args.levels.split(",") if x.strip()]
            for level in levels:  # validate every level before running any
                scenario.with_overrides(control=level)
            feeder = scenario_feeder(scenario)
            out = args.out or Path("runs") / (f"{scenario.name}-compare-"
                                              f"{dt.datetime.now():%Y%m%d-%H%M%S}")
            check_compare_folder(out, levels)
            for level in levels:
                check_aggregators(scenario.with_overrides(control=level), feeder)
            for level in levels:
                _warn(connection_warning(scenario.with_overrides(control=level), feeder), level)
            print(f"cosim: {scenario.name}: levels {', '.join(levels)} -> {out}",
                  file=sys.stderr)
            table = compare_levels(scenario, levels, out, progress=not args.quiet,
                                   options=options)
            with pd.option_context("display.float_format", "{:,.4f}".format,
                                   "display.width", 120):
                print(table.to_string())
            print(f"\ncomparison: {out / 'comparison.csv'}")
            bad = {lv: int(table.loc["grid.nonconverged_steps", lv]) for lv in levels
                   if "grid.nonconverged_steps" in table.index
                   and table.loc["grid.nonconverged_steps", lv] > 0}
            for lv, n in bad.items():
                _warn(nonconverged_warning(n, scenario.n_steps), lv)
            code = EXIT_NONCONVERGED if bad else 0
            if not args.no_report:
                codes = [_report(out / level) for level in levels]  # linked from the comparison's
                code = max(code, *codes, _report(out))
            return _after_signal(code, out)

        feeder = scenario_feeder(scenario)
        out = args.out or Path("runs") / (f"{scenario.name}-{scenario.control}-"
                                          f"{dt.datetime.now():%Y%m%d-%H%M%S}")
        check_run_folder(out)
        check_aggregators(scenario, feeder)
        _warn(connection_warning(scenario, feeder))
        print(f"cosim: {scenario.name}: {feeder.name}, {len(feeder.homes)} homes, "
              f"{scenario.days} day(s) from {scenario.start} at {scenario.step_s} s, "
              f"control {scenario.control} -> {out}", file=sys.stderr)
        result = run_scenario(scenario, out, progress=not args.quiet, feeder=feeder,
                              options=options)
    except RunInterrupted as exc:
        return _interrupted(exc)
    except (SimulatorFailed, RunStopped, DiskFull) as exc:
        print(f"cosim: error: {exc}", file=sys.stderr)
        return 1
    except USER_ERRORS as exc:
        print(f"cosim: error: {exc}", file=sys.stderr)
        return 2
    except FileExistsError as exc:
        print(f"cosim: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        print(f"cosim: error: {exc.filename or 'results'}: no space left on device",
              file=sys.stderr)
        return 1
    print(kpi_table(result.kpis))
    print(f"\nresults: {result.out_dir}  (wall time {result.wall_s:.1f} s)")
    code = 0
    if result.warning:
        _warn(result.warning)
        code = EXIT_NONCONVERGED
    if not args.no_report:
        code = max(code, _report(result.out_dir))
    return _after_signal(code, result.out_dir)


def _after_signal(code: int, out: Path) -> int:
    """A signal that came after the last step (while the KPIs or the report were written):
    the results are whole; say so in one line and exit with the signal's code."""
    from testbed.run import EXIT_SIGNAL, signal_received

    sig = signal_received()
    if sig is None:
        return code
    print(f"cosim: interrupted after the last step; results kept in {out}", file=sys.stderr)
    return EXIT_SIGNAL[sig]


if __name__ == "__main__":
    script()
