"""One home behind the meter without a CEMS: devices run uncontrolled, a battery self-consumes.

The battery rule (no CEMS) is :func:`sims.homes.battery.self_consumption`: charge from PV
surplus, discharge to cover demand, within its power and state-of-charge limits; it never
charges from or discharges to the grid. Losses: the round-trip efficiency is split evenly,
``sqrt(eta)`` on charging and on discharging.

Reactive power: base load and heat pump at the home's power factor (lagging), PV, EV charger,
appliance cycles and battery at unity power factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sims.homes.battery import self_consumption
from sims.homes.devices import HomeSpec


@dataclass(frozen=True)
class HomeStep:
    """A home's powers over one step [kW, kvar]; load convention (``p_kw > 0`` imports).

    Attributes
    ----------
    p_kw, q_kvar
        Net active and reactive power at the connection.
    base_kw, pv_kw, ev_kw, hp_kw
        Device powers (PV as generation >= 0).
    battery_kw
        Battery power at its terminals, > 0 charging.
    soc
        Battery state of charge at the end of the step [-] (0 without a battery).
    """

    p_kw: float
    q_kvar: float
    base_kw: float
    pv_kw: float
    ev_kw: float
    hp_kw: float
    battery_kw: float
    soc: float


class HomeModel:
    """State and rules of one home without CEMS.

    Parameters
    ----------
    spec
        The home's devices and sizes.
    step_s
        Step length [s].
    """

    def __init__(self, spec: HomeSpec, step_s: int):
        self.spec = spec
        self.dt_h = step_s / 3600.0
        bat = spec.battery
        self.soc = bat.soc_init if bat else 0.0
        self.energy_kwh = bat.soc_init * bat.capacity_kwh if bat else 0.0
        self.tan_phi = math.tan(math.acos(spec.power_factor))

    def step(self, base_kw: float, pv_kw: float, ev_kw: float, hp_kw: float,
             appliance_kw: float = 0.0) -> HomeStep:
        """Advance one step with the given device powers; return the home's powers.

        Parameters
        ----------
        base_kw, pv_kw, ev_kw, hp_kw
            Base load, PV generation (>= 0), EV charging and heat-pump demand [kW].
        appliance_kw
            Deferrable appliance cycles running now [kW] (unity power factor).
        """
        demand = base_kw + ev_kw + hp_kw + appliance_kw
        balance = demand - pv_kw  # > 0 needs import
        battery_kw = 0.0
        bat = self.spec.battery
        if bat is not None:
            battery_kw, self.energy_kwh = self_consumption(balance, self.energy_kwh, bat,
                                                           self.dt_h)
            self.soc = self.energy_kwh / bat.capacity_kwh
        p_kw = balance + battery_kw
        q_kvar = (base_kw + hp_kw) * self.tan_phi
        return HomeStep(p_kw=p_kw, q_kvar=q_kvar, base_kw=base_kw, pv_kw=pv_kw, ev_kw=ev_kw,
                        hp_kw=hp_kw, battery_kw=battery_kw, soc=self.soc)
