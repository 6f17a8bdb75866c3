"""Draw the homes of a run (devices, sizes, profiles) and their time series, from the scenario seed.

Every draw comes from ``numpy.random.SeedSequence(scenario.seed)``: one child sequence for the
allocation of technologies over the homes, and one child per home (in home order) for that home's
sizes and profile variations. The same scenario and home ids give the same homes, bit for bit,
whichever process draws them.

Diversity: simbench ships only a few household, EV and heat-pump profiles, and 184 homes on the
same few shapes would peak together unrealistically. Each home therefore takes its household
and EV profile from a day 0, 1, 2 or 3 weeks before or after the matched day (same weekday,
same season) and shifted by up to +-30 min; heat pumps keep the matched day (their demand
follows the day's weather) and are shifted by up to +-1 h (their on/off cycles differ from home
to home). PV is weather-consistent: one irradiance profile for the whole run, scaled by each
home's kWp and a per-home performance factor (orientation, shading) drawn in 0.85-1.0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sims.homes import profile_data
from sims.homes.config import HomesConfig
from sims.homes.devices import Battery, ElectricVehicle, HeatPump, HomeSpec, three_phase_home
from sims.homes.profile_data import BASE_PROFILES, EV_PROFILES, HP_PROFILES


def run_timestamps(scenario: HomesConfig) -> pd.DatetimeIndex:
    """Tz-aware timestamps of every step of a run: local midnight of ``start`` + k * step."""
    start = pd.Timestamp(dt.datetime.combine(scenario.start, dt.time()), tz=scenario.timezone)
    return start + pd.to_timedelta(np.arange(scenario.n_steps) * scenario.step_s, unit="s")


def draw_homes(scenario: HomesConfig, home_ids: list[str], buses: list[int]) -> list[HomeSpec]:
    """Draw every home's devices and sizes from the scenario seed.

    Technologies are allocated to exact shares of the homes (``round(share * n)``), to homes
    drawn at random without replacement; batteries go to PV homes only. A home is three-phase
    when its EV charger or heat pump is rated above the scenario's threshold
    (:func:`sims.homes.devices.three_phase_home`): a rule on the drawn ratings, no draw.

    Parameters
    ----------
    scenario
        The homes' parameters (a :class:`~sims.homes.config.HomesConfig`, or any object with
        its attributes, such as a scenario).
    home_ids, buses
        Home ids and their bus indices, in feeder order.

    Returns
    -------
    list of HomeSpec
        One per home, in the given order.
    """
    n = len(home_ids)
    root = np.random.SeedSequence(scenario.seed)
    alloc_seq, homes_seq = root.spawn(2)
    alloc_rng = np.random.default_rng(alloc_seq)
    pen = scenario.penetration

    def pick(share: float, pool: np.ndarray) -> set[int]:
        k = min(len(pool), round(share * n))
        return set(alloc_rng.choice(pool, size=k, replace=False).tolist()) if k else set()

    everyone = np.arange(n)
    has_pv = pick(pen["pv"], everyone)
    has_battery = pick(pen["battery"], np.array(sorted(has_pv), dtype=int))
    has_ev = pick(pen["ev"], everyone)
    has_hp = pick(pen["heat_pump"], everyone)
    has_cems = pick(pen["cems"], everyone)
    has_smart = pick(pen["smart_appliances"], everyone)  # drawn last: earlier picks unchanged

    mean, sd = scenario.annual_kwh_mean, scenario.annual_kwh_sd
    sigma2 = np.log(1.0 + (sd / mean) ** 2)
    mu = np.log(mean) - sigma2 / 2.0
    specs = []
    for i, (hid, bus, seq) in enumerate(zip(home_ids, buses, homes_seq.spawn(n), strict=True)):
        rng = np.random.default_rng(seq)
        # Draw every variable for every home whatever it owns, so that changing one
        # penetration does not reshuffle the other draws of the same home.
        base_profile = BASE_PROFILES[int(rng.integers(len(BASE_PROFILES)))]
        annual = float(rng.lognormal(mu, np.sqrt(sigma2))) if sd > 0 else mean
        pv_kwp = float(rng.uniform(*scenario.pv_kwp))
        pv_factor = float(rng.uniform(0.85, 1.0))
        bat_kwh = float(rng.uniform(*scenario.battery_kwh))
        charger = float(scenario.ev_charger_kw[int(rng.integers(len(scenario.ev_charger_kw)))])
        ev_profiles = EV_PROFILES[charger]
        ev_profile = ev_profiles[int(rng.integers(len(ev_profiles)))]
        hp_kw = float(rng.uniform(*scenario.heat_pump_kw))
        hp_profile = HP_PROFILES[int(rng.integers(len(HP_PROFILES)))]
        base_day_offset = 7 * int(rng.integers(-3, 4))
        base_step_offset = int(rng.integers(-2, 3))
        ev_day_offset = 7 * int(rng.integers(-3, 4))
        ev_step_offset = int(rng.integers(-2, 3))
        hp_step_offset = int(rng.integers(-4, 5))
        # Drawn after the variables above, so adding them kept the earlier draws unchanged.
        names = list(scenario.category_shares)
        category = names[int(rng.choice(len(names), p=list(scenario.category_shares.values())))]
        # The heat pump's building (issue 13): drawn after everything above, so the earlier
        # draws are unchanged.
        cop_u = float(rng.random())
        tau_h = float(rng.uniform(*scenario.building_time_constant_h))
        building = heat_pump_building(scenario, hp_kw, hp_profile, category, cop_u=cop_u,
                                      tau_h=tau_h)
        ev = ElectricVehicle(charger_kw=charger, profile=ev_profile) if i in has_ev else None
        hp = HeatPump(rated_kw=hp_kw, profile=hp_profile, **building) if i in has_hp else None
        specs.append(HomeSpec(
            home_id=hid,
            bus=int(bus),
            base_profile=base_profile,
            annual_kwh=annual,
            pv_kwp=pv_kwp if i in has_pv else 0.0,
            battery=Battery(capacity_kwh=bat_kwh, power_kw=scenario.battery_kw,
                            efficiency_roundtrip=scenario.battery_efficiency)
            if i in has_battery else None,
            ev=ev,
            heat_pump=hp,
            cems=i in has_cems,
            category=category,
            smart_appliances=i in has_smart,
            power_factor=scenario.power_factor,
            max_import_kw=scenario.connection_limit_kw,
            max_export_kw=scenario.connection_limit_kw,
            extra={"pv_factor": pv_factor, "base_day_offset": base_day_offset,
                   "base_step_offset": base_step_offset, "ev_day_offset": ev_day_offset,
                   "ev_step_offset": ev_step_offset, "hp_step_offset": hp_step_offset},
            # no draw: the ratings drawn above decide (a rule, so every other draw is kept)
            three_phase=three_phase_home(
                ev, hp, getattr(scenario, "ev_three_phase_above_kw", None),
                getattr(scenario, "heat_pump_three_phase_above_kw", None)),
        ))
    return specs


def heat_pump_building(scenario: HomesConfig, rated_kw: float, profile: str, category: str, *,
                       cop_u: float, tau_h: float) -> dict[str, float]:
    """The building a home's heat pump heats, from the home's draws (keyword arguments of
    :class:`sims.homes.devices.HeatPump`).

    - COP: uniform in the scenario's range for the heat pump's source (``Soil_*`` profiles are
      ground-source, the others air-source), from the uniform draw ``cop_u`` in [0, 1).
    - Heat loss coefficient ``H``: the heat pump is sized to the building's design heat loss
      (MCS practice): its heat output at full power, ``rated_kw * COP``, covers ``H`` times
      the design indoor-outdoor difference ``heat_pump_design_delta_k``, so
      ``H = rated_kw * COP / heat_pump_design_delta_k`` [kW/K].
    - Thermal capacity ``C = tau_h * H`` [kWh/K], from the building's time constant ``tau_h``
      (SAP: ``tau = TMP / (3.6 HLP)`` h from the thermal mass parameter and the heat loss
      parameter), drawn in ``building_time_constant_h``.
    - Comfort band: the prosumer category's ``comfort_band_k``.

    Sources and values: ``sims/homes/cems/README.md`` ("Heat pumps and their buildings").
    """
    lo, hi = scenario.heat_pump_cop_ground if profile.startswith("Soil") \
        else scenario.heat_pump_cop_air
    cop = lo + cop_u * (hi - lo)
    loss = rated_kw * cop / scenario.heat_pump_design_delta_k
    return {"cop": cop, "heat_loss_kw_per_k": loss, "capacity_kwh_per_k": tau_h * loss,
            "comfort_band_k": scenario.comfort_band_k[category]}


@dataclass(frozen=True)
class HomeSeries:
    """Uncontrolled time series of all homes over a run, arrays ``[n_steps, n_homes]`` in kW.

    Attributes
    ----------
    base_kw
        Inflexible base load [kW].
    pv_kw
        PV generation [kW] (>= 0; enters the home balance with a minus sign).
    ev_kw
        Uncontrolled EV charging [kW].
    hp_kw
        Heat-pump electrical demand [kW].
    """

    base_kw: np.ndarray
    pv_kw: np.ndarray
    ev_kw: np.ndarray
    hp_kw: np.ndarray


def _series(data: pd.DataFrame, column: str, timestamps: pd.DatetimeIndex, step_s: int,
            day_offset: int = 0, step_offset: int = 0) -> np.ndarray:
    """Profile values per run step: mean of the 15-min rows inside each step (or the row that
    contains the step, for steps shorter than 15 min)."""
    col = data[column].to_numpy()
    sub = max(1, step_s // profile_data.PROFILE_STEP_S)
    acc = np.zeros(len(timestamps))
    for k in range(sub):
        ts = timestamps + pd.Timedelta(seconds=k * profile_data.PROFILE_STEP_S)
        acc += col[profile_data.profile_rows(ts, day_offset, step_offset)]
    return acc / sub


def home_series(scenario: HomesConfig, homes: list[HomeSpec]) -> HomeSeries:
    """Compute every home's uncontrolled base, PV, EV and heat-pump series for the run.

    Parameters
    ----------
    scenario
        The homes' parameters (start, days, step, time zone).
    homes
        Homes from :func:`draw_homes`.
    """
    ts = run_timestamps(scenario)
    names = {profile_data.PV_PROFILE, *BASE_PROFILES}
    names |= {h.ev.profile for h in homes if h.ev} | {h.heat_pump.profile for h in homes
                                                      if h.heat_pump}
    data = profile_data.load_columns(sorted(names))
    annual_sum = {p: float(data[p].sum()) * profile_data.PROFILE_STEP_S / 3600.0
                  for p in BASE_PROFILES}  # [h at peak 1.0]
    pv_unit = _series(data, profile_data.PV_PROFILE, ts, scenario.step_s)
    shape = (len(ts), len(homes))
    base, pv, ev, hp = (np.zeros(shape) for _ in range(4))
    cache: dict[tuple, np.ndarray] = {}

    def cached(column: str, day: int = 0, step: int = 0) -> np.ndarray:
        key = (column, day, step)
        if key not in cache:
            cache[key] = _series(data, column, ts, scenario.step_s, day, step)
        return cache[key]

    for j, h in enumerate(homes):
        x = h.extra
        base[:, j] = (cached(h.base_profile, x["base_day_offset"], x["base_step_offset"])
                      * h.annual_kwh / annual_sum[h.base_profile])
        if h.pv_kwp:
            pv[:, j] = pv_unit * h.pv_kwp * x["pv_factor"]
        if h.ev:
            ev[:, j] = cached(h.ev.profile, x["ev_day_offset"], x["ev_step_offset"]) \
                * h.ev.charger_kw
        if h.heat_pump:
            hp[:, j] = cached(h.heat_pump.profile, 0, x["hp_step_offset"]) * h.heat_pump.rated_kw
    return HomeSeries(base_kw=base, pv_kw=pv, ev_kw=ev, hp_kw=hp)


# Daily use of the deferrable appliances of a home with smart appliances: probability that the
# appliance runs on a given day, and the window its uncontrolled (preferred) start falls in
# [h of the local day]. Typical UK usage: washing machine ~5 cycles a week, dishwasher ~4,
# tumble dryer ~3; starts mostly in the morning or the evening.
APPLIANCE_USE = {
    "washing_machine": (0.7, (7.0, 21.0)),
    "dishwasher": (0.6, (17.0, 22.0)),
    "tumble_dryer": (0.4, (9.0, 21.0)),
}


def day_appliances(scenario: HomesConfig, home_index: int, day: int, steps_per_day: int
                   ) -> list[tuple[str, int]]:
    """The appliance cycles a home with smart appliances runs on a day, with preferred starts.

    Drawn from ``SeedSequence(seed, spawn_key=(2, home_index, day))``: independent of every
    other draw and of the order in which homes and days are asked for.

    Parameters
    ----------
    scenario
        The homes' parameters (seed).
    home_index
        Position of the home in the feeder's home order.
    day
        Day of the run (0-based).
    steps_per_day
        Steps in a day.

    Returns
    -------
    list of (name, preferred start step)
    """
    rng = np.random.default_rng(np.random.SeedSequence(scenario.seed,
                                                       spawn_key=(2, home_index, day)))
    out = []
    step_h = 24.0 / steps_per_day
    for name, (p_day, (h0, h1)) in APPLIANCE_USE.items():
        runs = rng.random() < p_day
        start = int(rng.integers(int(h0 / step_h), int(h1 / step_h)))
        if runs:
            out.append((name, start))
    return out


def forecast_series(scenario: HomesConfig, actual: HomeSeries, day: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Day-ahead forecasts of base load and PV for one day, ``[steps_per_day, n_homes]`` [kW].

    The forecast is the actual value times ``max(0, 1 + error)``: the base-load error is
    drawn per home and step with standard deviation ``forecast.base_error``; the PV error is
    drawn per step and shared by all homes (one weather forecast for the feeder) with standard
    deviation ``forecast.pv_error``. EV sessions and heat-pump energy are taken as known a day
    ahead (plug-in plans and the weather-driven heat demand). Draws come from
    ``SeedSequence(seed, spawn_key=(3, day))``.
    """
    n = scenario.steps_per_day
    rows = slice(day * n, (day + 1) * n)
    base, pv = actual.base_kw[rows], actual.pv_kw[rows]
    rng = np.random.default_rng(np.random.SeedSequence(scenario.seed, spawn_key=(3, day)))
    base_err = rng.standard_normal(base.shape) * scenario.base_forecast_error
    pv_err = rng.standard_normal((n, 1)) * scenario.pv_forecast_error
    return base * np.maximum(0.0, 1.0 + base_err), pv * np.maximum(0.0, 1.0 + pv_err)
