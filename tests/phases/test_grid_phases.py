"""The grid model and simulator in unbalanced runs: exact against pandapower's runpp_3ph, a
balanced load through the unbalanced path gives the balanced results, per-phase outputs."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pytest

from sims.grid.model import GridModel
from sims.grid.network import GridConfig, resolve_phases, shared_grid
from sims.grid.simulator import GridSim


@pytest.fixture(scope="module")
def grids():
    """The 30-home reference feeder, unbalanced and balanced."""
    base = dict(grid_source="reference", n_homes=30, n_feeders=2, layout_seed=3)
    return (shared_grid(GridConfig(**base, phases="unbalanced")),
            shared_grid(GridConfig(**base, phases="balanced")))


def _powers(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(-3.0, 9.0, n)
    return p, np.maximum(p, 0.0) * 0.33


def test_default_phases_follow_the_grid(grids):
    unb, bal = grids
    assert unb.unbalanced and not bal.unbalanced
    net = unb.feeder.net
    assert resolve_phases("auto", "reference", net) == "unbalanced"
    assert resolve_phases("auto", "pandapower:ieee_european_lv", net) == "unbalanced"
    assert resolve_phases("auto", "simbench:1-LV-rural1--0-sw", net) == "balanced"
    assert resolve_phases("auto", "my.json", net) == "balanced"  # no asymmetric loads
    with_asym = copy.deepcopy(net)
    pp.create_asymmetric_load(with_asym, bus=int(net.bus.index[2]), p_a_mw=0.001)
    assert resolve_phases("auto", "my.json", with_asym) == "unbalanced"
    assert resolve_phases("balanced", "reference", net) == "balanced"
    with pytest.raises(ValueError, match="grid.phases.*'three'"):
        resolve_phases("three", "reference", net)


def test_one_step_equals_runpp_3ph(grids):
    """Independent check: the same step on the same single-phase net with pandapower."""
    unb, _ = grids
    model = GridModel.of(unb)
    assert model.engine == "numba" and model.unbalanced
    n = len(unb.homes)
    p, q = _powers(n)
    p3 = np.where(np.arange(n) % 4 == 0, np.clip(p, 0.0, None) * 0.5, 0.0)  # some 3-ph devices
    q3 = p3 * 0.1
    step = model.solve(p, q, p3, q3)
    net = copy.deepcopy(unb.net3)
    rows = net.asymmetric_load.index[unb.connections.asym_row[:n]]
    for k, ph in enumerate("abc"):
        on = (unb.phase_codes == k).astype(float)
        net.asymmetric_load.loc[rows, f"p_{ph}_mw"] = ((p - p3) * on + p3 / 3) / 1000
        net.asymmetric_load.loc[rows, f"q_{ph}_mvar"] = ((q - q3) * on + q3 / 3) / 1000
    pp.runpp_3ph(net, tolerance_mva=1e-10, max_iteration=100)
    vm = net.res_bus_3ph[["vm_a_pu", "vm_b_pu", "vm_c_pu"]].to_numpy()
    assert step.converged
    assert np.abs(step.vm_pu - vm).max() < 1e-6
    ll = net.res_line_3ph[["loading_a_percent", "loading_b_percent", "loading_c_percent"]]
    assert np.abs(step.line_loading_percent - ll.to_numpy()).max() < 1e-4
    assert step.trafo_loading_percent == pytest.approx(
        net.res_trafo_3ph.loading_percent.to_numpy(), abs=1e-4)
    assert step.vuf_percent == pytest.approx(net.res_bus_3ph.unbalance_percent.to_numpy(),
                                             abs=1e-5)
    assert step.vuf_percent.max() > 0.1  # the homes on their phases unbalance the feeder
    # the runpp_3ph fallback of the model gives the same step
    slow = GridModel.of(unb, engine="pandapower").solve(p, q, p3, q3)
    assert slow.converged and np.abs(slow.vm_pu - step.vm_pu).max() < 1e-6
    assert slow.losses_mw == pytest.approx(step.losses_mw, rel=1e-5)


def test_balanced_load_through_the_unbalanced_path_gives_the_balanced_results(grids):
    """Every home's power a third on each phase (all three-phase): the balanced load flow."""
    unb, bal = grids
    n = len(unb.homes)
    p, q = _powers(n, seed=1)
    three = GridModel.of(unb).solve(p, q, p, q)
    one = GridModel.of(bal).solve(p, q)
    assert np.abs(three.vm_pu - one.vm_pu[:, None]).max() < 1e-7
    assert np.abs(three.line_loading_percent - one.line_loading_percent[:, None]).max() < 1e-5
    assert three.trafo_p_mw == pytest.approx(one.trafo_p_mw, abs=1e-9)
    assert three.trafo_q_mvar == pytest.approx(one.trafo_q_mvar, abs=1e-9)
    assert three.trafo_loading_percent == pytest.approx(one.trafo_loading_percent, abs=1e-5)
    assert three.losses_mw == pytest.approx(one.losses_mw, rel=1e-6)
    assert three.vuf_percent.max() < 1e-6


def _sim(grid_dict: dict) -> GridSim:
    sim = GridSim()
    sim.init("Grid-0", step_size=900)
    sim.create(1, "Grid", grid=grid_dict)
    return sim


def test_simulator_arrays_are_per_phase_and_balanced_through_the_simulator(grids):
    """The testbed's path: the grid simulator's inputs and outputs."""
    unb, bal = grids
    base = dict(grid_source="reference", n_homes=30, n_feeders=2, layout_seed=3)
    s3 = _sim(GridConfig(**base, phases="unbalanced").to_dict())
    s1 = _sim(GridConfig(**base, phases="balanced").to_dict())
    n = len(unb.homes)
    p, q = _powers(n, seed=2)
    inputs = {"grid": {"p_kw": {"h": p}, "q_kvar": {"h": q}, "p3_kw": {"h": p},
                       "q3_kvar": {"h": q}}}
    s3.step(0, inputs, 900)
    s1.step(0, {"grid": {"p_kw": {"h": p}, "q_kvar": {"h": q}}}, 900)
    want = {"grid": ["vm_pu", "line_loading_percent", "trafo_loading_percent", "vuf_percent"]}
    d3, d1 = s3.get_data(want)["grid"], s1.get_data(want)["grid"]
    n_bus, n_line = len(unb.bus_ids), len(unb.line_ids)
    assert len(d3["vm_pu"]) == 3 * n_bus and len(d3["line_loading_percent"]) == 3 * n_line
    assert len(d1["vm_pu"]) == n_bus and not np.any(d1["vuf_percent"])
    assert np.abs(np.asarray(d3["vm_pu"]).reshape(-1, 3) - d1["vm_pu"][:, None]).max() < 1e-7
    # single-phase homes: a Load entity sees its own phase's voltage
    s3.step(900, {"grid": {"p_kw": {"h": p}, "q_kvar": {"h": q}, "p3_kw": {"h": 0 * p},
                           "q3_kvar": {"h": 0 * q}}}, 900)
    vm = np.asarray(s3.get_data({"grid": ["vm_pu"]})["grid"]["vm_pu"]).reshape(-1, 3)
    home = unb.homes.index[0]
    load = f"Load-{unb.homes.loc[home, 'load']}"
    row = unb.feeder.net.bus.index.get_loc(unb.homes.loc[home, "bus"])
    got = s3.get_data({load: ["vm_pu"]})[load]["vm_pu"]
    assert got == vm[row, unb.phase_codes[0]]
    assert len(set(np.round(vm[row], 6))) == 3  # the phases differ
