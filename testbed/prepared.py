"""What a run needs before its world starts, built once per process: :func:`prepare`.

A sweep's warm worker runs many (scenario, day, level) tasks. What the tasks of one scenario
share is heavy and read-only: the feeder and its compiled load flow (about 1 s), the homes and
their profile series (the simbench columns, 0.3 s cold), the DSO's view of the grid, the
network file written into every run folder. :func:`prepare` builds them through the
process-level registry (:mod:`sims.registry`), where the simulators of an in-process world find
the very same objects (they look them up by the same content keys); a task therefore spends
only its own setup (the world, the simulators' per-run state, the run folder).

>>> prepared = prepare(scenario)        # memoised per process by the scenario's content
>>> run_scenario(scenario, out_dir, prepared=prepared)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from grids.networks.feeder import Feeder
from sims.dso.grid_view import DsoGrid, dso_grid
from sims.grid.network import SharedGrid, shared_grid
from sims.homes.config import HomesConfig
from sims.homes.devices import HomeSpec
from sims.homes.fleet import population
from sims.homes.population import HomeSeries
from sims.registry import content_key, shared
from testbed import params
from testbed.scenario import Scenario, scenario_as_run_text

__all__ = ["PreparedRun", "prepare"]


@dataclass(frozen=True, eq=False)
class PreparedRun:
    """The heavy read-only inputs of a scenario's runs (shared in the process).

    Attributes
    ----------
    key
        Content key of the scenario it was prepared for.
    grid
        The feeder and its compiled load flow (:class:`sims.grid.network.SharedGrid`).
    homes
        The homes' parameters.
    specs, series
        The homes drawn and their uncontrolled device series.
    network_json
        The feeder as pandapower JSON (``network.json`` of every run folder).
    dso
        The DSO's view of the grid (control ``market`` and ``dso``), else None.
    """

    key: str
    grid: SharedGrid
    homes: HomesConfig
    specs: list[HomeSpec]
    series: HomeSeries
    network_json: str
    dso: DsoGrid | None

    @property
    def feeder(self) -> Feeder:
        """The scenario's feeder (read-only)."""
        return self.grid.feeder

    def grid_meta(self) -> dict[str, str | None]:
        """How the grid simulator solves the feeder (``meta.json`` ``grid_model``).

        ``phases`` (``"unbalanced"``/``"balanced"``), ``engine`` (``"numba"``: our engine;
        ``"runpp"``: pandapower's ``runpp``/``runpp_3ph``, for a net our engine cannot
        represent) and ``reason`` (why it fell back, else None).
        """
        g = self.grid
        return {"phases": g.phases, "engine": g.engine, "reason": g.unsupported}

    def congestion_points(self) -> dict[str, list[str]]:
        """Each home's congestion points (for the aggregators), JSON form."""
        dso = self.dso
        if dso is None:
            return {}
        return {h: list(p) for h, p in dso.congestion_points_of_homes().items()}


def prepare(scenario: Scenario) -> PreparedRun:
    """Build (or find, in this process) what runs of ``scenario`` need before they start.

    Memoised per process by the content of the scenario as run (its text with overrides and
    its folder), through :mod:`sims.registry`; the feeder, the homes and the DSO's view are
    keyed by their own parameters, so scenarios or control levels that share them share the
    objects too.

    Parameters
    ----------
    scenario
        A validated scenario.

    Raises
    ------
    grids.errors.GridError
        The scenario's grid cannot be loaded or fails its checks.
    """
    key = content_key("prepared", scenario_as_run_text(scenario), str(params.base_dir(scenario)))

    def build() -> PreparedRun:
        grid = shared_grid(params.grid_config(scenario))
        if grid.unsupported is not None:
            print(f"warning: {grid.feeder.name}: the grid simulator runs pandapower's "
                  f"{'runpp_3ph' if grid.unbalanced else 'runpp'} (slower): {grid.unsupported}",
                  file=sys.stderr)
        homes = params.homes_config(scenario)
        feeder = grid.feeder
        specs, series = population(homes, feeder.homes.index.tolist(),
                                   [int(b) for b in feeder.homes.bus])
        dso = None
        if scenario.control in params.FLEX_LEVELS:
            cfg = params.dso_config(scenario)
            dso = dso_grid(grid, cfg.limits, cfg.power_factor, cfg.three_phase_homes)
        return PreparedRun(key, grid, homes, specs, series, grid.network_json, dso)

    return shared("prepared", key, build)
