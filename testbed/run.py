"""Run one scenario: build the mosaik world, run it, write the results folder and its KPIs.

A run is a function of the scenario (with its control level and days) and an output folder.
What it needs before the world starts is prepared once per process and reused
(:func:`testbed.prepared.prepare`), so that a sweep's warm worker runs many tasks with little
setup each.

Stopping at a step boundary: :func:`request_stop` (safe in a signal handler) makes the run
stop after the step being collected; every result table then holds the same steps,
``meta.json`` says ``failed`` with the reason and :func:`run_scenario` raises
:class:`sims.errors.RunStopped`.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from grids.networks.feeder import Feeder, element_ids
from sims.collector.simulator import RunStopped, clear_stop, request_stop  # noqa: F401
from testbed import kpis as kpi
from testbed.errors import SimulatorFailed
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


@dataclass
class RunResult:
    """What a finished run returns: its folder, KPIs and wall time split."""

    out_dir: Path
    kpis: dict[str, float]
    wall_s: float
    timings: dict[str, float] = field(default_factory=dict)


def compute_kpis(scenario: Scenario, feeder: Feeder, out_dir: Path
                 ) -> tuple[dict[str, float], pd.DataFrame]:
    """KPIs of a run folder: the dict written to ``kpis.json`` and the per-home table.

    The voltage band applies to the feeder's LV buses (``vn_kv < 1``).
    """
    r = read_run(out_dir)
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


def write_flex_results(scenario: Scenario, out_dir: Path, total_bill_eur: float
                       ) -> dict[str, float]:
    """Write ``flex.parquet`` of a market or dso run and return its ``flex.`` KPIs.

    See :mod:`testbed.flex_kpis` for the table and the KPI definitions.
    """
    from testbed.flex_kpis import flex_kpis, flex_table

    read = lambda name: pd.read_parquet(out_dir / f"{name}.parquet")  # noqa: E731
    step_h = scenario.step_s / 3600.0
    homes = read("homes")
    emergency = out_dir / "dso_emergency.parquet"
    table = flex_table(read("flex_dayahead"), read("flex_orders"),
                       homes[["time", "home_id", "p_kw"]], read("dso_operation"),
                       steps_per_day=scenario.steps_per_day, step_h=step_h)
    table.to_parquet(out_dir / "flex.parquet", index=False)
    return flex_kpis(table, read("flex_days"), read("dso_operation"), read("flex_payments"),
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
                     else 0)


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
    sims.errors.RunStopped
        :func:`request_stop` was called.
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
    t_setup = time.perf_counter()
    try:
        world = build_world(scenario, out_dir, prepared=prepared, options=options)
        t_world = time.perf_counter()
        ran = run_world(world, scenario.n_steps * scenario.step_s)
        done = steps_written(out_dir)
        if done < scenario.n_steps:
            raise SimulatorFailed(_failure(out_dir, done, scenario.n_steps))
        if not options.actors_in_process and scenario.control in FLEX_LEVELS:
            wait_for_remote(out_dir, REMOTE_SIMS)  # their tables are written
            shutil.rmtree(status_dir(out_dir), ignore_errors=True)
    except BaseException as exc:
        meta.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        write_json(out_dir / "meta.json", meta)
        raise
    t_close = time.perf_counter()
    kpis, per_home = compute_kpis(scenario, feeder, out_dir)
    if scenario.control in FLEX_LEVELS:
        kpis.update(write_flex_results(scenario, out_dir, kpis["homes.total_bill_eur"]))
    write_json(out_dir / "kpis.json", kpis)
    per_home.to_parquet(out_dir / "home_kpis.parquet", index=False)
    t_end = time.perf_counter()
    timings = {"setup_s": t_setup - t0, "world_s": t_world - t_setup, **ran,
               "kpis_s": t_end - t_close}
    meta.update(status="complete", wall_s=t_end - t0, timings=timings)
    write_json(out_dir / "meta.json", meta)
    return RunResult(out_dir=out_dir, kpis=kpis, wall_s=t_end - t0, timings=timings)


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
