"""Mosaik adapter: the homes, one entity per home, over :class:`sims.homes.fleet.HomeFleet`.

Model ``Home`` (eid = home id). Inputs [kW]: ``base_kw``, ``pv_kw``, ``ev_kw``, ``hp_kw`` (the
actual uncontrolled values from the profiles simulator). Outputs: ``p_kw``, ``q_kvar`` (net,
load convention), the device powers (``appliance_kw`` for deferrable cycles), ``battery_kw``
(> 0 charging), ``soc`` [-], ``controlled`` (1 when the home's CEMS runs it) and ``fallback``
(1 when its CEMS fell back to the uncontrolled schedule).

At control level ``cems`` and above the CEMS homes plan each day at its first step; their
plans' status is written to ``cems_plans.parquet`` in the run folder after every day.

At control levels ``market`` and ``dso`` the aggregator simulator plans the day through the
fleet (``board["fleet"]``, an in-process hand-over set up by :func:`testbed.run.build_world`),
clears its market, negotiates with the DSO and hands the final plans back with
:meth:`sims.homes.fleet.HomeFleet.adopt_plans`, all before the homes' first step of the day: its
``day_ready`` output is connected to every home it manages, so mosaik steps the homes after
the day-ahead same-time loop has ended.
"""

from __future__ import annotations

from pathlib import Path

import mosaik_api_v3
import numpy as np

from sims.homes.config import HomesConfig
from sims.homes.fleet import OUTPUTS, HomeFleet, population

INPUTS = ("base_kw", "pv_kw", "ev_kw", "hp_kw")
# From the aggregator simulator (control market and dso): the day whose final plans it has
# handed to the fleet; only orders the homes after the day-ahead stage (value unused).
ORDERING = ("day_ready",)
# From the DSO's monitor (flex.emergency_limitation): caps on the homes' net power for this
# step, ``{home_id: [min_kw or None, max_kw or None]}`` (None: free).
LIMITS = ("dso_caps",)
META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Home": {"public": True, "params": [],
                 "attrs": sorted(set(OUTPUTS) | set(INPUTS) | set(ORDERING) | set(LIMITS))},
    },
}


class HomesSim(mosaik_api_v3.Simulator):
    """Steps every home with the profile values it receives."""

    def __init__(self):
        super().__init__(META)
        self.created: list[str] = []
        self.last: dict[str, np.ndarray] = {}

    def init(self, sid, time_resolution=1.0, *, homes: dict, home_ids: list[str],
             buses: list[int], out_dir: str | None = None, board: dict | None = None):
        cfg = HomesConfig.from_dict(homes)
        self.step_s = cfg.step_s
        self.order = list(home_ids)
        self.index = {h: j for j, h in enumerate(self.order)}
        specs, series = population(cfg, self.order, buses)
        self.fleet = HomeFleet(cfg, specs, series)
        if board is not None:  # in-process hand-over to the aggregator simulator
            board["fleet"] = self.fleet
        self.out_dir = Path(out_dir) if out_dir else None
        self.plans_written = 0
        return self.meta

    def create(self, num, model, **params):
        start = len(self.created)
        new = self.order[start:start + num]
        if len(new) < num:
            raise ValueError(f"HomesSim: {start + num} Home entities requested, "
                             f"only {len(self.order)} homes")
        self.created += new
        return [{"eid": eid, "type": model} for eid in new]

    def step(self, time, inputs, max_advance):
        values = {a: np.zeros(len(self.order)) for a in INPUTS}
        for eid in self.created:
            got = inputs.get(eid, {})
            for a in INPUTS:
                vals = got.get(a)
                if not vals:
                    raise ValueError(f"HomesSim: home {eid}: no input {a!r} at t={time} s")
                values[a][self.index[eid]] = sum(vals.values())
        k = time // self.step_s
        caps = {}
        for eid in self.created:
            for got in inputs.get(eid, {}).get("dso_caps", {}).values():
                cap = (got or {}).get(eid)
                if cap is not None:
                    lo, hi = cap
                    caps[self.index[eid]] = (-np.inf if lo is None else float(lo),
                                             np.inf if hi is None else float(hi))
        self.last = self.fleet.step(k, **values, caps=caps)
        # plans may also be made by the aggregator simulator before this step
        if self.out_dir is not None and len(self.fleet.plan_log) > self.plans_written:
            self.fleet.plan_table().to_parquet(self.out_dir / "cems_plans.parquet", index=False)
            self.plans_written = len(self.fleet.plan_log)
        return time + self.step_s

    def get_data(self, outputs):
        return {eid: {a: float(self.last[a][self.index[eid]]) for a in attrs}
                for eid, attrs in outputs.items()}

    def finalize(self):
        self.fleet.close()
