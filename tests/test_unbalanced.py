"""The unbalanced load flow against pandapower's runpp_3ph, physics checks, faults (issue 12).

Tests whose name contains ``small`` use a small built-in grid; they are also run with
``NUMBA_DISABLE_JIT=1`` in a subprocess (``test_kernels_without_jit``).
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandapower as pp
import pytest
from pandapower.toolbox import nets_equal

from grids import LoadFlow, UnbalancedLoadFlow
from grids.errors import LoadflowInputError, UnsupportedElement
from grids.unbalanced.compile import T_012, T_ABC
from grids.unbalanced.defaults import SequenceDataDefault, with_sequence_data
from grids.unbalanced.loadflow import PhaseConnections
from tests.unbalanced_cases import (
    SIMBENCH_CODES,
    assert_exact,
    connection_draws,
    feeder_case,
    ieee_case,
    reference_3ph,
    sgen_draws,
    simbench_case,
    small_net_3ph,
    with_connection_values,
)

DEFAULT_SIMBENCH = ("1-LV-rural1--0-sw", "1-LV-semiurb4--2-sw")
NO_JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"


def _case(name: str):
    """``(net3, connections)`` of a test grid (connections None: asymmetric loads as is)."""
    if name == "feeder":
        net3, conns, _ = feeder_case()
        return net3, conns
    if name == "small":
        return small_net_3ph(), None
    return simbench_case(name)


CONNECTION_GRIDS = (
    [pytest.param("feeder", id="feeder")]
    + [pytest.param(c, id=c) for c in DEFAULT_SIMBENCH]
    + [pytest.param(c, id=c, marks=pytest.mark.slow) for c in SIMBENCH_CODES
       if c not in DEFAULT_SIMBENCH]
)


def _lf(net, **kw) -> UnbalancedLoadFlow:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SequenceDataDefault)
        return UnbalancedLoadFlow(net, **kw)


# --------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("grid", CONNECTION_GRIDS)
def test_exact_against_runpp_3ph(grid):
    """Single-phase homes (SimBench: loads put on phases) from light load to heavy one-phase
    reverse flow: the thresholds of the issue, every result."""
    net3, conns = _case(grid)
    before = copy.deepcopy(net3)
    lf = _lf(net3, connections=conns)
    assert nets_equal(net3, before), "UnbalancedLoadFlow modified the user's net"
    n_steps = 3
    p, q = connection_draws(n_steps, len(conns), seed=zlib.crc32(grid.encode()),
                            phase=conns.phase)
    sg = sgen_draws(net3, n_steps, seed=5) if len(net3.sgen) else None
    res = lf.run(connection_p_mw=p, connection_q_mvar=q, sgen_p_mw=sg)
    assert res.all_converged and not res.newton_fallback.any()
    assert np.all(res.max_mismatch_mva < lf.tolerance_mva)
    # the one-phase reverse flow unbalances the grid far more than the light load
    assert res.vuf_percent[2].max() > max(0.2, 3 * res.vuf_percent[0].max())
    for step in range(n_steps):
        ref = with_connection_values(net3, conns, p[step], q[step])
        if sg is not None:
            ref.sgen["p_mw"] = sg[step]
        ref, _, change = reference_3ph(ref)
        assert change < 1e-10
        assert_exact(res, step, ref)
    assert nets_equal(net3, before), "run() modified the user's net"


@pytest.mark.parametrize("case", ["on_peak_566", "off_peak_1"])
def test_exact_ieee_european_lv_asymmetric(case):
    """pandapower's IEEE European LV feeder as it ships, at its own load values."""
    net = ieee_case(case)
    res = _lf(net).run()
    assert res.all_converged
    ref, _, change = reference_3ph(net)
    assert change < 1e-10
    assert_exact(res, 0, ref)


def test_small_features_match_runpp_3ph():
    """Parallel trafos, switches, out-of-service and islanded elements, balanced loads and
    sgens, asymmetric loads and sgen; then the asymmetric loads given as inputs."""
    net = small_net_3ph()
    lf = _lf(net)
    res = lf.run()
    assert res.all_converged
    ref, _, _ = reference_3ph(net)
    assert_exact(res, 0, ref)
    isolated = list(net.bus.index).index(net.bus.index[net.bus["name"] == "B7"][0])
    assert not res.energised[isolated] and np.isnan(res.vm_pu[0, isolated]).all()
    # inputs [n_steps, n_asym, 3] (the form) and the balanced inputs
    rng = np.random.default_rng(4)
    n_asym = len(net.asymmetric_load)
    pa = rng.uniform(0, 0.01, (2, n_asym, 3))
    qa = pa * 0.2
    lp = rng.uniform(0, 0.01, (2, len(net.load)))
    res = lf.run(asym_p_mw=pa, asym_q_mvar=qa, load_p_mw=lp)
    for step in range(2):
        work = copy.deepcopy(net)
        for j, c in enumerate("abc"):
            work.asymmetric_load[f"p_{c}_mw"] = pa[step, :, j]
            work.asymmetric_load[f"q_{c}_mvar"] = qa[step, :, j]
        work.load["p_mw"] = lp[step]
        ref, _, _ = reference_3ph(work)
        assert_exact(res, step, ref)
    one = lf.run(asym_p_mw=pa[1], asym_q_mvar=qa[1], load_p_mw=lp[1])
    np.testing.assert_allclose(one.vm_pu[0], res.vm_pu[1], rtol=0, atol=1e-9)
    frames = res.to_frames(step_index=["t0", "t1"])
    vm = frames["vm_pu"]
    assert vm.columns.names == ["bus", "phase"] and vm.index.tolist() == ["t0", "t1"]
    b6 = net.bus.index[net.bus["name"] == "B6"][0]
    assert vm.loc["t1", (b6, "c")] == res.vm_pu[1, list(net.bus.index).index(b6), 2]
    assert list(frames["trafo_loading_percent"].columns) == list(net.trafo.index)
    assert frames["summary"]["converged"].all()


def test_small_ynyn_transformer_matches_runpp_3ph():
    net = small_net_3ph()
    net.trafo["vector_group"] = "YNyn"
    net.trafo["shift_degree"] = 0.0
    res = _lf(net).run()
    ref, _, _ = reference_3ph(net)
    assert_exact(res, 0, ref)


# --------------------------------------------------------------------------- balanced
@pytest.mark.parametrize("grid", ["feeder", "ieee_european"])
def test_balanced_loads_give_the_balanced_engine(grid):
    """Balanced injections: zero- and negative-sequence voltages vanish and every phase
    carries the balanced engine's voltage (1e-8 p.u.; angles shifted by -120/+120)."""
    if grid == "feeder":
        net3, conns, homes = feeder_case()
        from tests.unbalanced_cases import _feeder
        net = copy.deepcopy(_feeder().net)
        rng = np.random.default_rng(8)
        p = rng.uniform(-0.004, 0.006, (3, len(homes)))
        q = p * 0.3
        bal = LoadFlow(net).run(load_p_mw=p, load_q_mvar=q)
        ours = _lf(net).run(load_p_mw=p, load_q_mvar=q)
        # the same powers as three-phase connections ("abc") of the single-phase net
        conns3 = PhaseConnections.of(conns.asym_row, ["abc"] * len(conns))
        via = _lf(net3, connections=conns3).run(connection_p_mw=p, connection_q_mvar=q)
        np.testing.assert_allclose(via.vm_pu, ours.vm_pu, rtol=0, atol=1e-9)
    else:
        from tests.loadflow_cases import ieee_european_balanced
        net = ieee_european_balanced()
        bal = LoadFlow(net).run()
        ours = _lf(net).run()
    assert bal.all_converged and ours.all_converged
    for ph, shift in enumerate((0.0, -120.0, 120.0)):
        np.testing.assert_allclose(ours.vm_pu[..., ph], bal.vm_pu, rtol=0, atol=1e-8)
        dva = (ours.va_degree[..., ph] - bal.va_degree - shift + 180.0) % 360.0 - 180.0
        assert np.nanmax(np.abs(np.deg2rad(dva))) < 1e-8
        np.testing.assert_allclose(ours.line_loading_percent[..., ph],
                                   bal.line_loading_percent, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.trafo_loading_percent, bal.trafo_loading_percent, rtol=0,
                               atol=1e-6)
    np.testing.assert_allclose(ours.trafo_p_hv_mw.sum(axis=-1), bal.trafo_p_hv_mw, rtol=0,
                               atol=1e-8)
    np.testing.assert_allclose(ours.losses_mw, bal.losses_mw, rtol=0, atol=1e-8)
    assert np.nanmax(ours.vuf_percent) < 1e-6


# --------------------------------------------------------------------------- physics
def _sequence_y(net):
    """pandapower's own sequence admittance matrices (built here independently of the
    engine, as runpp_3ph builds them) and the bus lookup."""
    from pandapower.auxiliary import _add_pf_options, _add_ppc_options
    from pandapower.build_bus import _add_ext_grid_sc_impedance
    from pandapower.pd2ppc import _pd2ppc
    from pandapower.pypower.makeYbus import makeYbus

    work = with_sequence_data(net, warn=False)
    work._options = {}
    _add_ppc_options(work, calculate_voltage_angles=True, trafo_model="t",
                     check_connectivity=True, mode="pf_3ph", switch_rx_ratio=2.0,
                     init_vm_pu="flat", init_va_degree="flat", enforce_p_lims=False,
                     enforce_q_lims=False, recycle=None, voltage_depend_loads=False,
                     neglect_open_switch_branches=False)
    _add_pf_options(work, tolerance_mva=1e-8, trafo_loading="current", numba=True, ac=True,
                    algorithm="nr", max_iteration=30, only_v_results=False, use_umfpack=True,
                    permc_spec=None, lightsim2grid=False, v_debug=False)
    _, p1 = _pd2ppc(work, 1)
    _, p2 = _pd2ppc(work, 2)
    _add_ext_grid_sc_impedance(work, p2)
    _, p0 = _pd2ppc(work, 0)
    ys = [makeYbus(p["baseMVA"], p["bus"], p["branch"])[0] for p in (p0, p1, p2)]
    return ys, work._pd2ppc_lookups["bus"], p1


@pytest.mark.parametrize("grid", ["feeder", "small", "1-LV-rural1--0-sw"])
def test_physics_power_balance_per_phase(grid):
    """At every bus and phase the power flowing out through the branches (pandapower's
    sequence matrices, our voltages) equals the phase's injection; the ext_grid supplies
    the loads plus the losses; the transformer's HV side carries the ext_grid's power."""
    from pandapower.pypower.idx_bus import BUS_TYPE, REF

    net3, conns = _case(grid)
    lf = _lf(net3, connections=conns)
    if conns is not None:
        p, q = connection_draws(3, len(conns), seed=11, phase=conns.phase)
        sg = sgen_draws(net3, 3, seed=2) if len(net3.sgen) else None
        res = lf.run(connection_p_mw=p, connection_q_mvar=q, sgen_p_mw=sg)
    else:
        res = lf.run()
    ys, lookup, ppci1 = _sequence_y(net3)
    n_int = ys[0].shape[0]
    for step in range(res.n_steps):
        work = net3
        if conns is not None:
            work = with_connection_values(net3, conns, p[step], q[step])
            if sg is not None:
                work.sgen["p_mw"] = sg[step]
        # pandapower's auxiliary buses (open line switches) are no net bus: no voltage of
        # ours, so their neighbours' balance cannot be formed (NaN, left out)
        v_abc = np.full((3, n_int), np.nan, dtype=complex)
        s_spec = np.zeros((3, n_int), dtype=complex)
        for pos, b in enumerate(net3.bus.index):
            i = lookup[b]
            if 0 <= i < n_int and res.energised[pos]:
                v_abc[:, i] = res.vm_pu[step, pos] * np.exp(1j * np.deg2rad(
                    res.va_degree[step, pos]))
        for table, sign, split in (("load", -1, True), ("sgen", 1, True),
                                   ("asymmetric_load", -1, False),
                                   ("asymmetric_sgen", 1, False)):
            df = work[table]
            for _, row in df[df["in_service"].astype(bool)].iterrows():
                i = lookup[row["bus"]]
                if not (0 <= i < n_int):
                    continue
                for ph, c in enumerate("abc"):
                    val = ((row["p_mw"] + 1j * row["q_mvar"]) / 3 if split
                           else row[f"p_{c}_mw"] + 1j * row[f"q_{c}_mvar"])
                    s_spec[ph, i] += sign * val * row["scaling"]
        v012 = T_012 @ v_abc
        i_abc = T_ABC @ np.vstack([ys[k] @ v012[k] for k in range(3)])
        s_calc = v_abc * np.conj(i_abc) * ppci1["baseMVA"]
        non_slack = ppci1["bus"][:, BUS_TYPE] != REF
        ok = non_slack & np.isfinite(s_calc).all(axis=0)
        assert ok.sum() >= 0.75 * non_slack.sum()
        resid = np.abs(s_calc - s_spec)[:, ok]
        assert resid.max() < 1e-9, resid.max()
        supplied = np.nansum(res.ext_grid_p_mw[step])
        assert abs(supplied - s_spec.real.sum() * -1 - res.losses_mw[step]) < 1e-9
        assert res.losses_mw[step] > 0
        if len(net3.trafo) == 1:
            np.testing.assert_allclose(res.trafo_p_hv_mw[step, 0], res.ext_grid_p_mw[step, 0],
                                       rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- kernels
def test_small_single_step_and_batch_agree():
    net3, conns = _case("small")
    lf = _lf(net3)
    rng = np.random.default_rng(3)
    pa = rng.uniform(-0.01, 0.012, (40, len(net3.asymmetric_load), 3))
    batch = lf.run(asym_p_mw=pa, asym_q_mvar=pa * 0.2)
    assert batch.all_converged
    for step in (0, 17, 39):
        one = lf.run(asym_p_mw=pa[step], asym_q_mvar=pa[step] * 0.2)
        assert one.n_steps == 1 and one.vm_pu.shape == (1, len(net3.bus), 3)
        assert abs(int(one.iterations[0]) - int(batch.iterations[step])) <= 1
        np.testing.assert_allclose(one.vm_pu[0], batch.vm_pu[step], rtol=0, atol=1e-9)
        np.testing.assert_allclose(one.line_i_ka[0], batch.line_i_ka[step], rtol=0,
                                   atol=1e-9)
    lf.threads = 2
    par = lf.run(asym_p_mw=np.tile(pa, (5, 1, 1)), asym_q_mvar=np.tile(pa, (5, 1, 1)) * 0.2,
                 parallel=True)
    np.testing.assert_array_equal(par.vm_pu[:40], batch.vm_pu)
    np.testing.assert_array_equal(par.vm_pu[160:], batch.vm_pu)
    with pytest.raises(ValueError):
        par.vm_pu[0, 0, 0] = 1.0


def test_small_connections_equal_phase_arrays():
    """Connections (one column per home: row and phase, or three-phase) give what the
    [n_steps, n_asym, 3] form gives; rows they drive ignore asym_p_mw."""
    net = small_net_3ph()
    n_asym = len(net.asymmetric_load)
    rows = np.array([0, 1, 1, 2, 4])
    phase = ["a", "b", "abc", "c", "a"]
    conns = PhaseConnections.of(rows, phase)
    lf = _lf(net, connections=conns)
    rng = np.random.default_rng(9)
    cp = rng.uniform(-0.005, 0.01, (6, len(rows)))
    cq = cp * 0.25
    pa = rng.uniform(0, 0.01, (6, n_asym, 3))
    expect_p = pa.copy()
    expect_q = pa * 0.1
    expect_p[:, np.unique(rows)] = 0.0
    expect_q[:, np.unique(rows)] = 0.0
    for j, (r, c) in enumerate(zip(rows, conns.phase, strict=True)):
        if c == 3:
            expect_p[:, r, :] += cp[:, j, None] / 3
            expect_q[:, r, :] += cq[:, j, None] / 3
        else:
            expect_p[:, r, c] += cp[:, j]
            expect_q[:, r, c] += cq[:, j]
    via = lf.run(asym_p_mw=pa, asym_q_mvar=pa * 0.1, connection_p_mw=cp, connection_q_mvar=cq)
    plain = lf.run(asym_p_mw=expect_p, asym_q_mvar=expect_q)
    np.testing.assert_allclose(via.vm_pu, plain.vm_pu, rtol=0, atol=1e-12)
    one = lf.run(asym_p_mw=pa[2], asym_q_mvar=pa[2] * 0.1, connection_p_mw=cp[2],
                 connection_q_mvar=cq[2])
    np.testing.assert_allclose(one.vm_pu[0], plain.vm_pu[2], rtol=0, atol=1e-9)
    # without connection inputs the rows keep asym_p_mw
    np.testing.assert_allclose(lf.run(asym_p_mw=pa).vm_pu,
                               _lf(net).run(asym_p_mw=pa).vm_pu, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"phase: connection 1: 'd' is not one of a, b, c"):
        PhaseConnections.of([0, 1], ["a", "d"])
    with pytest.raises(ValueError, match=r"asym_row 99 of connection 0 is not a row"):
        _lf(net, connections=PhaseConnections.of([99], ["a"]))


# --------------------------------------------------------------------------- faults
def test_small_nan_input_raises_naming_element_phase_and_step():
    net = small_net_3ph()
    lf = _lf(net, connections=PhaseConnections.of([0, 3], ["a", "b"]))
    pa = np.full((5, len(net.asymmetric_load), 3), 0.001)
    pa[3, 2, 1] = np.nan
    with pytest.raises(LoadflowInputError,
                       match=r"^asym_p_mw: value nan for asymmetric_load 2 \(row 2\) phase b at "
                             r"step 3 is not finite \(1 non-finite value\(s\) in all\)$"):
        lf.run(asym_p_mw=pa)
    with pytest.raises(LoadflowInputError, match=r"asym_p_mw: .* phase b at step 0"):
        lf.run(asym_p_mw=pa[3])
    cp = np.zeros((200, 2))
    cp[150, 1] = np.inf
    with pytest.raises(LoadflowInputError,
                       match=r"connection_p_mw: value inf for connection 1 \(row 1\) at step 150"):
        lf.run(connection_p_mw=cp, parallel=True)
    with pytest.raises(LoadflowInputError, match=r"load_q_mvar: value nan for load 1 "):
        lf.run(load_q_mvar=[0.0, np.nan, 0.0])
    with pytest.raises(LoadflowInputError, match=r"asym_p_mw: shape \(5, 3\) does not match "
                                                 r"\[n_steps, 7, 3\]"):
        lf.run(asym_p_mw=np.zeros((5, 3)))
    with pytest.raises(LoadflowInputError, match=r"steps"):
        lf.run(asym_p_mw=np.zeros((5, 7, 3)), connection_p_mw=np.zeros((4, 2)))


def test_small_non_converged_step_is_flagged_and_isolated():
    net = small_net_3ph()
    lf = _lf(net)
    rng = np.random.default_rng(2)
    pa = rng.uniform(0, 0.01, (6, len(net.asymmetric_load), 3))
    good = lf.run(asym_p_mw=pa)
    pa[4] = 5.0  # 5 MW per phase on a 0.65 MVA LV grid: no solution exists
    res = lf.run(asym_p_mw=pa)
    assert not res.converged[4] and res.newton_fallback[4]
    for arr in (res.vm_pu, res.va_degree, res.line_i_ka, res.trafo_loading_percent,
                res.vuf_percent, res.ext_grid_p_mw, res.trafo_p_hv_mw):
        assert np.all(np.isnan(arr[4]))
    assert np.isnan(res.losses_mw[4])
    others = [0, 1, 2, 3, 5]
    assert res.converged[others].all()
    np.testing.assert_array_equal(res.vm_pu[others], good.vm_pu[others])
    one = lf.run(asym_p_mw=pa[4])
    assert not one.converged[0] and one.newton_fallback[0] and np.isnan(one.vm_pu).all()


def test_small_newton_fallback_near_the_limit():
    """A load level where the fixed point diverges but Newton-Raphson converges; its result
    matches runpp_3ph (on the small grid without its open line switch, which keeps
    runpp_3ph from being restarted to its fixed point)."""
    net = small_net_3ph()
    open_sw = net.switch.index[~net.switch["closed"].astype(bool)]
    net.line = net.line.drop(index=net.switch.loc[open_sw, "element"])
    net.switch = net.switch.drop(index=open_sw)
    lf = _lf(net)
    base = np.zeros((len(net.asymmetric_load), 3))
    base[:, 0] = 0.01  # everything on phase a
    found = None
    for factor in np.arange(2.0, 2.6, 0.02):
        res = lf.run(asym_p_mw=base * factor, asym_q_mvar=base * factor * 0.3)
        if res.newton_fallback[0] and res.converged[0]:
            found = factor
            break
    assert found is not None, "no load level needed the Newton fallback"
    work = copy.deepcopy(net)
    work.asymmetric_load["p_a_mw"] = base[:, 0] * found
    work.asymmetric_load["q_a_mvar"] = base[:, 0] * found * 0.3
    for c in "bc":
        work.asymmetric_load[f"p_{c}_mw"] = 0.0
        work.asymmetric_load[f"q_{c}_mvar"] = 0.0
    # runpp_3ph's outer iteration contracts slowly this close to the nose of the curve
    # (a restart still moves its voltages by 5e-9 p.u. after 40): give it more restarts
    ref, _, change = reference_3ph(work, max_restarts=80)
    assert change < 1e-9
    assert_exact(res, 0, ref)
    assert res.max_mismatch_mva[0] < lf.tolerance_mva


@pytest.mark.parametrize("element", ["storage", "gen", "delta", "zip", "vector_group", "ward"])
def test_small_unsupported_elements_named(element):
    net = small_net_3ph()
    b = net.bus.index[net.bus["name"] == "B3"][0]
    if element == "storage":
        pp.create_storage(net, b, p_mw=0.005, max_e_mwh=0.01)
        pattern = r"storage rows \[0\] \(in service\)"
    elif element == "gen":
        pp.create_gen(net, b, p_mw=0.01, vm_pu=1.0)
        pattern = r"gen rows \[0\]"
    elif element == "delta":
        net.asymmetric_load.loc[1, "type"] = "delta"
        pattern = r"asymmetric_load rows \[1\] are delta-connected"
    elif element == "zip":
        net.load.loc[2, "const_z_p_percent"] = 30.0
        pattern = r"load rows \[2\] have constant-impedance"
    elif element == "ward":
        pp.create_ward(net, b, 0.01, 0.0, 0.0, 0.0)
        pattern = r"ward rows \[0\]"
    else:
        net.trafo.loc[1, "vector_group"] = "Yd5"
        pattern = r"trafo 1: vector_group 'Yd5' is not supported"
    with pytest.raises(UnsupportedElement, match=pattern):
        _lf(net)


def test_small_missing_sequence_data_defaults_with_warnings():
    net = small_net_3ph()
    for col in ("r0_ohm_per_km", "x0_ohm_per_km", "c0_nf_per_km"):
        net.line[col] = np.nan
    net.trafo["vector_group"] = None
    for col in ("vk0_percent", "vkr0_percent", "mag0_percent", "mag0_rx", "si0_hv_partial"):
        del net.trafo[col]
    del net.ext_grid["x0x_max"]
    before = copy.deepcopy(net)
    with pytest.warns(SequenceDataDefault) as rec:
        done = with_sequence_data(net)
    assert nets_equal(net, before)
    texts = " | ".join(str(w.message) for w in rec)
    assert "line rows [0, 1, 2, 3, 4, 5, 6, 7 ...] (9 in all) have no r0/x0/c0" in texts
    assert "trafo rows [0, 1] (2 in all) have no vector_group" in texts
    assert "ext_grid rows [0] (1 in all) have no short-circuit data" in texts
    np.testing.assert_allclose(done.line["r0_ohm_per_km"], 4 * net.line["r_ohm_per_km"])
    np.testing.assert_allclose(done.line["c0_nf_per_km"], net.line["c_nf_per_km"])
    assert list(done.trafo["vector_group"]) == ["Dyn", "Dyn"]  # shift 150: Dyn5
    np.testing.assert_allclose(done.trafo["vk0_percent"], net.trafo["vk_percent"])
    assert done.ext_grid["x0x_max"].iloc[0] == 1.0
    # the engine on the incomplete net equals the engine on the completed one
    with pytest.warns(SequenceDataDefault):
        ours = UnbalancedLoadFlow(net).run()
    np.testing.assert_array_equal(ours.vm_pu, _lf(done).run().vm_pu)


# --------------------------------------------------------------------------- no JIT
@pytest.mark.skipif(NO_JIT, reason="this is the subprocess itself")
def test_kernels_without_jit():
    """The ``small`` tests pass with the kernels as plain Python (NUMBA_DISABLE_JIT=1)."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider",
         str(Path(__file__)), "-k", "small and not newton_fallback and not non_converged"],
        env=env, capture_output=True, text=True, timeout=900,
        cwd=str(Path(__file__).parent.parent))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout
