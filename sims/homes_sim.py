"""Mosaik adapter: the homes, one entity per home, each a :class:`sims.home_model.HomeModel`.

Model ``Home`` (eid = home id). Inputs [kW]: ``base_kw``, ``pv_kw``, ``ev_kw``, ``hp_kw``.
Outputs: ``p_kw``, ``q_kvar`` (net, load convention), the device powers, ``battery_kw``
(> 0 charging) and ``soc`` [-].
"""

from __future__ import annotations

import mosaik_api_v3

from sims.home_model import HomeModel
from sims.population import draw_homes
from testbed.scenario import parse_scenario

OUTPUTS = ["p_kw", "q_kvar", "base_kw", "pv_kw", "ev_kw", "hp_kw", "battery_kw", "soc"]
META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Home": {
            "public": True,
            "params": [],
            "attrs": sorted(set(OUTPUTS)),
        },
    },
}


class HomesSim(mosaik_api_v3.Simulator):
    """Steps every home's model with the profile values it receives."""

    def __init__(self):
        super().__init__(META)
        self.models: dict[str, HomeModel] = {}
        self.last: dict[str, object] = {}

    def init(self, sid, time_resolution=1.0, *, scenario_toml: str, home_ids: list[str],
             buses: list[int]):
        scenario = parse_scenario(scenario_toml, source="<scenario as run>")
        self.step_s = scenario.step_s
        self.specs = {h.home_id: h for h in draw_homes(scenario, list(home_ids), buses)}
        self.order = list(home_ids)
        return self.meta

    def create(self, num, model, **params):
        start = len(self.models)
        new = self.order[start:start + num]
        if len(new) < num:
            raise ValueError(f"HomesSim: {start + num} Home entities requested, "
                             f"only {len(self.order)} homes")
        for eid in new:
            self.models[eid] = HomeModel(self.specs[eid], self.step_s)
        return [{"eid": eid, "type": model} for eid in new]

    def step(self, time, inputs, max_advance):
        for eid, model in self.models.items():
            got = inputs.get(eid, {})

            def value(attr, got=got, eid=eid):
                vals = got.get(attr)
                if not vals:
                    raise ValueError(f"HomesSim: home {eid}: no input {attr!r} at t={time} s")
                return float(sum(vals.values()))

            self.last[eid] = model.step(value("base_kw"), value("pv_kw"), value("ev_kw"),
                                        value("hp_kw"))
        return time + self.step_s

    def get_data(self, outputs):
        return {eid: {a: getattr(self.last[eid], a) for a in attrs}
                for eid, attrs in outputs.items()}
