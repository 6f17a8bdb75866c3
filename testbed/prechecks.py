"""Checks of a scenario against its feeder's drawn homes, before a run.

- The connection limit: homes that run uncontrolled with devices rated above it (a warning).
- The aggregators: at control ``market`` and ``dso`` each must serve a home with a CEMS (an
  error: the aggregator has nothing to plan).

A CEMS plans within the home's connection limit (``homes.connection_limit_kw``); a home without
one (every home at control ``none``) runs its devices as they come, and if its EV charger,
heat pump and appliances together are rated above the limit it may draw more than its
connection allows. :func:`uncontrolled_over_limit` finds those homes from the scenario's draw
of devices (before any profile is read); the run then flags every home *measured* above the
limit (``over_connection_limit`` in ``home_kpis.parquet``, see :mod:`testbed.kpis`).
"""

from __future__ import annotations

from grids.networks.feeder import Feeder
from sims.homes.cems.assets import APPLIANCE_CYCLES
from sims.homes.devices import HomeSpec
from sims.homes.population import draw_homes
from testbed.errors import ScenarioError
from testbed.run import FLEX_LEVELS, portfolios
from testbed.scenario import Scenario

APPLIANCES_KW = sum(max(cycle) for cycle in APPLIANCE_CYCLES.values())
"""Rated power of a home's deferrable appliances running together [kW]."""


def devices_kw(home: HomeSpec) -> float:
    """Rated power of a home's EV charger, heat pump and deferrable appliances [kW].

    The base load is not a device (its peak is in the profile); the battery of a home without
    a CEMS never imports (it charges from PV surplus only).
    """
    return ((home.ev.charger_kw if home.ev else 0.0)
            + (home.heat_pump.rated_kw if home.heat_pump else 0.0)
            + (APPLIANCES_KW if home.smart_appliances else 0.0))


def uncontrolled_over_limit(scenario: Scenario, feeder: Feeder) -> dict[str, float]:
    """Homes that run without a CEMS and whose devices are rated above the connection limit.

    Parameters
    ----------
    scenario
        The validated scenario (its control level decides which homes run a CEMS).
    feeder
        The feeder; its homes in order.

    Returns
    -------
    dict
        ``home_id -> devices_kw`` for each such home, in feeder order.
    """
    homes = draw_homes(scenario, feeder.homes.index.tolist(),
                       [int(b) for b in feeder.homes.bus])
    uncontrolled = [h for h in homes if scenario.control == "none" or not h.cems]
    return {h.home_id: devices_kw(h) for h in uncontrolled
            if devices_kw(h) > scenario.connection_limit_kw}


def connection_warning(scenario: Scenario, feeder: Feeder) -> str | None:
    """One warning line about :func:`uncontrolled_over_limit`'s homes, or ``None`` if none."""
    over = uncontrolled_over_limit(scenario, feeder)
    if not over:
        return None
    worst = max(over, key=over.get)
    return (f"{len(over)} home(s) without a CEMS have devices rated above the "
            f"{scenario.connection_limit_kw:g} kW connection limit (EV charger + heat pump + "
            f"appliances; largest {worst}: {over[worst]:.1f} kW); they run uncontrolled and "
            "any step above the limit is flagged (home_kpis over_connection_limit)")


def check_aggregators(scenario: Scenario, feeder: Feeder) -> None:
    """Refuse a market or dso run where an aggregator's part of the feeder has no CEMS home.

    The feeder's homes are split into ``flex.aggregators`` contiguous parts (as the run does,
    :func:`testbed.run.portfolios`); an aggregator without a CEMS home has nothing to plan.

    Raises
    ------
    ScenarioError
        If there are more aggregators than homes, or naming the first aggregator without a
        CEMS home.
    """
    if scenario.control not in FLEX_LEVELS:
        return
    ids = feeder.homes.index.tolist()
    where = str(scenario.source) if scenario.source else "<scenario>"
    if scenario.flex_aggregators > len(ids):
        raise ScenarioError(f"{where}: flex.aggregators: must not exceed the {len(ids)} homes "
                            f"of {feeder.name} (got {scenario.flex_aggregators})")
    cems = {h.home_id for h in draw_homes(scenario, ids, [int(b) for b in feeder.homes.bus])
            if h.cems}
    for k, part in enumerate(portfolios(ids, scenario.flex_aggregators)):
        if not cems.intersection(part):
            span = part[0] if len(part) == 1 else f"{part[0]}-{part[-1]}"
            raise ScenarioError(
                f"{where}: flex.aggregators: AGR{k + 1} serves {len(part)} home(s) ({span}) "
                f"and none has a CEMS, at control {scenario.control!r}; lower flex.aggregators "
                f"or raise penetration.cems (got {scenario.flex_aggregators} aggregators for "
                f"{len(ids)} homes)")
