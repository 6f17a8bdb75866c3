"""Parameters of the homes (population, profiles, CEMS), as the homes' models read them.

:class:`HomesConfig` holds every scenario field the homes' models use, under the scenario's
own attribute names (``cfg.seed``, ``cfg.penetration``...), so that the study layer fills it
with ``HomesConfig.from_attrs(scenario)`` and the homes simulator takes it as
``cfg.to_dict()`` (JSON-serialisable). See ``scenarios/default.toml`` for the meaning and unit
of each field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sims.config import Config
from sims.tariff import Tariff, TouPeriod

__all__ = ["CONTROLLED_LEVELS", "HomesConfig"]

#: Control levels at which the homes with a CEMS are run by it.
CONTROLLED_LEVELS = ("cems", "market", "dso")

#: Fields that do not change the homes drawn or their uncontrolled series (every other field,
#: including any added later, is part of the population's key, HomesConfig.population_key).
NOT_IN_POPULATION = ("control", "tariff", "base_forecast_error", "pv_forecast_error",
                     "replan_every_steps", "cems_workers")


def _default_tariff() -> Tariff:
    return Tariff("flat", (TouPeriod(0, 1440, 0.25),), 0.05)


@dataclass(frozen=True)
class HomesConfig(Config):
    """Everything the homes of a run are drawn from and run by.

    Attributes
    ----------
    seed
        Seed of every random draw (``numpy.random.SeedSequence``).
    start, days, step_s, timezone
        First local day, number of days, step length [s] and time zone of the run.
    control
        Control level (``none``, ``cems``, ``market``, ``dso``); homes with a CEMS are run by
        it from ``cems`` on.
    annual_kwh_mean, annual_kwh_sd
        Log-normal draw of the annual base-load energy [kWh].
    power_factor
        Power factor of base load and heat pump (lagging) [-].
    category_shares
        Share of the homes in each prosumer category.
    penetration
        Share of homes with ``pv``, ``battery``, ``ev``, ``heat_pump``, ``cems``,
        ``smart_appliances``.
    pv_kwp, battery_kwh, heat_pump_kw
        Uniform size draws ``(min, max)`` [kWp], [kWh], [kW].
    battery_kw, battery_efficiency
        Battery power [kW] and round-trip efficiency [-].
    ev_charger_kw
        Charger ratings drawn with equal chance [kW].
    tariff
        The homes' tariff.
    base_forecast_error, pv_forecast_error
        Relative standard deviation of the day-ahead base-load (per home and step) and PV
        (per step, shared) forecast errors [-].
    replan_every_steps
        Rolling re-planning period of the CEMS [steps] (0: never).
    cems_workers
        Processes planning the CEMS homes in parallel (1: in this process, no pool).
    connection_limit_kw
        Import and export limit of every home's connection [kW].
    heat_pump_cop_air, heat_pump_cop_ground
        Uniform COP draws ``(min, max)`` of air- and ground-source heat pumps [-].
    building_time_constant_h
        Uniform draw of a heated building's time constant ``C / H`` [h].
    heat_pump_design_delta_k
        Indoor-outdoor temperature difference a heat pump is sized for [K].
    comfort_band_k
        Pre-heating band above the set point per prosumer category [K].
    ev_three_phase_above_kw, heat_pump_three_phase_above_kw
        EV chargers and heat pumps rated above these [kW] are three-phase, and so is the
        connection of their home (:func:`sims.homes.devices.three_phase_home`); None: every
        charger (heat pump) is single-phase.
    """

    seed: int = 42
    start: dt.date = dt.date(2016, 1, 20)
    days: int = 1
    step_s: int = 900
    timezone: str = "Europe/London"
    control: str = "none"
    annual_kwh_mean: float = 3100.0
    annual_kwh_sd: float = 900.0
    power_factor: float = 0.95
    category_shares: dict[str, float] = field(
        default_factory=lambda: {"flexible": 0.3, "moderate": 0.5, "comfort_first": 0.2})
    penetration: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("pv", "battery", "ev", "heat_pump", "cems",
                                               "smart_appliances"), 0.0))
    pv_kwp: tuple[float, float] = (2.0, 5.0)
    battery_kwh: tuple[float, float] = (5.0, 10.0)
    battery_kw: float = 3.0
    battery_efficiency: float = 0.9
    ev_charger_kw: tuple[float, ...] = (3.7, 11.0)
    heat_pump_kw: tuple[float, float] = (2.0, 4.0)
    tariff: Tariff = field(default_factory=_default_tariff)
    base_forecast_error: float = 0.0
    pv_forecast_error: float = 0.0
    replan_every_steps: int = 0
    cems_workers: int = 1
    connection_limit_kw: float = 23.0
    heat_pump_cop_air: tuple[float, float] = (2.2, 3.0)
    heat_pump_cop_ground: tuple[float, float] = (2.6, 3.4)
    building_time_constant_h: tuple[float, float] = (10.0, 50.0)
    heat_pump_design_delta_k: float = 24.0
    comfort_band_k: dict[str, float] = field(
        default_factory=lambda: {"flexible": 2.0, "moderate": 1.0, "comfort_first": 0.5})
    ev_three_phase_above_kw: float | None = None
    heat_pump_three_phase_above_kw: float | None = None

    @property
    def steps_per_day(self) -> int:
        """Steps in 24 h."""
        return 86400 // self.step_s

    @property
    def n_steps(self) -> int:
        """Steps of the whole run."""
        return self.days * self.steps_per_day

    @property
    def step_h(self) -> float:
        """Step length [h]."""
        return self.step_s / 3600.0

    def population_key(self) -> dict:
        """The fields the homes and their uncontrolled series are drawn from (JSON form)."""
        return {k: v for k, v in self.to_dict().items() if k not in NOT_IN_POPULATION}

    @property
    def controlled(self) -> bool:
        """Whether homes with a CEMS are run by it at this control level."""
        return self.control in CONTROLLED_LEVELS
