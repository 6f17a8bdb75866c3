"""The connection limit before a run: homes that run uncontrolled with devices rated above it.

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
