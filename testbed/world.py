"""Build the mosaik world of a run: start the simulators with their parameters, connect them.

Every simulator takes JSON-serialisable parameters (``SIMULATORS.md``), mapped from the
scenario in :mod:`testbed.params`; the heavy inputs (feeder, load flow, homes) are found by the
in-process simulators in the process registry, where :func:`testbed.prepared.prepare` put
them.

The fast path routes arrays: the homes' ``Fleet`` entity (one value per home, feeder order)
feeds the grid's ``Grid`` entity (``p_kw``, ``q_kvar``; in unbalanced runs also ``p3_kw``,
``q3_kvar``, the three-phase homes' power) and the collector; the ``Grid`` entity
feeds the collector (and the DSO's monitor). About twenty values cross mosaik per step.
``WorldOptions(home_entities=True)`` couples the homes to the grid home by home instead
(``Home`` -> ``Load`` entities, what a user's own home simulators would do); the results are
the same.

At control levels ``market`` and ``dso`` the homes, the aggregators and the DSO's day-ahead
role are in one ``world.group()``: homes -> aggregators (``day_plans``), homes -> DSO
(``unmanaged_kw``), aggregators -> DSO (prognoses, offers), DSO -> aggregators (weak:
requests, orders, done), aggregators -> homes (weak: the final plans). The DSO's monitor (a
second DSO instance) follows the grid at every step. ``WorldOptions(actors_in_process=False)``
starts the aggregators and both DSO roles as their own processes (mosaik ``cmd:``).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

import mosaik
import pandas as pd

from grids.networks.feeder import Feeder
from sims.collector.writer import GRID_INPUTS, HOME_COLUMNS, PHASE_INPUTS
from sims.dso.grid_view import DsoGrid, dso_grid
from sims.grid.network import shared_grid
from sims.process import STATUS_DIR_ENV
from testbed import params
from testbed.prepared import PreparedRun, prepare
from testbed.scenario import Scenario

__all__ = ["MOSAIK_VERSION", "WorldOptions", "build_world", "close_world", "dso_grid_of",
           "portfolios", "run_world", "scenario_feeder", "sim_config", "status_dir",
           "wait_for_remote"]

MOSAIK_VERSION = mosaik.__version__
ROOT = Path(__file__).resolve().parent.parent

IN_PROCESS = {
    "Homes": {"python": "sims.homes.simulator:HomesSim"},
    "Grid": {"python": "sims.grid.simulator:GridSim"},
    "Collector": {"python": "sims.collector.simulator:CollectorSim"},
    "Aggregator": {"python": "sims.aggregator.simulator:AggregatorSim"},
    "Dso": {"python": "sims.dso.simulator:DsoSim"},
}
#: Modules of the simulators that may run as their own processes (``python -m <module> addr``).
REMOTE_MODULES = {"Aggregator": "sims.aggregator.simulator", "Dso": "sims.dso.simulator"}


@dataclass(frozen=True)
class WorldOptions:
    """How a run's world is built (what is not a scenario field).

    Attributes
    ----------
    home_entities
        Couple homes and grid home by home (``Home`` -> ``Load``) instead of the arrays.
    actors_in_process
        Run the aggregators and the DSO in this process (``python:``); False starts them as
        their own processes (``cmd:``).
    progress
        A progress bar that counts the steps.
    flush_every
        Steps between two flushes of the result tables (default: one hour of steps).
    debug
        Mosaik's debug mode (execution graph).
    """

    home_entities: bool = False
    actors_in_process: bool = True
    progress: bool = False
    flush_every: int | None = None
    debug: bool = False


#: Simulator ids of the actors when they run as their own processes.
REMOTE_SIMS = ("Aggregator-0", "Dso-0", "Dso-1")


def status_dir(out_dir: Path) -> Path:
    """Where simulators in their own processes write the line of an error and that they are
    done (:mod:`sims.process`): a hidden folder of the run."""
    return Path(out_dir) / ".sims"


def wait_for_remote(out_dir: Path, sids, timeout_s: float = 60.0) -> None:
    """Wait until every simulator ``sids`` of another process has written its tables (or
    failed), at most ``timeout_s``."""
    folder = status_dir(out_dir)
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if all((folder / f"{s}.done").exists() or (folder / f"{s}.error").exists()
               for s in sids):
            return
        time.sleep(0.02)


def sim_config(actors_in_process: bool = True, out_dir: Path | None = None) -> dict:
    """Mosaik's simulator config: every simulator in-process, or the actors as processes.

    A simulator in its own process writes the line of an error it raises, and that it is
    done, into :func:`status_dir` of ``out_dir`` (:mod:`sims.process`).
    """
    cfg = dict(IN_PROCESS)
    if not actors_in_process:
        path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        env = {"PYTHONPATH": path}
        if out_dir is not None:
            env[STATUS_DIR_ENV] = str(status_dir(out_dir).resolve())
        for name, module in REMOTE_MODULES.items():
            # not terminated by mosaik: the process ends by itself after stop, once its
            # tables are written and its CEMS workers stopped (sims.process)
            cfg[name] = {"cmd": f"%(python)s -m {module} %(addr)s", "cwd": str(ROOT),
                         "env": env, "auto_terminate": False,
                         # a cold process imports pandapower and numba: more than mosaik's
                         # 10 s default on a loaded machine (seen in CI under load)
                         "connect_timeout": 120}
    return cfg


def portfolios(home_ids: list[str], n_aggregators: int) -> list[list[str]]:
    """Split the feeder's homes (feeder order) into contiguous parts, one per aggregator."""
    k, m = divmod(len(home_ids), n_aggregators)
    out, i = [], 0
    for a in range(n_aggregators):
        n = k + (1 if a < m else 0)
        out.append(list(home_ids[i:i + n]))
        i += n
    return out


def scenario_feeder(scenario: Scenario) -> Feeder:
    """Load and check the feeder a scenario names (shared in the process, read-only)."""
    return shared_grid(params.grid_config(scenario)).feeder


def dso_grid_of(scenario: Scenario) -> DsoGrid:
    """The DSO's view of a scenario's feeder (limits and power factor of the scenario)."""
    cfg = params.dso_config(scenario)
    return dso_grid(shared_grid(params.grid_config(scenario)), cfg.limits, cfg.power_factor,
                    cfg.three_phase_homes)


def _tolist(value):
    """Arrays as lists, for a simulator in another process (mosaik sends JSON)."""
    return value.tolist() if hasattr(value, "tolist") else value


def build_world(scenario: Scenario, out_dir: Path, *, prepared: PreparedRun | None = None,
                options: WorldOptions | None = None, debug: bool = False,
                flush_every: int | None = None) -> mosaik.World:
    """Create the mosaik world of a run and connect its simulators (module docstring).

    Parameters
    ----------
    scenario
        The validated scenario.
    out_dir
        The run folder. The simulators get it as an absolute path: those in their own
        process (``--actors process``) run in another working directory, and a relative
        folder would put their tables there.
    prepared
        The scenario's :func:`testbed.prepared.prepare` (made, or found, if None).
    options
        How to build it (:class:`WorldOptions`); ``debug`` and ``flush_every`` override its
        fields of the same names.
    """
    out_dir = Path(out_dir).resolve()
    options = options or WorldOptions()
    debug = debug or options.debug
    flush_every = flush_every or options.flush_every or max(1, 3600 // scenario.step_s)
    prepared = prepared or prepare(scenario)
    world = mosaik.World(sim_config(options.actors_in_process, out_dir), debug=debug,
                         skip_greetings=True, configure_logging=False,
                         max_loop_iterations=params.loop_iteration_limit(scenario))
    try:
        _wire(world, scenario, prepared, out_dir, options, flush_every)
    except BaseException:
        close_world(world)  # a simulator that failed to start: stop those started
        raise
    return world


def _wire(world: mosaik.World, scenario: Scenario, prepared: PreparedRun, out_dir: Path,
          options: WorldOptions, flush_every: int) -> None:
    """Start the simulators, create their entities and connect them (see :func:`build_world`)."""
    feeder = prepared.feeder
    home_ids = feeder.homes.index.tolist()
    flex = scenario.control in params.FLEX_LEVELS
    homes_params = {"homes": prepared.homes.to_dict(), "home_ids": home_ids,
                    "buses": [int(b) for b in feeder.homes.bus], "out_dir": str(out_dir),
                    "wait_for_plans": flex}
    if flex:
        with world.group():
            homes_sim = world.start("Homes", **homes_params)
            agg_sim, dso_sim = _start_day_ahead(world, scenario, prepared, out_dir)
    else:
        homes_sim = world.start("Homes", **homes_params)
    grid_sim = world.start("Grid", step_size=scenario.step_s)
    collector_sim = world.start(
        "Collector", out_dir=str(out_dir), start=pd.Timestamp(scenario.start).isoformat(),
        timezone=scenario.timezone, step_s=scenario.step_s, home_ids=home_ids,
        bus_ids=list(prepared.grid.bus_ids), line_ids=list(prepared.grid.line_ids),
        trafo_ids=list(prepared.grid.trafo_ids),
        trafo_sn_mva=[float(x) for x in feeder.net.trafo.sn_mva], flush_every=flush_every,
        n_steps=scenario.n_steps, progress=options.progress,
        unbalanced=prepared.grid.unbalanced)

    fleet = homes_sim.Fleet.create(1)[0]
    grid = grid_sim.Grid.create(1, grid=params.grid_config(scenario).to_dict())[0]
    collector = collector_sim.Collector.create(1)[0]
    # the three-phase part of the homes' power (three-phase homes) matters to unbalanced runs
    powers = ("p_kw", "q_kvar", *(("p3_kw", "q3_kvar") if prepared.grid.unbalanced else ()))
    if options.home_entities:
        loads = {e.extra_info["home_id"]: e for e in grid.children if e.type == "Load"}
        for home in homes_sim.Home.create(len(home_ids)):
            world.connect(home, loads[home.eid], *powers)
    else:
        world.connect(fleet, grid, *powers)
    world.connect(fleet, collector, *HOME_COLUMNS)
    world.connect(grid, collector, *GRID_INPUTS)
    if prepared.grid.unbalanced:
        world.connect(grid, collector, *PHASE_INPUTS)
    if flex:
        _connect_day_ahead(world, scenario, options, fleet, agg_sim, dso_sim, home_ids)
        _connect_monitor(world, scenario, options, fleet, grid, out_dir,
                         unbalanced=prepared.grid.unbalanced)


def _start_day_ahead(world: mosaik.World, scenario: Scenario, prepared: PreparedRun,
                     out_dir: Path):
    """Start the aggregators and the DSO's negotiation role (inside the homes' group)."""
    agg_sim = world.start("Aggregator", sim_id=REMOTE_SIMS[0],
                          aggregator=params.aggregator_config(scenario).to_dict(),
                          congestion_points=prepared.congestion_points(), with_dso=True,
                          out_dir=str(out_dir))
    dso_sim = world.start("Dso", sim_id=REMOTE_SIMS[1],
                          dso=params.dso_config(scenario).to_dict(),
                          grid=params.grid_config(scenario).to_dict(), out_dir=str(out_dir))
    return agg_sim, dso_sim


def _connect_day_ahead(world: mosaik.World, scenario: Scenario, options: WorldOptions, fleet,
                       agg_sim, dso_sim, home_ids: list[str]) -> None:
    """Homes, aggregators and the DSO's day-ahead role: the same-time loop."""
    dso = dso_sim.Dso.create(1)[0]
    world.connect(fleet, dso, "unmanaged_kw")
    for part in portfolios(home_ids, scenario.flex_aggregators):
        agg = agg_sim.Aggregator.create(1, home_ids=part)[0]
        world.connect(fleet, agg, "day_plans")
        world.connect(agg, dso, ("to_dso", "from_agg"))
        world.connect(dso, agg, ("to_agg", "from_dso"), weak=True)
        world.connect(agg, fleet, "plans", weak=True)


def _connect_monitor(world: mosaik.World, scenario: Scenario, options: WorldOptions, fleet,
                     grid, out_dir: Path, unbalanced: bool = False) -> None:
    """The DSO's operation monitor, after the grid at every step."""
    mon_sim = world.start("Dso", sim_id=REMOTE_SIMS[2],
                          dso=params.dso_config(scenario).to_dict(),
                          grid=params.grid_config(scenario).to_dict(), out_dir=str(out_dir))
    mon = mon_sim.DsoMonitor.create(1)[0]
    arrays = {} if options.actors_in_process else {"transform": _tolist}
    world.connect(grid, mon, "vm_pu", "line_loading_percent", "converged",
                  ("trafo_loading_percent", "trafo_loading_percent"), **arrays)
    world.connect(fleet, mon, "p_kw", "q_kvar", **arrays)
    if unbalanced:
        world.connect(grid, mon, "vuf_percent", **arrays)
    if scenario.emergency_limitation:
        # the caps set at step k apply at step k + 1: shifted by one step, they arrive at the
        # homes' next step (a trigger, so no initial value is needed)
        world.connect(mon, fleet, "dso_caps", time_shifted=scenario.step_s)


def run_world(world: mosaik.World, until: int) -> dict[str, float]:
    """Run a world to ``until`` and shut it down, also when a simulator fails.

    Returns the seconds of ``world.run`` (``run_s``) and of the shutdown (``close_s``: the
    simulators' ``finalize``, the result tables consolidated).

    After a simulator raised, mosaik's other simulator tasks (and the tasks they wait on) are
    still pending; closing the event loop with them would print "Task was destroyed but it
    is pending!" for each. The tasks the run started are therefore cancelled (not those that
    existed before it: the channels to simulators in other processes, which their shutdown
    needs), then the simulators are stopped (``finalize``: the tables are written) and the
    loop closed (:func:`close_world`).
    """
    loop = world.loop
    before = set(asyncio.all_tasks(loop))
    t0 = t1 = time.perf_counter()
    try:
        world.run(until=until, print_progress=False, shutdown=False)
        t1 = time.perf_counter()
    except BaseException:
        _cancel_run_tasks(loop, before)
        try:
            close_world(world)
        except Exception:  # noqa: BLE001 - the run's own error is the one to report
            pass
        raise
    _cancel_run_tasks(loop, before)
    close_world(world)
    return {"run_s": t1 - t0, "close_s": time.perf_counter() - t1}


def _cancel_run_tasks(loop: asyncio.AbstractEventLoop, before: set) -> None:
    """Cancel the tasks the run started that are still pending (see :func:`run_world`)."""
    pending = [t for t in asyncio.all_tasks(loop) if t not in before and not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def close_world(world: mosaik.World) -> None:
    """Stop the simulators of a world (``finalize``) and close its loop, once.

    If a simulator's ``finalize`` raises (a full disk while it writes its table), the other
    simulators are still stopped and the loop closed before the error is raised: mosaik
    would otherwise leave them running and warn "AsyncWorld was never shut down" at exit.
    """
    loop = world.loop
    if loop.is_closed():
        return
    try:
        world.shutdown()
    except BaseException:
        rest = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if rest:  # the other simulators' stop
            loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
        world._async_world._shutdown_performed = True  # every simulator was stopped
        loop.close()
        raise
