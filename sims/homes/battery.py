"""The home battery's one operating rule: reach a target power within its limits.

Every actor that runs a battery step by step uses these functions: the uncontrolled home
(:mod:`sims.homes.home_model`: self-consumption), the CEMS's uncontrolled schedule and fallback
(:mod:`sims.homes.cems.fallback`) and the CEMS operating a plan under forecast error
(:mod:`sims.homes.cems.operate`: the power that keeps the planned net power).

- **Limits** (:func:`limits_kw`): the battery charges at most ``power_kw`` and up to
  ``soc_max``, discharges at most ``power_kw`` and down to ``soc_min``, over one step.
- **Losses**: the round-trip efficiency is split evenly, ``eta = sqrt(efficiency_roundtrip)``
  on charging and on discharging: charging ``p`` kW stores ``eta p dt`` kWh, discharging ``p``
  kW takes ``p dt / eta`` kWh.
- **Self-consumption** (:func:`self_consumption`): the target is the power that brings the
  home's net power to zero: charge from PV surplus, discharge to cover demand, never from or to
  the grid.

State is the stored energy [kWh] (the state of charge is ``energy / capacity``).
"""

from __future__ import annotations

import math

from sims.homes.devices import Battery

__all__ = ["follow", "limits_kw", "self_consumption", "store"]


def limits_kw(energy_kwh: float, battery: Battery, dt_h: float) -> tuple[float, float]:
    """Lowest (discharge, <= 0) and highest (charge, >= 0) battery power of a step [kW].

    Parameters
    ----------
    energy_kwh
        Energy stored at the start of the step [kWh].
    battery
        The battery.
    dt_h
        Step length [h].
    """
    eta = math.sqrt(battery.efficiency_roundtrip)
    cap = battery.capacity_kwh
    hi = min(battery.power_kw, max(0.0, (battery.soc_max * cap - energy_kwh) / (eta * dt_h)))
    lo = -min(battery.power_kw, max(0.0, (energy_kwh - battery.soc_min * cap) * eta / dt_h))
    return lo, hi


def store(energy_kwh: float, p_kw: float, battery: Battery, dt_h: float) -> float:
    """Energy stored after a step at battery power ``p_kw`` (> 0 charging) [kWh]."""
    eta = math.sqrt(battery.efficiency_roundtrip)
    if p_kw > 0:
        return energy_kwh + eta * p_kw * dt_h
    return energy_kwh - (-p_kw) * dt_h / eta


def follow(target_kw: float, energy_kwh: float, battery: Battery, dt_h: float
           ) -> tuple[float, float]:
    """The battery power closest to ``target_kw`` within the limits, and the energy after it.

    Parameters
    ----------
    target_kw
        Wanted battery power [kW] (> 0 charging).
    energy_kwh
        Energy stored at the start of the step [kWh].
    battery
        The battery.
    dt_h
        Step length [h].

    Returns
    -------
    p_kw, energy_kwh
        Battery power [kW] and the energy stored at the end of the step [kWh].
    """
    lo, hi = limits_kw(energy_kwh, battery, dt_h)
    p = min(max(target_kw, lo), hi) + 0.0  # + 0.0: a zero power is +0.0
    return p, store(energy_kwh, p, battery, dt_h)


def self_consumption(balance_kw: float, energy_kwh: float, battery: Battery, dt_h: float
                     ) -> tuple[float, float]:
    """Battery power that covers the home's balance, and the energy after it.

    Parameters
    ----------
    balance_kw
        Demand minus PV without the battery [kW] (> 0: the home needs import).
    energy_kwh, battery, dt_h
        As for :func:`follow`.
    """
    return follow(-balance_kw, energy_kwh, battery, dt_h)
