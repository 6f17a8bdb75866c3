"""The negotiation loop: ends within its round cap, ends orange when no offer helps, and with
real CEMS re-plans clears congestion without congesting another interval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from grids.networks.feeder import build_reference_feeder
from sims.aggregator.aggregator import Aggregator
from sims.dso.congestion import DsoConfig, make_requests, validate
from sims.dso.grid_view import DsoGrid
from sims.dso.negotiation import DsoSession, negotiate
from sims.homes.cems import plan_day
from sims.homes.cems.synthetic import random_homes
from sims.usef import Direction, FlexOffer, FlexOrder, FlexRequest, Prognosis, TrafficLight
from tests.flex.conftest import tiny_feeder
from tests.flex.test_dso_select import DAY


class FakeAggregator:
    """All three tiny homes, a fixed schedule; offers ``offer_kw`` down from H1 per request.

    ``honest``: dispatch applies the offered change; otherwise dispatch does nothing (the
    homes ignore the order), which the DSO sees in the next validation.
    """

    def __init__(self, day: np.ndarray, offer_kw: float, honest: bool = True):
        self.aggregator_id = "F"
        self.day = day.copy()
        self.offer_kw = offer_kw
        self.honest = honest
        self.dispatched = 0

    def prognosis(self) -> Prognosis:
        return Prognosis("F", 0.25, {h: self.day[:, k] for k, h in enumerate(("H1", "H2", "H3"))})

    def offers(self, request: FlexRequest) -> list[FlexOffer]:
        if self.offer_kw <= 0 or request.congestion_point != "transformer":
            return []
        delta = np.zeros(len(self.day))
        delta[list(request.steps)] = -self.offer_kw
        return [FlexOffer(f"{request.request_id}/H1", request.request_id, "F", "H1",
                          request.direction, request.steps,
                          np.full(len(request.steps), self.offer_kw), delta, 0.1, 0.25)]

    def dispatch(self, orders: Sequence[FlexOrder]) -> dict:
        for o in orders:
            self.dispatched += 1
            if self.honest:
                self.day[:, 0] += o.offer.delta_kw
        return {}


def test_no_offer_ends_orange_not_hang(tiny_grid):
    agg = FakeAggregator(DAY, offer_kw=0.0)
    res = negotiate(tiny_grid, [agg], DsoConfig(max_rounds=5))
    assert res.status == "no_offer_helps"
    assert len(res.rounds) == 1 and res.orders == ()
    assert res.orange_steps.tolist() == [1]
    assert [x is TrafficLight.GREEN for x in res.lights] == [s != 1 for s in range(len(DAY))]


def test_homes_that_ignore_orders_end_the_loop(tiny_grid):
    agg = FakeAggregator(DAY, offer_kw=40.0, honest=False)
    res = negotiate(tiny_grid, [agg], DsoConfig(max_rounds=5))
    assert res.status == "no_offer_helps"  # ordered, but the next validation saw no relief
    assert len(res.rounds) == 1 and agg.dispatched == 1
    assert res.orange_steps.tolist() == [1]


def test_loop_ends_within_its_round_cap(tiny_grid):
    # 2 kW per round from 120 kW never reaches the ~95 kW the transformer carries
    agg = FakeAggregator(DAY, offer_kw=2.0)
    res = negotiate(tiny_grid, [agg], DsoConfig(max_rounds=3))
    assert res.status == "max_rounds"
    assert len(res.rounds) == 3 and len(res.orders) == 3
    assert res.orange_steps.tolist() == [1]
    excess = [r.validation.check.excess.sum() for r in res.rounds] + [
        res.final.check.excess.sum()]
    assert all(b < a for a, b in zip(excess, excess[1:], strict=False))  # relief every round


def test_enough_flexibility_clears_in_one_round(tiny_grid):
    agg = FakeAggregator(DAY, offer_kw=40.0)
    res = negotiate(tiny_grid, [agg], DsoConfig(max_rounds=5))
    assert res.status == "clear" and res.final.clear
    assert len(res.orders) == 1 and res.resolved_steps.tolist() == [1]
    assert set(res.lights) == {TrafficLight.GREEN}
    assert res.cost_eur == pytest.approx(40.0 * 0.25 * 0.1)


def small_congested_feeder(trafo_kva: float) -> DsoGrid:
    """8 reference homes on two feeders behind a transformer shrunk to ``trafo_kva``."""
    f = build_reference_feeder(n_homes=8, n_feeders=2, seed=3)
    f.net.trafo.loc[0, "sn_mva"] = trafo_kva / 1000.0
    return DsoGrid(f.net, f.homes)


def two_aggregators(grid: DsoGrid, seed: int) -> list[Aggregator]:
    inputs = random_homes(8, seed=seed)
    plans = [plan_day(i) for i in inputs]
    cps = grid.congestion_points_of_homes()
    return [Aggregator("A1", inputs[:5], plans[:5], cps),
            Aggregator("A2", inputs[5:], plans[5:], cps)]


def test_real_cems_orders_clear_and_never_congest_another_interval():
    grid = small_congested_feeder(20.0)
    aggs = two_aggregators(grid, seed=5)
    before = {h: p.net_kw.copy() for a in aggs for h, p in a.plans.items()}
    res = negotiate(grid, aggs, DsoConfig(max_rounds=4))
    assert res.initial.congested_steps.size > 0  # the case is congested
    assert res.status == "clear" and res.final.clear and res.orders
    assert res.new_congestion_steps == ()
    # check again with the load flow on the homes' final plans (their real re-plans)
    final = np.column_stack([next(a.plans[h] for a in aggs if h in a.plans).net_kw
                             for h in grid.home_ids])
    # with the reactive power the homes' final plans draw (what the DSO's load flow uses)
    kvar = grid.kvar_matrix([a.prognosis() for a in aggs], final)
    chk = grid.check(grid.run(final, kvar), final)
    assert not chk.violated.any()
    # only ordered homes changed their schedule, and each changed where it was ordered
    ordered = {o.home_id for o in res.orders}
    for a in aggs:
        for h, p in a.plans.items():
            assert np.allclose(p.net_kw, before[h]) == (h not in ordered)
    for o in res.orders:
        assert o.cost_eur >= 0.0
        assert o.offer.price_eur_per_kwh <= DsoConfig().price_cap_eur_per_kwh


def test_real_cems_congestion_flexibility_cannot_clear_ends_orange():
    # 17 kVA: with the homes' own reactive power in the DSO's load flow (EVs at unity power
    # factor), 18 kVA is cleared by the orders
    grid = small_congested_feeder(17.0)
    aggs = two_aggregators(grid, seed=5)
    config = DsoConfig(max_rounds=4)
    res = negotiate(grid, aggs, config)
    assert res.status in ("no_offer_helps", "max_rounds")
    assert len(res.rounds) <= config.max_rounds
    assert res.orange_steps.size > 0
    assert set(res.orange_steps) <= set(res.initial.congested_steps)  # nothing new congested
    assert res.new_congestion_steps == ()
    assert res.final.check.excess.sum() < res.initial.check.excess.sum()  # but it helped


def test_table_and_kpis_add_up(tiny_grid):
    agg = FakeAggregator(DAY, offer_kw=2.0)
    res = negotiate(tiny_grid, [agg], DsoConfig(max_rounds=3))
    t = res.table()
    assert len(t) == len(DAY)
    # three rounds, each offered and ordered 2 kW at step 1 at 0.1 EUR/kWh
    assert t.offered_kw.tolist() == [0.0, 6.0] + [0.0] * 6
    assert t.ordered_kw.tolist() == [0.0, 6.0] + [0.0] * 6
    assert t.ordered_eur.sum() == pytest.approx(3 * 2.0 * 0.25 * 0.1)
    assert t.requested_kw[1] > 0 and t.requested_kw.drop(1).eq(0).all()
    assert t.final_light[1] == "orange" and t.initial_light[1] == "yellow"
    k = res.kpis()
    assert k["ordered_kwh"] == pytest.approx(1.5) and k["offered_kwh"] == pytest.approx(1.5)
    assert k["congested_steps"] == 1 and k["orange_steps"] == 1 and k["share_resolved"] == 0.0
    assert k["rounds"] == 3 and k["status"] == "max_rounds"


def test_session_message_by_message(tiny_grid):
    agg = FakeAggregator(DAY, offer_kw=40.0)
    s = DsoSession(tiny_grid, DsoConfig(max_rounds=5))
    with pytest.raises(RuntimeError):
        s.result()
    assert s.on_offers([]) == []  # out of turn: ignored
    reqs = s.on_prognoses([agg.prognosis()])
    assert [q.request_id for q in reqs] == ["R0-transformer-down"] and not s.done
    orders = s.on_offers([o for q in reqs for o in agg.offers(q)])
    assert len(orders) == 1 and not s.done
    agg.dispatch(orders)
    assert s.on_prognoses([agg.prognosis()]) == [] and s.done
    assert s.result().status == "clear"
    assert s.on_prognoses([agg.prognosis()]) == [] and s.on_offers([]) == []  # done: silent


def test_load_flow_that_does_not_converge_ends_orange(tiny_grid):
    day = DAY.copy()
    day[6] = [0.0, 0.0, 3000.0]  # 3 MW at the end of a 0.5 km 4x50 cable: no solution
    agg = FakeAggregator(day, offer_kw=0.0)
    res = negotiate(tiny_grid, [agg], DsoConfig(max_rounds=3))
    assert not res.initial.result.converged[6]
    assert {v.kind for v in res.initial.violations if v.step == 6} == {"not_converged"}
    assert res.status == "no_offer_helps"
    assert 6 in res.orange_steps.tolist() and 1 in res.orange_steps.tolist()


def pv_homes_on_tiny(seed: int):
    """Three random homes (the third with 12 kWp of PV) on the tiny network, source at
    1.095 p.u.: H3's midday export over 0.5 km of 4x50 cable lifts bus C above 1.10 p.u.
    (1.095, not 1.09, since the DSO's load flow has the homes' own reactive power, the base
    load's lagging kvar also while they export: at 1.09 the guarded offer no longer clears.)"""
    f = tiny_feeder()
    f.net.ext_grid.loc[0, "vm_pu"] = 1.095
    grid = DsoGrid(f.net, f.homes)
    ins = [replace(i, home=replace(i.home, home_id=h))
           for i, h in zip(random_homes(3, seed=seed), ("H1", "H2", "H3"), strict=True)]
    assert ins[2].home.pv_kwp == 12.0
    return grid, Aggregator("A", ins, [plan_day(i) for i in ins],
                            grid.congestion_points_of_homes())


def test_real_cems_clears_over_voltage_upwards_with_guarded_rebound():
    grid, agg = pv_homes_on_tiny(18)
    val = validate(grid, [agg.prognosis()])
    assert {v.kind for v in val.violations} == {"overvoltage"}
    reqs = make_requests(grid, val)
    assert [(q.congestion_point, q.direction) for q in reqs] == [("feeder-3", Direction.UP)]
    assert reqs[0].guard_steps  # steps just under 1.10 p.u., where export may not grow
    res = negotiate(grid, [agg], DsoConfig(max_rounds=4))
    assert res.status == "clear" and res.new_congestion_steps == ()
    assert all(o.offer.direction is Direction.UP for o in res.orders)
    # the order's rebound keeps off the guarded steps: no more export there
    for o in res.orders:
        g = list(reqs[0].guard_steps)
        assert np.all(o.offer.delta_kw[g] >= -1e-6)


def test_without_guard_the_rebound_would_congest_and_no_order_is_placed():
    """The same case, the guard off: the home's re-plan exports its battery in the afternoon
    and over-voltage moves there; the DSO's full-day check refuses the offer (orange)."""
    grid, agg = pv_homes_on_tiny(18)
    res = negotiate(grid, [agg], DsoConfig(max_rounds=4, guard_voltage_pu=-1.0,
                                           guard_loading_percent=-1000.0))
    assert res.rounds[0].offers  # an offer was made ...
    assert res.status == "no_offer_helps" and res.orders == ()  # ... and refused
    assert res.new_congestion_steps == ()


def test_delivered_is_the_measured_move_capped_at_the_order(tiny_grid):
    agg = FakeAggregator(DAY, offer_kw=40.0)
    res = negotiate(tiny_grid, [agg], DsoConfig(max_rounds=5))
    assert len(res.orders) == 1  # 40 kW down from H1 at step 1
    measured = DAY.copy()
    measured[1, 0] -= 25.0  # H1 delivers 25 of the 40 kW
    d = res.delivered_kw(tiny_grid, measured)
    assert d.tolist() == [0.0, 25.0] + [0.0] * 6
    measured[1, 0] -= 30.0  # 55 kW: more than ordered counts as 40
    assert res.delivered_kw(tiny_grid, measured)[1] == pytest.approx(40.0)
    measured[1, 0] = DAY[1, 0] + 5.0  # the wrong way: nothing delivered
    assert res.delivered_kw(tiny_grid, measured)[1] == 0.0


def test_delivered_is_measured_from_the_prognosis_of_the_orders_round(tiny_grid):
    """Two rounds each order 15 kW down from H1 at step 1; a home that delivers only the
    first has delivered 15 kW, not 30 (the second order is a move from round 1's prognosis,
    which already holds the first)."""
    agg = FakeAggregator(DAY, offer_kw=15.0)
    res = negotiate(tiny_grid, [agg], DsoConfig(max_rounds=5))
    by_round = sorted(o.round for o in res.orders)
    assert by_round[:2] == [0, 1]
    measured = DAY.copy()
    measured[1, 0] -= 15.0
    assert res.delivered_kw(tiny_grid, measured)[1] == pytest.approx(15.0)
    measured[1, 0] -= 15.0 * (len(res.orders) - 1)  # every order delivered
    assert res.delivered_kw(tiny_grid, measured)[1] == pytest.approx(15.0 * len(res.orders))
