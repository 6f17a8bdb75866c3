"""Mosaik adapter: a feeder's load flow each step, over :class:`sims.grid.model.GridModel`.

Usable in any mosaik world with any pandapower network, in the shape mosaik-pandapower-2
users know::

    grid_sim = world.start("Grid", step_size=900)
    grid = grid_sim.Grid(json="my_net.json")           # or Grid(grid=GridConfig(...).to_dict())
    loads = [e for e in grid.children if e.type == "Load"]

``init(sid, time_resolution, step_size=900)``: a time-based simulator stepping every
``step_size`` seconds; ``step_size=None`` makes it event-based (it solves when inputs arrive).

Model ``Grid`` (one per simulator, eid ``grid``), created from a pandapower JSON file
(``json``: its path) or from a :class:`sims.grid.network.GridConfig` (``grid``: its
``to_dict()``; the testbed's feeders, shared in the process with the DSO). The homes of the
feeder are its in-service loads (:mod:`grids.networks.loaders`), in ``net.load`` order for a
file. Array attributes, one value per element in a fixed order (homes in feeder order, buses,
lines and transformers in the network's row order):

- inputs ``p_kw``, ``q_kvar``: every home's net power [kW, kvar], load convention (> 0 is
  consumption);
- optional inputs ``p3_kw``, ``q3_kvar``: the part of each home's power drawn by
  three-phase devices (unbalanced runs put a third of it on each phase, the rest on the
  home's phase; balanced runs ignore it). The testbed's homes send a three-phase home's
  whole power here (:mod:`sims.homes.fleet`), 0 for the others;
- outputs ``vm_pu`` (buses), ``line_loading_percent`` (lines), ``trafo_p_mw``,
  ``trafo_q_mvar`` (power into each transformer's HV side), ``trafo_loading_percent``,
  ``vuf_percent`` (buses: voltage unbalance factor ``|V2|/|V1|`` [%], 0 in balanced runs) and
  the scalars ``losses_mw`` (lines and transformers) and ``converged``.

Unbalanced runs (``GridConfig.phases``, :mod:`sims.grid.network`): ``vm_pu`` and
``line_loading_percent`` carry three values per element, element-major (bus 0 a, b, c, bus 1
a, ...); ``trafo_loading_percent`` is the most loaded phase, ``trafo_p_mw``/``trafo_q_mvar``
the sums over the phases.

Child entities (``grid.children``), one per element, with scalar attributes:

- ``Load`` (eid ``Load-<net.load index>``, extra info ``home_id``, ``bus``): inputs ``p_kw``,
  ``q_kvar`` [kW, kvar], load convention, and optionally ``p3_kw``, ``q3_kvar`` (their
  three-phase part, as the ``Grid`` arrays); output ``vm_pu`` of its bus (unbalanced: of its
  phase);
- ``Bus`` (``Bus-<index>``): ``vm_pu`` (unbalanced: a list a, b, c);
- ``Line`` (``Line-<index>``): ``loading_percent`` (unbalanced: a list a, b, c);
- ``Transformer`` (``Transformer-<index>``): ``loading_percent``, ``p_mw``, ``q_mvar`` (HV
  side).

Connect the homes either to the ``Grid`` entity's arrays (fast: two values per step) or to the
``Load`` entities (one pair per home); a home keeps its last value (0 kW at first) until it
receives a new one. A step that does not converge gives NaN and ``converged = False``.
"""

from __future__ import annotations

import mosaik_api_v3
import numpy as np

from sims.grid.model import GridModel, GridStep
from sims.grid.network import GridConfig, shared_grid

__all__ = ["GridSim", "META"]

ARRAY_INPUTS = ("p_kw", "q_kvar", "p3_kw", "q3_kvar")
ARRAY_OUTPUTS = ("vm_pu", "line_loading_percent", "trafo_p_mw", "trafo_q_mvar",
                 "trafo_loading_percent", "vuf_percent", "losses_mw", "converged")
CHILD_ATTRS = {
    "Load": ("p_kw", "q_kvar", "p3_kw", "q3_kvar", "vm_pu"),
    "Bus": ("vm_pu",),
    "Line": ("loading_percent",),
    "Transformer": ("loading_percent", "p_mw", "q_mvar"),
}
META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Grid": {"public": True, "params": ["json", "grid"],
                 "attrs": [*ARRAY_INPUTS, *ARRAY_OUTPUTS]},
        **{m: {"public": False, "params": [], "attrs": list(a)} for m, a in CHILD_ATTRS.items()},
    },
}


class GridSim(mosaik_api_v3.Simulator):
    """Runs the feeder's load flow each step with the homes' powers."""

    def __init__(self):
        super().__init__(META)
        self.model: GridModel | None = None
        self.result: GridStep | None = None

    def init(self, sid, time_resolution=1.0, step_size: int | None = 900):
        self.step_size = step_size
        if not step_size:
            self.meta["type"] = "event-based"
        return self.meta

    def create(self, num, model, json: str | None = None, grid: dict | None = None):
        if model != "Grid" or num != 1 or self.model is not None:
            raise ValueError("GridSim: create exactly one Grid entity per simulator")
        if (json is None) == (grid is None):
            raise ValueError("GridSim: Grid needs exactly one of json= (a pandapower JSON "
                             "file) or grid= (a GridConfig dict)")
        cfg = GridConfig(grid_source=str(json)) if json is not None else GridConfig.from_dict(grid)
        shared = shared_grid(cfg)
        feeder = shared.feeder
        net = feeder.net
        self.model = GridModel.of(shared)
        n = len(feeder.homes)
        self.p_kw, self.q_kvar = np.zeros(n), np.zeros(n)
        self.p3_kw, self.q3_kvar = np.zeros(n), np.zeros(n)
        self.unbalanced = self.model.unbalanced
        self.home_phase = (np.asarray(shared.phase_codes) if self.unbalanced
                           else np.zeros(n, dtype=np.int64))
        self.zero_vuf = np.zeros(len(net.bus))
        self.load_home = {f"Load-{idx}": j for j, idx in enumerate(feeder.homes["load"])}
        self.home_bus_row = net.bus.index.get_indexer(feeder.homes.bus.to_numpy())
        self.rows = {"Bus": {f"Bus-{b}": i for i, b in enumerate(net.bus.index)},
                     "Line": {f"Line-{x}": i for i, x in enumerate(net.line.index)},
                     "Transformer": {f"Transformer-{x}": i for i, x in enumerate(net.trafo.index)}}
        children = [{"eid": f"Load-{load}", "type": "Load", "rel": [f"Bus-{bus}"],
                     "extra_info": {"home_id": str(hid), "bus": int(bus)}}
                    for hid, load, bus in zip(feeder.homes.index, feeder.homes["load"],
                                              feeder.homes["bus"], strict=True)]
        children += [{"eid": eid, "type": kind, "rel": []}
                     for kind, rows in self.rows.items() for eid in rows]
        return [{"eid": "grid", "type": "Grid", "rel": [], "children": children}]

    def step(self, time, inputs, max_advance):
        for eid, attrs in inputs.items():
            if eid == "grid":
                for name, target in (("p_kw", self.p_kw), ("q_kvar", self.q_kvar),
                                     ("p3_kw", self.p3_kw), ("q3_kvar", self.q3_kvar)):
                    vals = attrs.get(name)
                    if vals:
                        target[:] = sum(np.asarray(v, dtype=float) for v in vals.values())
                continue
            j = self.load_home[eid]
            for name, target in (("p_kw", self.p_kw), ("q_kvar", self.q_kvar),
                                 ("p3_kw", self.p3_kw), ("q3_kvar", self.q3_kvar)):
                if name in attrs:
                    target[j] = sum(attrs[name].values())
        if self.unbalanced:
            self.result = self.model.solve(self.p_kw, self.q_kvar, self.p3_kw, self.q3_kvar)
        else:
            self.result = self.model.solve(self.p_kw, self.q_kvar)
        return time + self.step_size if self.step_size else None

    def get_data(self, outputs):
        r = self.result
        data = {}
        for eid, attrs in outputs.items():
            if eid == "grid":
                vals = {"vm_pu": r.vm_pu.reshape(-1),
                        "line_loading_percent": r.line_loading_percent.reshape(-1),
                        "trafo_p_mw": r.trafo_p_mw, "trafo_q_mvar": r.trafo_q_mvar,
                        "trafo_loading_percent": r.trafo_loading_percent,
                        "vuf_percent": r.vuf_percent if r.vuf_percent is not None
                        else self.zero_vuf,
                        "losses_mw": r.losses_mw, "converged": r.converged}
                data[eid] = {a: vals[a] for a in attrs}
            elif eid in self.load_home:
                j = self.load_home[eid]
                vm = r.vm_pu[self.home_bus_row[j]]
                vm = float(vm[self.home_phase[j]] if self.unbalanced else vm)
                data[eid] = {a: vm for a in attrs if a == "vm_pu"}
            else:
                kind = eid.split("-", 1)[0]
                i = self.rows[kind][eid]
                if kind == "Bus":
                    vals = {"vm_pu": r.vm_pu[i]}
                elif kind == "Line":
                    vals = {"loading_percent": r.line_loading_percent[i]}
                else:
                    vals = {"loading_percent": r.trafo_loading_percent[i],
                            "p_mw": r.trafo_p_mw[i], "q_mvar": r.trafo_q_mvar[i]}
                data[eid] = {a: (np.asarray(vals[a], dtype=float).tolist()
                                 if np.ndim(vals[a]) else float(vals[a])) for a in attrs}
        return data
