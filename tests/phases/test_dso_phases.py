"""The DSO's checks per phase in unbalanced grids: the band on every phase, the most loaded
phase of a line, the voltage unbalance limit; the monitor reads the grid's per-phase arrays."""

from __future__ import annotations

import numpy as np
import pytest

from sims.dso.grid_view import DsoGrid, PhaseResult, dso_grid
from sims.dso.limits import GridLimits
from sims.dso.operation import OperationMonitor, emergency_limitation
from sims.grid.model import GridModel
from sims.grid.network import GridConfig, shared_grid
from sims.usef import Direction
from tests.phases.conftest import BASE


def test_dso_load_flow_is_the_grid_simulators_per_phase(unb):
    g = dso_grid(unb, GridLimits(), 0.95)
    assert g.unbalanced
    n = g.n_homes
    kw = np.linspace(-2.0, 8.0, n)
    res = g.run(kw)
    assert isinstance(res, PhaseResult) and res.vm_pu.shape == (1, len(g.bus_index), 3)
    step = GridModel.of(unb).solve(kw, np.maximum(kw, 0.0) * g.tan_phi)
    assert np.abs(res.vm_pu[0] - step.vm_pu).max() < 1e-12
    assert np.allclose(res.vm_min_pu[0], step.vm_pu.min(axis=1))
    assert np.allclose(res.line_loading_percent[0], step.line_loading_percent.max(axis=1))
    assert np.allclose(res.vuf_percent[0], step.vuf_percent)


def test_band_holds_on_every_phase_and_unbalance_is_checked(unb):
    g = dso_grid(unb, GridLimits(), 0.95)
    kw = np.where(unb.phase_codes == 0, 9.0, 0.5)  # phase a heavily loaded
    res = g.run(kw)
    vlo, vhi = float(np.nanmin(res.vm_min_pu)), float(res.vuf_percent.max())
    # limits between the per-phase extremes and what a balanced view would see
    mean_phase = float(np.nanmin(res.vm_pu.mean(axis=2)))
    assert vlo < mean_phase - 0.005
    lim = GridLimits(vm_min_pu=(vlo + mean_phase) / 2, vm_max_pu=1.2,
                     max_loading_percent=1000.0, vuf_max_percent=vhi / 2)
    chk = g.check(res, np.atleast_2d(kw), limits=lim)
    kinds = {v.kind for v in chk.violations}
    assert kinds == {"undervoltage", "unbalance"}
    under = min((v for v in chk.violations if v.kind == "undervoltage"), key=lambda v: v.value)
    assert under.value == pytest.approx(vlo) and under.direction is Direction.DOWN
    worst_u = max(v.value for v in chk.violations if v.kind == "unbalance")
    assert worst_u == pytest.approx(vhi)
    assert all(v.direction is Direction.DOWN for v in chk.violations)  # the homes import
    # the relief of the unbalance violations is finite and positive (probed on the same flow)
    need = g.relief_needed_kw(np.atleast_2d(kw), chk.violations)
    assert np.all(np.isfinite(need)) and np.all(need > 0)
    # the emergency limitation clears it, within the same checks (per phase)
    gl = DsoGrid(unb.feeder.net, unb.homes, lim, unbalanced=unb)
    act = emergency_limitation(gl, kw, max_iter=8)
    assert act.before and act.cleared
    after = gl.check(gl.run(act.home_kw), np.atleast_2d(act.home_kw))
    assert not after.violated.any()
    assert np.all(act.home_kw <= kw + 1e-9)  # only imports were capped


def test_monitor_reads_the_grid_simulators_per_phase_arrays(unb):
    g = dso_grid(unb, GridLimits(vuf_max_percent=0.05), 0.95)
    kw = np.where(unb.phase_codes == 1, 6.0, 0.2)
    step = GridModel.of(unb).solve(kw, np.maximum(kw, 0.0) * g.tan_phi)
    mon = OperationMonitor(g)
    found = mon.observe(7, step.trafo_loading_percent, step.vm_pu.reshape(-1),
                        step.line_loading_percent.reshape(-1), home_kw=kw,
                        vuf_percent=step.vuf_percent)
    unbalance = [v for v in found if v.kind == "unbalance"]
    assert unbalance and max(v.value for v in unbalance) == pytest.approx(
        float(step.vuf_percent.max()))
    assert {v.step for v in found} == {7}


def test_balanced_grid_has_no_unbalance_check():
    bal = shared_grid(GridConfig(**BASE, phases="balanced"))
    g = dso_grid(bal, GridLimits(vuf_max_percent=1e-9), 0.95)
    res = g.run(np.full(g.n_homes, 3.0))
    assert not hasattr(res, "vuf_percent")
    assert not [v for v in g.check(res, np.full((1, g.n_homes), 3.0)).violations
                if v.kind == "unbalance"]
