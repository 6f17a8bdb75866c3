"""Build the mosaik world of a run: start the simulators with their parameters, connect them.

The parameters come from :mod:`testbed.params`; every simulator takes JSON-serialisable
parameters (see ``SIMULATORS.md``).
"""

from __future__ import annotations

from pathlib import Path

import mosaik
import pandas as pd

from grids.networks.feeder import Feeder, element_ids
from sims.dso.grid_view import DsoGrid, dso_grid
from sims.grid.network import shared_grid
from sims.homes.fleet import OUTPUTS as HOME_OUTPUTS
from testbed import params
from testbed.prepared import PreparedRun, prepare
from testbed.scenario import Scenario

MOSAIK_VERSION = mosaik.__version__

SIM_CONFIG = {
    "Profiles": {"python": "sims.homes.profiles_simulator:ProfilesSim"},
    "Homes": {"python": "sims.homes.simulator:HomesSim"},
    "Grid": {"python": "sims.grid.simulator:GridSim"},
    "Collector": {"python": "sims.collector.simulator:CollectorSim"},
    "Aggregator": {"python": "sims.aggregator.simulator:AggregatorSim"},
    "Dso": {"python": "sims.dso.simulator:DsoSim"},
}


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
    return dso_grid(shared_grid(params.grid_config(scenario)), cfg.limits, cfg.power_factor)


def build_world(scenario: Scenario, out_dir: Path, *, prepared: PreparedRun | None = None,
                debug: bool = False, flush_every: int = 4) -> mosaik.World:
    """Create the mosaik world of a run and connect its simulators.

    ``prepared`` is the scenario's :func:`testbed.prepared.prepare` (made here if None).

    Profiles -> Homes -> Grid (Load entities); Homes, Grid and Transformer entities ->
    Collector. All simulators are time-based with the scenario's step.

    At control levels ``market`` and ``dso``: the aggregators (one entity each, a part of the
    feeder's homes, :func:`portfolios`) and the DSO's negotiation role in one
    ``world.group()`` (aggregator -> DSO, DSO -> aggregator weak: the day-ahead same-time
    loop, :mod:`sims.aggregator.simulator`), each aggregator -> its homes (``day_ready``, so the
    homes operate after the day-ahead stage), and the DSO's monitor (a second DSO instance)
    fed by the Grid, Transformer and home entities. At ``market`` the DSO only validates.
    """
    prepared = prepared or prepare(scenario)
    feeder = prepared.feeder
    home_ids = feeder.homes.index.tolist()
    buses = [int(b) for b in feeder.homes.bus]
    homes_cfg = prepared.homes.to_dict()
    flex = scenario.control in params.FLEX_LEVELS
    world = mosaik.World(SIM_CONFIG, debug=debug, skip_greetings=True, configure_logging=False,
                         max_loop_iterations=params.loop_iteration_limit(scenario))
    board: dict | None = {} if flex else None  # in-process hand-over of the homes' fleet
    profiles = world.start("Profiles", homes=homes_cfg, home_ids=home_ids, buses=buses)
    homes_sim = world.start("Homes", homes=homes_cfg, home_ids=home_ids, buses=buses,
                            out_dir=str(out_dir), board=board)
    grid_sim = world.start("Grid", grid=params.grid_config(scenario).to_dict(),
                           step_s=scenario.step_s)
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
        _connect_flex(world, scenario, prepared, out_dir, board, homes, grid, trafos)
    return world


def _connect_flex(world: mosaik.World, scenario: Scenario, prepared: PreparedRun,
                  out_dir: Path, board: dict, homes: list, grid, trafos: list) -> None:
    """Start and connect the aggregators and the DSO (see :func:`build_world`)."""
    feeder = prepared.feeder
    grid_cfg = params.grid_config(scenario).to_dict()
    dso_cfg = params.dso_config(scenario).to_dict()
    with world.group():
        agg_sim = world.start("Aggregator", aggregator=params.aggregator_config(scenario)
                              .to_dict(), board=board,
                              congestion_points=prepared.congestion_points(),
                              with_dso=True, out_dir=str(out_dir))
        dso_sim = world.start("Dso", dso=dso_cfg, grid=grid_cfg, board=board,
                              out_dir=str(out_dir))
    dso = dso_sim.Dso.create(1)[0]
    by_id = {h.eid: h for h in homes}
    for part in portfolios(feeder.homes.index.tolist(), scenario.flex_aggregators):
        agg = agg_sim.Aggregator.create(1, home_ids=part)[0]
        world.connect(agg, dso, ("to_dso", "from_agg"))
        world.connect(dso, agg, ("to_agg", "from_dso"), weak=True)
        for h in part:
            world.connect(agg, by_id[h], "day_ready")
    mon_sim = world.start("Dso", dso=dso_cfg, grid=grid_cfg, out_dir=str(out_dir))
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


