"""Time a simulated day of the default scenario and of the anchor, in one process.

Usage: ``python bench/day.py [--scenario FILE] [--control LEVEL] [--repeat N] [--no-anchor]``

**Ours**: ``run_scenario`` of the scenario, ``--repeat`` times (default 3) in this process; the
first run includes one-off costs (imports, kernels from the disk cache, the CEMS pool), later
runs are warm (what a sweep's worker sees). Every simulator's ``step``/``get_data`` and the
grid model's ``solve`` are wrapped with timers, so ``world.run`` splits into the load flow,
each simulator's own code and mosaik (the rest: scheduling and data routing). The number of
values mosaik routes per step (one per connected entity attribute and source, an array
counting as one) is counted from the inputs each simulator receives.

**The anchor**: what mosaik users would couple instead: the same feeder (our ``network.json``)
in mosaik-pandapower-2, which calls ``runpp`` every step, and the same households (our homes'
net power of the day, written as a mosaik-householdsim profile file, 184 ``House`` entities,
each connected to its bus's ``P_load[MW]``; householdsim has no reactive power, so the anchor
solves active power only). It needs the ``bench`` extras.

The last line is JSON: ``world_run_s``, ``setup_s``, ``loadflow_s`` (medians of the warm runs),
``steps``, ``anchor_world_run_s`` and ``ratio`` (anchor / ours).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

from sims.aggregator import simulator as agg_sim
from sims.collector import simulator as collector_sim
from sims.dso import simulator as dso_sim
from sims.grid import model as grid_model
from sims.grid import simulator as grid_sim
from sims.homes import simulator as homes_sim
from testbed.run import run_scenario
from testbed.scenario import DEFAULT_SCENARIO, load_scenario

TIMERS: dict[str, float] = defaultdict(float)
VALUES: dict[str, int] = defaultdict(int)
SIMULATORS = {"homes": (homes_sim, "HomesSim"), "grid": (grid_sim, "GridSim"),
              "collector": (collector_sim, "CollectorSim"),
              "aggregator": (agg_sim, "AggregatorSim"), "dso": (dso_sim, "DsoSim")}


def _wrap(cls, name: str, key: str, count: bool = False) -> None:
    original = getattr(cls, name)

    def timed(self, *args, **kwargs):
        if count:  # step(time, inputs, max_advance): one value per (entity, attr, source)
            VALUES[key] += sum(len(src) for attrs in args[1].values() for src in attrs.values())
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            TIMERS[key] += time.perf_counter() - t0

    setattr(cls, name, timed)


def instrument() -> None:
    """Wrap the simulators and the grid model's load flow with timers and value counters."""
    for key, (mod, cls) in SIMULATORS.items():
        _wrap(getattr(mod, cls), "step", key, count=True)
        _wrap(getattr(mod, cls), "get_data", key)
    _wrap(grid_model.GridModel, "solve", "loadflow")


def ours(scenario, repeat: int) -> tuple[list[dict], Path]:
    """Run the scenario ``repeat`` times; one row of timings per run, and a kept run folder."""
    rows = []
    keep = Path(tempfile.mkdtemp(prefix="bench-day-"))
    for i in range(repeat):
        TIMERS.clear()
        VALUES.clear()
        out = keep / f"run{i}"
        res = run_scenario(scenario, out, progress=False)
        t = res.timings
        lf = TIMERS["loadflow"]
        sims = {k: TIMERS[k] - (lf if k == "grid" else 0.0) for k in SIMULATORS if k in TIMERS}
        rows.append({"world_run_s": t["run_s"], "setup_s": t["setup_s"] + t["world_s"],
                     "loadflow_s": lf, **{f"{k}_s": v for k, v in sims.items()},
                     "mosaik_s": t["run_s"] - lf - sum(sims.values()),
                     "values_per_step": sum(VALUES.values()) / scenario.n_steps,
                     "close_s": t["close_s"], "kpis_s": t["kpis_s"]})
    return rows, keep / f"run{repeat - 1}"


def _household_profiles(run: Path, path: Path) -> list[int]:
    """Write our homes' net power of the day as a mosaik-householdsim profile file [MW];
    return each home's bus index (feeder order)."""
    from grids.networks.loaders import load_json_feeder

    homes = pd.read_parquet(run / "homes.parquet")
    p = homes.pivot(index="time", columns="home_id", values="p_kw") / 1000.0
    feeder = load_json_feeder(run / "network.json")
    p = p[[h for h in feeder.homes.index]]
    start = p.index[0].tz_localize(None)
    ids = [f"node_{b}" for b in feeder.homes.bus]
    lines = ["# meta",
             json.dumps({"start_date": start.strftime("%Y-%m-%d %H:%M"), "resolution": 15,
                         "unit": "MW", "num_profiles": p.shape[1]}),
             "# id_list", json.dumps({"feeder": ids}),
             "# attrs",
             ",".join(["num_hh", *["1"] * p.shape[1]]),
             ",".join(["num_residents", *["2"] * p.shape[1]]),
             "# profiles"]
    for ts, row in zip(p.index, p.to_numpy(), strict=True):
        lines.append(",".join([ts.tz_localize(None).strftime("%Y-%m-%d %H:%M"),
                               *[repr(float(x)) for x in row]]))
    path.write_text("\n".join(lines) + "\n")
    return [int(b) for b in feeder.homes.bus]


def anchor(run: Path, steps: int, step_s: int) -> dict:
    """The same day through mosaik-pandapower-2 and mosaik-householdsim (module docstring)."""
    import mosaik

    t0 = time.perf_counter()
    profiles = run.parent / "households.csv"
    buses = _household_profiles(run, profiles)
    start = pd.read_parquet(run / "grid.parquet").time.iloc[0].tz_localize(None)
    config = {"Grid": {"python": "mosaik_components.pandapower:Simulator"},
              "Houses": {"python": "mosaik_components.household.mosaik:Simulator"}}
    with mosaik.World(config, skip_greetings=True, configure_logging=False) as world:
        grid = world.start("Grid", step_size=step_s).Grid(json=str(run / "network.json"))
        houses = world.start("Houses").ResidentialLoads(
            sim_start=start.strftime("%Y-%m-%d %H:%M"), profile_file=str(profiles),
            grid_name="feeder")
        bus = {e.eid: e for e in grid.children if e.type == "Bus"}
        for house, b in zip(houses.children, buses, strict=True):
            world.connect(house, bus[f"Bus-{b}"], ("P_out", "P_load[MW]"))
        t1 = time.perf_counter()
        world.run(until=steps * step_s, print_progress=False)
        t2 = time.perf_counter()
    return {"anchor_setup_s": t1 - t0, "anchor_world_run_s": t2 - t1}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    p.add_argument("--control", default=None, help="control level (overrides the scenario)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-anchor", action="store_true")
    args = p.parse_args()
    instrument()
    scenario = load_scenario(args.scenario)
    if args.control:
        scenario = scenario.with_overrides(control=args.control)
    rows, last = ours(scenario, args.repeat)
    warm = rows[1:] or rows
    med = {k: statistics.median(r[k] for r in warm) for k in warm[0]}
    print(f"one day of {scenario.name} (control {scenario.control}): {scenario.n_steps} steps")
    keys = [k for k in rows[0] if k not in ("values_per_step",)]
    print("run " + " ".join(f"{k.removesuffix('_s'):>10}" for k in keys) + "  [s]")
    for i, r in enumerate(rows, 1):
        print(f"{i:>3} " + " ".join(f"{r[k]:>10.3f}" for k in keys))
    split = {k: med[k] / med["world_run_s"] for k in keys
             if k not in ("world_run_s", "setup_s", "close_s", "kpis_s")}
    print("share of world.run (median of warm runs): "
          + ", ".join(f"{k.removesuffix('_s')} {v:.0%}" for k, v in split.items()))
    print(f"values routed through mosaik per step: {med['values_per_step']:.0f}")
    result = {"world_run_s": med["world_run_s"], "setup_s": med["setup_s"],
              "loadflow_s": med["loadflow_s"], "steps": scenario.n_steps}
    if not args.no_anchor:
        a = anchor(last, scenario.n_steps, scenario.step_s)
        print(f"anchor (mosaik-pandapower-2 runpp + mosaik-householdsim): world.run "
              f"{a['anchor_world_run_s']:.3f} s, setup {a['anchor_setup_s']:.3f} s")
        result["anchor_world_run_s"] = a["anchor_world_run_s"]
        result["ratio"] = a["anchor_world_run_s"] / med["world_run_s"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
