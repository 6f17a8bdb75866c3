"""Mosaik adapter: the feeder, solved each step by :class:`sims.grid.model.GridModel`.

Models:

``Load`` (one per home, eid = home id)
    Inputs ``p_kw``, ``q_kvar`` (load convention); output ``vm_pu`` of the home's bus.
``Transformer`` (one per transformer, eid = its id)
    Outputs ``p_mw``, ``q_mvar`` (HV side) and ``loading_percent``.
``Grid`` (one, eid ``grid``)
    Outputs ``vm_pu`` and ``line_loading_percent`` (lists in ``net.bus`` / ``net.line`` order),
    ``losses_mw`` and ``converged``.

A home without input keeps 0 kW. The load flow runs once per step, after all inputs arrived.
"""

from __future__ import annotations

import mosaik_api_v3
import numpy as np

from sims.grid.model import GridModel, GridStep
from sims.grid.network import GridConfig, shared_grid

META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Load": {"public": True, "params": [], "attrs": ["p_kw", "q_kvar", "vm_pu"]},
        "Transformer": {"public": True, "params": [],
                        "attrs": ["p_mw", "q_mvar", "loading_percent"]},
        "Grid": {"public": True, "params": [],
                 "attrs": ["vm_pu", "line_loading_percent", "losses_mw", "converged"]},
    },
}


class GridSim(mosaik_api_v3.Simulator):
    """Runs the feeder's load flow each step with the homes' powers."""

    def __init__(self):
        super().__init__(META)
        self.result: GridStep | None = None

    def init(self, sid, time_resolution=1.0, *, grid: dict, step_s: int = 900):
        shared = shared_grid(GridConfig.from_dict(grid))
        feeder = shared.feeder
        self.step_s = int(step_s)
        self.model = GridModel.of(shared)
        self.home_index = {hid: j for j, hid in enumerate(feeder.homes.index)}
        self.home_bus_row = feeder.net.bus.index.get_indexer(feeder.homes.bus.to_numpy())
        self.trafo_ids = list(shared.trafo_ids)
        self.p_kw = np.zeros(len(self.home_index))
        self.q_kvar = np.zeros(len(self.home_index))
        self.created: dict[str, str] = {}
        return self.meta

    def create(self, num, model, **params):
        if model == "Load":
            free = [h for h in self.home_index if h not in self.created]
            eids = free[:num]
        elif model == "Transformer":
            eids = [t for t in self.trafo_ids if t not in self.created][:num]
        else:
            eids = ["grid"] if "grid" not in self.created and num == 1 else []
        if len(eids) != num:
            raise ValueError(f"GridSim: cannot create {num} more {model} entities")
        for eid in eids:
            self.created[eid] = model
        return [{"eid": eid, "type": model} for eid in eids]

    def step(self, time, inputs, max_advance):
        for eid, attrs in inputs.items():
            j = self.home_index[eid]
            if "p_kw" in attrs:
                self.p_kw[j] = sum(attrs["p_kw"].values())
            if "q_kvar" in attrs:
                self.q_kvar[j] = sum(attrs["q_kvar"].values())
        self.result = self.model.solve(self.p_kw, self.q_kvar)
        return time + self.step_s

    def get_data(self, outputs):
        r = self.result
        data = {}
        for eid, attrs in outputs.items():
            kind = self.created[eid]
            if kind == "Load":
                vm = float(r.vm_pu[self.home_bus_row[self.home_index[eid]]])
                data[eid] = {a: vm if a == "vm_pu" else None for a in attrs}
            elif kind == "Transformer":
                t = self.trafo_ids.index(eid)
                vals = {"p_mw": r.trafo_p_mw[t], "q_mvar": r.trafo_q_mvar[t],
                        "loading_percent": r.trafo_loading_percent[t]}
                data[eid] = {a: float(vals[a]) for a in attrs}
            else:
                vals = {"vm_pu": r.vm_pu.tolist(),
                        "line_loading_percent": r.line_loading_percent.tolist(),
                        "losses_mw": r.losses_mw, "converged": r.converged}
                data[eid] = {a: vals[a] for a in attrs}
        return data
