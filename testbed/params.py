"""Map a scenario onto the simulators' parameters (the only place that knows both).

Each actor package has a config dataclass whose attribute names are the scenario's field
names (:mod:`sims.config`); :meth:`~sims.config.Config.from_attrs` fills it by name, so a
field added to the scenario and to a config needs no code here. What is not a scenario field
(the scenario file's folder, the loop limit) is derived below.
"""

from __future__ import annotations

from pathlib import Path

from sims.aggregator.config import AggregatorConfig
from sims.dso.config import DsoRunConfig
from sims.grid.network import GridConfig, shared_grid
from sims.homes.config import HomesConfig
from sims.homes.fleet import population
from testbed.scenario import Scenario

__all__ = ["FLEX_LEVELS", "aggregator_config", "base_dir", "dso_config", "grid_config",
           "homes_config", "loop_iteration_limit", "three_phase_homes"]

#: Control levels with aggregators and the DSO.
FLEX_LEVELS = ("market", "dso")


def base_dir(scenario: Scenario) -> Path:
    """Folder a scenario's relative paths are resolved against (its file's folder)."""
    return scenario.source.parent if scenario.source else Path.cwd()


def grid_config(scenario: Scenario) -> GridConfig:
    """The feeder of a scenario."""
    return GridConfig.from_attrs(scenario, base_dir=str(base_dir(scenario)))


def homes_config(scenario: Scenario) -> HomesConfig:
    """The homes' parameters of a scenario."""
    return HomesConfig.from_attrs(scenario)


def dso_config(scenario: Scenario) -> DsoRunConfig:
    """The DSO's parameters of a scenario (with the three-phase homes it connected)."""
    return DsoRunConfig.from_attrs(scenario, three_phase_homes=three_phase_homes(scenario))


def three_phase_homes(scenario: Scenario) -> tuple[str, ...]:
    """Ids of a scenario's three-phase homes (a three-phase charger or heat pump), in feeder
    order; empty without a three-phase threshold (no homes drawn then)."""
    if scenario.ev_three_phase_above_kw is None and \
            scenario.heat_pump_three_phase_above_kw is None:
        return ()
    feeder = shared_grid(grid_config(scenario)).feeder
    specs, _ = population(homes_config(scenario), feeder.homes.index.tolist(),
                          [int(b) for b in feeder.homes.bus])
    return tuple(h.home_id for h in specs if h.three_phase)


def aggregator_config(scenario: Scenario) -> AggregatorConfig:
    """The aggregators' parameters of a scenario."""
    return AggregatorConfig.from_attrs(scenario)


def loop_iteration_limit(scenario: Scenario) -> int:
    """Mosaik's same-time loop limit for the day-ahead negotiation.

    A negotiation round is two iterations (requests, orders); the first prognoses and the final
    ``done`` are two more, and two spare: ``2 * flex.max_rounds + 4``.
    """
    return 2 * scenario.flex_max_rounds + 4
