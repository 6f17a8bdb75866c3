"""Mosaik adapter: per-home profiles (base load, PV, EV charging, heat pump) for each step.

Model ``HomeProfile`` (one entity per home, eid = home id), outputs in kW: ``base_kw``,
``pv_kw``, ``ev_kw``, ``hp_kw``. The series are drawn once at start-up by
:func:`sims.homes.population.home_series` from the homes' parameters (JSON-serialisable, so
the simulator can also run in its own process).
"""

from __future__ import annotations

import mosaik_api_v3

from sims.homes.config import HomesConfig
from sims.homes.fleet import population

META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "HomeProfile": {
            "public": True,
            "params": [],
            "attrs": ["base_kw", "pv_kw", "ev_kw", "hp_kw"],
        },
    },
}


class ProfilesSim(mosaik_api_v3.Simulator):
    """Serves each home's uncontrolled device series, one step at a time."""

    def __init__(self):
        super().__init__(META)
        self.eids: list[str] = []

    def init(self, sid, time_resolution=1.0, *, homes: dict, home_ids: list[str],
             buses: list[int]):
        cfg = HomesConfig.from_dict(homes)
        self.home_ids = list(home_ids)
        _, self.series = population(cfg, self.home_ids, buses)
        self.step_s = cfg.step_s
        self.index = {hid: j for j, hid in enumerate(self.home_ids)}
        self.k = 0
        return self.meta

    def create(self, num, model, **params):
        start = len(self.eids)
        if start + num > len(self.home_ids):
            raise ValueError(f"ProfilesSim: {start + num} HomeProfile entities requested, "
                             f"only {len(self.home_ids)} homes")
        new = self.home_ids[start:start + num]
        self.eids += new
        return [{"eid": eid, "type": model} for eid in new]

    def step(self, time, inputs, max_advance):
        self.k = time // self.step_s
        return time + self.step_s

    def get_data(self, outputs):
        s, k = self.series, self.k
        arrays = {"base_kw": s.base_kw, "pv_kw": s.pv_kw, "ev_kw": s.ev_kw, "hp_kw": s.hp_kw}
        return {eid: {a: float(arrays[a][k, self.index[eid]]) for a in attrs}
                for eid, attrs in outputs.items()}
