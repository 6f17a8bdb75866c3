"""Operation: the monitor records measured violations; the emergency limitation caps the homes
causing them and is checked with the load flow."""

from __future__ import annotations

import numpy as np
import pytest

from sims.dso.grid_view import DsoGrid, GridLimits
from sims.dso.operation import OperationMonitor, emergency_limitation
from tests.flex.conftest import TINY_CONGESTED, TINY_DAY, tiny_feeder


def test_monitor_records_every_measured_violation(tiny_grid):
    res = tiny_grid.run(TINY_DAY)
    mon = OperationMonitor(tiny_grid)
    for s in range(len(TINY_DAY)):
        found = mon.observe(s, res.trafo_loading_percent[s], res.vm_pu[s],
                            res.line_loading_percent[s], home_kw=TINY_DAY[s])
        assert {v.kind for v in found} == ({TINY_CONGESTED[s]} if s in TINY_CONGESTED else set())
    summary = mon.summary()
    assert summary["steps_with_violation"] == 4 and summary["steps_seen"] == 8
    assert summary["transformer"] == summary["line"] == 1
    assert summary["undervoltage"] == summary["overvoltage"] == 1
    assert summary["max_trafo_loading_percent"] == pytest.approx(
        float(res.trafo_loading_percent.max()))


@pytest.mark.parametrize("step", sorted(TINY_CONGESTED))
def test_emergency_limitation_clears_each_congested_step(tiny_grid, step):
    kw = TINY_DAY[step]
    act = emergency_limitation(tiny_grid, kw)
    assert act.before and act.cleared
    # only homes that push the violation are capped, and never past zero
    for h, (lo, hi) in act.caps.items():
        c = tiny_grid.column(h)
        if np.isfinite(hi):  # import capped
            assert kw[c] > 0 and 0.0 <= hi < kw[c]
        if np.isfinite(lo):  # export capped
            assert kw[c] < 0 and kw[c] < lo <= 0.0
    # the load flow agrees with the capped powers
    assert not tiny_grid.check(tiny_grid.run(act.home_kw), act.home_kw).violated.any()
    assert act.limited_kw == pytest.approx(float(np.abs(act.home_kw - kw).sum()))


def test_transformer_overload_caps_all_importers_pro_rata(tiny_grid):
    kw = TINY_DAY[1]  # 70, 30, 20 kW: all import, all behind the transformer
    act = emergency_limitation(tiny_grid, kw)
    assert set(act.caps) == {"H1", "H2", "H3"}
    cut = kw - act.home_kw
    assert cut / cut.sum() == pytest.approx(kw / kw.sum(), rel=1e-6)


def test_violation_no_home_causes_is_reported_not_hidden():
    # the source alone is above the band: no home exports, nothing to cap
    f = tiny_feeder()
    f.net.ext_grid.loc[0, "vm_pu"] = 1.13
    grid = DsoGrid(f.net, f.homes, GridLimits())
    act = emergency_limitation(grid, np.array([1.0, 1.0, 1.0]))
    assert act.before and not act.cleared
    assert {v.kind for v in act.after} == {"overvoltage"}
    assert act.caps == {} and act.iterations <= 5
