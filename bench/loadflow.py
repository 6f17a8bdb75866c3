"""Benchmark of the numba load flow against pandapower and power-grid-model (issue 3).

For each grid, in one run, it prints the time per step of:

* pandapower ``runpp`` (NR, ``tolerance_mva=1e-10``, lightsim2grid off), per call;
* pandapower ``run_timeseries`` (ConstControl on the loads and sgens), per step;
* power-grid-model's batch power flow (``iterative_current`` and ``newton_raphson``, its
  default ``error_tolerance`` 1e-8 on voltage, ``threading`` = threads), the fastest reported;
* ours: a batch (``LoadFlow.run`` on ``[n_steps, n]`` arrays, ``threads`` threads) and a
  single step called from Python (including result extraction), per step;

plus the ratios, and for the reference feeder the cold start (first solve of a new process
with the kernels cached on disk, measured in a subprocess). Timings are medians of repeats
(ours also the best repeat, in the progress lines); on a shared machine read them as orders of
magnitude and ratios: two identical runs here differed by up to 1.8x in the single step.

Usage::

    python bench/loadflow.py                 # default: every grid, short batches (minutes)
    python bench/loadflow.py --full          # 35,040-step batches on every grid
    python bench/loadflow.py --grids feeder 1-LV-rural1--0-sw --threads 2
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

YEAR = 35_040  # 15-min steps in a (non-leap) year
SIMBENCH = [f"1-LV-{g}--{s}-sw" for g in ("rural1", "rural2", "rural3", "semiurb4",
                                          "semiurb5", "urban6") for s in (0, 2)]
GRIDS = ["feeder", "meshed_feeder", "ieee_european", *SIMBENCH]


def build(name: str):
    """The pandapower net of a bench grid (the feeder gets one 4 kW PV sgen per home)."""
    import pandapower as pp

    if name in ("feeder", "meshed_feeder"):
        from grids.networks.feeder import build_reference_feeder
        net = build_reference_feeder(n_homes=184, seed=1).net
        for _, row in net.load.iterrows():
            pp.create_sgen(net, row["bus"], p_mw=0.004, q_mvar=0.0)
        if name == "meshed_feeder":
            names = net.bus["name"].astype(str)
            trunk = names[names.str.match(r"^F\d+-J\d+$")].str.extract(r"^F(\d+)-J(\d+)$")
            trunk = trunk.astype(int)
            ends = {f: grp[1].idxmax() for f, grp in trunk.groupby(0)}
            for a, b in ((1, 2), (3, 4), (2, 3)):
                if a in ends and b in ends:
                    pp.create_line(net, ends[a], ends[b], 0.15, "NAYY 4x120 SE")
        return net
    if name == "ieee_european":
        import pandapower.networks as pn
        net = pn.ieee_european_lv_asymmetric()
        for _, r in net.asymmetric_load.iterrows():
            pp.create_load(net, r["bus"], p_mw=r["p_a_mw"] + r["p_b_mw"] + r["p_c_mw"],
                           q_mvar=r["q_a_mvar"] + r["q_b_mvar"] + r["q_c_mvar"])
        net.asymmetric_load = net.asymmetric_load.iloc[0:0]
        return net
    import simbench as sb
    return sb.get_simbench_net(name)


def draws(net, n_steps: int, seed: int = 0):
    """Load and PV values ``[n_steps, n]`` [MW], uniform from no load to 1.2x nominal and from
    no PV to full PV (nominal load at least 2 kW, PV at least 3 kW)."""
    rng = np.random.default_rng(seed)
    p_nom = np.maximum(net.load["p_mw"].to_numpy(float), 0.002)
    g_nom = np.maximum(net.sgen["p_mw"].to_numpy(float), 0.003)
    load_p = rng.uniform(0.0, 1.2, (n_steps, len(p_nom))) * p_nom
    load_q = load_p * 0.3
    sgen_p = rng.uniform(0.0, 1.0, (n_steps, len(g_nom))) * g_nom
    return load_p, load_q, sgen_p


def wall_times(fn, repeats: int) -> np.ndarray:
    """Wall times of ``repeats`` calls of ``fn()`` [s]."""
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return np.array(ts)


def median_time(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls [s]."""
    return float(np.median(wall_times(fn, repeats)))


def bench_runpp(net, load_p, load_q, sgen_p, n_calls: int) -> float:
    import pandapower as pp

    work = copy.deepcopy(net)
    ts = []
    for i in range(n_calls):
        work.load["p_mw"] = load_p[i]
        work.load["q_mvar"] = load_q[i]
        if len(work.sgen):
            work.sgen["p_mw"] = sgen_p[i]
        t0 = time.perf_counter()
        pp.runpp(work, algorithm="nr", tolerance_mva=1e-10, lightsim2grid=False)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts[1:]))


def bench_timeseries(net, load_p, load_q, sgen_p, n_steps: int) -> float:
    import pandas as pd
    from pandapower.control import ConstControl
    from pandapower.timeseries import DFData, OutputWriter, run_timeseries

    work = copy.deepcopy(net)
    df = pd.DataFrame(np.hstack([load_p[:n_steps], load_q[:n_steps], sgen_p[:n_steps]]))
    nl, ng = load_p.shape[1], sgen_p.shape[1]
    ds = DFData(df)
    ConstControl(work, "load", "p_mw", element_index=work.load.index, data_source=ds,
                 profile_name=list(range(nl)))
    ConstControl(work, "load", "q_mvar", element_index=work.load.index, data_source=ds,
                 profile_name=list(range(nl, 2 * nl)))
    if ng:
        ConstControl(work, "sgen", "p_mw", element_index=work.sgen.index, data_source=ds,
                     profile_name=list(range(2 * nl, 2 * nl + ng)))
    ow = OutputWriter(work, output_path=None)
    ow.log_variable("res_bus", "vm_pu")
    ow.log_variable("res_line", "loading_percent")
    ow.log_variable("res_trafo", "loading_percent")
    t0 = time.perf_counter()
    run_timeseries(work, time_steps=range(n_steps), verbose=False, algorithm="nr",
                   tolerance_mva=1e-10, lightsim2grid=False)
    return (time.perf_counter() - t0) / n_steps


def bench_pgm(net, load_p, load_q, sgen_p, threads: int, ours_vm: np.ndarray):
    """Per-step time of PGM batch methods [s] and PGM's largest |dVm| to ours [p.u.]."""
    from power_grid_model import CalculationMethod, ComponentType, PowerGridModel

    from bench.pgm_input import pgm_input, pgm_update

    data, ids = pgm_input(net)
    model = PowerGridModel(data)
    upd = pgm_update(ids, load_p, load_q, sgen_p, net.load["scaling"].to_numpy(),
                     net.sgen["scaling"].to_numpy())
    n_steps = load_p.shape[0]
    out_types = {ComponentType.node: ["u_pu"], ComponentType.line: ["loading"],
                 ComponentType.transformer: ["loading"]}
    times, dv = {}, np.nan
    for method in (CalculationMethod.iterative_current, CalculationMethod.newton_raphson):
        def run(method=method):
            return model.calculate_power_flow(
                update_data=upd, threading=threads, calculation_method=method,
                output_component_types=out_types)
        try:
            run()  # warm-up
            times[method.name] = median_time(run, 3) / n_steps
            res = run()
            vm = res[ComponentType.node]["u_pu"]
            dv = float(np.nanmax(np.abs(vm - ours_vm)))
        except Exception as exc:  # noqa: BLE001 - report, do not hide
            times[method.name] = np.nan
            print(f"    PGM {method.name} failed: {exc!r}"[:300])
    return times, dv


def cold_start(threads: int) -> dict:
    """First solve of a new process on the reference feeder (kernels cached on disk)."""
    code = f"""
import json, time
t0 = time.perf_counter()
import numpy as np
from grids.networks.feeder import build_reference_feeder
from grids.balanced.loadflow import LoadFlow
t1 = time.perf_counter()
net = build_reference_feeder(n_homes=184, seed=1).net
t2 = time.perf_counter()
lf = LoadFlow(net, threads={threads})
t3 = time.perf_counter()
res = lf.run(load_p_mw=np.full(len(net.load), 0.002))
t4 = time.perf_counter()
res = lf.run(load_p_mw=np.full((96, len(net.load)), 0.002))
t5 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, build_s=t2 - t1, compile_net_s=t3 - t2,
                      first_single_solve_s=t4 - t3, first_batch_solve_s=t5 - t4,
                      converged=bool(res.all_converged))))
"""
    out = []
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=str(ROOT), timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {k: float(np.median([o[k] for o in out])) for k in out[0]}


def bench_grid(name: str, n_batch: int, threads: int, args) -> dict:
    import numba

    from grids.balanced.loadflow import LoadFlow

    net = build(name)
    load_p, load_q, sgen_p = draws(net, n_batch, seed=1)
    t0 = time.perf_counter()
    lf = LoadFlow(net, threads=threads)
    compile_s = time.perf_counter() - t0
    lf.run(load_p[:70], load_q[:70], sgen_p[:70])  # warm (kernels from the disk cache)
    res = lf.run(load_p, load_q, sgen_p)
    batch_ts = wall_times(lambda: lf.run(load_p, load_q, sgen_p), args.repeats) / n_batch
    n_single = min(args.single_calls, n_batch)

    def singles():
        for i in range(n_single):
            lf.run(load_p[i], load_q[i], sgen_p[i])
    single_ts = wall_times(singles, 7) / n_single
    ours_batch, ours_single = float(np.median(batch_ts)), float(np.median(single_ts))
    row = dict(grid=name, n_bus=len(net.bus), n_load=len(net.load), n_sgen=len(net.sgen),
               n_batch=n_batch, compile_s=compile_s, ours_batch_s=ours_batch,
               ours_single_s=ours_single, ours_batch_min_s=float(batch_ts.min()),
               ours_single_min_s=float(single_ts.min()),
               iterations_mean=float(res.iterations.mean()),
               all_converged=bool(res.all_converged), numba_threads=numba.get_num_threads())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row["runpp_s"] = bench_runpp(net, load_p, load_q, sgen_p, args.runpp_calls)
        row["timeseries_s"] = bench_timeseries(net, load_p, load_q, sgen_p, args.ts_steps)
    pgm_times, dv = bench_pgm(net, load_p, load_q, sgen_p, threads, res.vm_pu)
    row.update({f"pgm_{k}_s": v for k, v in pgm_times.items()})
    finite = [v for v in pgm_times.values() if np.isfinite(v)]
    row["pgm_best_s"] = min(finite) if finite else np.nan
    row["pgm_max_dvm_pu"] = dv
    return row


def print_table(rows: list[dict]) -> None:
    us = 1e6
    head = (f"{'grid':<22}{'buses':>6}{'batch':>7}{'runpp':>9}{'run_ts':>9}{'PGM it-cur':>11}"
            f"{'PGM NR':>9}{'ours batch':>11}{'ours 1':>8}{'it':>5}"
            f"{'x runpp':>9}{'x PGM':>7}{'1 vs runpp':>11}")
    print("\ntimes in us per step (median); ratios: how many times faster ours is")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['grid']:<22}{r['n_bus']:>6}{r['n_batch']:>7}{r['runpp_s'] * us:>9.0f}"
              f"{r['timeseries_s'] * us:>9.0f}"
              f"{r.get('pgm_iterative_current_s', np.nan) * us:>11.1f}"
              f"{r.get('pgm_newton_raphson_s', np.nan) * us:>9.1f}{r['ours_batch_s'] * us:>11.2f}"
              f"{r['ours_single_s'] * us:>8.1f}{r['iterations_mean']:>5.1f}"
              f"{r['runpp_s'] / r['ours_batch_s']:>9.0f}{r['pgm_best_s'] / r['ours_batch_s']:>7.1f}"
              f"{r['runpp_s'] / r['ours_single_s']:>11.0f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grids", nargs="*", default=GRIDS, help=f"subset of {GRIDS}")
    ap.add_argument("--full", action="store_true", help="35,040-step batches on every grid")
    ap.add_argument("--batch", type=int, default=2_880,
                    help="batch steps for grids other than the reference feeder (default a "
                         "month at 15 min; the reference feeder always gets 35,040)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--runpp-calls", type=int, default=11)
    ap.add_argument("--ts-steps", type=int, default=48)
    ap.add_argument("--single-calls", type=int, default=500)
    ap.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    ap.add_argument("--no-cold-start", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    rows = []
    for name in args.grids:
        n_batch = YEAR if (args.full or name == "feeder") else args.batch
        t0 = time.perf_counter()
        row = bench_grid(name, n_batch, args.threads, args)
        rows.append(row)
        print(f"  {name}: done in {time.perf_counter() - t0:.0f} s "
              f"(ours, median [best]: {row['ours_batch_s'] * 1e6:.2f} "
              f"[{row['ours_batch_min_s'] * 1e6:.2f}] us/step batch, "
              f"{row['ours_single_s'] * 1e6:.1f} [{row['ours_single_min_s'] * 1e6:.1f}] us "
              f"single; PGM best "
              f"{row['pgm_best_s'] * 1e6:.1f} us/step; PGM |dVm| vs ours "
              f"{row['pgm_max_dvm_pu']:.1e} p.u.)", flush=True)
    print_table(rows)
    if not args.no_cold_start:
        cs = cold_start(args.threads)
        print("\ncold start, reference feeder, new process (median of 3): "
              + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in cs.items()))
        rows.append({"cold_start": cs})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
