"""Run one scenario: build the mosaik world, run it, write the results folder and its KPIs.

A run is a function of the scenario (with its control level and days) and an output folder.
What it needs before the world starts is prepared once per process and reused
(:func:`testbed.prepared.prepare`), so that a sweep's warm worker runs many tasks with little
setup each.

Stopping at a step boundary: :func:`request_stop` (safe in a signal handler) makes the run
stop after the step being collected; every result table then holds the same steps,
``meta.json`` says ``interrupted`` with the step and :func:`run_scenario` raises
:class:`testbed.errors.RunInterrupted`. :func:`stop_on_signals` installs SIGINT and SIGTERM
handlers that do only that (set a flag, request the stop): no ``KeyboardInterrupt`` is ever
raised inside numba, pyomo or mosaik code (mosaik would swallow it and report the run
complete), so a signal always ends the run at the next step boundary, and a second signal
(while the tables are consolidated) is deferred, never cutting a file short.

A run whose load flow did not converge at some steps completes (every step is in the
tables) but its grid KPIs that depend on those steps are null (:mod:`testbed.kpis`);
``meta.json`` carries ``nonconverged_steps`` and a ``warning`` line, and
:attr:`RunResult.nonconverged_steps` tells the caller (``cosim run`` exits with
:data:`EXIT_NONCONVERGED`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import platform
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from grids.networks.feeder import Feeder, element_ids
from sims.collector.simulator import (  # noqa: F401  (RunStopped: for callers)
    RunStopped,
    clear_stop,
    request_stop,
    stop_requested,
    take_close_error,
)
from testbed import kpis as kpi
from testbed.errors import DiskFull, RunInterrupted, SimulatorFailed
from testbed.folders import check_compare_folder
from testbed.params import FLEX_LEVELS, loop_iteration_limit  # noqa: F401
from testbed.prepared import PreparedRun, prepare
from testbed.results import read_run, steps_written, write_json
from testbed.scenario import Scenario, parse_scenario, scenario_as_run_text
from testbed.world import (  # noqa: F401  (scenario_feeder, portfolios: for callers)
    MOSAIK_VERSION,
    REMOTE_SIMS,
    WorldOptions,
    build_world,
    portfolios,
    run_world,
    scenario_feeder,
    status_dir,
    wait_for_remote,
)

#: Exit code of ``cosim run`` when the run completed but the load flow failed at some steps.
EXIT_NONCONVERGED = 3
#: Exit codes of an interrupted run, by signal (128 + the signal's number, as a shell does).
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}

_SIGNALLED: list[int] = []  # signals received by the handlers of stop_on_signals


@dataclass
class RunResult:
    """What a finished run returns: its folder, KPIs and wall time split, and the steps at
    which the load flow did not converge (their grid KPIs are null) with its warning line."""

    out_dir: Path
    kpis: dict[str, float]
    wall_s: float
    timings: dict[str, float] = field(default_factory=dict)
    nonconverged_steps: int = 0
    warning: str | None = None


def _on_signal(signum: int, frame) -> None:
    """A signal handler that only records the signal and requests the stop (never raises)."""
    _SIGNALLED.append(signum)
    request_stop()


def signal_received() -> int | None:
    """The first signal the handlers of :func:`stop_on_signals` received (None if none)."""
    return _SIGNALLED[0] if _SIGNALLED else None


@contextlib.contextmanager
def stop_on_signals(restore: bool = True) -> Iterator[None]:
    """SIGINT and SIGTERM stop the run at the next step boundary, within the block.

    The handlers set a flag and call :func:`request_stop`, nothing else (see the module
    docstring); :func:`signal_received` tells which signal came. Processes forked inside the
    block (the CEMS planning workers) inherit the handlers, so a Ctrl-C sent to the whole
    process group does not kill them mid-plan.

    Parameters
    ----------
    restore
        Restore the previous handlers after the block. The ``cosim`` command passes False:
        its handlers stay until the process exits, so that a signal in the moment between
        the end of the command and the end of the process (the interpreter shutting down)
        cannot kill it with Python's default handler (exit -2, no line said); the results
        are whole by then.
    """
    _SIGNALLED.clear()
    old = {s: signal.signal(s, _on_signal) for s in EXIT_SIGNAL}
    try:
        yield
    finally:
        if restore:
            for s, h in old.items():
                signal.signal(s, h)


@contextlib.contextmanager
def _children_ignore_ctrl_c() -> Iterator[None]:
    """SIGINT blocked while the world starts its simulator processes, which inherit the mask:
    a Ctrl-C goes to the whole process group, and an aggregator or DSO process killed by it
    while it starts would end the run with mosaik's "did not connect in time". This process
    handles the signal when the block ends (it stops the run at a step boundary; the
    simulators in other processes stop with it)."""
    if not _SIGNALLED and signal.getsignal(signal.SIGINT) is not _on_signal:
        yield  # no handler of stop_on_signals: leave the signals alone
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _write_meta(out_dir: Path, meta: dict) -> None:
    """Write ``meta.json``; on a failure path a full disk must not hide the first error."""
    with contextlib.suppress(OSError):
        write_json(out_dir / "meta.json", meta)


def compute_kpis(scenario: Scenario, feeder: Feeder, out_dir: Path
                 ) -> tuple[dict[str, float], pd.DataFrame]:
    """KPIs of a run folder: the dict written to ``kpis.json`` and the per-home table.

    The voltage band applies to the feeder's LV buses (``vn_kv < 1``).
    """
    r = read_run(out_dir, warn=False)  # meta.json says running until the KPIs are written
    ids = pd.Series(element_ids(feeder.net.bus), index=feeder.net.bus.index)
    lv_ids = ids[feeder.net.bus.vn_kv < 1.0].tolist()
    grid = kpi.grid_kpis(r["buses"], r["lines"], r["transformer"], r["grid"],
                         step_s=scenario.step_s, vm_min_pu=scenario.vm_min_pu,
                         vm_max_pu=scenario.vm_max_pu,
                         max_loading_percent=scenario.max_loading_percent,
                         band_bus_ids=lv_ids, vuf_max_percent=scenario.vuf_max_percent)
    steps = r["grid"].time.nunique()
    per_home = kpi.home_kpis(r["homes"], scenario.tariff, step_s=scenario.step_s,
                             days=steps * scenario.step_s / 86400.0,
                             connection_limit_kw=scenario.connection_limit_kw)
    homes = feeder.homes.reset_index()[["home_id", "bus", "feeder"]]
    homes["bus_id"] = ids.loc[homes.bus].to_numpy()
    per_home = homes.merge(per_home, on="home_id", how="right")
    return {**grid, **kpi.community_kpis(r["homes"], per_home)}, per_home


def write_flex_results(scenario: Scenario, out_dir: Path, total_bill_eur: float,
                       nonconverged_steps: int = 0) -> dict[str, float]:
    """Write ``flex.parquet`` of a market or dso run and return its ``flex.`` KPIs.

    See :mod:`testbed.flex_kpis` for the table and the KPI definitions.
    """
    from testbed.flex_kpis import flex_kpis, flex_table, measured_settlement

    read = lambda name: pd.read_parquet(out_dir / f"{name}.parquet")  # noqa: E731
    step_h = scenario.step_s / 3600.0
    homes = read("homes")
    emergency = out_dir / "dso_emergency.parquet"
    table = flex_table(read("flex_dayahead"), read("flex_orders"),
                       homes[["time", "home_id", "p_kw"]], read("dso_operation"),
                       steps_per_day=scenario.steps_per_day, step_h=step_h)
    table.to_parquet(out_dir / "flex.parquet", index=False)
    payments = read("flex_payments")
    settle = measured_settlement(homes[["time", "home_id", "p_kw"]], payments,
                                 scenario.tariff, steps_per_day=scenario.steps_per_day,
                                 step_h=step_h)
    return flex_kpis(table, read("flex_days"), read("dso_operation"), payments,
                     step_h=step_h, n_days=scenario.days,
                     price_cap=scenario.flex_price_cap_eur_per_kwh,
                     total_bill_eur=total_bill_eur,
                     loop_iteration_limit=loop_iteration_limit(scenario),
                     upgrade_cost_eur=scenario.upgrade_cost_eur,
                     lifetime_years=scenario.upgrade_lifetime_years,
                     discount_rate=scenario.discount_rate,
                     years_deferred=scenario.years_deferred,
                     limited_kwh=float(homes.limited_kw.sum() * step_h),
                     emergency_actions=len(pd.read_parquet(emergency)) if emergency.exists()
                     else 0, settlement_eur=settle, nonconverged_steps=nonconverged_steps)


def run_scenario(scenario: Scenario, out_dir: str | Path, *, progress: bool = True,
                 feeder: Feeder | None = None, prepared: PreparedRun | None = None,
                 options: WorldOptions | None = None) -> RunResult:
    """Run a scenario and write its results folder (see :mod:`testbed.results`).

    Parameters
    ----------
    scenario
        A validated scenario (command-line overrides applied).
    out_dir
        The run folder; created, must be empty or missing.
    progress
        Show a progress bar that counts the steps.
    feeder
        Kept for callers that loaded the scenario's feeder already (:func:`scenario_feeder`);
        the run uses the scenario's feeder, shared in the process, either way.
    prepared
        The scenario's :func:`testbed.prepared.prepare` (made, or found in this process, if
        None). A warm worker that runs many tasks reuses, through it, the feeder, its
        compiled load flow, the homes and their profiles: the setup left per task is the
        world and the run folder (well under 0.5 s).
    options
        How the world is built (:class:`testbed.world.WorldOptions`: per-home coupling,
        aggregators and DSO in their own processes); ``progress`` sets its ``progress``.

    Returns
    -------
    RunResult

    Raises
    ------
    SimulatorFailed
        A simulator ended the run early (``meta.json`` says ``failed`` with the reason).
    testbed.errors.RunInterrupted
        :func:`request_stop` was called (a signal): ``meta.json`` says ``interrupted``, with
        the steps kept; no KPIs are written.
    sims.errors.DiskFull
        No space left writing a result table (``meta.json`` says ``failed``; what was written
        stays readable).
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir}: output folder exists and is not empty")
    prepared = prepared or prepare(scenario)
    options = replace(options or WorldOptions(), progress=progress)
    feeder = prepared.feeder
    out_dir.mkdir(parents=True, exist_ok=True)
    text = scenario_as_run_text(scenario)
    parse_scenario(text, source=out_dir / "scenario.toml")  # the file as run must reproduce it
    (out_dir / "scenario.toml").write_text(text)
    (out_dir / "network.json").write_text(prepared.network_json)
    meta = {"status": "running", "scenario": scenario.name, "control": scenario.control,
            "grid": feeder.name, "n_homes": len(feeder.homes), "n_steps": scenario.n_steps,
            "python": platform.python_version(), "mosaik": MOSAIK_VERSION,
            "grid_model": prepared.grid_meta()}
    write_json(out_dir / "meta.json", meta)
    clear_stop()
    if _SIGNALLED:  # a signal came before the run started: stop at step 0
        _raise_interrupted(scenario, out_dir, meta)
    t_setup = time.perf_counter()
    try:
        try:
            with _children_ignore_ctrl_c():
                world = build_world(scenario, out_dir, prepared=prepared, options=options)
            t_world = time.perf_counter()
            ran = run_world(world, scenario.n_steps * scenario.step_s)
        except RunStopped:
            _raise_interrupted(scenario, out_dir, meta)
        closing = take_close_error()
        if closing is not None:
            raise closing
        done = steps_written(out_dir)
        if done < scenario.n_steps:
            raise SimulatorFailed(_failure(out_dir, done, scenario.n_steps))
        if not options.actors_in_process and scenario.control in FLEX_LEVELS:
            wait_for_remote(out_dir, REMOTE_SIMS)  # their tables are written
            shutil.rmtree(status_dir(out_dir), ignore_errors=True)
        t_close = time.perf_counter()
        kpis, per_home = compute_kpis(scenario, feeder, out_dir)
        if scenario.control in FLEX_LEVELS:
            kpis.update(write_flex_results(scenario, out_dir, kpis["homes.total_bill_eur"],
                                           kpis["grid.nonconverged_steps"]))
        write_json(out_dir / "kpis.json", kpis)
        per_home.to_parquet(out_dir / "home_kpis.parquet", index=False)
        if stop_requested():  # a signal after the last step: the results are whole
            _raise_interrupted(scenario, out_dir, meta)
    except RunInterrupted:
        raise
    except BaseException as exc:
        take_close_error()  # a second error of the same failure
        left = _remove_partial(out_dir)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            exc = _disk_full(exc, out_dir, left)
        meta.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        _write_meta(out_dir, meta)
        if isinstance(exc, DiskFull):
            raise exc from None
        raise
    finally:
        clear_stop()
    t_end = time.perf_counter()
    timings = {"setup_s": t_setup - t0, "world_s": t_world - t_setup, **ran,
               "kpis_s": t_end - t_close}
    bad = int(kpis.get("grid.nonconverged_steps", 0))
    warning = nonconverged_warning(bad, scenario.n_steps) if bad else None
    meta.update(status="complete", wall_s=t_end - t0, timings=timings,
                nonconverged_steps=bad)
    if warning:
        meta["warning"] = warning
    write_json(out_dir / "meta.json", meta)
    return RunResult(out_dir=out_dir, kpis=kpis, wall_s=t_end - t0, timings=timings,
                     nonconverged_steps=bad, warning=warning)


def _remove_partial(out_dir: Path) -> list[str]:
    """Remove the hidden temporary files a failed run left (a table cut short by the error
    that ended it); return the files they were to become."""
    left = sorted(out_dir.rglob(".*.tmp"))
    for p in left:
        p.unlink(missing_ok=True)
    return [str(p.parent / p.name[1:].removesuffix(".tmp")) for p in left]


def _disk_full(exc: OSError, out_dir: Path, left: list[str]) -> DiskFull:
    """A full disk met by a simulator's table (not the collector's): name the file from the
    error or the temporary file it left."""
    where = exc.filename or (left[0] if left else str(out_dir))
    return DiskFull(f"{where}: no space left on device (errno ENOSPC); the steps written "
                    f"before stay readable")


def nonconverged_warning(bad: int, n_steps: int) -> str:
    """The one warning line of a run whose load flow failed at ``bad`` of ``n_steps``."""
    return (f"the load flow did not converge at {bad} of {n_steps} steps: the grid KPIs "
            f"that depend on them are null and the deferral is not credible")


def _raise_interrupted(scenario: Scenario, out_dir: Path, meta: dict) -> None:
    """Write ``meta.json`` of a run stopped at a step boundary and raise RunInterrupted."""
    take_close_error()  # the tables stay readable as they are (folders of parts)
    done = steps_written(out_dir)
    reached = pd.Timestamp(scenario.start).tz_localize(scenario.timezone) + pd.Timedelta(
        seconds=done * scenario.step_s)
    sig = signal_received()
    meta.update(status="interrupted", steps_done=done, interrupted_at=reached.isoformat(),
                signal=signal.Signals(sig).name if sig else None)
    _write_meta(out_dir, meta)
    raise RunInterrupted(out_dir=out_dir, steps_done=done, n_steps=scenario.n_steps,
                         reached=reached, signum=sig)


def _failure(out_dir: Path, done: int, n_steps: int) -> str:
    """The line that says why a run stopped early (errors written by remote simulators)."""
    lines = sorted(p.read_text().strip() for p in status_dir(out_dir).glob("*.error"))
    why = "; ".join(lines) if lines else "a simulator stopped without an error message"
    return f"the run stopped after {done} of {n_steps} steps: {why}"


def kpi_table(kpis: dict[str, float]) -> str:
    """KPIs as an aligned two-column text table."""
    width = max(len(k) for k in kpis)
    rows = []
    for k, v in kpis.items():
        if isinstance(v, float):
            txt = f"{v:,.4f}" if abs(v) < 10 else f"{v:,.1f}"
        else:
            txt = json.dumps(v)
        rows.append(f"{k:<{width}}  {txt:>14}")
    return "\n".join(rows)


def compare_levels(scenario: Scenario, levels: list[str], out_dir: str | Path, *,
                   progress: bool = True, options: WorldOptions | None = None) -> pd.DataFrame:
    """Run a scenario at several control levels and put their KPIs side by side.

    Each level runs into ``out_dir/<level>/`` (a complete run folder of the results
    contract); the table is written to ``out_dir/comparison.csv``.

    Parameters
    ----------
    scenario
        The validated scenario; its ``control`` field is replaced by each level.
    levels
        Control levels, e.g. ``["none", "cems"]``.
    out_dir
        Folder of the comparison (created; must hold neither a comparison nor these levels:
        checked before any level runs).
    progress, options
        As for :func:`run_scenario`.

    Returns
    -------
    DataFrame
        One row per KPI, one column per level, plus ``wall_s`` per level.
    """
    out_dir = Path(out_dir)
    check_compare_folder(out_dir, levels)  # before any level runs: nothing half-done
    for level in levels:
        scenario.with_overrides(control=level)
    columns = {}
    for level in levels:
        result = run_scenario(scenario.with_overrides(control=level), out_dir / level,
                              progress=progress, options=options)
        columns[level] = {**result.kpis, "wall_s": result.wall_s}
    table = pd.DataFrame(columns)
    table.index.name = "kpi"
    table.to_csv(out_dir / "comparison.csv")
    return table
