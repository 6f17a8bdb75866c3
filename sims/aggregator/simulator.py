"""Mosaik adapter: the aggregators (UC2), one entity each, over
:class:`sims.aggregator.aggregator.Aggregator`.

Model ``Aggregator`` (eid ``AGR1``, ``AGR2``...; parameter ``home_ids``: the part of the
feeder's homes it serves, its portfolio being the homes among them that have a CEMS).

Attributes
----------
``from_dso`` (input, trigger)
    The DSO's message of a negotiation iteration: ``{"kind": "requests" | "orders" | "done",
    "items": [...]}`` (items in the :func:`sims.usef.to_dict` form).
``to_dso`` (output)
    This aggregator's message: ``{"kind": "prognosis" | "offers", "items": [...]}``.
``day_ready`` (output)
    The day (0-based) whose final plans the homes have received; connected to each of its
    homes, only to order the homes after the day-ahead stage.

The day-ahead stage runs at the first step of each day, before the homes operate:

1. **Plan** (UC1): the aggregator simulator asks the homes' fleet
   (:class:`sims.homes.fleet.HomeFleet`, handed over in-process through ``board["fleet"]``) to plan
   the day; each aggregator takes the CEMS inputs and plans of its portfolio.
2. **Market** (UC2): each aggregator clears its local market (:meth:`Aggregator.clear_market`).
3. **Negotiation** (UC3, control level ``dso``; at ``market`` the DSO only validates): a
   mosaik **same-time loop**. The aggregators send their prognoses (``to_dso``); the DSO
   answers with requests over a *weak* connection, which steps this simulator again at the
   same time; it answers with offers; the DSO orders; the aggregators dispatch the orders and
   send new prognoses; ... until the DSO sends ``done``. Both simulators are in one
   ``world.group()``; each round costs two loop iterations, and the DSO's session ends by
   itself within ``flex.max_rounds`` rounds, so ``World(max_loop_iterations=2 * max_rounds +
   4)`` is never the stopping rule.
4. **Hand-over**: on ``done`` each aggregator hands the plans of the homes the market or an
   order changed to the fleet (:meth:`sims.homes.fleet.HomeFleet.adopt_plans`); mosaik then steps
   the homes (they wait for ``day_ready``), which operate the day on the final plans.

Why a same-time loop rather than day-ahead events: the negotiation is a message exchange
between separate actors (USEF: prognosis, request, offer, order); the loop keeps each message
a mosaik data flow between the aggregator and DSO simulators (JSON-friendly, so either could
run in another process), bounded by mosaik's loop limit, and costs nothing at the other
95 steps of the day. The plans themselves are handed over in-process (the fleet object): the
homes and the aggregators must run in one Python process. Moving plans as mosaik data would
need a second loop through the homes (they would have to plan, wait and operate in one
step), which mosaik cannot order without stepping the grid twice.
"""

from __future__ import annotations

from pathlib import Path

import mosaik_api_v3
import pandas as pd

from sims.aggregator.aggregator import Aggregator
from sims.aggregator.config import AggregatorConfig
from sims.usef import from_dict, to_dict

META = {
    "api_version": "3.0",
    "type": "hybrid",
    "models": {
        "Aggregator": {"public": True, "params": ["home_ids"],
                       "attrs": ["from_dso", "to_dso", "day_ready"], "trigger": ["from_dso"]},
    },
}


class AggregatorSim(mosaik_api_v3.Simulator):
    """Runs each aggregator's day-ahead stage (see the module docstring)."""

    def __init__(self):
        super().__init__(META)
        self.entities: dict[str, list[str]] = {}
        self.aggs: dict[str, Aggregator] = {}
        self.out: dict[str, dict] = {}
        self.day = -1
        self.payments: list[pd.DataFrame] = []
        self.market_log: list[dict] = []

    def init(self, sid, time_resolution=1.0, *, aggregator: dict, board: dict,
             congestion_points: dict[str, list[str]], with_dso: bool = True,
             out_dir: str | None = None):
        self.cfg = AggregatorConfig.from_dict(aggregator)
        self.step_s = self.cfg.step_s
        self.spd = self.cfg.steps_per_day
        self.board = board
        self.points = {h: tuple(p) for h, p in congestion_points.items()}
        self.with_dso = bool(with_dso)
        self.out_dir = Path(out_dir) if out_dir else None
        return self.meta

    def create(self, num, model, home_ids=()):
        if num != 1:
            raise ValueError("AggregatorSim: create one Aggregator at a time (with its home_ids)")
        eid = f"AGR{len(self.entities) + 1}"
        self.entities[eid] = list(home_ids)
        return [{"eid": eid, "type": model}]

    # ------------------------------------------------------------------ day-ahead stage
    def _start_day(self, day: int) -> None:
        fleet = self.board["fleet"]
        dp = fleet.plan(day)
        pos = {h.home_id: i for i, h in enumerate(fleet.homes)}
        self.pos = pos
        self.original = dict(dp.plans)
        self.aggs = {}
        for eid, hids in self.entities.items():
            mine = [pos[h] for h in hids if pos[h] in dp.plans]
            if not mine:
                raise ValueError(f"AggregatorSim: {eid} has no CEMS home among its "
                                 f"{len(hids)} homes; lower flex.aggregators or raise "
                                 f"penetration.cems")
            agg = Aggregator(eid, [dp.inputs[i] for i in mine],
                             {fleet.homes[i].home_id: dp.plans[i] for i in mine},
                             {fleet.homes[i].home_id: self.points.get(fleet.homes[i].home_id,
                                                                      ("transformer",))
                              for i in mine},
                             replan=fleet.replanner())
            res = agg.clear_market()
            self.market_log.append({"day": day, "aggregator_id": eid, "homes": len(mine),
                                    "replanned": len(res.replanned),
                                    "matched_kwh": float(res.matched_kw.sum() * agg.step_h)})
            self.aggs[eid] = agg
        self.day = day

    def _hand_over(self) -> None:
        fleet = self.board["fleet"]
        new = {}
        for agg in self.aggs.values():
            for h, plan in agg.plans.items():
                i = self.pos[h]
                if plan is not self.original[i]:
                    new[i] = plan
            pay = agg.payments().reset_index()
            pay.insert(0, "aggregator_id", agg.aggregator_id)
            pay.insert(0, "day", self.day)
            self.payments.append(pay)
        fleet.adopt_plans(self.day, new)
        if self.out_dir is not None:
            pd.concat(self.payments, ignore_index=True).to_parquet(
                self.out_dir / "flex_payments.parquet", index=False)
            pd.DataFrame(self.market_log).to_parquet(self.out_dir / "flex_market.parquet",
                                                     index=False)

    def step(self, time, inputs, max_advance):
        day, t = divmod(time // self.step_s, self.spd)
        next_day = (day + 1) * self.spd * self.step_s
        self.out = {}
        msgs = {eid: [m for m in got.get("from_dso", {}).values() if m]
                for eid, got in inputs.items()}
        msgs = {eid: m[0] for eid, m in msgs.items() if m}
        if not msgs:
            if t != 0 or day == self.day:
                return next_day
            self._start_day(day)
            if not self.with_dso:
                self._hand_over()
            else:
                for eid, agg in self.aggs.items():
                    self.out[eid] = {"kind": "prognosis", "items": [to_dict(agg.prognosis())]}
            return next_day
        kinds = {m["kind"] for m in msgs.values()}
        if len(kinds) != 1:
            raise ValueError(f"AggregatorSim: mixed DSO messages {sorted(kinds)} at t={time}")
        (kind,) = kinds
        if kind == "done":
            self._hand_over()
        elif kind == "requests":
            for eid, m in msgs.items():
                agg = self.aggs[eid]
                reqs = [from_dict(x) for x in m["items"]]
                offers = [o for q in reqs for o in agg.offers(q)]
                self.out[eid] = {"kind": "offers", "items": [to_dict(o) for o in offers]}
        elif kind == "orders":
            for eid, m in msgs.items():
                agg = self.aggs[eid]
                agg.dispatch([from_dict(x) for x in m["items"]])
                self.out[eid] = {"kind": "prognosis", "items": [to_dict(agg.prognosis())]}
        else:
            raise ValueError(f"AggregatorSim: unknown DSO message kind {kind!r}")
        return next_day

    def get_data(self, outputs):
        data = {}
        for eid, attrs in outputs.items():
            d = {}
            if "to_dso" in attrs and eid in self.out:
                d["to_dso"] = self.out[eid]
            if "day_ready" in attrs:
                d["day_ready"] = self.day
            data[eid] = d
        return data
