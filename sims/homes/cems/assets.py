"""Inputs of the CEMS: tariff, flexible devices of a home, prosumer categories, power band.

The tariff is the one type of :mod:`sims.tariff` (a CEMS plans with its prices per step of the
day, :meth:`sims.tariff.Tariff.prices`); :func:`tou_tariff` and :func:`tariff_from_periods`
build one.

Plain frozen dataclasses with units in the field names, and the helpers that turn the
uncontrolled profiles of a run (simbench EV charging, heat-pump demand) into the flexible
devices the CEMS schedules. Time is counted in steps of ``step_h`` hours from the start of
the day; step ``t`` covers ``[t * step_h, (t + 1) * step_h)``. Powers follow the load
convention at the home connection (P > 0 is consumption).

The battery, EV charger and heat pump ratings come from :mod:`sims.homes.devices`; this module only
adds what the optimisation needs beyond them (sessions, cycles, daily energies, prices).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sims.homes.devices import Battery, HeatPump, HomeSpec
from sims.tariff import Tariff  # the one tariff type (re-exported)

__all__ = [
    "APPLIANCE_CYCLES",
    "ApplianceCycle",
    "Band",
    "CATEGORIES",
    "CemsInput",
    "EvSession",
    "ProsumerCategory",
    "Tariff",
    "ThermalLoad",
    "ThermalStore",
    "appliance_for_category",
    "ev_sessions_from_profile",
    "heat_pump_store",
    "tariff_from_periods",
    "thermal_from_profile",
    "tou_tariff",
]


def _arr(x, n: int | None = None, name: str = "array") -> np.ndarray:
    """Return ``x`` as a finite 1-D float array (broadcast from a scalar when ``n`` is given)."""
    a = np.asarray(x, dtype=float)
    if a.ndim == 0 and n is not None:
        a = np.full(n, float(a))
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.isfinite(a))[0])
        raise ValueError(f"{name}: value at step {bad} is not finite ({a[bad]})")
    return a


def tou_tariff(
    n_steps: int = 96,
    peak_eur_per_kwh: float = 0.35,
    day_eur_per_kwh: float = 0.25,
    night_eur_per_kwh: float = 0.10,
    export_eur_per_kwh: float = 0.05,
    night_h: tuple[float, float] = (0.0, 7.0),
    peak_h: tuple[float, float] = (16.0, 19.0),
) -> Tariff:
    """A UK-style economy/peak Time-of-Use tariff.

    Parameters
    ----------
    n_steps
        Steps in the day (96 for 15 min).
    peak_eur_per_kwh, day_eur_per_kwh, night_eur_per_kwh
        Import prices in the peak, the rest of the day and the economy night [EUR/kWh].
    export_eur_per_kwh
        Export price [EUR/kWh].
    night_h, peak_h
        (start, end) hours of the economy and peak periods [h].
    """
    step_h = 24.0 / n_steps
    hours = np.arange(n_steps) * step_h
    price = np.full(n_steps, day_eur_per_kwh)
    price[(hours >= night_h[0]) & (hours < night_h[1])] = night_eur_per_kwh
    price[(hours >= peak_h[0]) & (hours < peak_h[1])] = peak_eur_per_kwh
    return Tariff.from_step_prices(price, export_eur_per_kwh, name="tou")


def tariff_from_periods(
    periods: list[dict],
    export_eur_per_kwh: float,
    n_steps: int = 96,
    name: str = "tou",
) -> Tariff:
    """A tariff from periods as a scenario file gives them.

    Parameters
    ----------
    periods
        ``[{"start": "00:00", "end": "07:00", "import_eur_per_kwh": 0.12}, ...]``; together
        they must cover the day without overlap (``"24:00"`` ends the day). A step takes the
        price of the period its start falls in.
    export_eur_per_kwh
        Export price [EUR/kWh].
    n_steps
        Steps in the day.
    name
        Label.
    """

    def minutes(hhmm: str) -> int:
        h, m = str(hhmm).split(":")
        return int(h) * 60 + int(m)

    step_min = 24 * 60 / n_steps
    starts = np.arange(n_steps) * step_min
    price = np.full(n_steps, np.nan)
    for k, per in enumerate(periods):
        a, b = minutes(per["start"]), minutes(per["end"])
        if not 0 <= a < b <= 24 * 60:
            raise ValueError(f"tariff {name!r} period {k}: {per['start']}-{per['end']} invalid")
        sel = (starts >= a) & (starts < b)
        if np.any(~np.isnan(price[sel])):
            raise ValueError(f"tariff {name!r} period {k} overlaps another")
        price[sel] = float(per["import_eur_per_kwh"])
    if np.any(np.isnan(price)):
        t = int(np.flatnonzero(np.isnan(price))[0])
        raise ValueError(f"tariff {name!r}: no period covers step {t} ({starts[t]:.0f} min)")
    return Tariff.from_step_prices(price, float(export_eur_per_kwh), name=name)


@dataclass(frozen=True)
class ApplianceCycle:
    """A deferrable appliance cycle (washing machine, dishwasher, tumble dryer).

    The cycle runs once, uninterrupted, with a fixed power profile, and must start and finish
    inside ``[earliest_start, latest_end)``.

    Parameters
    ----------
    name
        Label (``"washing_machine"``...).
    profile_kw
        Power in each step of the cycle [kW]; its length is the cycle duration in steps.
    earliest_start
        First step the cycle may start in.
    latest_end
        Step by which the cycle must be finished (exclusive): the last allowed start is
        ``latest_end - len(profile_kw)``.
    preferred_start
        Step the prosumer would start it without a CEMS (the uncontrolled schedule).
    """

    name: str
    profile_kw: tuple[float, ...]
    earliest_start: int
    latest_end: int
    preferred_start: int

    @property
    def steps(self) -> int:
        """Cycle duration [steps]."""
        return len(self.profile_kw)

    def energy_kwh(self, step_h: float) -> float:
        """Energy of one cycle [kWh]."""
        return float(sum(self.profile_kw)) * step_h


@dataclass(frozen=True)
class EvSession:
    """One EV plug-in session of the day.

    Parameters
    ----------
    arrival
        First step the EV is plugged in.
    departure
        Step the EV leaves (exclusive): it may charge in ``[arrival, departure)``.
    energy_kwh
        Energy the EV must receive by departure [kWh] (at the charger, AC side).
    v2g_reserve_kwh
        With V2G, how much energy below its arrival level the EV may lend to the home during
        the session [kWh]; ignored without V2G.
    """

    arrival: int
    departure: int
    energy_kwh: float
    v2g_reserve_kwh: float = 0.0


@dataclass(frozen=True)
class ThermalStore:
    """What a heat pump heats: a thermal capacity with losses and a comfort band.

    A first-order (one-node RC) model of the building, written as a deviation from the
    uncontrolled reference. The building obeys ``C dT/dt = Q_hp - H (T - T_out) + gains``.
    Uncontrolled, the heat pump's heat output ``Q_ref = COP * P_ref`` (its profile) holds the
    set point ``T_set`` (that is what the profile is: the heat the building needed that day).
    Subtracting the two equations removes the outdoor temperature and the gains, which we do
    not know: the stored heat ``E = C (T - T_set)`` [kWh] obeys

        ``dE/dt = COP (P - P_ref) - E / tau``,  ``tau = C / H``,

    and over a step of ``dt`` hours with constant power (exact, zero-order hold)

        ``E[t+1] = a E[t] + g (P[t] - P_ref[t])``,  ``a = exp(-dt / tau)``,
        ``g = COP tau (1 - a)``.

    Heating more than the reference stores heat (the house warms) and the extra losses are
    proportional to the deviation ``E``; heating less draws on it. The comfort band keeps the
    indoor temperature within ``[T_set - band_below_k, T_set + band_above_k]``, i.e.
    ``-C band_below_k <= E <= C band_above_k`` at every step boundary (between boundaries ``E``
    moves monotonically, so it stays inside). A hot-water or buffer store fits the same
    equations: ``C`` its capacity [kWh/K], ``H`` its standing loss [kW/K], the band the
    temperature swing between "empty" and "full" around its reference temperature.

    Parameters
    ----------
    capacity_kwh_per_k
        Effective thermal capacity ``C`` [kWh/K] (> 0).
    loss_kw_per_k
        Heat loss coefficient ``H`` [kW/K] (>= 0; 0 for a lossless store).
    cop
        Coefficient of performance: heat delivered per kWh of electricity [-] (> 0).
    band_below_k, band_above_k
        Comfort band below and above the set point [K] (>= 0).
    """

    capacity_kwh_per_k: float
    loss_kw_per_k: float
    cop: float
    band_below_k: float
    band_above_k: float

    @property
    def tau_h(self) -> float:
        """Time constant ``C / H`` [h] (infinite without losses)."""
        return self.capacity_kwh_per_k / self.loss_kw_per_k if self.loss_kw_per_k > 0 else math.inf

    def coefficients(self, step_h: float) -> tuple[float, float]:
        """``(a, g)`` of ``E[t+1] = a E[t] + g (P[t] - P_ref[t])`` for steps of ``step_h`` [h]."""
        if self.loss_kw_per_k <= 0:
            return 1.0, self.cop * step_h
        x = step_h / self.tau_h
        return math.exp(-x), self.cop * self.tau_h * -math.expm1(-x)

    def band_kwh(self) -> tuple[float, float]:
        """Limits of the stored heat ``E`` [kWh]: ``(-C band_below_k, C band_above_k)``."""
        c = self.capacity_kwh_per_k
        return 0.0 - c * self.band_below_k, c * self.band_above_k

    def problems(self) -> list[str]:
        """What is wrong with these numbers, one line each (empty if nothing)."""
        out = []
        for name, v, ok in (
            ("capacity_kwh_per_k", self.capacity_kwh_per_k, lambda x: x > 0),
            ("loss_kw_per_k", self.loss_kw_per_k, lambda x: x >= 0),
            ("cop", self.cop, lambda x: x > 0),
            ("band_below_k", self.band_below_k, lambda x: x >= 0),
            ("band_above_k", self.band_above_k, lambda x: x >= 0),
        ):
            if not (math.isfinite(v) and ok(v)):
                out.append(f"thermal store {name} {v} invalid")
        return out


@dataclass(frozen=True)
class ThermalLoad:
    """A flexible thermal load: a heat pump heating its building, or a water heater.

    With a ``store`` the CEMS may move the load only as far as the store allows: the stored
    heat follows :class:`ThermalStore`'s dynamics and must stay inside the comfort band at
    every step boundary. The day is periodic: it ends with the heat it started with (like a
    typical day in a sequence of similar days, or the cyclic storage condition of typical-
    period models), so the CEMS may start the day below the set point and heat at night, but
    never gains or owes heat across midnight; the uncontrolled reference (stored heat 0 all
    day) is always feasible. Without a store (``store=None``), the store is ideal, lossless
    and unbounded: only the daily energy is kept (the load may pause at any step); fit for a
    water heater with a large cylinder, not for a building.

    Parameters
    ----------
    rated_kw
        Electrical rating [kW].
    energy_kwh
        Electrical energy of the reference over the day [kWh].
    reference_kw
        Its uncontrolled demand per step [kW] (what it would draw without a CEMS), or
        ``None`` for "run at rated power from the start of the day until done".
    store
        The thermal store (building) it heats; ``None`` for the ideal store.
    initial_kwh
        Stored heat relative to the reference at the start of the plan (at
        ``CemsInput.start_step``) [kWh of heat; electrical kWh for the ideal store]: 0 at
        the set point. ``None``: the plan chooses it within the band (the ideal store starts
        at 0). The next day of a run passes the state the day before ended in; a rolling
        re-plan the actual state.
    end_kwh
        Stored heat required at the end of the day [kWh]; ``None``: the day's starting heat
        (``initial_kwh``, or the plan's choice). Needs ``initial_kwh``.
    """

    rated_kw: float
    energy_kwh: float
    reference_kw: np.ndarray | None = None
    store: ThermalStore | None = None
    initial_kwh: float | None = None
    end_kwh: float | None = None

    def coefficients(self, step_h: float) -> tuple[float, float]:
        """``(a, g)`` of the stored heat's step equation (``(1, step_h)`` for the ideal store)."""
        return (1.0, step_h) if self.store is None else self.store.coefficients(step_h)

    def band_kwh(self) -> tuple[float, float]:
        """Limits of the stored heat [kWh] (``(-inf, inf)`` for the ideal store)."""
        return (-math.inf, math.inf) if self.store is None else self.store.band_kwh()

    def state_kwh(
        self,
        thermal_kw: np.ndarray,
        reference_kw: np.ndarray,
        step_h: float,
        start_step: int = 0,
        initial_kwh: float | None = None,
    ) -> np.ndarray:
        """Stored heat at every step boundary for a schedule [kWh], ``n + 1`` values.

        Parameters
        ----------
        thermal_kw, reference_kw
            Electrical power of the schedule and of the reference per step [kW].
        step_h
            Step length [h].
        start_step
            The state is the initial one at this boundary and at every one before it.
        initial_kwh
            The initial state; ``None`` takes ``self.initial_kwh`` (0 if that is ``None``).
        """
        p = np.asarray(thermal_kw, dtype=float)
        ref = np.asarray(reference_kw, dtype=float)
        a, g = self.coefficients(step_h)
        e = np.empty(p.size + 1)
        if initial_kwh is None:
            initial_kwh = 0.0 if self.initial_kwh is None else self.initial_kwh
        e[: start_step + 1] = initial_kwh
        for t in range(start_step, p.size):
            e[t + 1] = a * e[t] + g * (p[t] - ref[t])
        return e


def heat_pump_store(hp: HeatPump) -> ThermalStore:
    """The building a home's heat pump heats, from its specification.

    The set point is the household's floor: the CEMS may pre-heat the house up to
    ``hp.comfort_band_k`` above it and let it cool back, never below it (``band_below_k = 0``),
    so it never saves by running the house colder than the uncontrolled home.
    """
    return ThermalStore(
        capacity_kwh_per_k=hp.capacity_kwh_per_k,
        loss_kw_per_k=hp.heat_loss_kw_per_k,
        cop=hp.cop,
        band_below_k=0.0,
        band_above_k=hp.comfort_band_k,
    )


@dataclass(frozen=True)
class ProsumerCategory:
    """How much a prosumer lets the CEMS move things (the behaviour classes of the study).

    Parameters
    ----------
    name
        ``"flexible"``, ``"moderate"`` or ``"comfort_first"``.
    shift_before_h, shift_after_h
        How far an appliance cycle may start before / after its preferred start [h].
    ev_plug_extension_h
        How long the EV stays plugged after its uncontrolled charging ends [h].
    willingness_eur_per_kwh
        Discomfort cost the CEMS charges itself per kWh moved away from the uncontrolled
        schedule [EUR/kWh]; it is in the objective, never in the bill. A small positive
        value also breaks ties towards the uncontrolled schedule (a flat tariff moves
        nothing).
    """

    name: str
    shift_before_h: float
    shift_after_h: float
    ev_plug_extension_h: float
    willingness_eur_per_kwh: float


CATEGORIES: dict[str, ProsumerCategory] = {
    "flexible": ProsumerCategory("flexible", 6.0, 12.0, 10.0, 1e-4),
    "moderate": ProsumerCategory("moderate", 2.0, 6.0, 4.0, 0.01),
    "comfort_first": ProsumerCategory("comfort_first", 0.0, 2.0, 1.0, 0.05),
}


APPLIANCE_CYCLES: dict[str, tuple[float, ...]] = {
    # Typical cycles at 15-min resolution [kW]: a heating phase, then motors and pumps (our
    # own simplified shapes with energies of 1.1, 1.95 and 3.15 kWh per cycle).
    "washing_machine": (2.0, 0.3, 0.3, 0.3, 0.3, 0.5, 0.5, 0.2),
    "dishwasher": (1.9, 1.9, 0.1, 0.1, 0.1, 1.8, 1.8, 0.1),
    "tumble_dryer": (2.4, 2.4, 2.4, 2.4, 2.0, 1.0),
}
"""Deferrable appliance cycles per 15-min step [kW], by name."""


def appliance_for_category(
    name: str,
    profile_kw: tuple[float, ...],
    preferred_start: int,
    category: ProsumerCategory,
    step_h: float = 0.25,
    n_steps: int = 96,
) -> ApplianceCycle:
    """An appliance cycle whose shifting window is set by the prosumer's category.

    The window opens ``category.shift_before_h`` before the preferred start and closes
    ``category.shift_after_h`` after the preferred end, clipped to the day.

    Parameters
    ----------
    name
        Label of the appliance.
    profile_kw
        Power in each step of the cycle [kW].
    preferred_start
        Step the prosumer would start it (moved earlier if the cycle would pass midnight).
    category
        The prosumer's category.
    step_h
        Step length [h].
    n_steps
        Steps in the day.
    """
    steps = len(profile_kw)
    pref = max(0, min(int(preferred_start), n_steps - steps))
    first = max(0, pref - int(round(category.shift_before_h / step_h)))
    end = min(n_steps, pref + steps + int(round(category.shift_after_h / step_h)))
    return ApplianceCycle(name, tuple(float(x) for x in profile_kw), first, end, pref)


@dataclass(frozen=True)
class Band:
    """An external power band on the home's net power (from the aggregator or the DSO).

    The band is soft: the CEMS pays ``penalty_eur_per_kwh`` for every kWh outside it, so a
    request the home cannot meet still gives a schedule, with the violation reported.

    Parameters
    ----------
    min_kw, max_kw
        Lower and upper limit of the net power per step [kW]; ``-inf`` / ``inf`` where free.
    penalty_eur_per_kwh
        Cost of leaving the band [EUR/kWh].
    """

    min_kw: np.ndarray
    max_kw: np.ndarray
    penalty_eur_per_kwh: float = 5.0


@dataclass(frozen=True)
class CemsInput:
    """Everything one home's CEMS needs to plan a day.

    Parameters
    ----------
    home
        The home (connection limits, battery, EV charger rating and V2G flag).
    base_kw
        Forecast of the inflexible base load per step [kW].
    pv_kw
        Forecast of the PV output per step [kW] (>= 0).
    tariff
        Import and export prices.
    step_h
        Step length [h].
    ev_sessions
        The EV's plug-in sessions of the day (disjoint, in time order).
    appliances
        Deferrable appliance cycles.
    thermal
        The interruptible thermal load, if any.
    category
        Prosumer category (its willingness enters the objective).
    soc_init
        Battery state of charge at the start [-]; ``None`` uses ``home.battery.soc_init``.
    soc_end
        Battery state of charge required at the end [-]; ``None`` means "as at the start".
    ev_reference_kw
        The EV's uncontrolled charging per step [kW] (for example the simbench profile the
        sessions were derived from); ``None`` means "full power from arrival".
    start_step
        Steps before this one are in the past (a rolling re-plan): the battery, PV
        curtailment, EV and thermal load do not act there, and the battery is at
        ``soc_init`` at the start of this step. The caller gives the remaining EV and thermal
        energies and fixes the appliances already started (see :mod:`sims.homes.cems.operate`).
    """

    home: HomeSpec
    base_kw: np.ndarray
    pv_kw: np.ndarray
    tariff: Tariff
    step_h: float = 0.25
    ev_sessions: tuple[EvSession, ...] = ()
    appliances: tuple[ApplianceCycle, ...] = ()
    thermal: ThermalLoad | None = None
    category: ProsumerCategory = field(default_factory=lambda: CATEGORIES["moderate"])
    soc_init: float | None = None
    soc_end: float | None = None
    ev_reference_kw: np.ndarray | None = None
    start_step: int = 0

    @property
    def n_steps(self) -> int:
        """Steps in the horizon."""
        return int(np.asarray(self.base_kw).size)

    @property
    def battery(self) -> Battery | None:
        """The home's battery, if any."""
        return self.home.battery

    def problems(self) -> list[str]:
        """Every reason this input cannot be planned, one line each (empty if none).

        These are the requests no schedule can meet (an EV needing more than its charger can
        deliver, a cycle longer than its window, base load above the import limit...); the
        planner answers them with the flagged fallback instead of calling the solver.
        """
        out: list[str] = []
        hid = self.home.home_id
        n = self.n_steps
        dt = self.step_h
        try:
            base = _arr(self.base_kw, None, "base_kw")
            pv = _arr(self.pv_kw, None, "pv_kw")
            imp, exp = self.tariff.prices(n)
        except ValueError as e:
            return [f"{hid}: {e}"]
        if pv.size != n:
            out.append(f"{hid}: pv_kw has {pv.size} steps, base_kw {n}")
            return out
        if np.any(pv < 0):
            out.append(f"{hid}: pv_kw negative at step {int(np.argmin(pv))}")
        if np.any(imp <= exp):
            t = int(np.flatnonzero(imp <= exp)[0])
            out.append(f"{hid}: tariff import price {imp[t]} <= export price {exp[t]} at step {t}")
        if pv.size == n and np.all(pv >= 0):
            why = _base_load_problem(self, base, pv)
            if why:
                out.append(f"{hid}: {why}")
        ev = self.home.ev
        last_dep = 0
        for k, s in enumerate(self.ev_sessions):
            if ev is None:
                out.append(f"{hid}: EV session {k} but the home has no EV")
                break
            if not (0 <= s.arrival < s.departure <= n) or s.arrival < last_dep:
                out.append(
                    f"{hid}: EV session {k} window [{s.arrival}, {s.departure}) invalid "
                    f"or overlapping (day has {n} steps)"
                )
                continue
            last_dep = s.departure
            cap = ev.charger_kw * (s.departure - max(s.arrival, self.start_step)) * dt
            if s.energy_kwh > cap + 1e-9:
                out.append(
                    f"{hid}: EV session {k} needs {s.energy_kwh:.2f} kWh but the "
                    f"{ev.charger_kw} kW charger can deliver at most {cap:.2f} kWh between "
                    f"steps {s.arrival} and {s.departure}"
                )
            if s.energy_kwh < 0:
                out.append(f"{hid}: EV session {k} energy {s.energy_kwh} kWh < 0")
        for a in self.appliances:
            if a.steps == 0:
                out.append(f"{hid}: appliance {a.name!r} has an empty cycle")
                continue
            if a.earliest_start < 0 or a.latest_end > n:
                out.append(
                    f"{hid}: appliance {a.name!r} window [{a.earliest_start}, {a.latest_end})"
                    f" outside the day of {n} steps"
                )
            elif a.latest_end - a.earliest_start < a.steps:
                out.append(
                    f"{hid}: appliance {a.name!r} cycle of {a.steps} steps does not fit its "
                    f"window [{a.earliest_start}, {a.latest_end})"
                )
            if min(a.profile_kw) < 0:
                out.append(f"{hid}: appliance {a.name!r} has negative power in its cycle")
        th = self.thermal
        if th is not None:
            most = th.rated_kw * (n - self.start_step) * dt
            if th.store is None and th.energy_kwh > most + 1e-9:
                out.append(
                    f"{hid}: thermal load needs {th.energy_kwh:.2f} kWh but its {th.rated_kw}"
                    f" kW rating gives at most {most:.2f} kWh in the day"
                )
            if th.energy_kwh < 0:
                out.append(f"{hid}: thermal energy {th.energy_kwh} kWh < 0")
            if th.reference_kw is not None:
                ref = np.asarray(th.reference_kw, dtype=float)
                if ref.shape != (n,) or not np.all(np.isfinite(ref)):
                    out.append(f"{hid}: thermal reference_kw must be {n} finite values")
                elif self.start_step == 0 and abs(ref.sum() * dt - th.energy_kwh) > 1e-6 * max(
                    1.0, th.energy_kwh
                ):
                    out.append(
                        f"{hid}: thermal energy_kwh {th.energy_kwh:.3f} is not its reference's "
                        f"{ref.sum() * dt:.3f} kWh"
                    )
                elif np.any(ref > th.rated_kw + 1e-9):
                    t = int(np.argmax(ref))
                    out.append(
                        f"{hid}: thermal reference {ref[t]:.2f} kW above its rating "
                        f"{th.rated_kw} kW at step {t}"
                    )
            if th.store is not None:
                out += [f"{hid}: {p}" for p in th.store.problems()]
                lo, hi = th.band_kwh()
                for what, v in (("starts", th.initial_kwh), ("must end", th.end_kwh)):
                    if v is not None and not (lo - 1e-6 <= v <= hi + 1e-6):
                        out.append(
                            f"{hid}: thermal store {what} at {v:.3f} kWh, outside its comfort "
                            f"band [{lo:.3f}, {hi:.3f}] kWh"
                        )
            if th.initial_kwh is None and (th.end_kwh is not None or self.start_step > 0):
                out.append(f"{hid}: thermal initial_kwh needed with end_kwh or start_step > 0")
        if not 0 <= self.start_step < n:
            out.append(f"{hid}: start_step {self.start_step} outside the day of {n} steps")
        for k, s in enumerate(self.ev_sessions):
            if s.energy_kwh > 1e-9 and s.departure <= self.start_step:
                out.append(f"{hid}: EV session {k} departs before start_step with energy due")
        b = self.battery
        if b is not None:
            if not (0.0 <= b.soc_min <= b.soc_max <= 1.0) or not (
                0.0 < b.efficiency_roundtrip <= 1.0
            ):
                out.append(
                    f"{hid}: battery limits soc_min {b.soc_min}, soc_max {b.soc_max}, "
                    f"efficiency {b.efficiency_roundtrip} not within 0 <= min <= max <= 1, "
                    f"0 < efficiency <= 1"
                )
            start = b.soc_init if self.soc_init is None else self.soc_init
            if not (b.soc_min - 1e-9 <= start <= b.soc_max + 1e-9):
                out.append(
                    f"{hid}: battery starts at SoC {start} outside [{b.soc_min}, {b.soc_max}]"
                )
            for nm, v in (("soc_end", self.soc_end),):
                if v is not None and not (b.soc_min - 1e-9 <= v <= b.soc_max + 1e-9):
                    out.append(f"{hid}: battery {nm} {v} outside [{b.soc_min}, {b.soc_max}]")
        return out


def _base_load_problem(inp: CemsInput, base: np.ndarray, pv: np.ndarray) -> str:
    """Why no schedule can serve the base load within the connection limits ('' if one can).

    Exact for the inflexible part of the home: with the EV, the appliance cycles and the
    thermal load at zero (they can only add demand), the battery power ``b`` must keep
    ``base - pv + curtailment + b`` within ``[-max_export, max_import]``, i.e. ``b`` in
    ``[max(-P, -max_export - base), min(P, max_import - base + pv)]`` per step (curtailing all
    PV widens the lower end). The battery's reachable energies form an interval at every step
    boundary; it is propagated step by step (the lowest energy change allows simultaneous
    charge and discharge, as the day model does) and must contain ``soc_end`` at the end.
    A home without a battery fails wherever base minus PV exceeds the max import. So the same
    impossible base load gives the same answer, ``invalid_input``, with or without a battery.
    """
    home = inp.home
    over = base - pv - home.max_import_kw
    if not np.any(over > 1e-9):
        return ""
    t_over = int(np.argmax(over))
    what = (
        f"base load {base[t_over]:.2f} kW minus PV exceeds max import {home.max_import_kw} kW "
        f"at step {t_over}"
    )
    b = inp.battery
    if b is None or b.capacity_kwh <= 0:
        return what
    s0 = b.soc_init if inp.soc_init is None else inp.soc_init
    s1 = s0 if inp.soc_end is None else inp.soc_end
    if not (0.0 < b.efficiency_roundtrip <= 1.0 and 0.0 <= b.soc_min <= s0 <= b.soc_max <= 1.0
            and b.soc_min <= s1 <= b.soc_max):
        return ""  # the battery's own problem is reported instead
    dt, cap, pmax = inp.step_h, b.capacity_kwh, b.power_kw
    eta = math.sqrt(b.efficiency_roundtrip)
    emin, emax = b.soc_min * cap, b.soc_max * cap
    lo = hi = s0 * cap
    cannot = f"{what}, and the battery ({pmax} kW, {cap:.2f} kWh from SoC {s0:.3f}) cannot cover it"
    for t in range(inp.start_step, inp.n_steps):
        p_lo = max(-pmax, -home.max_export_kw - base[t])
        p_hi = min(pmax, home.max_import_kw - base[t] + pv[t])
        if p_lo > p_hi + 1e-9:
            return cannot
        d_hi = dt * (eta * p_hi if p_hi >= 0 else p_hi / eta)
        d_lo = dt * (eta * p_lo + (eta - 1.0 / eta) * (pmax - max(p_lo, 0.0)))
        lo, hi = max(emin, lo + d_lo), min(emax, hi + d_hi)
        if lo > hi + 1e-9:
            return cannot
    if not (lo - 1e-9 <= s1 * cap <= hi + 1e-9):
        return cannot
    return ""


def ev_sessions_from_profile(
    ev_kw: np.ndarray,
    step_h: float = 0.25,
    plug_extension_h: float = 4.0,
    merge_gap_h: float = 1.0,
    v2g_reserve_kwh: float = 0.0,
) -> tuple[EvSession, ...]:
    """Derive the EV's plug-in sessions from its uncontrolled charging profile.

    A session is a run of steps with charging power > 0; runs separated by at most
    ``merge_gap_h`` are one session. Arrival is the first charging step, the energy is what
    the uncontrolled profile delivered, and departure is the step after the last charging
    step extended by ``plug_extension_h`` (the car stays plugged after it is full), capped at
    the next session's arrival and at the end of the day.

    Parameters
    ----------
    ev_kw
        Uncontrolled charging power per step [kW] (for example a simbench EV profile
        scaled by the charger rating).
    step_h
        Step length [h].
    plug_extension_h
        Extra plugged-in time after charging ends [h] (from the prosumer category).
    merge_gap_h
        Gaps up to this length do not split a session [h].
    v2g_reserve_kwh
        Passed to every session.

    Returns
    -------
    tuple of EvSession
        In time order; empty if the EV never charges.
    """
    p = np.clip(_arr(ev_kw, None, "ev_kw"), 0.0, None)
    n = p.size
    on = np.flatnonzero(p > 1e-9)
    if on.size == 0:
        return ()
    gap = max(0, int(round(merge_gap_h / step_h)))
    runs: list[list[int]] = [[int(on[0]), int(on[0])]]
    for t in on[1:]:
        if t - runs[-1][1] - 1 <= gap:
            runs[-1][1] = int(t)
        else:
            runs.append([int(t), int(t)])
    ext = max(0, int(round(plug_extension_h / step_h)))
    out = []
    for k, (a, b) in enumerate(runs):
        nxt = runs[k + 1][0] if k + 1 < len(runs) else n
        dep = min(b + 1 + ext, nxt, n)
        out.append(EvSession(a, dep, float(p[a : b + 1].sum() * step_h), v2g_reserve_kwh))
    return tuple(out)


def thermal_from_profile(
    load_kw: np.ndarray,
    rated_kw: float | None = None,
    step_h: float = 0.25,
    store: ThermalStore | None = None,
    initial_kwh: float | None = None,
) -> ThermalLoad:
    """A thermal load whose reference is its uncontrolled profile.

    Parameters
    ----------
    load_kw
        Uncontrolled electrical demand per step [kW] (heat pump or water heater).
    rated_kw
        Electrical rating [kW]; ``None`` takes the profile's maximum.
    step_h
        Step length [h].
    store
        The building or store it heats (:func:`heat_pump_store` for a home's heat pump);
        ``None`` for the ideal store (daily energy only).
    initial_kwh
        Stored heat at the start of the day [kWh] (``None``: the plan chooses; see
        :class:`ThermalLoad`).
    """
    p = np.clip(_arr(load_kw, None, "thermal load_kw"), 0.0, None)
    rated = float(p.max()) if rated_kw is None else float(rated_kw)
    rated = max(rated, float(p.max()))
    return ThermalLoad(rated, float(p.sum() * step_h), p.copy(), store, initial_kwh)
