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

The unbalanced section (issue 12) compares :class:`grids.UnbalancedLoadFlow` with
pandapower's ``runpp_3ph`` (per call) and power-grid-model's asymmetric batch power flow (both
methods, ``symmetric=False``, the fastest reported) on the reference feeder with its homes on
their phases (a 35,040-step year batch), the IEEE European LV feeder and a SimBench grid with
its loads put on phases (``--batch`` steps): ours as a batch (``threads`` threads, homes given
as phase connections) and one step called from Python.

Usage::

    python bench/loadflow.py                 # default: every grid, short batches (minutes)
    python bench/loadflow.py --full          # 35,040-step batches on every grid
    python bench/loadflow.py --grids feeder 1-LV-rural1--0-sw --threads 2
    python bench/loadflow.py --section unbalanced   # the unbalanced section only
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


UNBALANCED_GRIDS = ["feeder", "ieee_european", "1-LV-semiurb4--0-sw"]


def build_unbalanced(name: str):
    """``(net3, connections)`` of an unbalanced bench grid: the reference feeder's homes on
    their phases, the IEEE European LV feeder as pandapower ships it (each asymmetric load
    one connection on its loaded phase), a SimBench grid with its loads put on phases."""
    import pandapower.networks as pn

    from grids.networks.feeder import build_reference_feeder
    from grids.networks.phases import rotating_phases, single_phase_net
    from grids.unbalanced.loadflow import PhaseConnections

    if name == "feeder":
        f = build_reference_feeder(n_homes=184, seed=1)
        return single_phase_net(f.net, f.homes["phase"].to_numpy(), f.homes["load"].to_numpy())
    if name == "ieee_european":
        net = pn.ieee_european_lv_asymmetric()
        al = net.asymmetric_load
        phase = np.argmax(al[["p_a_mw", "p_b_mw", "p_c_mw"]].to_numpy(float), axis=1)
        return net, PhaseConnections.of(np.arange(len(al)), phase)
    import simbench as sb
    net = sb.get_simbench_net(name)
    net.profiles = {}
    for table in ("sgen", "storage"):
        if len(net[table]):
            net[table]["in_service"] = False
    return single_phase_net(net, rotating_phases(net, seed=1))


def unbalanced_draws(n_steps: int, n_conn: int, seed: int = 0):
    """Per-connection powers [MW], [Mvar]: base load 0-2.4 kW at cos phi 0.95, and on half
    the homes PV of 0-4 kW (so from export to heavy load, unbalanced by the phases)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.0, 1.2, (n_steps, n_conn)) * 0.002
    pv = rng.uniform(0.0, 1.0, (n_steps, n_conn)) * 0.004 * (rng.random(n_conn) < 0.5)
    return base - pv, base * 0.33


def bench_pgm_asym(net3, conns, p, q, threads: int, ours_vm: np.ndarray):
    """Per-step time of PGM's asymmetric batch methods [s] and PGM's largest |dVm| to ours."""
    from power_grid_model import CalculationMethod, ComponentType, PowerGridModel

    from bench.pgm_input import pgm_input_asym, pgm_update_asym

    data, ids = pgm_input_asym(net3)
    model = PowerGridModel(data)
    n_steps = p.shape[0]
    pa = np.zeros((n_steps, len(net3.asymmetric_load), 3))
    qa = np.zeros_like(pa)
    np.add.at(pa, (slice(None), conns.asym_row, conns.phase), p)
    np.add.at(qa, (slice(None), conns.asym_row, conns.phase), q)
    upd = pgm_update_asym(ids, pa, qa, net3.asymmetric_load["scaling"].to_numpy(float))
    del pa, qa
    out_types = {ComponentType.node: ["u_pu"], ComponentType.line: ["loading"]}
    times, dv = {}, np.nan
    for method in (CalculationMethod.iterative_current, CalculationMethod.newton_raphson):
        def run(method=method):
            return model.calculate_power_flow(
                update_data=upd, symmetric=False, threading=threads,
                calculation_method=method, output_component_types=out_types)
        try:
            res = run()  # warm-up
            vm = res[ComponentType.node]["u_pu"][:ours_vm.shape[0]]
            dv = float(np.nanmax(np.abs(vm - ours_vm)))
            del res, vm
            times[method.name] = median_time(run, 3) / n_steps
        except Exception as exc:  # noqa: BLE001 - report, do not hide
            times[method.name] = np.nan
            print(f"    PGM {method.name} failed: {exc!r}"[:300])
    return times, dv


def bench_runpp_3ph(net3, conns, p, q, n_calls: int) -> float:
    """Median time of ``runpp_3ph`` per call [s] (``tolerance_mva`` 1e-10)."""
    from pandapower.pf.runpp_3ph import runpp_3ph

    from grids.unbalanced.defaults import with_sequence_data

    work = with_sequence_data(net3, warn=False)
    al = work.asymmetric_load
    cols = {c: al.columns.get_loc(c) for c in al.columns}
    ts = []
    for i in range(n_calls):
        for c in ("p_a_mw", "p_b_mw", "p_c_mw", "q_a_mvar", "q_b_mvar", "q_c_mvar"):
            al.iloc[np.unique(conns.asym_row), cols[c]] = 0.0
        for j, (r, ph) in enumerate(zip(conns.asym_row, conns.phase, strict=True)):
            al.iloc[r, cols[f"p_{'abc'[ph]}_mw"]] += p[i, j]
            al.iloc[r, cols[f"q_{'abc'[ph]}_mvar"]] += q[i, j]
        t0 = time.perf_counter()
        runpp_3ph(work, tolerance_mva=1e-10, max_iteration=100)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts[1:]))


def bench_unbalanced_grid(name: str, n_batch: int, threads: int, args) -> dict:
    import numba

    from grids.unbalanced.loadflow import UnbalancedLoadFlow

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net3, conns = build_unbalanced(name)
        t0 = time.perf_counter()
        lf = UnbalancedLoadFlow(net3, connections=conns, threads=threads)
        compile_s = time.perf_counter() - t0
    p, q = unbalanced_draws(n_batch, len(conns), seed=1)
    lf.run(connection_p_mw=p[:70], connection_q_mvar=q[:70])  # warm (kernels from disk)
    res = lf.run(connection_p_mw=p, connection_q_mvar=q)
    iterations, converged = float(res.iterations.mean()), bool(res.all_converged)
    vm_ref = np.array(res.vm_pu[:256])
    del res
    batch_ts = wall_times(lambda: lf.run(connection_p_mw=p, connection_q_mvar=q),
                          args.repeats) / n_batch
    n_single = min(args.single_calls, n_batch)

    def singles():
        for i in range(n_single):
            lf.run(connection_p_mw=p[i], connection_q_mvar=q[i])
    single_ts = wall_times(singles, 7) / n_single
    lf.release_memory()
    row = dict(grid=name, n_bus=len(net3.bus), n_conn=len(conns), n_batch=n_batch,
               compile_s=compile_s, ours_batch_s=float(np.median(batch_ts)),
               ours_batch_min_s=float(batch_ts.min()),
               ours_single_s=float(np.median(single_ts)),
               ours_single_min_s=float(single_ts.min()), iterations_mean=iterations,
               all_converged=converged, numba_threads=numba.get_num_threads())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row["runpp_3ph_s"] = bench_runpp_3ph(net3, conns, p, q, args.runpp3_calls)
    pgm_times, dv = bench_pgm_asym(net3, conns, p, q, threads, vm_ref)
    row.update({f"pgm_{k}_s": v for k, v in pgm_times.items()})
    finite = [v for v in pgm_times.values() if np.isfinite(v)]
    row["pgm_best_s"] = min(finite) if finite else np.nan
    row["pgm_max_dvm_pu"] = dv
    return row


def print_unbalanced_table(rows: list[dict]) -> None:
    us = 1e6
    head = (f"{'grid':<22}{'buses':>6}{'homes':>6}{'batch':>7}{'runpp_3ph':>11}"
            f"{'PGM it-cur':>11}{'PGM NR':>9}{'ours batch':>11}{'[best]':>8}{'ours 1':>8}"
            f"{'[best]':>8}{'it':>5}{'x runpp3':>9}{'x PGM':>7}{'1 vs runpp3':>12}")
    print("\nunbalanced: times in us per step (median, [best repeat]); ratios: how many times "
          "faster ours is (batch; the last column: one step from Python)")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['grid']:<22}{r['n_bus']:>6}{r['n_conn']:>6}{r['n_batch']:>7}"
              f"{r['runpp_3ph_s'] * us:>11.0f}"
              f"{r.get('pgm_iterative_current_s', np.nan) * us:>11.1f}"
              f"{r.get('pgm_newton_raphson_s', np.nan) * us:>9.1f}"
              f"{r['ours_batch_s'] * us:>11.2f}{r['ours_batch_min_s'] * us:>8.2f}"
              f"{r['ours_single_s'] * us:>8.1f}{r['ours_single_min_s'] * us:>8.1f}"
              f"{r['iterations_mean']:>5.1f}{r['runpp_3ph_s'] / r['ours_batch_s']:>9.0f}"
              f"{r['pgm_best_s'] / r['ours_batch_s']:>7.1f}"
              f"{r['runpp_3ph_s'] / r['ours_single_s']:>12.0f}")
    for r in rows:
        print(f"  {r['grid']}: PGM's largest |dVm| to ours {r['pgm_max_dvm_pu']:.1e} p.u. "
              "(model differences, see bench/pgm_input.py); all converged: "
              f"{r['all_converged']}; compile {r['compile_s']:.2f} s")


def load_average() -> str:
    """The machine's load averages (1, 5, 15 min), to judge how busy it was."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


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
    ap.add_argument("--section", choices=("balanced", "unbalanced", "both"), default="both")
    ap.add_argument("--unbalanced-grids", nargs="*", default=UNBALANCED_GRIDS,
                    help=f"subset of {UNBALANCED_GRIDS} (or SimBench codes)")
    ap.add_argument("--runpp3-calls", type=int, default=6)
    args = ap.parse_args(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    print(f"load average before: {load_average()} ({os.cpu_count()} cores)", flush=True)
    rows = []
    if args.section in ("unbalanced", "both"):
        urows = []
        for name in args.unbalanced_grids:
            n_batch = YEAR if (args.full or name == "feeder") else args.batch
            t0 = time.perf_counter()
            row = bench_unbalanced_grid(name, n_batch, args.threads, args)
            urows.append(row)
            print(f"  unbalanced {name}: done in {time.perf_counter() - t0:.0f} s (ours, median "
                  f"[best]: {row['ours_batch_s'] * 1e6:.2f} [{row['ours_batch_min_s'] * 1e6:.2f}]"
                  f" us/step batch, {row['ours_single_s'] * 1e6:.1f} "
                  f"[{row['ours_single_min_s'] * 1e6:.1f}] us single; PGM best "
                  f"{row['pgm_best_s'] * 1e6:.1f} us/step; load {load_average()})", flush=True)
        print_unbalanced_table(urows)
        rows += [dict(r, section="unbalanced") for r in urows]
        if args.section == "unbalanced":
            args.grids = []
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
    balanced = [r for r in rows if r.get("section") != "unbalanced"]
    if balanced:
        print_table(balanced)
    if not args.no_cold_start and balanced:
        cs = cold_start(args.threads)
        print("\ncold start, reference feeder, new process (median of 3): "
              + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in cs.items()))
        rows.append({"cold_start": cs})
    print(f"load average after: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
