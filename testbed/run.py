"""Run one scenario: build the mosaik world, run it, write the results folder and its KPIs.

A run is a function of the scenario (with its control level and days) and an output folder,
with no global state, so that sweeps can call it from many processes.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import mosaik
import pandapower as pp
import pandas as pd

from grids.networks.feeder import Feeder, element_ids
from grids.networks.loaders import load_feeder
from sims.homes.fleet import OUTPUTS as HOME_OUTPUTS
from testbed import kpis as kpi
from testbed.folders import check_compare_folder
from testbed.results import read_run, write_json
from testbed.scenario import Scenario, parse_scenario, scenario_as_run_text

SIM_CONFIG = {
    "Profiles": {"python": "sims.homes.profiles_simulator:ProfilesSim"},
    "Homes": {"python": "sims.homes.simulator:HomesSim"},
    "Grid": {"python": "sims.grid.simulator:GridSim"},
    "Collector": {"python": "sims.collector.simulator:CollectorSim"},
    "Aggregator": {"python": "sims.aggregator.simulator:AggregatorSim"},
    "Dso": {"python": "sims.dso.simulator:DsoSim"},
}
FLEX_LEVELS = ("market", "dso")


def loop_iteration_limit(scenario: Scenario) -> int:
    """Mosaik's same-time loop limit for the day-ahead negotiation.

    A negotiation round is two iterations (requests, orders); the first prognoses and the final
    ``done`` are two more, and two spare: ``2 * flex.max_rounds + 4``.
    """
    return 2 * scenario.flex_max_rounds + 4


def portfolios(home_ids: list[str], n_aggregators: int) -> list[list[str]]:
    """Split the feeder's homes (feeder order) into contiguous parts, one per aggregator."""
    k, m = divmod(len(home_ids), n_aggregators)
    out, i = [], 0
    for a in range(n_aggregators):
        n = k + (1 if a < m else 0)
        out.append(list(home_ids[i:i + n]))
        i += n
    return out


@dataclass
class RunResult:
    """What a finished run returns: its folder, KPIs and wall time split."""

    out_dir: Path
    kpis: dict[str, float]
    wall_s: float
    timings: dict[str, float] = field(default_factory=dict)


def scenario_feeder(scenario: Scenario) -> Feeder:
    """Load and check the feeder a scenario names."""
    base = scenario.source.parent if scenario.source else Path.cwd()
    return load_feeder(scenario.grid_source, n_homes=scenario.n_homes,
                       seed=scenario.layout_seed, n_feeders=scenario.n_feeders, base_dir=base)


def build_world(scenario: Scenario, feeder: Feeder, out_dir: Path, *, debug: bool = False,
                flush_every: int = 4) -> mosaik.World:
    """Create the mosaik world of a run and connect its simulators.

    Profiles -> Homes -> Grid (Load entities); Homes, Grid and Transformer entities ->
    Collector. All simulators are time-based with the scenario's step.

    At control levels ``market`` and ``dso``: the aggregators (one entity each, a part of the
    feeder's homes, :func:`portfolios`) and the DSO's negotiation role in one
    ``world.group()`` (aggregator -> DSO, DSO -> aggregator weak: the day-ahead same-time
    loop, :mod:`sims.aggregator.simulator`), each aggregator -> its homes (``day_ready``, so the
    homes operate after the day-ahead stage), and the DSO's monitor (a second DSO instance)
    fed by the Grid, Transformer and home entities. At ``market`` the DSO only validates.
    """
    text = scenario_as_run_text(scenario)
    home_ids = feeder.homes.index.tolist()
    buses = [int(b) for b in feeder.homes.bus]
    base_dir = str(scenario.source.parent if scenario.source else Path.cwd())
    flex = scenario.control in FLEX_LEVELS
    world = mosaik.World(SIM_CONFIG, debug=debug, skip_greetings=True, configure_logging=False,
                         max_loop_iterations=loop_iteration_limit(scenario))
    board: dict | None = {} if flex else None  # in-process hand-over of the homes' fleet
    profiles = world.start("Profiles", scenario_toml=text, home_ids=home_ids, buses=buses)
    homes_sim = world.start("Homes", scenario_toml=text, home_ids=home_ids, buses=buses,
                            out_dir=str(out_dir), board=board)
    grid_sim = world.start("Grid", scenario_toml=text, base_dir=base_dir)
    collector_sim = world.start(
        "Collector", out_dir=str(out_dir),
        start=pd.Timestamp(scenario.start).isoformat(), timezone=scenario.timezone,
        step_s=scenario.step_s, bus_ids=element_ids(feeder.net.bus),
        line_ids=element_ids(feeder.net.line), trafo_ids=element_ids(feeder.net.trafo),
        trafo_sn_mva=[float(x) for x in feeder.net.trafo.sn_mva], flush_every=flush_every)

    n = len(home_ids)
    prof = profiles.HomeProfile.create(n)
    homes = homes_sim.Home.create(n)
    loads = grid_sim.Load.create(n)
    trafos = grid_sim.Transformer.create(len(feeder.net.trafo))
    grid = grid_sim.Grid.create(1)[0]
    collector = collector_sim.Collector.create(1)[0]
    for src, home, load in zip(prof, homes, loads, strict=True):
        world.connect(src, home, "base_kw", "pv_kw", "ev_kw", "hp_kw")
        world.connect(home, load, "p_kw", "q_kvar")
        world.connect(home, collector, *HOME_OUTPUTS)
    world.connect(grid, collector, "vm_pu", "line_loading_percent", "losses_mw", "converged")
    for t in trafos:
        world.connect(t, collector, "p_mw", "q_mvar", "loading_percent")
    if flex:
        _connect_flex(world, scenario, feeder, out_dir, board, homes, grid, trafos)
    return world


def _connect_flex(world: mosaik.World, scenario: Scenario, feeder: Feeder, out_dir: Path,
                  board: dict, homes: list, grid, trafos: list) -> None:
    """Start and connect the aggregators and the DSO (see :func:`build_world`)."""
    from sims.dso.grid_view import DsoGrid

    text = scenario_as_run_text(scenario)
    base_dir = str(scenario.source.parent if scenario.source else Path.cwd())
    start = pd.Timestamp(scenario.start).isoformat()
    cps = DsoGrid(feeder.net, feeder.homes).congestion_points_of_homes()
    negotiate = scenario.control == "dso"
    with world.group():
        agg_sim = world.start("Aggregator", scenario_toml=text, board=board,
                              congestion_points={h: list(p) for h, p in cps.items()},
                              with_dso=True, out_dir=str(out_dir))
        dso_sim = world.start("Dso", scenario_toml=text, base_dir=base_dir, board=board,
                              negotiate=negotiate, out_dir=str(out_dir), start=start)
    dso = dso_sim.Dso.create(1)[0]
    by_id = {h.eid: h for h in homes}
    for part in portfolios(feeder.homes.index.tolist(), scenario.flex_aggregators):
        agg = agg_sim.Aggregator.create(1, home_ids=part)[0]
        world.connect(agg, dso, ("to_dso", "from_agg"))
        world.connect(dso, agg, ("to_agg", "from_dso"), weak=True)
        for h in part:
            world.connect(agg, by_id[h], "day_ready")
    mon_sim = world.start("Dso", scenario_toml=text, base_dir=base_dir, out_dir=str(out_dir),
                          start=start, emergency=scenario.emergency_limitation)
    mon = mon_sim.DsoMonitor.create(1)[0]
    world.connect(grid, mon, "vm_pu", "line_loading_percent", "converged")
    for t in trafos:
        world.connect(t, mon, ("loading_percent", "trafo_loading_percent"))
    for h in homes:
        world.connect(h, mon, "p_kw")
        # caps of step k apply at step k + 1. Mosaik warns about an event-based output into a
        # time-based input; harmless here: the monitor steps at every step (the grid feeds it)
        # and always sends dso_caps (empty when free), so each home step sees a fresh value.
        if scenario.emergency_limitation:
            world.connect(mon, h, "dso_caps", time_shifted=True,
                          initial_data={"dso_caps": {}})


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
                         band_bus_ids=lv_ids)
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
                 feeder: Feeder | None = None) -> RunResult:
    """Run a scenario and write its results folder (see :mod:`testbed.results`).

    Parameters
    ----------
    scenario
        A validated scenario (command-line overrides applied).
    out_dir
        The run folder; created, must be empty or missing.
    progress
        Show mosaik's progress bar.
    feeder
        The scenario's feeder if already loaded (it is checked either way).

    Returns
    -------
    RunResult
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir}: output folder exists and is not empty")
    feeder = feeder if feeder is not None else scenario_feeder(scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = scenario_as_run_text(scenario)
    parse_scenario(text, source=out_dir / "scenario.toml")  # the file as run must reproduce it
    (out_dir / "scenario.toml").write_text(text)
    pp.to_json(feeder.net, str(out_dir / "network.json"))
    meta = {"status": "running", "scenario": scenario.name, "control": scenario.control,
            "grid": feeder.name, "n_homes": len(feeder.homes), "n_steps": scenario.n_steps,
            "python": platform.python_version(), "mosaik": mosaik.__version__}
    write_json(out_dir / "meta.json", meta)
    t_setup = time.perf_counter()
    try:
        with build_world(scenario, feeder, out_dir) as world:
            t_world = time.perf_counter()
            world.run(until=scenario.n_steps * scenario.step_s, print_progress=progress)
    except BaseException as exc:
        meta.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        write_json(out_dir / "meta.json", meta)
        raise
    t_run = time.perf_counter()
    kpis, per_home = compute_kpis(scenario, feeder, out_dir)
    if scenario.control in FLEX_LEVELS:
        kpis.update(write_flex_results(scenario, out_dir, kpis["homes.total_bill_eur"]))
    write_json(out_dir / "kpis.json", kpis)
    per_home.to_parquet(out_dir / "home_kpis.parquet", index=False)
    t_end = time.perf_counter()
    timings = {"setup_s": t_setup - t0, "world_s": t_world - t_setup, "run_s": t_run - t_world,
               "kpis_s": t_end - t_run}
    meta.update(status="complete", wall_s=t_end - t0, timings=timings)
    write_json(out_dir / "meta.json", meta)
    return RunResult(out_dir=out_dir, kpis=kpis, wall_s=t_end - t0, timings=timings)


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
                   progress: bool = True) -> pd.DataFrame:
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
                              progress=progress)
        columns[level] = {**result.kpis, "wall_s": result.wall_s}
    table = pd.DataFrame(columns)
    table.index.name = "kpi"
    table.to_csv(out_dir / "comparison.csv")
    return table
