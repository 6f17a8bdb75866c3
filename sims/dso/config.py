"""Parameters of the DSO simulator (both roles), under the scenario's field names.

:class:`DsoRunConfig` is what :mod:`sims.dso.simulator` takes (as ``cfg.to_dict()``); the
study layer fills it with ``DsoRunConfig.from_attrs(scenario)``. It derives the limits
(:class:`sims.dso.limits.GridLimits`) and the congestion management's own parameters
(:class:`sims.dso.congestion.DsoConfig`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sims.config import Config
from sims.dso.congestion import DsoConfig
from sims.dso.limits import GridLimits

__all__ = ["DsoRunConfig"]


@dataclass(frozen=True)
class DsoRunConfig(Config):
    """What the DSO knows of a run.

    Attributes
    ----------
    start, step_s, timezone
        First local day, step length [s] and time zone (the ``time`` column of its tables).
    control
        Control level: at ``dso`` it negotiates; at ``market`` it only validates the
        aggregators' prognoses (zero rounds).
    vm_min_pu, vm_max_pu, max_loading_percent
        Voltage band [p.u.] and loading limit [% of rating].
    vuf_max_percent
        Voltage unbalance factor limit [%] (checked in unbalanced runs).
    power_factor
        Power factor of a home's import in the DSO's load flow [-].
    flex_price_cap_eur_per_kwh
        Highest price it pays for flexibility [EUR/kWh].
    flex_max_rounds
        Negotiation rounds per day.
    emergency_limitation
        The operation monitor caps the homes behind a measured violation (orange regime).
    three_phase_homes
        Ids of the homes with a three-phase connection (the DSO's connection register): in
        unbalanced load flows their power goes a third on each phase, as the grid
        simulator puts it (:class:`sims.dso.grid_view.DsoGrid`).
    """

    start: dt.date = dt.date(2016, 1, 20)
    step_s: int = 900
    timezone: str = "Europe/London"
    control: str = "dso"
    vm_min_pu: float = 0.94
    vm_max_pu: float = 1.10
    max_loading_percent: float = 100.0
    vuf_max_percent: float = 2.0
    power_factor: float = 0.95
    flex_price_cap_eur_per_kwh: float = 1.0
    flex_max_rounds: int = 5
    emergency_limitation: bool = False
    three_phase_homes: tuple[str, ...] = ()

    @property
    def steps_per_day(self) -> int:
        """Steps in 24 h."""
        return 86400 // self.step_s

    @property
    def negotiate(self) -> bool:
        """Whether the DSO requests flexibility (control ``dso``) or only validates."""
        return self.control == "dso"

    @property
    def limits(self) -> GridLimits:
        """The operating limits."""
        return GridLimits(self.vm_min_pu, self.vm_max_pu, self.max_loading_percent,
                          self.vuf_max_percent)

    @property
    def congestion(self) -> DsoConfig:
        """Parameters of the day-ahead congestion management."""
        return DsoConfig(price_cap_eur_per_kwh=self.flex_price_cap_eur_per_kwh,
                         max_rounds=self.flex_max_rounds if self.negotiate else 0)
