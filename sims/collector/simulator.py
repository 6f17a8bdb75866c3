"""Mosaik adapter: the results collector, writing each step to the run folder as the run goes.

Model ``Collector`` (one entity, ``any_inputs``): connect the homes' outputs, the ``Grid``
entity and the ``Transformer`` entities to it. Rows go to a
:class:`testbed.results.ResultsWriter`, flushed to Parquet part files every few steps, so an
interrupted run keeps what it computed; ``finalize`` turns the parts into one file per table.
"""

from __future__ import annotations

import mosaik_api_v3
import numpy as np
import pandas as pd

from sims.collector.writer import ResultsWriter
from sims.homes.fleet import OUTPUTS

HOME_ATTRS = list(OUTPUTS)
FLAGS = ("controlled", "fallback")
META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {"Collector": {"public": True, "any_inputs": True, "params": [], "attrs": []}},
}


class CollectorSim(mosaik_api_v3.Simulator):
    """Gathers every step's outputs into long tables and hands them to the writer."""

    def __init__(self):
        super().__init__(META)
        self.writer: ResultsWriter | None = None

    def init(self, sid, time_resolution=1.0, *, out_dir: str, start: str, timezone: str,
             step_s: int, bus_ids: list[str], line_ids: list[str], trafo_ids: list[str],
             trafo_sn_mva: list[float], flush_every: int = 16):
        self.writer = ResultsWriter(out_dir, flush_every=flush_every)
        self.start = pd.Timestamp(start).tz_localize(timezone) if pd.Timestamp(start).tz is None \
            else pd.Timestamp(start)
        self.step_s = step_s
        self.bus_ids = pd.Categorical(bus_ids)
        self.line_ids = pd.Categorical(line_ids)
        self.trafo_ids = list(trafo_ids)
        self.trafo_sn = dict(zip(trafo_ids, trafo_sn_mva, strict=True))
        self.steps_written = 0
        return self.meta

    def create(self, num, model, **params):
        if num != 1:
            raise ValueError("CollectorSim: create exactly one Collector")
        return [{"eid": "collector", "type": model}]

    def step(self, time, inputs, max_advance):
        data = inputs.get("collector", {})
        ts = self.start + pd.Timedelta(seconds=time)

        def by_source(attr: str) -> dict[str, object]:
            return {src.split(".", 1)[1]: v for src, v in data.get(attr, {}).items()}

        homes = {a: by_source(a) for a in HOME_ATTRS}
        home_ids = sorted(homes["p_kw"])
        frames = {}
        frames["homes"] = pd.DataFrame(
            {"time": ts, "home_id": home_ids,
             **{a: np.array([homes[a].get(h, np.nan) for h in home_ids], dtype=float)
                for a in HOME_ATTRS}})
        for flag in FLAGS:
            frames["homes"][flag] = frames["homes"][flag] > 0.5
        (vm,) = by_source("vm_pu").values()
        (loading,) = by_source("line_loading_percent").values()
        (losses,) = by_source("losses_mw").values()
        (converged,) = by_source("converged").values()
        frames["buses"] = pd.DataFrame({"time": ts, "bus_id": self.bus_ids,
                                        "vm_pu": np.asarray(vm, dtype=float)})
        frames["lines"] = pd.DataFrame({"time": ts, "line_id": self.line_ids,
                                        "loading_percent": np.asarray(loading, dtype=float)})
        p, q, ld = by_source("p_mw"), by_source("q_mvar"), by_source("loading_percent")
        frames["transformer"] = pd.DataFrame({
            "time": ts, "trafo_id": self.trafo_ids,
            "p_mw": [p[t] for t in self.trafo_ids], "q_mvar": [q[t] for t in self.trafo_ids],
            "loading_percent": [ld[t] for t in self.trafo_ids],
            "sn_mva": [self.trafo_sn[t] for t in self.trafo_ids]})
        frames["grid"] = pd.DataFrame({"time": [ts], "losses_mw": [float(losses)],
                                       "converged": [bool(converged)]})
        self.writer.add_step(frames)
        self.steps_written += 1
        return time + self.step_s

    def finalize(self):
        if self.writer is not None:
            self.writer.close()
