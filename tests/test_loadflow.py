"""The numba load flow against pandapower's runpp, physics checks, faults (issue 3).

Tests whose name contains ``small`` use a small built-in grid; they are also run with
``NUMBA_DISABLE_JIT=1`` in a subprocess (``test_kernels_without_jit``).
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pandapower as pp
import pytest
from pandapower.toolbox import nets_equal

from grids.balanced.loadflow import LoadFlow, LoadFlowResult
from testbed.errors import LoadflowInputError, UnsupportedElement
from tests.loadflow_cases import (
    SIMBENCH_CODES,
    assert_exact,
    draws,
    feeder_net,
    ieee_european_balanced,
    meshed_feeder_net,
    runpp_step,
    simbench_net,
    small_net,
)

DEFAULT_SIMBENCH = ("1-LV-rural1--0-sw", "1-LV-semiurb4--2-sw")
NO_JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"


def _grid(name: str):
    if name == "small":
        return small_net()
    if name == "feeder":
        return feeder_net()
    if name == "meshed_feeder":
        return meshed_feeder_net()
    if name == "ieee_european":
        return ieee_european_balanced()
    return simbench_net(name)


GRIDS = (
    [pytest.param("small", id="small")]
    + [pytest.param(n, id=n) for n in ("feeder", "meshed_feeder", "ieee_european")]
    + [pytest.param(c, id=c) for c in DEFAULT_SIMBENCH]
    + [pytest.param(c, id=c, marks=pytest.mark.slow) for c in SIMBENCH_CODES
       if c not in DEFAULT_SIMBENCH]
)


def _bus_balance_residual(net, res: LoadFlowResult, step: int) -> float:
    """Largest |S_calc - S_spec| [MVA] at any bus from pandapower's own Ybus and our V.

    ``S_calc = V conj(Ybus V)`` is the sum of the flows leaving a bus through its branches
    and shunts; it must equal the net injection of its loads, sgens and storage.
    """
    ref = copy.deepcopy(net)
    pp.runpp(ref, tolerance_mva=1e-10, lightsim2grid=False)  # only to get Ybus and lookups
    ppc = ref._ppc
    ybus = ppc["internal"]["Ybus"]
    n_int = ybus.shape[0]
    lookup = ref._pd2ppc_lookups["bus"]
    v = np.full(n_int, np.nan, dtype=complex)
    vm = res.vm_pu[step]
    va = np.deg2rad(res.va_degree[step])
    for pos, b in enumerate(net.bus.index):
        i = lookup[b]
        if 0 <= i < n_int and np.isfinite(vm[pos]):
            v[i] = vm[pos] * np.exp(1j * va[pos])
    s_calc = v * np.conj(ybus @ v) * ppc["baseMVA"]
    s_spec = np.zeros(n_int, dtype=complex)
    for table, sign in (("load", -1.0), ("sgen", 1.0), ("storage", -1.0)):
        df = net[table]
        for _, row in df[df["in_service"].astype(bool)].iterrows():
            i = lookup[row["bus"]]
            if 0 <= i < n_int:
                s_spec[i] += sign * (row["p_mw"] + 1j * row["q_mvar"]) * row["scaling"]
    slack = ppc["internal"]["ref"]
    mask = np.isfinite(s_calc)  # pandapower's auxiliary buses (open line switches) have no V
    mask[slack] = False
    assert mask.sum() >= 0.6 * (n_int - len(slack))
    return float(np.max(np.abs(s_calc[mask] - s_spec[mask])))


# --------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("grid", GRIDS)
def test_exact_against_runpp(grid):
    """Random draws from light load to heavy reverse flow: every threshold of the issue."""
    net = _grid(grid)
    before = copy.deepcopy(net)
    lf = LoadFlow(net)
    assert nets_equal(net, before), "LoadFlow modified the user's net"
    n_steps = 4
    load_p, load_q, sgen_p = draws(net, n_steps, seed=zlib.crc32(grid.encode()))
    res = lf.run(load_p_mw=load_p, load_q_mvar=load_q, sgen_p_mw=sgen_p)
    assert res.all_converged
    assert not res.newton_fallback.any()
    assert np.all(res.max_mismatch_mva < lf.tolerance_mva)
    for step in range(n_steps):
        ref = runpp_step(net, load_p[step], load_q[step], sgen_p[step])
        assert_exact(res, step, ref)
    assert nets_equal(net, before), "run() modified the user's net"


@pytest.mark.parametrize("grid", ["small", "feeder", "meshed_feeder", "1-LV-rural1--0-sw"])
def test_physics_losses_and_bus_balance(grid):
    """Losses equal the total injection; flows at every bus sum to its injection."""
    net = _grid(grid)
    load_p, load_q, sgen_p = draws(net, 3, seed=7)
    res = LoadFlow(net).run(load_p, load_q, sgen_p)
    for step in range(3):
        work = copy.deepcopy(net)
        work.load["p_mw"] = load_p[step]
        work.load["q_mvar"] = load_q[step]
        if len(work.sgen):
            work.sgen["p_mw"] = sgen_p[step]
        energised = res.energised
        bus_ok = set(net.bus.index[energised])

        def injected(table, col, work=work, bus_ok=bus_ok):
            df = work[table]
            df = df[df["in_service"].astype(bool) & df["bus"].isin(bus_ok)]
            return float((df[col] * df["scaling"]).sum())

        shunt_p = 0.0
        if len(work.shunt):
            sh = work.shunt[work.shunt["in_service"].astype(bool)]
            vm = dict(zip(net.bus.index, res.vm_pu[step], strict=True))
            shunt_p = float(sum(r["p_mw"] * r["step"] * vm[r["bus"]] ** 2
                                for _, r in sh.iterrows()))
        total_in = (res.ext_grid_p_mw[step].sum() + injected("sgen", "p_mw")
                    - injected("load", "p_mw") - injected("storage", "p_mw") - shunt_p)
        # each bus may keep a mismatch up to the tolerance (1e-11 MVA)
        assert abs(total_in - res.losses_mw[step]) < 1e-11 * energised.sum()
        assert res.losses_mw[step] > 0
        assert _bus_balance_residual(work, res, step) < 1e-9


def test_small_angle_series_is_arctan_to_rounding():
    from grids.balanced.kernels import _TAN_FAST, _atan_small
    t = np.linspace(-_TAN_FAST, _TAN_FAST, 4001)
    err = np.array([_atan_small(x) for x in t]) - np.arctan(t)
    # truncation below 1.3e-17 (alternating series); the rest is rounding, a few ulps of t
    assert np.abs(err).max() < 1e-16


def test_small_single_step_and_batch_agree():
    net = small_net()
    lf = LoadFlow(net, float32_iterations=0)
    load_p, load_q, sgen_p = draws(net, 20, seed=3)
    batch = lf.run(load_p, load_q, sgen_p)
    for step in (0, 7, 19):
        one = lf.run(load_p[step], load_q[step], sgen_p[step])
        assert one.n_steps == 1
        # scalar and lane kernels in float64: same iterations, arithmetic differs only in
        # rounding
        np.testing.assert_array_equal(one.iterations[0], batch.iterations[step])
        np.testing.assert_allclose(one.vm_pu[0], batch.vm_pu[step], rtol=0, atol=1e-12)
        np.testing.assert_allclose(one.line_loading_percent[0],
                                   batch.line_loading_percent[step], rtol=0, atol=1e-9)
    # the default batch starts with float32 iterations: a different path to the same
    # tolerance, hence the same solution to within the convergence error
    mixed = LoadFlow(net).run(load_p, load_q, sgen_p)
    assert mixed.all_converged
    assert mixed.max_mismatch_mva.max() < 1e-11
    np.testing.assert_allclose(mixed.vm_pu, batch.vm_pu, rtol=0, atol=1e-10)
    # threads and serial give the same numbers
    lf.threads = 2
    par = lf.run(np.tile(load_p, (10, 1)), np.tile(load_q, (10, 1)), np.tile(sgen_p, (10, 1)))
    np.testing.assert_array_equal(par.vm_pu[:20], batch.vm_pu)
    np.testing.assert_array_equal(par.vm_pu[180:], batch.vm_pu)


def test_small_defaults_are_the_net_values():
    net = small_net()
    res = LoadFlow(net).run()
    ref = copy.deepcopy(net)
    pp.runpp(ref, tolerance_mva=1e-12, lightsim2grid=False)
    assert_exact(res, 0, ref)


def test_small_result_is_immutable_and_labelled():
    net = small_net()
    net.bus.index = net.bus.index + 100  # labels differ from positions
    net.line["from_bus"] += 100
    net.line["to_bus"] += 100
    for table, cols in (("load", ["bus"]), ("sgen", ["bus"]), ("storage", ["bus"]),
                        ("shunt", ["bus"]), ("ext_grid", ["bus"]),
                        ("trafo", ["hv_bus", "lv_bus"]), ("switch", ["bus"])):
        for col in cols:
            net[table][col] += 100
    sw = net.switch["et"] == "b"
    net.switch.loc[sw, "element"] += 100
    res = LoadFlow(net).run()
    with pytest.raises(ValueError):
        res.vm_pu[0, 0] = 1.0
    frames = res.to_frames()
    assert list(frames["vm_pu"].columns) == list(net.bus.index)
    assert list(frames["line_loading_percent"].columns) == list(net.line.index)
    assert frames["summary"]["converged"].all()
    ref = copy.deepcopy(net)
    pp.runpp(ref, tolerance_mva=1e-12, lightsim2grid=False)
    assert_exact(res, 0, ref)


def test_small_features_match_pandapower():
    """Out-of-service elements, switches, several trafos, ext_grid set-points, each varied."""
    base = small_net()
    variants = []
    n = copy.deepcopy(base)
    n.switch.loc[n.switch["et"] == "b", "closed"] = False  # LV2 trafo on its own bus
    variants.append(n)
    n = copy.deepcopy(base)
    n.switch.loc[n.switch["et"] == "l", "closed"] = True  # close the ring
    variants.append(n)
    n = copy.deepcopy(base)
    n.trafo.loc[1, "in_service"] = False
    n.ext_grid.loc[0, "vm_pu"] = 0.97
    n.ext_grid.loc[0, "va_degree"] = -20.0
    variants.append(n)
    n = copy.deepcopy(base)
    n.line.loc[0, "in_service"] = False  # islands most of the feeder
    variants.append(n)
    for net in variants:
        res = LoadFlow(net).run()
        ref = copy.deepcopy(net)
        pp.runpp(ref, tolerance_mva=1e-12, lightsim2grid=False, max_iteration=30)
        assert_exact(res, 0, ref)


def test_small_islanded_buses_not_energised():
    net = small_net()
    res = LoadFlow(net).run()
    isolated = net.bus.index.get_loc(net.bus.index[net.bus["name"] == "B7"][0])
    assert not res.energised[isolated]
    assert np.isnan(res.vm_pu[0, isolated]) and np.isnan(res.va_degree[0, isolated])
    assert res.energised.sum() == len(net.bus) - 1
    assert res.all_converged


# --------------------------------------------------------------------------- faults
def test_small_nan_input_raises_before_solving():
    net = small_net()
    lf = LoadFlow(net)
    load_p, load_q, sgen_p = draws(net, 5, seed=1)
    load_p[3, 2] = np.nan
    with pytest.raises(LoadflowInputError, match=r"load_p_mw.*load 2 .*step 3"):
        lf.run(load_p, load_q, sgen_p)
    sgen_p[1, 1] = np.inf
    with pytest.raises(LoadflowInputError, match=r"sgen_p_mw.*sgen 1 .*step 1"):
        lf.run(None, None, sgen_p)
    # the single-step kernel checks its inputs too
    with pytest.raises(LoadflowInputError, match=r"load_p_mw.*load 2 .*step 0"):
        lf.run(load_p[3], load_q[3], sgen_p[3])
    # a non-finite value in a later chunk of a large (threaded) batch
    big_p, big_q, big_s = draws(net, 200, seed=3)
    big_q[150, 0] = -np.inf
    with pytest.raises(LoadflowInputError, match=r"load_q_mvar.*load 0 .*step 150"):
        lf.run(big_p, big_q, big_s, parallel=True)
    with pytest.raises(LoadflowInputError, match=r"shape"):
        lf.run(load_p_mw=np.zeros((5, 3)))
    with pytest.raises(LoadflowInputError, match=r"steps"):
        lf.run(load_p_mw=np.zeros((5, len(net.load))), load_q_mvar=np.zeros((4, len(net.load))))


def test_small_non_converged_step_is_flagged_and_isolated():
    net = small_net()
    lf = LoadFlow(net)
    load_p, load_q, sgen_p = draws(net, 6, seed=2)
    good = lf.run(load_p, load_q, sgen_p)
    load_p[4] = 50.0  # 50 MW per home on a 0.65 MVA LV grid: no solution exists
    res = lf.run(load_p, load_q, sgen_p)
    assert not res.converged[4]
    assert res.newton_fallback[4]
    assert res.iterations[4] > 0
    assert res.max_mismatch_mva[4] > 1e-10 or not np.isfinite(res.max_mismatch_mva[4])
    for arr in (res.vm_pu, res.va_degree, res.line_loading_percent,
                res.trafo_loading_percent, res.ext_grid_p_mw):
        assert np.all(np.isnan(arr[4]))
    assert np.isnan(res.losses_mw[4])
    others = [0, 1, 2, 3, 5]
    assert res.converged[others].all()
    np.testing.assert_array_equal(res.vm_pu[others], good.vm_pu[others])
    # the same step alone (single-step kernel, then the batch path's Newton fallback)
    one = lf.run(load_p[4], load_q[4], sgen_p[4])
    assert not one.converged[0] and one.newton_fallback[0]
    assert np.all(np.isnan(one.vm_pu[0])) and np.isnan(one.losses_mw[0])


def test_small_newton_fallback_near_the_limit():
    """Heavy load where the fixed point diverges but Newton-Raphson converges."""
    net = small_net()
    lf = LoadFlow(net)
    base = net.load["p_mw"].to_numpy()
    found = None
    for factor in np.arange(5.0, 7.5, 0.05):
        res = lf.run(load_p_mw=base * factor, load_q_mvar=net.load["q_mvar"].to_numpy() * factor)
        if res.newton_fallback[0] and res.converged[0]:
            found = factor
            break
    assert found is not None, "no load level needed the Newton fallback"
    ref = runpp_step(net, base * found, net.load["q_mvar"].to_numpy() * found,
                     net.sgen["p_mw"].to_numpy())
    assert_exact(res, 0, ref)


@pytest.mark.parametrize("element", ["gen", "dcline", "xward", "impedance", "trafo3w", "zip"])
def test_small_unsupported_elements_named(element):
    net = small_net()
    b = net.bus.index[net.bus["name"] == "B3"][0]
    b2 = net.bus.index[net.bus["name"] == "B4"][0]
    if element == "gen":
        pp.create_gen(net, b, p_mw=0.01, vm_pu=1.0)
        pattern = r"gen rows \[0\]"
    elif element == "dcline":
        pp.create_dcline(net, b, b2, p_mw=0.01, loss_percent=1, loss_mw=0, vm_from_pu=1,
                         vm_to_pu=1)
        pattern = r"dcline rows \[0\]"
    elif element == "xward":
        pp.create_xward(net, b, 0.01, 0.0, 0.0, 0.0, 0.01, 0.01, 1.0)
        pattern = r"xward rows \[0\]"
    elif element == "impedance":
        pp.create_impedance(net, b, b2, 0.01, 0.01, sn_mva=1.0)
        pattern = r"impedance rows \[0\]"
    elif element == "trafo3w":
        hv = pp.create_bus(net, 20.0)
        mv = pp.create_bus(net, 10.0)
        pp.create_transformer3w(net, hv, mv, b, "63/25/38 MVA 110/20/10 kV")
        pattern = r"trafo3w rows \[0\]"
    else:
        net.load.loc[2, "const_z_p_percent"] = 30.0
        pattern = r"load rows \[2\].*ZIP"
    with pytest.raises(UnsupportedElement, match=pattern):
        LoadFlow(net)


# --------------------------------------------------------------------------- no JIT
@pytest.mark.skipif(NO_JIT, reason="this is the subprocess itself")
def test_kernels_without_jit():
    """The ``small`` tests pass with the kernels as plain Python (NUMBA_DISABLE_JIT=1)."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider",
         str(Path(__file__)), "-k", "small and not newton_fallback"],
        env=env, capture_output=True, text=True, timeout=600,
        cwd=str(Path(__file__).parent.parent))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout
