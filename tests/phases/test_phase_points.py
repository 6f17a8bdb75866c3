"""Flexibility placed per phase: a feeder's voltage violation of one phase goes to the feeder's
homes on that phase, and its severity counts the worst bus of each phase."""

from __future__ import annotations

import numpy as np
import pytest

from sims.dso.grid_view import dso_grid
from sims.dso.limits import VOLTAGE_WEIGHT, GridLimits
from sims.usef import Direction


def test_each_feeder_has_a_point_per_phase_with_its_homes_on_that_phase(unb):
    g = dso_grid(unb, GridLimits(), 0.95)
    for f in ("feeder-1", "feeder-2"):
        parts = [g.points[f"{f}/{p}"] for p in "abc"]
        assert sorted(np.concatenate(parts).tolist()) == sorted(g.points[f].tolist())
        for ph, cols in enumerate(parts):
            assert cols.size > 0 and (unb.phase_codes[cols] == ph).all()
    assert "transformer/a" not in g.points
    cps = g.congestion_points_of_homes()
    h = g.home_ids[0]
    ph = "abc"[unb.phase_codes[0]]
    assert any(p.endswith(f"/{ph}") for p in cps[h]) and "transformer" in cps[h]


def test_under_voltage_of_one_phase_is_placed_on_that_phase(unb):
    g = dso_grid(unb, GridLimits(vm_min_pu=0.97, max_loading_percent=1000.0,
                                 vuf_max_percent=100.0), 0.95)
    f1 = g.points["feeder-1"]
    kw = np.full(g.n_homes, 0.3)
    kw[f1[unb.phase_codes[f1] == 0]] = 8.0  # phase a of feeder 1 heavily loaded
    res = g.run(kw)
    chk = g.check(res, np.atleast_2d(kw))
    under = [v for v in chk.violations if v.kind == "undervoltage"]
    assert under and {v.congestion_point for v in under} == {"feeder-1/a"}
    (v,) = under
    assert v.phase == 0 and v.direction is Direction.DOWN
    buses = np.flatnonzero(np.asarray(g.bus_point) == "feeder-1")
    assert v.value == pytest.approx(float(res.vm_pu[0, buses, 0].min()), abs=1e-15)
    # the physics behind it: 1 kW less on each phase-a home raises V_a at that bus far more
    # than 1 kW less on each home of the other phases (which lowers it: phase coupling)
    b = int(np.flatnonzero(g.bus_index == v.element)[0])
    dv = {}
    for ph in range(3):
        k = kw.copy()
        k[g.points[f"feeder-1/{'abc'[ph]}"]] -= 1.0
        dv[ph] = float(g.run(k).vm_pu[0, b, 0] - res.vm_pu[0, b, 0])
    assert dv[0] > 0.005 and dv[0] > 5 * max(dv[1], dv[2])
    # the estimate of the relief probes the phase-a homes and reads phase a
    need = g.relief_needed_kw(np.atleast_2d(kw), [v])[0]
    assert np.isfinite(need) and 0 < need < 8.0 * len(g.points["feeder-1/a"])


def test_severity_counts_the_worst_bus_of_each_phase(unb):
    lim = GridLimits(vm_min_pu=0.99, max_loading_percent=1000.0, vuf_max_percent=100.0)
    g = dso_grid(unb, lim, 0.95)
    f1 = g.points["feeder-1"]
    kw = np.full(g.n_homes, 0.3)
    kw[f1[unb.phase_codes[f1] == 0]] = 12.0
    kw[f1[unb.phase_codes[f1] == 1]] = 10.0  # phases a and b of feeder 1 both low
    res = g.run(kw)
    exc, vio = g.severity(res)
    vm = res.vm_pu[0]
    expect = 0.0
    for pt in dict.fromkeys(g.bus_point):
        buses = np.flatnonzero(np.asarray(g.bus_point) == pt)
        for dev in (np.maximum(lim.vm_min_pu - vm[buses], 0.0),  # [bus, phase]
                    np.maximum(vm[buses] - lim.vm_max_pu, 0.0)):  # the neutral shift
            expect += dev.max(axis=0).sum() if pt.startswith("feeder") else dev.max()
    lows = [v for v in g.check(res, np.atleast_2d(kw)).violations if v.kind == "undervoltage"]
    assert {v.congestion_point for v in lows} == {"feeder-1/a", "feeder-1/b"}
    assert exc[0] == pytest.approx(VOLTAGE_WEIGHT * expect, rel=1e-12) and vio[0]
    # relieving phase b alone lowers the severity, although phase a stays the lowest
    k = kw.copy()
    k[f1[unb.phase_codes[f1] == 1]] = 8.0
    assert g.severity(g.run(k))[0][0] < exc[0] - 1e-4


def test_a_three_phase_home_belongs_to_every_phase_of_its_feeder(unb):
    g1 = dso_grid(unb, GridLimits(), 0.95)
    three = g1.home_ids[:2]
    g = dso_grid(unb, GridLimits(), 0.95, three_phase_homes=three)
    for h in three:
        c = g.column(h)
        feeder = next(p for p in g.points if p.startswith("feeder") and "/" not in p
                      and c in g.points[p])
        assert all(c in g.points[f"{feeder}/{ph}"] for ph in "abc")
        assert sum(p.startswith(feeder + "/") for p in g.congestion_points_of_homes()[h]) == 3
    single = g.home_ids[2]
    assert sum("/" in p for p in g.congestion_points_of_homes()[single]) == 1
