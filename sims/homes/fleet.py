"""All homes of a run behind their meters: uncontrolled homes and homes run by their CEMS.

A model without mosaik (the home simulator is a thin adapter over it). Each day:

1. **Plan** (at the first step of the day, control level ``cems`` and above): every home with
   a CEMS plans its day from day-ahead forecasts (:func:`sims.homes.population.forecast_series`),
   its EV sessions and heat-pump demand (derived from its uncontrolled profiles of the day;
   the heat pump may move only as far as its building's comfort band allows),
   its appliance cycles of the day, the ToU tariff, and its battery's current state of
   charge. To compare bills like for like, the plan ends the day at the state of charge the
   uncontrolled home would reach (:func:`sims.homes.cems.fallback.end_soc`). A home whose plan
   fails runs the flagged uncontrolled fallback; the fallbacks are counted in the results.
2. **Operate** (every step): a CEMS home follows its plan with the actual base load and PV,
   its battery absorbing the forecast error (:class:`sims.homes.cems.Operator`); every other home
   runs uncontrolled (:class:`sims.homes.home_model.HomeModel`), its appliance cycles starting at
   their preferred time.

Homes without a CEMS, and every home at control level ``none``, behave identically in all
runs of a scenario, so runs at different control levels differ only by what the CEMS did.

The fleet exchanges its day-ahead data as JSON-friendly messages (:mod:`sims.serial`), so that
aggregators and the DSO can run in other processes: :meth:`HomeFleet.plans_message` (every
CEMS home's input and plan, for the aggregators), :meth:`HomeFleet.unmanaged_message` (the
forecast of the homes no aggregator manages, for the DSO) and :meth:`HomeFleet.adopt_message`
(the plans the aggregators send back).

Arrays of :meth:`HomeFleet.step` hold one value per home in feeder order (the order of
``homes``).

Three-phase homes (:attr:`sims.homes.devices.HomeSpec.three_phase`: a three-phase EV charger
or heat pump): ``p3_kw``, ``q3_kvar`` are the part of ``p_kw``, ``q_kvar`` drawn on three
phases, a third on each (the grid simulator's inputs of the same names). A three-phase home's
whole net power is three-phase (its installer spreads its single-phase circuits over the
phases); every other home's is 0.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from sims.homes.cems import (
    APPLIANCE_CYCLES,
    CATEGORIES,
    CemsInput,
    Operator,
    Plan,
    appliance_for_category,
    ev_sessions_from_profile,
    heat_pump_store,
    plan_day,
    thermal_from_profile,
)
from sims.homes.cems.fallback import end_soc
from sims.homes.config import CONTROLLED_LEVELS, HomesConfig
from sims.homes.devices import HomeSpec
from sims.homes.home_model import HomeModel
from sims.homes.planning import POOL_MIN_HOMES, cems_pool
from sims.homes.population import (
    HomeSeries,
    day_appliances,
    draw_homes,
    forecast_series,
    home_series,
    run_timestamps,
)
from sims.registry import content_key, shared
from sims.serial import from_jsonable, to_jsonable
from sims.tariff import Tariff

OUTPUTS = ("p_kw", "q_kvar", "base_kw", "pv_kw", "ev_kw", "hp_kw", "appliance_kw",
           "battery_kw", "soc", "controlled", "fallback", "limited_kw", "p3_kw", "q3_kvar")


def population(cfg: HomesConfig, home_ids: list[str], buses: list[int]
               ) -> tuple[list[HomeSpec], HomeSeries]:
    """The homes of a run and their uncontrolled series, drawn once per process.

    Shared through :mod:`sims.registry` (read-only): the homes simulator, the profiles
    simulator and the study layer of one process draw them once, and runs of the same
    scenario at other control levels reuse them (:meth:`HomesConfig.population_key`).

    Parameters
    ----------
    cfg
        The homes' parameters.
    home_ids, buses
        Home ids and their bus indices, in feeder order.
    """
    key = content_key("homes", cfg.population_key(), list(home_ids), [int(b) for b in buses])

    def build():
        specs = draw_homes(cfg, list(home_ids), list(buses))
        return specs, home_series(cfg, specs)

    return shared("homes", key, build)


@dataclass
class DayPlans:
    """The CEMS plans of one day, by home position (``None`` for homes without a plan)."""

    day: int
    inputs: dict[int, CemsInput]
    plans: dict[int, Plan]


class HomeFleet:
    """Every home of a run; steps all of them at once.

    Parameters
    ----------
    cfg
        The homes' parameters (control level, tariff, forecasts, seed).
    homes
        The homes, in feeder order.
    series
        Their uncontrolled device series over the whole run (the actual values).
    """

    def __init__(self, cfg: HomesConfig, homes: list[HomeSpec], series: HomeSeries):
        self.cfg = cfg
        self.homes = homes
        self.series = series
        self.n = len(homes)
        self.spd = cfg.steps_per_day
        self.step_h = cfg.step_s / 3600.0
        self.uncontrolled = [HomeModel(h, cfg.step_s) for h in homes]
        self.with_battery = [i for i, h in enumerate(homes) if h.battery is not None]
        self.position = {h.home_id: i for i, h in enumerate(homes)}
        self._day_started: int | None = None
        self.cems_homes = [i for i, h in enumerate(homes)
                           if h.cems and cfg.control in CONTROLLED_LEVELS]
        self.tan_phi = np.array([math.tan(math.acos(h.power_factor)) for h in homes])
        self.three_phase = np.array([i for i, h in enumerate(homes) if h.three_phase],
                                    dtype=np.int64)
        self.timestamps = run_timestamps(cfg)
        self.operators: dict[int, Operator] = {}
        self.appliance_kw = np.zeros((self.spd, self.n))
        self.day_plans: DayPlans | None = None
        self.plan_log: list[dict] = []
        self.adopted: dict[int, set[int]] = {}

    # ------------------------------------------------------------------ planning
    def _appliances_of_day(self, i: int, day: int) -> list[tuple[str, int]]:
        if not self.homes[i].smart_appliances:
            return []
        return day_appliances(self.cfg, i, day, self.spd)

    def cems_inputs(self, day: int) -> dict[int, CemsInput]:
        """The CEMS input of every CEMS home for a day (forecasts, devices, tariff, SoC)."""
        rows = slice(day * self.spd, (day + 1) * self.spd)
        base_fc, pv_fc = forecast_series(self.cfg, self.series, day)
        tariff = self.cfg.tariff.for_times(self.timestamps[rows])
        inputs = {}
        for i in self.cems_homes:
            h = self.homes[i]
            cat = CATEGORIES[h.category]
            ev = self.series.ev_kw[rows, i]
            hp = self.series.hp_kw[rows, i]
            apps = tuple(appliance_for_category(name, APPLIANCE_CYCLES[name], start, cat,
                                                self.step_h, self.spd)
                         for name, start in self._appliances_of_day(i, day))
            soc = self.soc_of(i)
            inp = CemsInput(
                home=h, base_kw=base_fc[:, i], pv_kw=pv_fc[:, i], tariff=tariff,
                step_h=self.step_h,
                ev_sessions=ev_sessions_from_profile(ev, self.step_h, cat.ev_plug_extension_h)
                if h.ev else (),
                ev_reference_kw=ev if h.ev else None,
                appliances=apps,
                thermal=thermal_from_profile(hp, h.heat_pump.rated_kw, self.step_h,
                                             store=heat_pump_store(h.heat_pump),
                                             initial_kwh=self.thermal_state_of(i))
                if h.heat_pump and hp.sum() > 0 else None,
                category=cat, soc_init=soc if h.battery else None,
            )
            if h.battery:
                inp = replace(inp, soc_end=end_soc(inp))
            inputs[i] = inp
        return inputs

    def soc_of(self, i: int) -> float:
        """Current battery state of charge of home ``i`` [-] (0 without battery)."""
        if i in self.operators:
            op = self.operators[i]
            return op.soc_kwh / self.homes[i].battery.capacity_kwh if op.has_battery else 0.0
        return self.uncontrolled[i].soc

    def thermal_state_of(self, i: int) -> float | None:
        """Heat stored in home ``i``'s building now [kWh], from its CEMS operator (``None``
        before its first CEMS day, or if the heat pump had no plan: the plan chooses)."""
        op = self.operators.get(i)
        if op is None or op.inp.thermal is None or op.inp.thermal.store is None:
            return None
        return float(op.thermal_state_kwh)

    def plan(self, day: int) -> DayPlans:
        """Plan a day for every CEMS home (in parallel when there are many)."""
        inputs = self.cems_inputs(day)
        order = list(inputs)
        workers = self.cfg.cems_workers
        if workers > 1 and len(order) >= POOL_MIN_HOMES:
            plans = cems_pool(workers).plan_days([inputs[i] for i in order])
        else:
            plans = [plan_day(inputs[i]) for i in order]
        self.day_plans = DayPlans(day, inputs, dict(zip(order, plans, strict=True)))
        replan = self.cfg.replan_every_steps or None
        self.operators = {i: Operator(inputs[i], p, replan_every_steps=replan)
                          for i, p in self.day_plans.plans.items()}
        for i, p in self.day_plans.plans.items():
            self.plan_log.append({
                "day": day, "home_id": self.homes[i].home_id, "status": p.status,
                "fallback": bool(p.fallback), "reason": p.reason, "planned_bill_eur": p.bill_eur,
                "gap": p.gap,
            })
        return self.day_plans

    def adopt_plans(self, day: int, plans: dict[int, Plan]) -> None:
        """Replace CEMS homes' plans of a day by plans ordered by their aggregator.

        Called between :meth:`plan` and the day's first :meth:`step` (the market and the DSO
        negotiation re-plan homes); each home's operator restarts on its new plan.

        Parameters
        ----------
        day
            The day planned (must be the day of :attr:`day_plans`).
        plans
            New plan per home position (feeder order); other homes keep theirs.

        Raises
        ------
        ValueError
            The day was not planned, or a home has no CEMS plan that day.
        """
        dp = self.day_plans
        if dp is None or dp.day != day:
            raise ValueError(f"adopt_plans: day {day} has not been planned")
        unknown = sorted(set(plans) - set(dp.plans))
        if unknown:
            raise ValueError(f"adopt_plans: homes without a CEMS plan on day {day}: {unknown}")
        replan = self.cfg.replan_every_steps or None
        for i, p in plans.items():
            dp.plans[i] = p
            self.operators[i] = Operator(dp.inputs[i], p, replan_every_steps=replan)
        self.adopted.setdefault(day, set()).update(plans)

    def forecast_uncontrolled_kw(self, day: int, homes: list[int]) -> dict[int, np.ndarray]:
        """Day-ahead forecast of homes that run uncontrolled: net power per step [kW].

        Each home's uncontrolled model (a copy, battery from its current state of charge) is
        run over the day with the forecast base load and PV (:func:`forecast_series`), the
        EV and heat-pump profiles of the day and its appliance cycles at their preferred time.

        Parameters
        ----------
        day
            Day of the run (0-based).
        homes
            Home positions (feeder order).
        """
        rows = slice(day * self.spd, (day + 1) * self.spd)
        base_fc, pv_fc = forecast_series(self.cfg, self.series, day)
        out = {}
        for i in homes:
            m = copy.deepcopy(self.uncontrolled[i])
            app = np.zeros(self.spd)
            for name, start in self._appliances_of_day(i, day):
                cycle = APPLIANCE_CYCLES[name]
                s = min(start, self.spd - len(cycle))
                app[s:s + len(cycle)] += cycle
            ev = self.series.ev_kw[rows, i]
            hp = self.series.hp_kw[rows, i]
            out[i] = np.array([m.step(base_fc[t, i], pv_fc[t, i], ev[t], hp[t], app[t]).p_kw
                               for t in range(self.spd)])
        return out

    # ------------------------------------------------------------------ messages
    def plans_message(self) -> dict:
        """The day's CEMS inputs and plans, JSON-friendly, for the aggregators.

        ``{"day": d, "tariff": <the day's tariff>, "homes": {home_id: {"input": ...,
        "plan": ...}}}``, homes in feeder order; the tariff, common to every home's input, is
        sent once. Read it with :func:`read_plans_message`.
        """
        dp = self.day_plans
        tariff = next(iter(dp.inputs.values())).tariff if dp.inputs else None
        homes = {self.homes[i].home_id: {"input": to_jsonable(replace(inp, tariff=None)),
                                         "plan": to_jsonable(dp.plans[i])}
                 for i, inp in dp.inputs.items()}
        return {"day": dp.day, "tariff": to_jsonable(tariff), "homes": homes}

    def unmanaged_message(self) -> dict:
        """Day-ahead forecast of the homes without a CEMS plan, JSON-friendly, for the DSO.

        ``{"day": d, "home_kw": {home_id: [kW per step]}, "home_kvar": {home_id: [kvar per
        step]}}`` (:meth:`forecast_uncontrolled_kw` from the homes' state at the start of the
        day; the reactive power as in operation: forecast base load and heat pump at the
        home's power factor).
        """
        dp = self.day_plans
        rest = [i for i in range(self.n) if i not in dp.plans]
        kw = self.forecast_uncontrolled_kw(dp.day, rest)
        base_fc, _ = forecast_series(self.cfg, self.series, dp.day)
        rows = slice(dp.day * self.spd, (dp.day + 1) * self.spd)
        kvar = {i: (base_fc[:, i] + self.series.hp_kw[rows, i]) * self.tan_phi[i] for i in rest}
        return {"day": dp.day, "home_kw": {self.homes[i].home_id: kw[i].tolist() for i in rest},
                "home_kvar": {self.homes[i].home_id: kvar[i].tolist() for i in rest}}

    def adopt_message(self, messages: list[dict]) -> None:
        """Adopt the plans the aggregators sent back (:meth:`adopt_plans`).

        Parameters
        ----------
        messages
            One per aggregator: ``{"day": d, "homes": [the home ids it serves], "plans":
            {home_id: plan}}`` (only the plans the market or an order changed).

        Raises
        ------
        ValueError
            A message is for another day, or a CEMS home of the day is served by none.
        """
        dp = self.day_plans
        served: set[str] = set()
        new: dict[int, Plan] = {}
        for m in messages:
            if dp is None or m["day"] != dp.day:
                raise ValueError(f"HomeFleet: plans for day {m['day']} while the day planned "
                                 f"is {None if dp is None else dp.day}")
            served.update(m["homes"])
            for hid, plan in m["plans"].items():
                new[self.position[hid]] = from_jsonable(Plan, plan)
        missing = [self.homes[i].home_id for i in dp.plans if self.homes[i].home_id not in served]
        if missing:
            raise ValueError(f"HomeFleet: {len(missing)} CEMS home(s) served by no aggregator "
                             f"on day {dp.day}: {missing[:5]}")
        self.adopt_plans(dp.day, new)

    # ------------------------------------------------------------------ operation
    def start_day(self, day: int, plan: bool = True) -> None:
        """Set the day's appliance cycles and, if ``plan`` and not done yet, plan the day.

        :meth:`step` calls it at the first step of a day unless it was called for that day.
        """
        self.appliance_kw[:] = 0.0
        for i in range(self.n):
            for name, start in self._appliances_of_day(i, day):
                cycle = APPLIANCE_CYCLES[name]
                s = min(start, self.spd - len(cycle))
                self.appliance_kw[s:s + len(cycle), i] += cycle
        if plan and self.cems_homes and (self.day_plans is None or self.day_plans.day != day):
            self.plan(day)
        self._day_started = day

    def step(self, k: int, caps: dict[int, tuple[float, float]] | None = None
             ) -> dict[str, np.ndarray]:
        """Operate every home for step ``k`` of the run with its actual device values.

        Parameters
        ----------
        k
            Step of the run (0-based).
        caps
            The DSO's emergency limitation for this step: home position -> ``(min_kw,
            max_kw)`` on its net power (see :meth:`limit`).

        Returns
        -------
        dict of arrays
            Every name of :data:`OUTPUTS`, one value per home (feeder order), new arrays.
        """
        day, t = divmod(k, self.spd)
        if t == 0 and self._day_started != day:
            self.start_day(day)
        s = self.series
        base, pv, ev, hp = s.base_kw[k], s.pv_kw[k], s.ev_kw[k], s.hp_kw[k]
        app = self.appliance_kw[t]
        out = {name: np.zeros(self.n) for name in OUTPUTS}
        out["base_kw"][:] = base
        out["pv_kw"][:] = pv
        out["ev_kw"][:] = ev
        out["hp_kw"][:] = hp
        out["appliance_kw"][:] = app
        # homes without battery and plan: their device balance, all at once, with the
        # operations of HomeModel.step in its order (bit-identical)
        out["p_kw"][:] = base + ev + hp + app - pv + 0.0
        ops = self.operators
        for i in self.with_battery:
            if i not in ops:
                r = self.uncontrolled[i].step(base[i], pv[i], ev[i], hp[i], app[i])
                out["p_kw"][i], out["battery_kw"][i], out["soc"][i] = r.p_kw, r.battery_kw, r.soc
        for i, op in ops.items():
            r = op.step(float(base[i]), float(pv[i]))
            out["p_kw"][i], out["battery_kw"][i] = r.net_kw, r.battery_kw
            out["soc"][i] = 0.0 if math.isnan(r.soc) else r.soc
            out["ev_kw"][i], out["hp_kw"][i] = r.ev_kw, r.thermal_kw
            out["appliance_kw"][i] = r.appliance_kw
            out["pv_kw"][i] = pv[i] - r.curtail_kw
            out["controlled"][i] = 1.0
            out["fallback"][i] = float(op.plan.fallback)
        for i, (lo, hi) in (caps or {}).items():
            self.limit(out, i, lo, hi)
        out["q_kvar"][:] = (out["base_kw"] + out["hp_kw"]) * self.tan_phi
        i3 = self.three_phase
        out["p3_kw"][i3] = out["p_kw"][i3]
        out["q3_kvar"][i3] = out["q_kvar"][i3]
        return out

    @staticmethod
    def limit(out: dict[str, np.ndarray], i: int, min_kw: float, max_kw: float) -> None:
        """Apply an emergency limitation to home ``i``'s step outputs, in place.

        Above ``max_kw`` the EV charging, then the heat pump, is cut; below ``min_kw`` (export)
        the PV is curtailed. The base load, appliances and battery are not touched, so a cap
        below them is not reached. Energy cut is not recovered later (load limitation: the
        EV ends the day with less charge, the house a little colder). ``limited_kw`` records
        the change of the net power [kW, >= 0].

        Parameters
        ----------
        out
            The step's outputs (:data:`OUTPUTS` arrays).
        i
            Home position.
        min_kw, max_kw
            Bounds on the net power [kW] (``-inf``/``inf`` where free).
        """
        p = out["p_kw"][i]
        if p > max_kw:
            cut = p - max_kw
            for key in ("ev_kw", "hp_kw"):
                d = min(cut, max(out[key][i], 0.0))
                out[key][i] -= d
                cut -= d
            out["limited_kw"][i] = p - max_kw - cut
            out["p_kw"][i] = max_kw + cut
        elif p < min_kw:
            d = min(min_kw - p, max(out["pv_kw"][i], 0.0))
            out["pv_kw"][i] -= d
            out["p_kw"][i] = p + d
            out["limited_kw"][i] = d

    def plan_table(self) -> pd.DataFrame:
        """One row per CEMS home and day: status, fallback flag and reason, planned bill, gap."""
        return pd.DataFrame(self.plan_log, columns=["day", "home_id", "status", "fallback",
                                                    "reason", "planned_bill_eur", "gap"])


def read_plans_message(message: dict) -> tuple[int, dict[str, CemsInput], dict[str, Plan]]:
    """The day, CEMS inputs and plans of a :meth:`HomeFleet.plans_message`, by home id."""
    tariff = from_jsonable(Tariff, message["tariff"])
    inputs, plans = {}, {}
    for hid, d in message["homes"].items():
        inputs[hid] = replace(from_jsonable(CemsInput, d["input"]), tariff=tariff)
        plans[hid] = from_jsonable(Plan, d["plan"])
    return int(message["day"]), inputs, plans
