"""The DSO orders the cheapest set of offers the load flow accepts, never one that congests
another interval. Offers here are hand-made (no CEMS): ``delta_kw`` is the home's change."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sims.dso.congestion import DsoConfig, select_offers, validate_home_kw
from sims.usef import Direction, FlexOffer
from tests.flex.conftest import TINY_DAY

# The tiny day with only the transformer congestion left (step 1: 120 kW, ~129 %); the other
# rows made mild: step 2 line B 30 kW (~46 %), step 3 H3 20 kW (V_C ~0.96), step 4 H3 -20 kW.
DAY = TINY_DAY.copy()
DAY[2] = [0.0, 30.0, 0.0]
DAY[3] = [0.0, 0.0, 20.0]
DAY[4] = [0.0, 0.0, -20.0]


def offer(home: str, price: float, changes: dict[int, float], oid: str | None = None,
          direction: Direction = Direction.DOWN) -> FlexOffer:
    delta = np.zeros(len(DAY))
    for s, kw in changes.items():
        delta[s] = kw
    return FlexOffer(oid or f"R0/{home}", "R0", "A1", home, direction, (1,),
                     [max(direction.sign * delta[1], 0.0)], delta, price, 0.25)


def test_only_the_transformer_is_congested(tiny_grid):
    assert validate_home_kw(tiny_grid, DAY).congested_steps.tolist() == [1]


def test_order_never_congests_another_interval(tiny_grid):
    val = validate_home_kw(tiny_grid, DAY)
    # H1's offer is cheap but moves its 40 kW to step 5, where the feeder already draws
    # 80 kW: 120 kW there is the same ~129 % overload. H2's costs more, rebounds at step 0.
    trap = offer("H1", 0.05, {1: -40.0, 5: +40.0})
    good = offer("H2", 0.20, {1: -40.0, 0: +40.0})
    sel = select_offers(tiny_grid, val, [trap, good])
    assert [o.home_id for o in sel.orders] == ["H2"]
    assert sel.cleared and sel.what_if.clear
    # the trap is real: the load flow congests step 5 with it
    with_trap = DAY.copy()
    with_trap[:, 0] += trap.delta_kw
    assert validate_home_kw(tiny_grid, with_trap).congested_steps.tolist() == [5]
    # and the ordered set, checked with the load flow over the day, congests nothing
    after = DAY.copy()
    after[:, 1] += good.delta_kw
    assert validate_home_kw(tiny_grid, after).clear


def test_cheapest_set_equals_brute_force(tiny_grid):
    val = validate_home_kw(tiny_grid, DAY)
    # cost = kW * 0.25 h * price: X 0.50 EUR, Y 3.00 EUR, Z 0.60 EUR. X or Z alone leaves
    # 100 kW (~106 %); X + Z leaves 80 kW (~85 %): the cheapest set is {X, Z} at 1.10 EUR.
    offers = [offer("H1", 0.10, {1: -20.0}, "X"), offer("H2", 0.30, {1: -40.0}, "Y"),
              offer("H3", 0.12, {1: -20.0}, "Z")]
    sel = select_offers(tiny_grid, val, offers)
    best = None
    for k in range(1, len(offers) + 1):
        for subset in itertools.combinations(offers, k):
            kw = DAY.copy()
            for o in subset:
                kw[:, tiny_grid.column(o.home_id)] += o.delta_kw
            if validate_home_kw(tiny_grid, kw).clear:
                cost = sum(o.cost_eur for o in subset)
                if best is None or cost < best[0]:
                    best = (cost, {o.offer_id for o in subset})
    assert best == (pytest.approx(1.10), {"X", "Z"})
    assert {o.offer.offer_id for o in sel.orders} == best[1]
    assert sel.cost_eur == pytest.approx(best[0])
    assert sel.cleared


def test_offers_above_the_price_cap_are_not_ordered(tiny_grid):
    val = validate_home_kw(tiny_grid, DAY)
    sel = select_offers(tiny_grid, val, [offer("H2", 2.0, {1: -40.0})],
                        DsoConfig(price_cap_eur_per_kwh=1.0))
    assert sel.orders == () and not sel.cleared


def test_offers_that_do_not_help_give_no_order(tiny_grid):
    val = validate_home_kw(tiny_grid, DAY)
    wrong_way = offer("H1", 0.01, {1: +10.0}, direction=Direction.UP)
    sel = select_offers(tiny_grid, val, [wrong_way])
    assert sel.orders == () and not sel.cleared and sel.relief == {}


def test_partial_relief_is_ordered_when_nothing_clears(tiny_grid):
    val = validate_home_kw(tiny_grid, DAY)
    small = offer("H1", 0.10, {1: -10.0})  # 110 kW left: still ~118 %, but less
    sel = select_offers(tiny_grid, val, [small])
    assert [o.home_id for o in sel.orders] == ["H1"]
    assert not sel.cleared
    assert sel.what_if.check.excess.sum() < val.check.excess.sum()
    assert sel.what_if.congested_steps.tolist() == [1]


@pytest.mark.parametrize("seed", range(25))
def test_random_offers_never_congest_a_green_interval(tiny_grid, seed):
    """Random days and random offers with random rebound: whatever is ordered, the load flow
    of the day with the orders has no violation in a step that was green."""
    rng = np.random.default_rng(seed)
    n = 12
    day = rng.uniform(0.0, 45.0, (n, 3))
    day[:, 2] = rng.uniform(-40.0, 30.0, n)
    val = validate_home_kw(tiny_grid, day)
    offers = []
    for k in range(8):
        home = ("H1", "H2", "H3")[k % 3]
        delta = np.zeros(n)
        s = int(rng.integers(n))
        delta[s] = -rng.uniform(5.0, 30.0) * rng.choice([1.0, -1.0])
        delta[int(rng.integers(n))] -= delta[s] * rng.uniform(0.5, 1.2)  # rebound somewhere
        d = Direction.DOWN if delta[s] < 0 else Direction.UP
        offers.append(FlexOffer(f"o{k}", "R", "A", home, d, (s,), [abs(delta[s])], delta,
                                float(rng.uniform(0.0, 0.5)), 0.25))
    sel = select_offers(tiny_grid, val, offers)
    kw = day.copy()
    for o in sel.orders:
        kw[:, tiny_grid.column(o.home_id)] += o.offer.delta_kw
    after = validate_home_kw(tiny_grid, kw)
    assert not (after.check.violated & ~val.check.violated).any()
    assert len({o.home_id for o in sel.orders}) == len(sel.orders)
    if sel.orders:
        assert after.check.excess.sum() < val.check.excess.sum()
        assert np.array_equal(after.check.violated, sel.what_if.check.violated)
