"""Mosaik adapter: the aggregators (UC2), one entity each, over
:class:`sims.aggregator.aggregator.Aggregator`.

``init(sid, time_resolution, *, aggregator, congestion_points, with_dso=True, out_dir=None)``:
the aggregators' parameters (:class:`sims.aggregator.config.AggregatorConfig`, as
``to_dict()``), each home's congestion points (``{home_id: [point, ...]}``, from the DSO's
view of the grid; homes without an entry belong to ``"transformer"``), whether a DSO answers
the prognoses, and the run folder. Every parameter and message is JSON-serialisable: the
simulator runs in-process (``python:``) or as its own process (``cmd:``, see ``main``).

Model ``Aggregator`` (eid ``AGR1``, ``AGR2``...; parameter ``home_ids``: the part of the
feeder's homes it serves, its portfolio being the homes among them that have a CEMS).

Attributes
----------
``day_plans`` (input, trigger)
    The homes' CEMS inputs and plans of the day (:meth:`sims.homes.fleet.HomeFleet.plans_message`).
``from_dso`` (input, trigger)
    The DSO's message of a negotiation iteration: ``{"kind": "requests" | "orders" | "done",
    "items": [...]}`` (items in the :func:`sims.usef.to_dict` form).
``to_dso`` (output)
    This aggregator's message: ``{"kind": "prognosis" | "offers", "items": [...]}``.
``plans`` (output)
    The final plans of the day for the homes: ``{"day": d, "aggregator_id": ..., "homes":
    [the home ids it serves], "plans": {home_id: plan}}`` (only the plans the market or an
    order changed); connected back to the homes' ``Fleet`` over a weak connection.

The day-ahead stage runs at the first step of each day, in one mosaik same-time loop with the
homes and the DSO (all three in one ``world.group()``):

1. **Plan** (UC1): the homes plan their day and send ``day_plans``; each aggregator takes the
   CEMS inputs and plans of its portfolio.
2. **Market** (UC2): each aggregator clears its local market (:meth:`Aggregator.clear_market`).
3. **Negotiation** (UC3, control level ``dso``; at ``market`` the DSO only validates): the
   aggregators send their prognoses (``to_dso``); the DSO answers with requests over a *weak*
   connection, which steps this simulator again at the same time; it answers with offers; the
   DSO orders; the aggregators dispatch the orders and send new prognoses; ... until the DSO
   sends ``done``. Each round costs two loop iterations, and the DSO's session ends by itself
   within ``flex.max_rounds`` rounds, so ``World(max_loop_iterations=...)`` is only a guard.
4. **Hand-over**: on ``done`` each aggregator sends ``plans`` to the homes (weak): the homes
   step again at the same time and operate the day's first step on the final plans; the grid
   steps after the loop.

Why one loop through the homes rather than planning day ``d`` at the end of day ``d - 1``: the
first day would have no day before it (mosaik time starts at 0), and the homes' state at the
end of the day before (batteries) is only known once that day's last step has operated; the
loop costs nothing at the other 95 steps of a day (the aggregators and the DSO are event-based
and not stepped), and each message is mosaik data, so every actor may run in another process.

Re-plans (market, offers, orders) run the homes' CEMS (:func:`sims.homes.cems.plan_day`) in
this process, or on the process's CEMS pool when ``cems_workers > 1`` and the day has
:data:`sims.homes.planning.POOL_MIN_HOMES` CEMS homes or more.
"""

from __future__ import annotations

from pathlib import Path

import mosaik_api_v3
import pandas as pd

from sims.aggregator.aggregator import Aggregator
from sims.aggregator.config import AggregatorConfig
from sims.aggregator.local_market import pool_replanner, sequential_replanner
from sims.homes.fleet import read_plans_message
from sims.homes.planning import POOL_MIN_HOMES, cems_pool
from sims.serial import to_jsonable
from sims.tables import DayTable
from sims.usef import from_dict, to_dict

__all__ = ["META", "AggregatorSim", "main"]

META = {
    "api_version": "3.0",
    "type": "event-based",
    "models": {
        "Aggregator": {"public": True, "params": ["home_ids"],
                       "attrs": ["day_plans", "from_dso", "to_dso", "plans"]},
    },
}
PAYMENT_COLUMNS = ["day", "aggregator_id", "home_id", "bill_eur", "market_settlement_eur",
                   "flex_payment_eur", "net_cost_eur"]
MARKET_COLUMNS = ["day", "aggregator_id", "homes", "replanned", "matched_kwh"]


class AggregatorSim(mosaik_api_v3.Simulator):
    """Runs each aggregator's day-ahead stage (see the module docstring)."""

    def __init__(self):
        super().__init__(META)
        self.entities: dict[str, list[str]] = {}
        self.aggs: dict[str, Aggregator] = {}
        self.out: dict[str, dict] = {}
        self.day = -1
        self.tables: dict[str, DayTable] = {}

    def init(self, sid, time_resolution=1.0, *, aggregator: dict,
             congestion_points: dict[str, list[str]], with_dso: bool = True,
             out_dir: str | None = None):
        self.cfg = AggregatorConfig.from_dict(aggregator)
        self.step_s = self.cfg.step_s
        self.points = {h: tuple(p) for h, p in congestion_points.items()}
        self.with_dso = bool(with_dso)
        if out_dir:
            self.tables = {"payments": DayTable(Path(out_dir), "flex_payments", PAYMENT_COLUMNS),
                           "market": DayTable(Path(out_dir), "flex_market", MARKET_COLUMNS)}
        return self.meta

    def create(self, num, model, home_ids=()):
        if num != 1:
            raise ValueError("AggregatorSim: create one Aggregator at a time (with its home_ids)")
        eid = f"AGR{len(self.entities) + 1}"
        self.entities[eid] = list(home_ids)
        return [{"eid": eid, "type": model}]

    # ------------------------------------------------------------------ day-ahead stage
    def _replanner(self, n_cems: int):
        w = self.cfg.cems_workers
        if w > 1 and n_cems >= POOL_MIN_HOMES:
            return pool_replanner(cems_pool(w))
        return sequential_replanner

    def _start_day(self, message: dict) -> None:
        day, inputs, plans = read_plans_message(message)
        replan = self._replanner(len(plans))
        self.original = dict(plans)
        self.aggs = {}
        market = []
        for eid, hids in self.entities.items():
            mine = [h for h in hids if h in plans]
            if not mine:
                raise ValueError(f"AggregatorSim: {eid} has no CEMS home among its "
                                 f"{len(hids)} homes; lower flex.aggregators or raise "
                                 f"penetration.cems")
            agg = Aggregator(eid, [inputs[h] for h in mine], {h: plans[h] for h in mine},
                             {h: self.points.get(h, ("transformer",)) for h in mine},
                             replan=replan)
            res = agg.clear_market()
            market.append({"day": day, "aggregator_id": eid, "homes": len(mine),
                           "replanned": len(res.replanned),
                           "matched_kwh": float(res.matched_kw.sum() * agg.step_h)})
            self.aggs[eid] = agg
        self.day = day
        if "market" in self.tables:
            self.tables["market"].append(pd.DataFrame(market, columns=MARKET_COLUMNS))

    def _hand_over(self) -> None:
        pays = []
        for eid, agg in self.aggs.items():
            changed = {h: to_jsonable(p) for h, p in agg.plans.items()
                       if p is not self.original[h]}
            self.out[eid] = {"plans": {"day": self.day, "aggregator_id": eid,
                                       "homes": list(self.entities[eid]), "plans": changed}}
            pay = agg.payments().reset_index()
            pay.insert(0, "aggregator_id", agg.aggregator_id)
            pay.insert(0, "day", self.day)
            pays.append(pay)
        if "payments" in self.tables:
            self.tables["payments"].append(pd.concat(pays, ignore_index=True))

    def step(self, time, inputs, max_advance):
        self.out = {}
        day_plans = [m for got in inputs.values() for m in got.get("day_plans", {}).values()
                     if m]
        msgs = {eid: [m for m in got.get("from_dso", {}).values() if m]
                for eid, got in inputs.items()}
        msgs = {eid: m[0] for eid, m in msgs.items() if m}
        if day_plans:
            self._start_day(day_plans[0])
            if not self.with_dso:
                self._hand_over()
            else:
                for eid, agg in self.aggs.items():
                    self.out[eid] = {"to_dso": {"kind": "prognosis",
                                                "items": [to_dict(agg.prognosis())]}}
            return None
        if not msgs:
            return None
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
                offers = [o for per in agg.offers_many(reqs) for o in per]
                self.out[eid] = {"to_dso": {"kind": "offers",
                                            "items": [to_dict(o) for o in offers]}}
        elif kind == "orders":
            for eid, m in msgs.items():
                agg = self.aggs[eid]
                agg.dispatch([from_dict(x) for x in m["items"]])
                self.out[eid] = {"to_dso": {"kind": "prognosis",
                                            "items": [to_dict(agg.prognosis())]}}
        else:
            raise ValueError(f"AggregatorSim: unknown DSO message kind {kind!r}")
        return None

    def get_data(self, outputs):
        return {eid: {a: v for a, v in self.out.get(eid, {}).items() if a in attrs}
                for eid, attrs in outputs.items()}

    def finalize(self):
        for table in self.tables.values():
            table.close()


def main() -> int:
    """Run the simulator as its own process (mosaik ``cmd:`` starter, ``%(addr)s`` argument)."""
    from sims.process import serve

    return serve(AggregatorSim(), "LV testbed aggregators")


if __name__ == "__main__":
    main()
