"""The DSO's validation finds exactly the congested intervals of the hand-made network."""

from __future__ import annotations

import numpy as np
import pytest

from sims.dso.congestion import make_requests, validate, validate_home_kw
from sims.usef import Direction, Prognosis, TrafficLight
from tests.flex.conftest import TINY_CONGESTED, TINY_DAY


def prognoses(day: np.ndarray) -> list[Prognosis]:
    """Two aggregators: H1 and H2 in one, H3 in the other."""
    return [Prognosis("A1", 0.25, {"H1": day[:, 0], "H2": day[:, 1]}),
            Prognosis("A2", 0.25, {"H3": day[:, 2]})]


def test_finds_exactly_the_congested_intervals(tiny_grid):
    val = validate(tiny_grid, prognoses(TINY_DAY))
    assert val.congested_steps.tolist() == sorted(TINY_CONGESTED)
    kinds = {v.step: v.kind for v in val.violations}
    assert kinds == TINY_CONGESTED
    assert len(val.violations) == 4  # one per congested step, nothing else
    assert [x is TrafficLight.YELLOW for x in val.lights] == [
        s in TINY_CONGESTED for s in range(len(TINY_DAY))]


def test_violations_name_point_and_direction(tiny_grid):
    val = validate(tiny_grid, prognoses(TINY_DAY))
    got = {(v.step, v.congestion_point, v.direction) for v in val.violations}
    assert got == {(1, "transformer", Direction.DOWN), (2, "feeder-2", Direction.DOWN),
                   (3, "feeder-3", Direction.DOWN), (4, "feeder-3", Direction.UP)}
    by_step = {v.step: v for v in val.violations}
    assert by_step[1].value == pytest.approx(128.8, abs=0.5)  # hand: ~125 % (module doc)
    assert by_step[3].element == 4  # bus C, the end of the long line


def test_congestion_points_from_topology(tiny_grid):
    cps = tiny_grid.congestion_points_of_homes()
    assert cps == {"H1": ("transformer", "feeder-1"), "H2": ("transformer", "feeder-2"),
                   "H3": ("transformer", "feeder-3")}


def test_relief_estimates_by_hand_and_by_load_flow(tiny_grid):
    val = validate_home_kw(tiny_grid, TINY_DAY)
    by_step = {v.step: v for v in val.violations}
    vs = [by_step[s] for s in (1, 2, 3)]
    need = tiny_grid.relief_needed_kw(val.home_kw, vs, margin=1.1)
    # transformer: (128.85 - 100) % of 100 kVA, times 1.1 = 31.7 kW
    assert need[0] == pytest.approx((by_step[1].value - 100.0) * 1.0 * 1.1)
    # line B: (115.5 - 100) % of sqrt(3) 0.4 kV 100 A = 69.3 kVA, times 1.1 = 11.8 kW
    assert need[1] == pytest.approx((by_step[2].value - 100.0) / 100 * np.sqrt(3) * 40 * 1.1)
    # under-voltage 0.94 - 0.919 = 0.021 p.u.; dV/dP at C ~ (0.321 + 0.042 * 0.329) / 0.16
    # + (0.01 + 0.0387 * 0.329) / 100 ~ 2.3e-3 p.u./kW, so ~ 9 kW, times 1.1 ~ 10 kW
    assert 8.0 < need[2] < 13.0
    # and the load flow agrees that moving H3 down by the estimate clears step 3
    kw = TINY_DAY[3].copy()
    kw[2] -= need[2]
    assert not tiny_grid.check(tiny_grid.run(kw), kw).violated.any()


def test_requests_one_per_point_and_direction(tiny_grid):
    val = validate_home_kw(tiny_grid, TINY_DAY)
    reqs = make_requests(tiny_grid, val, round=0)
    got = {(r.congestion_point, r.direction, r.steps) for r in reqs}
    assert got == {("transformer", Direction.DOWN, (1,)), ("feeder-2", Direction.DOWN, (2,)),
                   ("feeder-3", Direction.DOWN, (3,)), ("feeder-3", Direction.UP, (4,))}
    for r in reqs:
        assert np.all(r.min_kw > 0) and np.all(r.max_kw >= r.min_kw)
        assert r.request_id.startswith("R0-")


def test_clear_day_is_green(tiny_grid):
    val = validate_home_kw(tiny_grid, np.full((4, 3), 3.0))
    assert val.clear and set(val.lights) == {TrafficLight.GREEN}
    assert make_requests(tiny_grid, val) == []


def test_prognoses_must_cover_every_home_once(tiny_grid):
    with pytest.raises(ValueError, match="in no prognosis"):
        validate(tiny_grid, prognoses(TINY_DAY)[:1])
    twice = prognoses(TINY_DAY) + [Prognosis("A3", 0.25, {"H3": TINY_DAY[:, 2]})]
    with pytest.raises(ValueError, match="two prognoses"):
        validate(tiny_grid, twice)
    with pytest.raises(ValueError, match="unknown home"):
        validate(tiny_grid, prognoses(TINY_DAY) + [Prognosis("A3", 0.25, {"H9": TINY_DAY[:, 2]})])


def test_shipped_simbench_grid_feeders_partition_the_homes():
    from grids.networks.loaders import load_feeder
    from sims.dso.grid_view import DsoGrid

    f = load_feeder("simbench:1-LV-rural1--0-sw")
    grid = DsoGrid(f.net, f.homes)
    feeders = [k for k in grid.points if k.startswith("feeder-")]
    cols = np.concatenate([grid.points[k] for k in feeders])
    assert sorted(cols.tolist()) == list(range(grid.n_homes))  # each home in one feeder
    assert grid.points["transformer"].tolist() == list(range(grid.n_homes))
    # validation equals the engine's own numbers, in one batch
    kw = np.tile(np.linspace(0.5, 15.0, 24)[:, None], (1, grid.n_homes))
    val = validate_home_kw(grid, kw)
    tl = val.result.trafo_loading_percent.max(axis=1)
    vm = np.nanmin(val.result.vm_pu, axis=1)
    ll = val.result.line_loading_percent.max(axis=1)
    expect = (tl > 100.0) | (ll > 100.0) | (vm < 0.94)
    assert np.array_equal(val.check.violated, expect) and expect.any() and not expect.all()


def test_net_without_transformer_and_with_an_out_of_service_line():
    import pandapower as pp

    from sims.dso.grid_view import DsoGrid
    from tests.flex.conftest import tiny_feeder

    f = tiny_feeder()
    net = f.net
    # supply the LV bus directly at 1.0 p.u. and switch off line A (H1 islanded)
    net.trafo.in_service = False
    pp.create_ext_grid(net, 1, vm_pu=1.0)
    net.ext_grid.loc[0, "in_service"] = False
    net.line.loc[0, "in_service"] = False
    grid = DsoGrid(net, f.homes)
    assert grid.points["transformer"].tolist() == [1, 2]  # the energised homes
    assert grid.points["feeder-1"].tolist() == [1] and grid.points["feeder-2"].tolist() == [2]
    # H3: 60 kW over 0.5 km of 4x50 from 1.0 p.u.: drop ~ 0.321 * 60e3 / 0.16e6 = 12 %,
    # under-voltage; 63 kVA / (sqrt(3) 0.35 kV) ~ 104 A < 142 A: no overload. H1 is islanded
    # (NaN voltage), which is not a violation of the band.
    kw = np.array([[5.0, 5.0, 60.0]])
    val = validate_home_kw(grid, kw)
    assert {(v.kind, v.congestion_point) for v in val.violations} == {
        ("undervoltage", "feeder-2")}
