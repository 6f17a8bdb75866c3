"""Mosaik adapter: every home of a run behind its meter, over :class:`sims.homes.fleet.HomeFleet`.

``init(sid, time_resolution, *, homes, home_ids, buses, out_dir=None, wait_for_plans=False)``
takes the homes' parameters (:class:`sims.homes.config.HomesConfig`, as ``to_dict()``), the
home ids and their bus indices in feeder order. The fleet draws the homes and their profiles
itself (shared in the process, :func:`sims.homes.fleet.population`): the profiles it holds do
not travel through mosaik. Hybrid simulator stepping every ``step_s`` seconds.

Models
------
``Fleet`` (one entity, eid ``fleet``): every home as arrays, one value per home in feeder order
(``home_ids``). Outputs (persistent): :data:`sims.homes.fleet.OUTPUTS`: ``p_kw``, ``q_kvar``
(net, load convention: > 0 is import), ``base_kw``, ``pv_kw`` (generation >= 0), ``ev_kw``,
``hp_kw``, ``appliance_kw``, ``battery_kw`` (> 0 charging), ``soc`` [-], ``controlled``,
``fallback`` (1.0 or 0.0), ``limited_kw`` (cut by the DSO's emergency limitation, >= 0),
``p3_kw``, ``q3_kvar`` (the three-phase part of ``p_kw``, ``q_kvar``: a three-phase home's
whole power, 0 for single-phase homes; for the grid simulator's inputs of the same names).
Day-ahead outputs (events, at the first step of a day with ``wait_for_plans``):
``day_plans`` (:meth:`~sims.homes.fleet.HomeFleet.plans_message`, for the aggregators) and
``unmanaged_kw`` (:meth:`~sims.homes.fleet.HomeFleet.unmanaged_message`, for the DSO).
Inputs (triggers): ``plans`` (the aggregators' answer, see below) and ``dso_caps``
(``{home_id: [min_kw or None, max_kw or None]}``: the DSO's emergency caps for the step,
sent by its monitor one step before over a connection time-shifted by ``step_s``).

``Home`` (eid = home id, created in feeder order): one home's outputs, the same names as
scalars, for users who couple their own simulators per home (for example our grid
simulator's ``Load`` entities). Both models view the same fleet; the results are the same.

Day-ahead (``wait_for_plans=True``, control levels ``market`` and ``dso``)
--------------------------------------------------------------------------
At the first step of a day the homes with a CEMS plan their day and the fleet emits
``day_plans`` and ``unmanaged_kw`` without operating. The aggregators clear their markets and
negotiate with the DSO (a same-time loop), then each sends back ``plans`` (``{"day", "homes",
"plans"}``: the plans it changed) over a weak connection; the fleet adopts them and operates
the step, at the same time. Homes, aggregators and DSO must be in one ``world.group()``.

The CEMS plans' status is appended to ``cems_plans.parquet`` in ``out_dir`` once a day.
"""

from __future__ import annotations

import mosaik_api_v3
import numpy as np

from sims.homes.config import HomesConfig
from sims.homes.fleet import OUTPUTS, HomeFleet, population
from sims.tables import DayTable

__all__ = ["META", "HomesSim"]

DAY_AHEAD = ("day_plans", "unmanaged_kw")
META = {
    "api_version": "3.0",
    "type": "hybrid",
    "models": {
        "Fleet": {"public": True, "params": [],
                  "attrs": [*OUTPUTS, *DAY_AHEAD, "plans", "dso_caps"],
                  "trigger": ["plans", "dso_caps"], "persistent": list(OUTPUTS),
                  "non-persistent": [*DAY_AHEAD, "plans", "dso_caps"]},
        "Home": {"public": True, "params": [], "attrs": list(OUTPUTS),
                 "persistent": list(OUTPUTS)},
    },
}
PLAN_COLUMNS = ["day", "home_id", "status", "fallback", "reason", "planned_bill_eur", "gap"]


class HomesSim(mosaik_api_v3.Simulator):
    """Steps every home; plans the CEMS homes' days (see the module docstring)."""

    def __init__(self):
        super().__init__(META)
        self.created: list[str] = []
        self.fleet_created = False
        self.last: dict[str, np.ndarray] = {}
        self.events: dict[str, dict] = {}
        self.plans_table: DayTable | None = None

    def init(self, sid, time_resolution=1.0, *, homes: dict, home_ids: list[str],
             buses: list[int], out_dir: str | None = None, wait_for_plans: bool = False):
        cfg = HomesConfig.from_dict(homes)
        self.step_s = cfg.step_s
        self.spd = cfg.steps_per_day
        self.order = list(home_ids)
        self.index = {h: j for j, h in enumerate(self.order)}
        specs, series = population(cfg, self.order, buses)
        self.fleet = HomeFleet(cfg, specs, series)
        self.wait_for_plans = bool(wait_for_plans) and cfg.controlled
        self.waiting_day: int | None = None
        self.caps: dict[int, tuple[float, float]] = {}
        self.plans_logged = 0
        if out_dir:
            self.plans_table = DayTable(out_dir, "cems_plans", PLAN_COLUMNS)
        self.last = {name: np.zeros(len(self.order)) for name in OUTPUTS}
        return self.meta

    def create(self, num, model, **params):
        if model == "Fleet":
            if num != 1 or self.fleet_created:
                raise ValueError("HomesSim: create exactly one Fleet entity")
            self.fleet_created = True
            return [{"eid": "fleet", "type": model}]
        start = len(self.created)
        new = self.order[start:start + num]
        if len(new) < num:
            raise ValueError(f"HomesSim: {start + num} Home entities requested, "
                             f"only {len(self.order)} homes")
        self.created += new
        return [{"eid": eid, "type": model} for eid in new]

    def _read_caps(self, got: dict) -> None:
        for caps in got.get("dso_caps", {}).values():
            for hid, cap in (caps or {}).items():
                lo, hi = cap
                self.caps[self.index[hid]] = (-np.inf if lo is None else float(lo),
                                              np.inf if hi is None else float(hi))

    def step(self, time, inputs, max_advance):
        got = inputs.get("fleet", {})
        self.events = {}
        k = time // self.step_s
        day, t = divmod(k, self.spd)
        if "dso_caps" in got:
            self.caps = {}
            self._read_caps(got)
        answers = [m for m in got.get("plans", {}).values() if m]
        if self.wait_for_plans and t == 0 and self.waiting_day != day and not answers:
            self.fleet.start_day(day, plan=False)
            self.fleet.plan(day)  # also without CEMS homes: the aggregators say what is wrong
            self.events = {"day_plans": self.fleet.plans_message(),
                           "unmanaged_kw": self.fleet.unmanaged_message()}
            self.waiting_day = day
            self._log_plans()
            return time + self.step_s
        if answers:
            if self.waiting_day != day:
                raise ValueError(f"HomesSim: plans received at t={time} s, none awaited")
            self.fleet.adopt_message(answers)
            self.waiting_day = None
        elif self.waiting_day is not None:
            raise ValueError(f"HomesSim: no aggregator answered the plans of day "
                             f"{self.waiting_day} (t={time} s)")
        self.last = self.fleet.step(k, caps=self.caps)
        self.caps = {}  # caps hold for one step (the monitor sends them every step)
        self._log_plans()
        return time + self.step_s

    def _log_plans(self) -> None:
        log = self.fleet.plan_log
        if self.plans_table is not None and len(log) > self.plans_logged:
            self.plans_table.append(self.fleet.plan_table().iloc[self.plans_logged:])
            self.plans_logged = len(log)

    def get_data(self, outputs):
        data = {}
        for eid, attrs in outputs.items():
            if eid == "fleet":
                d = {a: self.last[a] for a in attrs if a in self.last}
                d.update({a: self.events[a] for a in attrs if a in self.events})
                data[eid] = d
            else:
                j = self.index[eid]
                data[eid] = {a: float(self.last[a][j]) for a in attrs}
        return data

    def finalize(self):
        if self.plans_table is not None:
            self.plans_table.close()
