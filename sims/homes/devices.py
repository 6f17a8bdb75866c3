"""Device and home specifications: the sizes a scenario draws for each home.

Plain frozen dataclasses with units in the field names; no behaviour beyond validation helpers.
Powers follow the load convention at the home connection (P > 0 is consumption). Time is in
steps of the run (``step_s`` seconds, 900 s by default) counted from the start of the day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONNECTION_LIMIT_KW = 23.0
"""Default connection limit of a home [kW]: UK 100 A single-phase service cut-out x 230 V."""


@dataclass(frozen=True)
class Battery:
    """A home battery.

    Parameters
    ----------
    capacity_kwh
        Usable energy capacity [kWh].
    power_kw
        Maximum charge and discharge power [kW].
    efficiency_roundtrip
        Round-trip efficiency [-]; split evenly between charging and discharging
        (``sqrt`` each way).
    soc_min, soc_max
        State-of-charge limits as fractions of ``capacity_kwh`` [-].
    soc_init
        State of charge at the start of the day [-]; the CEMS ends the day at the same value.
    """

    capacity_kwh: float
    power_kw: float
    efficiency_roundtrip: float = 0.9
    soc_min: float = 0.1
    soc_max: float = 0.9
    soc_init: float = 0.5


@dataclass(frozen=True)
class ElectricVehicle:
    """A home EV charger; its uncontrolled charging comes from a simbench charging profile.

    Parameters
    ----------
    charger_kw
        Charger rating [kW] (simbench ships 3.7 and 11 kW home-charging profiles).
    profile
        Name of the simbench load profile the uncontrolled charging follows
        (for example ``"HLS_A_3.7"``).
    v2g
        Whether the vehicle may discharge into the home (off by default).
    """

    charger_kw: float
    profile: str
    v2g: bool = False


@dataclass(frozen=True)
class HeatPump:
    """A heat pump and the building it heats.

    Its uncontrolled electrical demand follows a simbench heat-pump profile; a CEMS may move
    it only as far as the building's thermal capacity and the comfort band allow (a
    first-order model, :class:`sims.homes.cems.ThermalStore`). The defaults are typical of a
    UK semi-detached house with an air-source heat pump; a scenario draws them per home
    (:mod:`sims.homes.population`).

    Parameters
    ----------
    rated_kw
        Electrical rating [kW]; the normalised profile is scaled by it.
    profile
        Name of the simbench profile (for example ``"Air_Parallel_1"``).
    cop
        Mean coefficient of performance on the day [-] (heat per kWh of electricity).
    heat_loss_kw_per_k
        The building's heat loss coefficient ``H`` [kW/K].
    capacity_kwh_per_k
        The building's effective thermal capacity ``C`` [kWh/K].
    comfort_band_k
        How far above its set point the CEMS may pre-heat the house [K] (it never lets it
        fall below the set point).
    """

    rated_kw: float
    profile: str
    cop: float = 2.6
    heat_loss_kw_per_k: float = 0.3
    capacity_kwh_per_k: float = 9.0
    comfort_band_k: float = 1.0


@dataclass(frozen=True)
class HomeSpec:
    """Everything fixed about one home for a run.

    Parameters
    ----------
    home_id
        Stable identifier (``"H001"``...), also the name of the home's load in the network.
    bus
        Index of the home's bus in ``net.bus``.
    base_profile
        simbench household profile name for the inflexible base load (``"H0-A"``...).
    annual_kwh
        Annual base-load energy [kWh]; scales the base profile.
    pv_kwp
        Installed PV peak power [kWp]; 0 for none.
    battery, ev, heat_pump
        Devices, ``None`` where the home has none.
    cems
        Whether the home runs a CEMS (used from the CEMS control level on).
    category
        Prosumer category (``"flexible"``, ``"moderate"``, ``"comfort_first"``): how far the
        CEMS may shift its appliances and EV (see :data:`sims.homes.cems.CATEGORIES`).
    smart_appliances
        Whether the home has deferrable appliances (washing machine, dishwasher, tumble
        dryer) whose cycles are drawn per day.
    power_factor
        Power factor of the base load (lagging) [-].
    max_import_kw, max_export_kw
        Connection limits [kW]; the scenario's ``homes.connection_limit_kw`` (default
        :data:`CONNECTION_LIMIT_KW`, a UK 100 A single-phase cut-out at 230 V).
    three_phase
        Whether the home has a three-phase connection (because of a three-phase EV charger or
        heat pump, :func:`three_phase_home`); its whole net power is then balanced over the
        three phases (a third on each) in unbalanced load flows.
    """

    home_id: str
    bus: int
    base_profile: str
    annual_kwh: float
    pv_kwp: float = 0.0
    battery: Battery | None = None
    ev: ElectricVehicle | None = None
    heat_pump: HeatPump | None = None
    cems: bool = False
    category: str = "moderate"
    smart_appliances: bool = False
    power_factor: float = 0.95
    max_import_kw: float = CONNECTION_LIMIT_KW
    max_export_kw: float = CONNECTION_LIMIT_KW
    extra: dict = field(default_factory=dict, compare=False)
    three_phase: bool = False


def three_phase_home(ev: ElectricVehicle | None, heat_pump: HeatPump | None,
                     ev_three_phase_above_kw: float | None,
                     heat_pump_three_phase_above_kw: float | None) -> bool:
    """Whether a home's devices make it a three-phase connection.

    A UK home is supplied on one phase unless a device needs more than a single-phase
    circuit gives: an EV charger rated above ``ev_three_phase_above_kw`` (7.4 kW, 32 A at
    230 V, is the largest single-phase charger: 11 and 22 kW chargers are three-phase) or a
    heat pump rated above ``heat_pump_three_phase_above_kw`` [kW, electrical]. None: no
    device of that kind is three-phase.

    Parameters
    ----------
    ev, heat_pump
        The home's devices (None where it has none).
    ev_three_phase_above_kw, heat_pump_three_phase_above_kw
        Ratings above which the device is three-phase [kW], or None.
    """
    ev3 = (ev is not None and ev_three_phase_above_kw is not None
           and ev.charger_kw > ev_three_phase_above_kw)
    hp3 = (heat_pump is not None and heat_pump_three_phase_above_kw is not None
           and heat_pump.rated_kw > heat_pump_three_phase_above_kw)
    return bool(ev3 or hp3)
