"""The default day unbalanced (the reference feeder's default since issue 12), pinned, and one
step cross-checked against pandapower's runpp_3ph on the same net.

The pinned values are those of the first unbalanced run of the default scenario; their
physics is checked independently below: the step with the lowest voltage is re-solved with
``runpp_3ph`` from the homes' recorded P and Q on their phases, and every bus's three phase
voltages agree with ``buses.parquet`` to 1e-6 p.u. The homes' KPIs are those of the balanced
pins (tests/test_default_kpis.py): the phases change the grid, not the homes.
"""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pytest

from sims.grid.network import shared_grid
from testbed import params
from testbed.results import read_run

from ..test_default_kpis import PINNED as BALANCED_PINNED

PINNED = {
    "grid.max_trafo_loading_percent": 89.05995823705891,
    "grid.max_line_loading_percent": 68.54168942055954,
    "grid.vm_min_pu": 0.9300710990441603,
    "grid.vm_max_pu": 1.0698184458951572,
    "grid.losses_kwh": 124.12250946103312,
    "grid.vuf_max_percent": 1.9774897877348077,
    "grid.vm_min_pu_a": 0.9620144415263373,
    "grid.vm_min_pu_b": 0.9317455809389307,
    "grid.vm_min_pu_c": 0.9300710990441603,
    "grid.vm_max_pu_a": 1.0698184458951572,
    "grid.vm_max_pu_b": 1.056317598273137,
    "grid.vm_max_pu_c": 1.0570813807620065,
}
EXACT = {"grid.overload_minutes": 0.0, "grid.voltage_violation_minutes": 75.0,
         "grid.voltage_violations": 72, "grid.vuf_violation_minutes": 0.0,
         "grid.nonconverged_steps": 0}


@pytest.mark.parametrize("key", sorted(PINNED))
def test_default_day_unbalanced_kpi_is_pinned(default_run, key):
    assert default_run.kpis[key] == pytest.approx(PINNED[key], rel=1e-10, abs=0.0)


def test_default_day_unbalanced_counts_are_exact(default_run):
    assert {k: default_run.kpis[k] for k in EXACT} == EXACT


@pytest.mark.parametrize("key", sorted(k for k in BALANCED_PINNED if k.startswith("homes.")))
def test_default_day_homes_do_not_depend_on_phases(default_run, key):
    assert default_run.kpis[key] == pytest.approx(BALANCED_PINNED[key], rel=1e-12, abs=0.0)


def test_lowest_voltage_step_equals_runpp_3ph(default_run, default_scenario):
    r = read_run(default_run.out_dir)
    buses, homes = r["buses"], r["homes"]
    t = buses.loc[buses.vm_pu.idxmin(), "time"]
    grid = shared_grid(params.grid_config(default_scenario))
    assert grid.unbalanced
    n = len(grid.homes)
    at = homes[homes.time == t].set_index("home_id").loc[grid.homes.index]
    net = copy.deepcopy(grid.net3)
    rows = net.asymmetric_load.index[grid.connections.asym_row[:n]]
    for k, ph in enumerate("abc"):
        on = (grid.phase_codes == k).astype(float)
        net.asymmetric_load.loc[rows, f"p_{ph}_mw"] = at.p_kw.to_numpy() * on / 1000.0
        net.asymmetric_load.loc[rows, f"q_{ph}_mvar"] = at.q_kvar.to_numpy() * on / 1000.0
    pp.runpp_3ph(net, tolerance_mva=1e-10, max_iteration=100)
    want = net.res_bus_3ph[["vm_a_pu", "vm_b_pu", "vm_c_pu"]].to_numpy()
    got = buses[buses.time == t].vm_pu.to_numpy().reshape(-1, 3)
    assert np.abs(got - want).max() < 1e-6
    assert float(want.min()) == pytest.approx(PINNED["grid.vm_min_pu"], abs=1e-6)
