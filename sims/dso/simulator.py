"""Mosaik adapter: the DSO (UC3), over :class:`sims.dso.negotiation.DsoSession` and
:class:`sims.dso.operation.OperationMonitor`.

``init(sid, time_resolution, *, dso, grid, out_dir=None)``: the DSO's parameters
(:class:`sims.dso.config.DsoRunConfig`, as ``to_dict()``) and its feeder
(:class:`sims.grid.network.GridConfig`, as ``to_dict()``: the feeder and its compiled load flow
are shared in the process with the grid simulator, or rebuilt in the DSO's own process).
Every parameter and message is JSON-serialisable, so the simulator runs in-process
(``python:``) or as its own process (``cmd:``, see ``main``). Event-based.

One DSO, two roles, each a model of this simulator:

``Dso`` (one entity, eid ``dso``): the day-ahead negotiation
    Inputs ``from_agg`` (the aggregators' messages, :mod:`sims.aggregator.simulator`) and
    ``unmanaged_kw`` (the homes' forecast of the homes no aggregator manages,
    :meth:`sims.homes.fleet.HomeFleet.unmanaged_message`); output ``to_agg`` (``{"kind":
    "requests" | "orders" | "done", "items": [...]}``, sent to every aggregator over a weak
    connection: a mosaik same-time loop, see :mod:`sims.aggregator.simulator` for the protocol
    and why). On the aggregators' first prognoses of a day it opens a
    :class:`~sims.dso.negotiation.DsoSession` and adds the forecast of the homes no
    aggregator manages; then
    ``on_prognoses``/``on_offers`` message by message until the session ends. With
    ``negotiate=False`` (control level ``market``) it only validates the prognoses (zero
    rounds): the day-ahead congestion is recorded, nothing is requested.
    Written to the run folder after each day: ``flex_dayahead.parquet`` (one row per step,
    :meth:`~sims.dso.negotiation.NegotiationResult.table`), ``flex_orders.parquet`` (one row per
    order and step, with the home's pre-order prognosis to measure delivery) and
    ``flex_days.parquet`` (status, rounds, loop iterations per day) and
    ``flex_prognosis.parquet`` (every home's power validated first and last [kW], per day and
    step: what the load flow checked; ``final_kvar``, the reactive power it used with the
    final powers).
``DsoMonitor`` (one entity, eid ``monitor``): operation
    Inputs ``trafo_loading_percent``, ``vm_pu``, ``line_loading_percent`` (arrays in the
    network's row order) and ``converged`` from the grid simulator's ``Grid`` entity, and
    ``p_kw`` (every home's net power, feeder order, from the homes' ``Fleet``: the smart-meter
    readings that tell the direction of an overload; optional ``q_kvar``, their reactive
    power, which the emergency limitation's load flow uses); in unbalanced runs also
    ``vuf_percent``, and ``vm_pu``/``line_loading_percent`` are per phase (the grid
    simulator's arrays, three values per element). Every step
    the :class:`~sims.dso.operation.OperationMonitor` records the remaining violations;
    written to ``dso_operation.parquet`` (one row per violation) after each day.
    With ``emergency=True`` (scenario ``flex.emergency_limitation``) a step with a violation
    triggers :func:`~sims.dso.operation.emergency_limitation` on the measured powers; its caps
    (output ``dso_caps``, ``{home_id: [min_kw or None, max_kw or None]}``) reach the homes
    over a time-shifted connection and apply from the *next* step on (the measured step is
    already past: a reactive limitation that acts on violations lasting more than one
    step), held for ``HOLD_STEPS`` steps after the last violation (a new violation meanwhile
    tightens them); one row per action in ``dso_emergency.parquet``.

The two roles must be two *instances* of this simulator (``world.start`` twice): mosaik orders
simulators, not entities, and the day-ahead role runs in the homes' same-time loop at the
first step of a day while the monitor runs after the grid at every step.

Tables (``out_dir``) are appended once a day (one part per day, :class:`sims.tables.DayTable`)
and consolidated at the end.
"""

from __future__ import annotations

from pathlib import Path

import mosaik_api_v3
import numpy as np
import pandas as pd

from sims.dso.config import DsoRunConfig
from sims.dso.grid_view import dso_grid
from sims.dso.negotiation import DsoSession
from sims.dso.operation import OperationMonitor, emergency_limitation
from sims.grid.network import GridConfig, shared_grid
from sims.tables import DayTable
from sims.usef import Prognosis, from_dict, to_dict

META = {
    "api_version": "3.0",
    "type": "event-based",
    "models": {
        "Dso": {"public": True, "params": [], "attrs": ["from_agg", "unmanaged_kw", "to_agg"]},
        "DsoMonitor": {"public": True, "params": [],
                       "attrs": ["trafo_loading_percent", "vm_pu", "line_loading_percent",
                                 "vuf_percent", "q_kvar",
                                 "converged", "p_kw", "dso_caps"]},
    },
}


class DsoSim(mosaik_api_v3.Simulator):
    """The DSO's negotiation or its operation monitor (see the module docstring)."""

    def __init__(self):
        super().__init__(META)
        self.kind: str | None = None
        self.session: DsoSession | None = None
        self.out: dict | None = None
        self.day = -1
        self.iterations = 0
        self.tables: dict[str, DayTable] = {}
        self.monitor: OperationMonitor | None = None
        self.unmanaged: dict | None = None

    def init(self, sid, time_resolution=1.0, *, dso: dict, grid: dict,
             out_dir: str | None = None):
        cfg = self.cfg = DsoRunConfig.from_dict(dso)
        self.step_s = cfg.step_s
        self.spd = cfg.steps_per_day
        self.step_h = self.step_s / 3600.0
        shared = shared_grid(GridConfig.from_dict(grid))
        self.grid = dso_grid(shared, cfg.limits, cfg.power_factor, cfg.three_phase_homes)
        self.negotiate = cfg.negotiate
        self.config = cfg.congestion
        self.out_dir = Path(out_dir) if out_dir else None
        self.start = pd.Timestamp(cfg.start.isoformat()).tz_localize(cfg.timezone)
        self.violations: list[dict] = []
        self.violations_written = 0
        self.emergency = cfg.emergency_limitation
        self.actions: list[dict] = []
        self.actions_written = 0
        self.caps: dict = {}
        self.caps_until = 0
        return self.meta

    def create(self, num, model, **params):
        if num != 1 or self.kind is not None:
            raise ValueError("DsoSim: one entity per simulator instance (Dso or DsoMonitor)")
        self.kind = model
        eid = "dso" if model == "Dso" else "monitor"
        out = self.out_dir
        if model == "DsoMonitor":
            self.monitor = OperationMonitor(self.grid)
            if out is not None:
                self.tables = {"operation": DayTable(out, "dso_operation", VIOLATION_COLUMNS)}
                if self.emergency:
                    self.tables["emergency"] = DayTable(out, "dso_emergency", ACTION_COLUMNS)
        elif out is not None:
            self.tables = {"dayahead": DayTable(out, "flex_dayahead", DAYAHEAD_COLUMNS),
                           "orders": DayTable(out, "flex_orders", ORDER_COLUMNS),
                           "days": DayTable(out, "flex_days", DAY_COLUMNS),
                           "prognosis": DayTable(out, "flex_prognosis", PROGNOSIS_COLUMNS)}
        return [{"eid": eid, "type": model}]

    # ------------------------------------------------------------------ negotiation
    def _unmanaged(self, day: int, prognoses: list[Prognosis]) -> list[Prognosis]:
        """The homes' forecast of the homes in no aggregator's prognosis."""
        managed = {h for p in prognoses for h in p.home_kw}
        msg = self.unmanaged
        if msg is None or msg["day"] != day:
            raise ValueError(f"DsoSim: no forecast of the unmanaged homes for day {day} "
                             f"(connect the homes' unmanaged_kw)")
        kvar = msg.get("home_kvar", {})
        rest = {h: np.asarray(kw, dtype=float) for h, kw in msg["home_kw"].items()
                if h not in managed}
        return [Prognosis("unmanaged", self.step_h, rest,
                          home_kvar={h: np.asarray(kvar[h], dtype=float) for h in rest
                                     if h in kvar})] if rest else []

    def _finish_day(self, day: int) -> None:
        res = self.session.result()
        status = res.status if self.negotiate else "validated_only"
        tab = res.table().reset_index()
        off_eur = np.zeros(len(tab))
        for r in res.rounds:
            for o in r.offers:
                tot = float(o.power_kw.sum())
                if tot > 0:
                    off_eur[list(o.steps)] += o.cost_eur * o.power_kw / tot
        tab.insert(tab.columns.get_loc("ordered_kw"), "offered_eur", off_eur)
        tab.insert(0, "time", [self.start + pd.Timedelta(seconds=(day * self.spd + s)
                                                         * self.step_s) for s in tab.step])
        tab.insert(1, "day", day)
        # an order's relief is a move from the prognosis of the round it was placed in (the
        # plan its offer was made on: earlier rounds' orders and their rebound included), so
        # its delivery is measured from that prognosis, not from the first one
        round_kw = {r.index: r.validation.home_kw for r in res.rounds}
        order_rows = []
        for o in res.orders:
            c = self.grid.column(o.home_id)
            base_kw = round_kw[o.round]
            for s, p in zip(o.offer.steps, o.offer.power_kw, strict=True):
                order_rows.append({
                    "day": day, "step": int(s), "round": o.round, "order_id": o.order_id,
                    "aggregator_id": o.aggregator_id, "home_id": o.home_id,
                    "direction": o.offer.direction.value, "ordered_kw": float(p),
                    "baseline_kw": float(base_kw[s, c]),
                    "price_eur_per_kwh": float(o.offer.price_eur_per_kwh)})
        n, m = res.initial.home_kw.shape
        prognosis = pd.DataFrame({
            "day": day, "step": np.repeat(np.arange(n), m),
            "home_id": np.tile(np.asarray(self.grid.home_ids), n),
            "initial_kw": res.initial.home_kw.ravel(), "final_kw": res.final.home_kw.ravel(),
            "final_kvar": (res.final.home_kvar.ravel() if res.final.home_kvar is not None
                           else np.full(n * m, np.nan))})
        k = res.kpis(self.step_h)
        days = pd.DataFrame([{
            "day": day, "status": status, "rounds": k["rounds"],
            "loop_iterations": self.iterations, "congested_steps": k["congested_steps"],
            "resolved_steps": k["resolved_steps"], "orange_steps": k["orange_steps"],
            "orders": len(res.orders), "cost_eur": res.cost_eur,
            "new_congestion_steps": len(res.new_congestion_steps)}])
        if self.tables:
            self.tables["dayahead"].append(tab)
            self.tables["orders"].append(pd.DataFrame(order_rows, columns=list(ORDER_COLUMNS)))
            self.tables["days"].append(days)
            self.tables["prognosis"].append(prognosis)

    def _negotiation_step(self, time: int, inputs: dict) -> None:
        day = time // self.step_s // self.spd
        got = inputs.get("dso", {})
        for m in got.get("unmanaged_kw", {}).values():
            if m:
                self.unmanaged = m
        msgs = [m for m in got.get("from_agg", {}).values() if m]
        if not msgs:
            return
        kinds = {m["kind"] for m in msgs}
        if len(kinds) != 1:
            raise ValueError(f"DsoSim: mixed aggregator messages {sorted(kinds)} at t={time}")
        items = [from_dict(x) for m in msgs for x in m["items"]]
        if day != self.day:
            self.day, self.iterations = day, 0
            self.session = DsoSession(self.grid, self.config)
        self.iterations += 1
        s = self.session
        (kind,) = kinds
        if kind == "prognosis":
            reqs = s.on_prognoses(items + self._unmanaged(day, items))
            self.out = {"kind": "requests", "items": [to_dict(q) for q in reqs]}
        elif kind == "offers":
            orders = s.on_offers(items)
            self.out = {"kind": "orders", "items": [to_dict(o) for o in orders]}
        else:
            raise ValueError(f"DsoSim: unknown aggregator message kind {kind!r}")
        if s.done:
            self.out = {"kind": "done", "items": [], "status": s.status}
            self._finish_day(day)

    # ------------------------------------------------------------------ operation
    def _monitor_step(self, time: int, inputs: dict) -> None:
        got = inputs.get("monitor", {})

        def one(attr: str):
            vals = list(got.get(attr, {}).values())
            if len(vals) != 1:
                raise ValueError(f"DsoSim: monitor needs one {attr!r} input at t={time} s "
                                 f"(got {len(vals)})")
            return vals[0]

        k = time // self.step_s
        trafo = np.asarray(one("trafo_loading_percent"), dtype=float)
        vm = np.asarray(one("vm_pu"), dtype=float)
        ll = np.asarray(one("line_loading_percent"), dtype=float)
        conv = bool(one("converged"))
        home_kw = np.asarray(one("p_kw"), dtype=float)
        vuf = (np.asarray(one("vuf_percent"), dtype=float) if "vuf_percent" in got else None)
        found = self.monitor.observe(k, trafo, vm, ll, home_kw=home_kw, converged=conv,
                                     vuf_percent=vuf)
        if k >= self.caps_until:
            self.caps = {}
        if self.emergency and found and conv:
            kvar = (np.asarray(one("q_kvar"), dtype=float) if "q_kvar" in got else None)
            act = emergency_limitation(self.grid, home_kw, home_kvar=kvar)
            fin = lambda x: float(x) if np.isfinite(x) else None  # noqa: E731
            new = {h: [fin(lo), fin(hi)] for h, (lo, hi) in act.caps.items()}
            for h, (lo, hi) in self.caps.items():  # tighten the caps still held
                if h in new:
                    nlo, nhi = new[h]
                    new[h] = [lo if nlo is None else nlo if lo is None else max(lo, nlo),
                              hi if nhi is None else nhi if hi is None else min(hi, nhi)]
                else:
                    new[h] = [lo, hi]
            self.caps = new
            self.caps_until = k + HOLD_STEPS
            self.actions.append({
                "time": self.start + pd.Timedelta(seconds=time), "step": k,
                "homes": len(act.caps), "limited_kw": act.limited_kw,
                "cleared_in_check": act.cleared, "iterations": act.iterations})
        for v in found:
            self.violations.append({
                "time": self.start + pd.Timedelta(seconds=time), "step": v.step,
                "kind": v.kind, "element": int(v.element), "value": float(v.value),
                "limit": float(v.limit), "congestion_point": v.congestion_point,
                "direction": v.direction.value})
        if (k + 1) % self.spd == 0:
            self.write_operation()

    def write_operation(self) -> None:
        """Append the violations and actions recorded since the last call (one part)."""
        if not self.tables:
            return
        new = self.violations[self.violations_written:]
        self.tables["operation"].append(pd.DataFrame(new, columns=list(VIOLATION_COLUMNS)))
        self.violations_written = len(self.violations)
        if "emergency" in self.tables:
            acts = self.actions[self.actions_written:]
            self.tables["emergency"].append(pd.DataFrame(acts, columns=list(ACTION_COLUMNS)))
            self.actions_written = len(self.actions)

    def step(self, time, inputs, max_advance):
        self.out = None
        if self.kind == "Dso":
            self._negotiation_step(time, inputs)
        else:
            self._monitor_step(time, inputs)
        return None

    def get_data(self, outputs):
        data = {}
        for eid, attrs in outputs.items():
            d = {}
            if "to_agg" in attrs and self.out:
                d["to_agg"] = self.out
            if "dso_caps" in attrs:
                d["dso_caps"] = self.caps
            data[eid] = d
        return data

    def finalize(self):
        if self.kind == "DsoMonitor":
            self.write_operation()
        for table in self.tables.values():
            table.close()


def main() -> int:
    """Run the simulator as its own process (mosaik ``cmd:`` starter, ``%(addr)s`` argument)."""
    from sims.process import serve

    return serve(DsoSim(), "LV testbed DSO")


ORDER_COLUMNS = ("day", "step", "round", "order_id", "aggregator_id", "home_id", "direction",
                 "ordered_kw", "baseline_kw", "price_eur_per_kwh")
VIOLATION_COLUMNS = ("time", "step", "kind", "element", "value", "limit", "congestion_point",
                     "direction")
HOLD_STEPS = 4  # steps an emergency cap is held after the violation that set it (1 h at 15 min)
ACTION_COLUMNS = ("time", "step", "homes", "limited_kw", "cleared_in_check", "iterations")
DAYAHEAD_COLUMNS = ("time", "day", "step", "requested_kw", "offered_kw", "offered_eur",
                    "ordered_kw", "ordered_eur", "initial_light", "final_light",
                    "initial_excess", "final_excess")
DAY_COLUMNS = ("day", "status", "rounds", "loop_iterations", "congested_steps",
               "resolved_steps", "orange_steps", "orders", "cost_eur", "new_congestion_steps")
PROGNOSIS_COLUMNS = ("day", "step", "home_id", "initial_kw", "final_kw", "final_kvar")


if __name__ == "__main__":
    main()
