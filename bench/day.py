"""Time one simulated day of the default scenario, split into load flow, mosaik and the rest.

Usage: ``python bench/day.py [--scenario FILE] [--repeat N]``

Every simulator's ``step``/``get_data`` and the grid model's ``solve`` are wrapped with timers
(in this process; all simulators run in-process). Printed per run:

- load flow: time inside ``GridModel.solve`` (the load-flow engine, here pandapower's runpp
  or our own engine once it replaces it);
- simulators: time in the simulators' own code (profiles, homes, grid adapter, collector)
  minus the load flow;
- mosaik: the rest of ``world.run`` (scheduling, data routing between simulators);
- setup (scenario, feeder, world start) and KPIs.

The first run of a process includes one-off compilation (numba) and imports; the table shows
every run, so later repeats show the warm cost.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from sims.collector import simulator as collector_sim
from sims.grid import model as grid_model
from sims.grid import simulator as grid_sim
from sims.homes import profiles_simulator as profiles_sim
from sims.homes import simulator as homes_sim
from testbed.run import run_scenario, scenario_feeder
from testbed.scenario import DEFAULT_SCENARIO, load_scenario

TIMERS: dict[str, list[float]] = defaultdict(list)


def _wrap(cls, name: str, key: str) -> None:
    original = getattr(cls, name)

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            TIMERS[key].append(time.perf_counter() - t0)

    setattr(cls, name, timed)


def instrument() -> None:
    """Wrap the simulators and the load flow with timers."""
    for mod, cls in ((profiles_sim, "ProfilesSim"), (homes_sim, "HomesSim"),
                     (grid_sim, "GridSim"), (collector_sim, "CollectorSim")):
        for method in ("step", "get_data"):
            _wrap(getattr(mod, cls), method, f"sim:{cls}")
    _wrap(grid_model.GridModel, "solve", "loadflow")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    instrument()
    scenario = load_scenario(args.scenario)
    rows = []
    for i in range(args.repeat):
        TIMERS.clear()
        t0 = time.perf_counter()
        feeder = scenario_feeder(scenario)
        with tempfile.TemporaryDirectory() as tmp:
            res = run_scenario(scenario, Path(tmp) / "run", progress=False, feeder=feeder)
        wall = time.perf_counter() - t0
        lf = sum(TIMERS["loadflow"])
        sims = sum(sum(v) for k, v in TIMERS.items() if k.startswith("sim:")) - lf
        mosaik_s = res.timings["run_s"] - sims - lf
        setup = wall - res.timings["run_s"] - res.timings["kpis_s"]
        steps = len(TIMERS["loadflow"])
        rows.append((i + 1, wall, lf, sims, mosaik_s, setup, res.timings["kpis_s"], steps,
                     statistics.median(TIMERS["loadflow"]) * 1e3))
    print(f"one day of {scenario.name}: {scenario.n_steps} steps, "
          f"{len(feeder.homes)} homes, {len(feeder.net.bus)} buses")
    print(f"{'run':>3} {'wall s':>8} {'loadflow s':>11} {'sims s':>8} {'mosaik s':>9} "
          f"{'setup s':>8} {'kpis s':>7} {'lf ms/step (median)':>20}")
    for r in rows:
        print(f"{r[0]:>3} {r[1]:>8.2f} {r[2]:>11.2f} {r[3]:>8.2f} {r[4]:>9.2f} {r[5]:>8.2f} "
              f"{r[6]:>7.2f} {r[8]:>20.2f}")
    last = rows[-1]
    run_s = last[2] + last[3] + last[4]
    print(f"share of world.run in the last run: load flow {last[2] / run_s:.0%}, "
          f"simulators {last[3] / run_s:.0%}, mosaik {last[4] / run_s:.0%}")


if __name__ == "__main__":
    main()
