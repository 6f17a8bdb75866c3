"""Scenario files: a declarative TOML description of one study, validated before anything runs.

:func:`load_scenario` reads a file, checks every field and raises one
:class:`~testbed.errors.ScenarioError` listing all problems, each as
``<file>: <field>: <what is wrong> (got <value>)``. See ``scenarios/default.toml`` for every field
with its meaning and unit.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sims.homes.profile_data import BASE_PROFILES, EV_PROFILES, HP_PROFILES  # noqa: F401
from sims.tariff import Tariff, TouPeriod  # noqa: F401  (the one tariff type, re-exported)
from testbed.errors import ScenarioError

CONTROL_LEVELS = ("none", "cems", "market", "dso")
IMPLEMENTED_CONTROL_LEVELS = ("none", "cems", "market", "dso")
CATEGORY_NAMES = ("flexible", "moderate", "comfort_first")
VOLTAGE_BANDS = {"uk": (0.94, 1.10), "en50160": (0.90, 1.10)}


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. Build it with :func:`load_scenario` or :func:`parse_scenario`.

    Attributes are grouped as in the TOML file; ``source`` is the file it came from and ``text``
    its content, written verbatim into each run folder.
    """

    name: str
    seed: int
    start: dt.date
    days: int
    step_s: int
    timezone: str
    control: str
    grid_source: str
    n_homes: int
    n_feeders: int
    layout_seed: int
    vm_min_pu: float
    vm_max_pu: float
    max_loading_percent: float
    annual_kwh_mean: float
    annual_kwh_sd: float
    power_factor: float
    penetration: dict[str, float]
    pv_kwp: tuple[float, float]
    battery_kwh: tuple[float, float]
    battery_kw: float
    battery_efficiency: float
    ev_charger_kw: tuple[float, ...]
    heat_pump_kw: tuple[float, float]
    tariff: Tariff
    category_shares: dict[str, float]
    base_forecast_error: float
    pv_forecast_error: float
    replan_every_steps: int
    cems_workers: int
    flex_aggregators: int = 1
    flex_price_cap_eur_per_kwh: float = 1.0
    flex_max_rounds: int = 5
    upgrade_cost_eur: float = 60000.0
    upgrade_lifetime_years: float = 40.0
    discount_rate: float = 0.035
    years_deferred: float = 5.0
    emergency_limitation: bool = False
    heat_pump_cop_air: tuple[float, float] = (2.2, 3.0)
    heat_pump_cop_ground: tuple[float, float] = (2.6, 3.4)
    building_time_constant_h: tuple[float, float] = (10.0, 50.0)
    heat_pump_design_delta_k: float = 24.0
    comfort_band_k: dict[str, float] = field(
        default_factory=lambda: {"flexible": 2.0, "moderate": 1.0, "comfort_first": 0.5})
    connection_limit_kw: float = 23.0
    phases: str = "auto"
    vuf_max_percent: float = 2.0
    ev_three_phase_above_kw: float | None = None
    heat_pump_three_phase_above_kw: float | None = None
    source: Path | None = None
    text: str = field(default="", repr=False)

    @property
    def steps_per_day(self) -> int:
        """Number of steps in 24 h."""
        return 86400 // self.step_s

    @property
    def n_steps(self) -> int:
        """Number of steps of the whole run."""
        return self.days * self.steps_per_day

    @property
    def tz(self) -> ZoneInfo:
        """The scenario's time zone."""
        return ZoneInfo(self.timezone)

    def with_overrides(self, **changes: Any) -> Scenario:
        """Return a copy with some fields replaced, re-validated (used by the CLI options)."""
        new = replace(self, **changes)
        problems = _check_overrides(new)
        if problems:
            raise ScenarioError(problems)
        return new


class _Reader:
    """Reads typed fields from a TOML table, collecting problems instead of raising at once."""

    def __init__(self, data: dict, where: str):
        self.data = data
        self.where = where
        self.problems: list[str] = []
        self.seen: set[str] = set()

    def bad(self, key: str, msg: str, value: Any) -> None:
        self.problems.append(f"{self.where}: {key}: {msg} (got {value!r})")

    def get(self, key: str, default: Any = ...) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is ...:
                    self.problems.append(f"{self.where}: {key}: required field is missing")
                    return None
                return default
            node = node[part]
        self.seen.add(key)
        return node

    def number(self, key: str, default: Any = ..., *, lo: float | None = None,
               hi: float | None = None, integer: bool = False, lo_open: bool = False) -> Any:
        v = self.get(key, default)
        if v is None:
            return None
        ok_type = isinstance(v, int) if integer else isinstance(v, int | float)
        if isinstance(v, bool) or not ok_type:
            self.bad(key, "must be an integer" if integer else "must be a number", v)
            return None
        if v != v or v in (float("inf"), float("-inf")):
            self.bad(key, "must be finite", v)
            return None
        if lo is not None and (v <= lo if lo_open else v < lo):
            self.bad(key, f"must be {'>' if lo_open else '>='} {lo}", v)
            return None
        if hi is not None and v > hi:
            self.bad(key, f"must be <= {hi}", v)
            return None
        return v

    def range_pair(self, key: str, default: Any, *, lo: float = 0.0,
                   lo_open: bool = False) -> tuple[float, float] | None:
        v = self.get(key, default)
        if (not isinstance(v, list | tuple) or len(v) != 2
                or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)):
            self.bad(key, "must be a [min, max] pair of numbers", v)
            return None
        if not all(math.isfinite(x) for x in v):
            self.bad(key, "must be finite", v)
            return None
        if not ((lo < v[0] if lo_open else lo <= v[0]) and v[0] <= v[1]):
            self.bad(key, f"must satisfy {lo} {'<' if lo_open else '<='} min <= max", v)
            return None
        return float(v[0]), float(v[1])

    def string(self, key: str, default: Any = ..., choices: tuple[str, ...] | None = None) -> Any:
        v = self.get(key, default)
        if v is None:
            return None
        if not isinstance(v, str):
            self.bad(key, "must be a string", v)
            return None
        if choices is not None and v not in choices:
            self.bad(key, f"must be one of {', '.join(choices)}", v)
            return None
        return v


def _threshold(r: _Reader, key: str) -> float | None:
    """A device rating above which it is three-phase [kW] (> 0), or ``false``: None."""
    v = r.get(key, False)
    if v is False:
        return None
    if (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
            or v <= 0):
        r.bad(key, "must be a rating > 0 [kW] (devices rated above it are three-phase) or "
              "false (none is)", v)
        return None
    return float(v)


PERIOD_KEYS = {"start", "end", "import_eur_per_kwh"}


def _hhmm(text: Any) -> int | None:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        return None
    try:
        h, m = int(text[:2]), int(text[3:])
    except ValueError:
        return None
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        return None
    return 60 * h + m


def _read_tariff(r: _Reader) -> Tariff | None:
    name = r.string("tariff.name", "tou")
    export = r.number("tariff.export_eur_per_kwh", lo=0.0)
    standing = r.number("tariff.standing_eur_per_day", 0.0, lo=0.0)
    raw = r.get("tariff.periods")
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        r.bad("tariff.periods", "must be a non-empty list of {start, end, import_eur_per_kwh}", raw)
        return None
    periods = []
    for i, p in enumerate(raw):
        key = f"tariff.periods[{i}]"
        if not isinstance(p, dict):
            r.bad(key, "must be a table {start, end, import_eur_per_kwh}", p)
            continue
        for extra in p.keys() - PERIOD_KEYS:
            r.bad(f"{key}.{extra}", "unknown field", p[extra])
        s, e = _hhmm(p.get("start")), _hhmm(p.get("end"))
        price = p.get("import_eur_per_kwh")
        if s is None:
            r.bad(f"{key}.start", "must be a time HH:MM", p.get("start"))
        if e is None:
            r.bad(f"{key}.end", "must be a time HH:MM (24:00 allowed)", p.get("end"))
        if (not isinstance(price, int | float) or isinstance(price, bool)
                or not math.isfinite(price) or price < 0):
            r.bad(f"{key}.import_eur_per_kwh", "must be a number >= 0", price)
            price = None
        if s is not None and e is not None and e <= s:
            r.bad(f"{key}.end", f"must be after start {p.get('start')}", p.get("end"))
        elif s is not None and e is not None and price is not None:
            periods.append(TouPeriod(s, e, float(price)))
    periods.sort(key=lambda p: p.start_min)
    if len(periods) == len(raw):
        spans = ", ".join(f"{p.start_min // 60:02d}:{p.start_min % 60:02d}-"
                          f"{p.end_min // 60:02d}:{p.end_min % 60:02d}" for p in periods)
        covered = 0
        for p in periods:
            if p.start_min != covered:
                r.problems.append(f"{r.where}: tariff.periods: must cover the day without gap "
                                  f"or overlap; problem at {covered // 60:02d}:"
                                  f"{covered % 60:02d} (got {spans})")
                return None
            covered = p.end_min
        if covered != 1440:
            r.problems.append(f"{r.where}: tariff.periods: must end at 24:00 (got {spans})")
            return None
    if name is None or export is None or standing is None or len(periods) != len(raw):
        return None
    return Tariff(name, tuple(periods), float(export), float(standing))


MAX_DAYS = 366  # the profiles are one year (2016); a longer run would only repeat it
MAX_HOMES = 5000  # the reference feeder is one LV feeder (184 homes by default)
FIRST_START, LAST_START = dt.date(1900, 1, 1), dt.date(2200, 12, 31)


def _start_problems(where: str, start: dt.date, timezone: str) -> list[str]:
    """The first day must be representable and begin at an existing, unambiguous midnight."""
    if not FIRST_START <= start <= LAST_START:
        return [f"{where}: start: must be between {FIRST_START} and {LAST_START} (got {start})"]
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return []  # reported with the timezone field
    midnight = dt.datetime.combine(start, dt.time(), tzinfo=tz)
    back = midnight.astimezone(dt.UTC).astimezone(tz)
    if back.replace(tzinfo=None) != midnight.replace(tzinfo=None) or \
            midnight.replace(fold=1).utcoffset() != midnight.utcoffset():
        return [f"{where}: start: local midnight of {start} does not exist or is ambiguous in "
                f"{timezone} (a clock change at midnight); choose another day (got {start})"]
    return []


def _check_overrides(s: Scenario) -> list[str]:
    """Checks of fields the command line can override (days, start, control)."""
    where = str(s.source) if s.source else "<scenario>"
    problems = []
    if not isinstance(s.days, int) or s.days < 1:
        problems.append(f"{where}: days: must be an integer >= 1 (got {s.days!r})")
    elif s.days > MAX_DAYS:
        problems.append(f"{where}: days: must be <= {MAX_DAYS} (got {s.days})")
    elif isinstance(s.start, dt.date):
        problems += _start_problems(where, s.start, s.timezone)
    if s.control not in CONTROL_LEVELS:
        problems.append(f"{where}: control: must be one of {', '.join(CONTROL_LEVELS)} "
                        f"(got {s.control!r})")
    elif s.control not in IMPLEMENTED_CONTROL_LEVELS:
        problems.append(f"{where}: control: level {s.control!r} is not implemented yet; "
                        f"available: {', '.join(IMPLEMENTED_CONTROL_LEVELS)}")
    if s.control in ("cems", "market", "dso"):
        if s.step_s != 900:
            problems.append(f"{where}: step_s: control {s.control!r} needs 900 s steps (the CEMS "
                            f"appliance cycles are at 15 min) (got {s.step_s})")
        if s.control in ("market", "dso") and s.replan_every_steps:
            problems.append(f"{where}: cems.replan_every_steps: must be 0 for control "
                            f"{s.control!r} (a rolling re-plan ignores the aggregator's bands "
                            f"and would undo the market and the DSO's orders) "
                            f"(got {s.replan_every_steps})")
        cheapest = min(p.import_eur_per_kwh for p in s.tariff.periods)
        if s.tariff.export_eur_per_kwh >= cheapest:
            problems.append(f"{where}: tariff.export_eur_per_kwh: must be below every import "
                            f"price ({cheapest}) for control {s.control!r} "
                            f"(got {s.tariff.export_eur_per_kwh})")
    return problems


def parse_scenario(text: str, source: Path | str | None = None) -> Scenario:
    """Parse and validate a scenario from TOML text.

    Parameters
    ----------
    text
        The TOML document.
    source
        File the text came from; named in every error.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Listing every problem found, each naming file, field and value.
    """
    where = str(source) if source is not None else "<scenario>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: not valid TOML ({exc})") from None
    r = _Reader(data, where)

    name = r.string("name", Path(where).stem)
    if name is not None and (not name.strip() or name in (".", "..")
                             or any(c in name for c in '/\\') or not name.isprintable()):
        r.bad("name", "must be a plain name (it names the run folder): not empty, no path "
              "separator or control character", name)
    seed = r.number("seed", integer=True, lo=0)
    start_raw = r.get("start")
    start = None
    if isinstance(start_raw, dt.datetime):
        r.bad("start", "must be a date YYYY-MM-DD without time", start_raw)
    elif isinstance(start_raw, dt.date):
        start = start_raw
    elif isinstance(start_raw, str):
        try:
            start = dt.date.fromisoformat(start_raw)
        except ValueError:
            r.bad("start", "must be a date YYYY-MM-DD", start_raw)
    elif start_raw is not None:
        r.bad("start", "must be a date YYYY-MM-DD", start_raw)
    days = r.number("days", 1, integer=True, lo=1, hi=MAX_DAYS)
    step_s = r.number("step_s", 900, integer=True, lo=0, lo_open=True)
    if step_s is not None and 86400 % step_s:
        r.bad("step_s", "must divide the day (86400 s)", step_s)
        step_s = None
    if step_s is not None and step_s % 60:
        r.bad("step_s", "must be a whole number of minutes", step_s)
        step_s = None
    timezone = r.string("timezone", "Europe/London")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            r.bad("timezone", "unknown time zone", timezone)
            timezone = None
    control = r.string("control", "none", CONTROL_LEVELS)

    grid_source = r.string("grid.source", "reference")
    n_homes = r.number("grid.n_homes", 184, integer=True, lo=1, hi=MAX_HOMES)
    n_feeders = r.number("grid.n_feeders", 5, integer=True, lo=1)
    if n_homes is not None and n_feeders is not None and n_feeders > n_homes:
        r.bad("grid.n_feeders", f"must not exceed grid.n_homes ({n_homes})", n_feeders)
    layout_seed = r.number("grid.layout_seed", 1, integer=True, lo=0)
    # grid.phases: unbalanced | balanced | auto (the default: by the grid, sims.grid.network)
    phases = r.string("grid.phases", "auto", ("unbalanced", "balanced", "auto"))

    band = r.string("limits.voltage_band", "uk", tuple(VOLTAGE_BANDS))
    vmin_d, vmax_d = VOLTAGE_BANDS.get(band or "uk", VOLTAGE_BANDS["uk"])
    vm_min = r.number("limits.vm_min_pu", vmin_d, lo=0.5, hi=1.0)
    vm_max = r.number("limits.vm_max_pu", vmax_d, lo=1.0, hi=1.5)
    if vm_min is not None and vm_max is not None and vm_min >= vm_max:
        r.bad("limits.vm_max_pu", f"must be above limits.vm_min_pu ({vm_min})", vm_max)
    loading = r.number("limits.max_loading_percent", 100.0, lo=0.0, lo_open=True)
    vuf_max = r.number("limits.vuf_max_percent", 2.0, lo=0.0, lo_open=True, hi=100.0)

    annual_mean = r.number("homes.annual_kwh_mean", 3100.0, lo=0.0, lo_open=True)
    annual_sd = r.number("homes.annual_kwh_sd", 900.0, lo=0.0)
    if annual_mean is not None and annual_sd is not None and annual_sd > 10.0 * annual_mean:
        r.bad("homes.annual_kwh_sd", f"must not exceed 10 x homes.annual_kwh_mean "
              f"({10.0 * annual_mean:g}): the log-normal draw would overflow", annual_sd)
    pf = r.number("homes.power_factor", 0.95, lo=0.5, hi=1.0)
    connection_kw = r.number("homes.connection_limit_kw", 23.0, lo=0.0, lo_open=True)

    shares_raw = r.get("homes.categories", {"flexible": 0.3, "moderate": 0.5,
                                            "comfort_first": 0.2})
    category_shares = None
    if (not isinstance(shares_raw, dict) or set(shares_raw) - set(CATEGORY_NAMES)
            or not all(isinstance(v, int | float) and not isinstance(v, bool)
                       and math.isfinite(v) and v >= 0 for v in shares_raw.values())):
        r.bad("homes.categories", f"must be a table of shares >= 0 for "
              f"{', '.join(CATEGORY_NAMES)}", shares_raw)
    elif abs(sum(shares_raw.values()) - 1.0) > 1e-9:
        r.bad("homes.categories", "shares must sum to 1", shares_raw)
    else:
        category_shares = {c: float(shares_raw.get(c, 0.0)) for c in CATEGORY_NAMES}

    penetration = {}
    for dev in ("pv", "battery", "ev", "heat_pump", "cems", "smart_appliances"):
        v = r.number(f"penetration.{dev}", 0.0, lo=0.0, hi=1.0)
        penetration[dev] = float(v) if v is not None else None
    if (step_s is not None and step_s != 900 and penetration["smart_appliances"]
            and control == "none"):  # from cems on, the CEMS's own rule says so
        r.bad("step_s", "smart appliances run 15-min cycles: needs 900 s steps while "
              "penetration.smart_appliances > 0", step_s)
    if (penetration["battery"] is not None and penetration["pv"] is not None
            and penetration["battery"] > penetration["pv"]):
        r.bad("penetration.battery", f"batteries go to PV homes: must not exceed "
              f"penetration.pv ({penetration['pv']})", penetration["battery"])

    pv_kwp = r.range_pair("devices.pv_kwp", [2.0, 5.0])
    battery_kwh = r.range_pair("devices.battery_kwh", [5.0, 10.0], lo_open=True)
    battery_kw = r.number("devices.battery_kw", 3.0, lo=0.0, lo_open=True)
    battery_eff = r.number("devices.battery_efficiency", 0.9, lo=0.0, hi=1.0, lo_open=True)
    chargers = r.get("devices.ev_charger_kw", [3.7, 11.0])
    if (not isinstance(chargers, list) or not chargers
            or any(not isinstance(c, int | float) or isinstance(c, bool) or c not in EV_PROFILES
                   for c in chargers)):
        r.bad("devices.ev_charger_kw", f"must be a non-empty list of charger ratings from "
              f"{sorted(EV_PROFILES)} (the simbench home-charging profiles)", chargers)
        chargers = None
    hp_kw = r.range_pair("devices.heat_pump_kw", [2.0, 4.0])
    cop_air = r.range_pair("devices.heat_pump_cop_air", [2.2, 3.0], lo=1.0)
    cop_ground = r.range_pair("devices.heat_pump_cop_ground", [2.6, 3.4], lo=1.0)
    tau = r.range_pair("devices.building_time_constant_h", [10.0, 50.0])
    if tau is not None and tau[0] <= 0:
        r.bad("devices.building_time_constant_h", "must satisfy 0 < min <= max", list(tau))
        tau = None
    design_dk = r.number("devices.heat_pump_design_delta_k", 24.0, lo=0.0, lo_open=True)
    # chargers and heat pumps rated above these are three-phase (false: none; the module
    # sims.homes.devices.three_phase_home says why 7.4 kW)
    ev3 = _threshold(r, "devices.ev_three_phase_above_kw")
    hp3 = _threshold(r, "devices.heat_pump_three_phase_above_kw")
    band_raw = r.get("homes.comfort_band_k", {"flexible": 2.0, "moderate": 1.0,
                                              "comfort_first": 0.5})
    comfort_band = None
    if (not isinstance(band_raw, dict) or set(band_raw) != set(CATEGORY_NAMES)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 10
                       for v in band_raw.values())):
        r.bad("homes.comfort_band_k", f"must be a table of 0 <= K <= 10 for each of "
              f"{', '.join(CATEGORY_NAMES)}", band_raw)
    else:
        comfort_band = {c: float(band_raw[c]) for c in CATEGORY_NAMES}
    tariff = _read_tariff(r)
    base_err = r.number("forecast.base_error", 0.0, lo=0.0, hi=1.0)
    pv_err = r.number("forecast.pv_error", 0.0, lo=0.0, hi=1.0)
    replan = r.number("cems.replan_every_steps", 0, integer=True, lo=0)
    workers = r.number("cems.workers", 2, integer=True, lo=1, hi=64)
    n_aggs = r.number("flex.aggregators", 1, integer=True, lo=1)
    if n_aggs is not None and n_homes is not None and n_aggs > n_homes:
        r.bad("flex.aggregators", f"must not exceed grid.n_homes ({n_homes})", n_aggs)
    price_cap = r.number("flex.price_cap_eur_per_kwh", 1.0, lo=0.0, lo_open=True)
    max_rounds = r.number("flex.max_rounds", 5, integer=True, lo=1, hi=50)
    upgrade_cost = r.number("flex.upgrade_cost_eur", 60000.0, lo=0.0)
    lifetime = r.number("flex.upgrade_lifetime_years", 40.0, lo=0.0, lo_open=True)
    rate = r.number("flex.discount_rate", 0.035, lo=0.0, hi=1.0)
    deferred = r.number("flex.years_deferred", 5.0, lo=0.0, lo_open=True)
    emergency = r.get("flex.emergency_limitation", False)
    if not isinstance(emergency, bool):
        r.bad("flex.emergency_limitation", "must be true or false", emergency)

    known_tables = {"grid", "limits", "homes", "penetration", "devices", "tariff", "forecast",
                    "cems", "flex"}
    known_top = {"name", "seed", "start", "days", "step_s", "timezone", "control"}
    for key in data:
        if key not in known_tables | known_top:
            r.bad(key, "unknown field", data[key])
    for table in known_tables & set(data):
        if not isinstance(data[table], dict):
            r.bad(table, "must be a table", data[table])
            continue
        for key in data[table]:
            full = f"{table}.{key}"
            if full not in r.seen and full not in ("tariff.periods", "homes.categories",
                                                   "homes.comfort_band_k"):
                r.bad(full, "unknown field", data[table][key])

    if r.problems:
        raise ScenarioError(r.problems)
    scenario = Scenario(
        name=name, seed=seed, start=start, days=days, step_s=step_s, timezone=timezone,
        control=control, grid_source=grid_source, n_homes=n_homes, n_feeders=n_feeders,
        layout_seed=layout_seed, vm_min_pu=float(vm_min), vm_max_pu=float(vm_max),
        max_loading_percent=float(loading), annual_kwh_mean=float(annual_mean),
        annual_kwh_sd=float(annual_sd), power_factor=float(pf), penetration=penetration,
        pv_kwp=pv_kwp, battery_kwh=battery_kwh, battery_kw=float(battery_kw),
        battery_efficiency=float(battery_eff), ev_charger_kw=tuple(float(c) for c in chargers),
        heat_pump_kw=hp_kw, tariff=tariff, category_shares=category_shares,
        base_forecast_error=float(base_err), pv_forecast_error=float(pv_err),
        replan_every_steps=int(replan), cems_workers=int(workers),
        flex_aggregators=int(n_aggs), flex_price_cap_eur_per_kwh=float(price_cap),
        flex_max_rounds=int(max_rounds), upgrade_cost_eur=float(upgrade_cost),
        upgrade_lifetime_years=float(lifetime), discount_rate=float(rate),
        years_deferred=float(deferred), emergency_limitation=bool(emergency),
        heat_pump_cop_air=cop_air, heat_pump_cop_ground=cop_ground,
        building_time_constant_h=tau, heat_pump_design_delta_k=float(design_dk),
        comfort_band_k=comfort_band,
        connection_limit_kw=float(connection_kw), phases=phases,
        vuf_max_percent=float(vuf_max),
        ev_three_phase_above_kw=ev3, heat_pump_three_phase_above_kw=hp3,
        source=Path(source) if source is not None else None, text=text,
    )
    problems = _check_overrides(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path
        A TOML file (see ``scenarios/default.toml``).

    Raises
    ------
    ScenarioError
        If the file is missing or any field is invalid (all problems listed).
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: scenario file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file ({exc})") from None
    return parse_scenario(text, source=path)


DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.toml"


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value)


def scenario_as_run_text(scenario: Scenario) -> str:
    """The scenario's TOML text with its top-level fields set to the values actually run.

    Command-line overrides (``days``, ``start``, ``control``) are written into the text, each
    marked with a comment, so that the ``scenario.toml`` of a run folder reproduces the run.
    """
    import re

    lines = scenario.text.splitlines()
    first_table = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")),
                       len(lines))
    for key in ("start", "days", "control"):
        value = getattr(scenario, key)
        pattern = re.compile(rf"^\s*{key}\s*=")
        new = f"{key} = {_toml_value(value)}"
        for i in range(first_table):
            if pattern.match(lines[i]):
                old = tomllib.loads(lines[i].split("#")[0]).get(key)
                if old != value:
                    lines[i] = f"{new}  # as run (overridden on the command line)"
                break
        else:
            lines.insert(0, f"{new}  # as run (set on the command line)")
            first_table += 1
    return "\n".join(lines) + "\n"
