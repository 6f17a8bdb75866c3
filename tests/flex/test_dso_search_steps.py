"""The offer search runs only the steps an offer changes: same severity, same orders as the
full-day search it replaced (kept here as the reference), on a 30-home unbalanced feeder."""

from __future__ import annotations

import numpy as np
import pytest

from sims.dso.congestion import DsoConfig, _apply, select_offers, validate_home_kw
from sims.dso.grid_view import dso_grid
from sims.dso.limits import GridLimits
from sims.grid.network import GridConfig, shared_grid
from sims.usef import Direction, FlexOffer, FlexOrder

N_STEPS = 24


@pytest.fixture(scope="module")
def grid():
    sg = shared_grid(GridConfig(grid_source="reference", n_homes=30, n_feeders=2,
                                layout_seed=3, phases="unbalanced"))
    # a tight limit, so that a heavy evening congests the transformer and the feeders
    return dso_grid(sg, GridLimits(vm_min_pu=0.95, max_loading_percent=40.0), 0.95)


def _day(grid, rng, peak: float = 1.0) -> np.ndarray:
    day = rng.uniform(0.0, 3.0, (N_STEPS, grid.n_homes))
    day[16:21] += rng.uniform(4.0, 9.0, (5, grid.n_homes))  # evening peak
    day[16:21] *= peak
    return day


def _offers(grid, rng, day, n_offers: int) -> list[FlexOffer]:
    out = []
    for k in range(n_offers):
        h = int(rng.integers(grid.n_homes))
        delta = np.zeros(N_STEPS)
        moved = rng.choice(np.arange(16, 21), size=int(rng.integers(1, 4)), replace=False)
        delta[moved] = -rng.uniform(1.0, 5.0, moved.size)
        back = rng.choice(np.r_[0:16, 21:N_STEPS], size=moved.size, replace=False)
        delta[back] = -delta[moved] * rng.uniform(0.5, 1.2, moved.size)  # the rebound
        out.append(FlexOffer(f"o{k}", "R", "A", grid.home_ids[h], Direction.DOWN,
                             tuple(int(s) for s in moved), -delta[moved], delta,
                             float(rng.uniform(0.01, 0.5)), 0.25))
    return out


def _full_day_search(grid, val, offers, config):
    """The search before steps were spliced: every trial runs the whole day."""
    base = np.asarray(val.home_kw)
    cong, q = val.congested_steps, val.home_kvar
    offers = [o for o in offers if o.price_eur_per_kwh <= config.price_cap_eur_per_kwh + 1e-12]
    if cong.size == 0:
        return []
    batch = np.tile(base[cong], (len(offers), 1))
    for i, o in enumerate(offers):
        batch[i * cong.size:(i + 1) * cong.size, grid.column(o.home_id)] += o.delta_kw[cong]
    chk = grid.check(grid.run(batch, np.tile(q[cong], (len(offers), 1))), batch)
    relief = float(val.check.excess[cong].sum()) - chk.excess.reshape(
        len(offers), cong.size).sum(axis=1)
    ranked = sorted((k for k in range(len(offers)) if relief[k] > config.tol_excess),
                    key=lambda k: (offers[k].cost_eur / relief[k], -relief[k]))
    ranked = ranked[:config.max_candidates]
    green = ~val.check.violated
    cum, cum_exc, sel, homes, clear = base.copy(), float(val.check.excess.sum()), [], set(), False
    for k in ranked:
        if offers[k].home_id in homes:
            continue
        trial = _apply(grid, cum, [offers[k]])
        c = grid.check(grid.run(trial, q), trial)
        if (c.violated & green).any():
            continue
        if float(c.excess.sum()) < cum_exc - config.tol_excess or not c.violated.any():
            cum, cum_exc = trial, float(c.excess.sum())
            sel.append(k)
            homes.add(offers[k].home_id)
            if not c.violated.any():
                clear = True
                break
    for k in sorted(sel, key=lambda k: -offers[k].cost_eur):
        if len(sel) == 1:
            break
        rest = [j for j in sel if j != k]
        kw = _apply(grid, base, [offers[j] for j in rest])
        c = grid.check(grid.run(kw, q), kw)
        ok = (not c.violated.any()) if clear else (
            not (c.violated & green).any() and float(c.excess.sum()) <= cum_exc
            + config.tol_excess)
        if ok:
            sel = rest
    return [offers[k].offer_id for k in sel]


def test_severity_is_what_check_reports(grid):
    rng = np.random.default_rng(0)
    day = _day(grid, rng)
    day[3, :] = -9.0  # reverse flow: over-voltage and unbalance as well
    res = grid.run(day)
    chk = grid.check(res, day)
    exc, vio = grid.severity(res)
    assert {v.kind for v in chk.violations} >= {"transformer", "undervoltage"}
    assert np.abs(exc - chk.excess).max() < 1e-12
    assert np.array_equal(vio, chk.violated)
    assert vio.sum() >= 5 and (~vio).sum() >= 5


def test_a_step_runs_the_same_alone_as_in_its_day(grid):
    """What splicing rests on: a step's load flow does not depend on the steps beside it."""
    rng = np.random.default_rng(1)
    day = _day(grid, rng)
    full = grid.severity(grid.run(day))[0]
    part = grid.severity(grid.run(day[[2, 17, 18]]))[0]
    assert np.abs(part - full[[2, 17, 18]]).max() < 1e-12


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("peak, cleared", [(0.5, True), (1.0, False)])
def test_spliced_search_orders_what_the_full_day_search_orders(grid, seed, peak, cleared):
    """Both ends of the search: a peak the offers clear, one they only relieve."""
    rng = np.random.default_rng(seed)
    day = _day(grid, rng, peak)
    val = validate_home_kw(grid, day, np.maximum(day, 0.0) * grid.tan_phi)
    assert val.congested_steps.size >= 3
    offers = _offers(grid, rng, day, 60)
    config = DsoConfig()
    sel = select_offers(grid, val, offers, config)
    assert [o.offer.offer_id for o in sel.orders] == _full_day_search(grid, val, offers, config)
    assert all(isinstance(o, FlexOrder) for o in sel.orders) and len(sel.orders) >= 5
    assert sel.cleared is cleared
    # fewer steps than a day per trial
    assert sel.load_flow_steps < (len(offers) + 2 * len(sel.orders)) * N_STEPS
