"""The aggregator: prognosis sums, offers priced from real CEMS re-plans, dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from sims.aggregator.aggregator import Aggregator
from sims.aggregator.local_market import home_cost_eur
from sims.homes.cems import plan_day
from sims.homes.cems.synthetic import random_homes
from sims.usef import Direction, FlexOrder, FlexRequest

POINTS = {"H001": ("transformer", "feeder-1"), "H002": ("transformer", "feeder-1"),
          "H003": ("transformer", "feeder-2"), "H004": ("transformer", "feeder-2"),
          "H005": ("transformer", "feeder-2")}


@pytest.fixture(scope="module")
def homes():
    inputs = random_homes(5, seed=5)
    return inputs, [plan_day(i) for i in inputs]


def evening_request(plans, point="transformer", cap=1.0) -> FlexRequest:
    """Down-flexibility at the 4 steps where the homes have the most of it together."""
    flex = np.sum([p.flex_down_kw for p in plans], axis=0)
    steps = tuple(sorted(int(s) for s in np.argsort(-flex)[:4]))
    return FlexRequest("R0-x", point, Direction.DOWN, steps, np.full(4, 1.0),
                       np.full(4, 50.0), cap)


def test_prognosis_sums_per_point(homes):
    inputs, plans = homes
    agg = Aggregator("A", inputs, plans, POINTS)
    p = agg.prognosis()
    assert set(p.home_kw) == set(POINTS)
    assert p.point_kw["transformer"] == pytest.approx(np.sum([x.net_kw for x in plans], axis=0))
    assert p.point_kw["feeder-1"] == pytest.approx(plans[0].net_kw + plans[1].net_kw)


def test_offers_come_from_real_replans(homes):
    inputs, plans = homes
    agg = Aggregator("A", inputs, plans, POINTS)
    req = evening_request(plans)
    offers = agg.offers(req)
    assert offers, "this portfolio has down-flexibility in the evening"
    for o in offers:
        k = [i.home.home_id for i in inputs].index(o.home_id)
        band, new = agg._offer_cache[o.offer_id]
        # delta is the re-plan's change; power is the move achieved at the requested steps
        assert o.delta_kw == pytest.approx(new.net_kw - plans[k].net_kw)
        assert o.power_kw == pytest.approx(np.maximum(-o.delta_kw[list(req.steps)], 0.0))
        assert o.energy_kwh >= agg.min_energy_kwh
        # price = the prosumer's cost increase per kWh (margin 0), within the cap
        cost = home_cost_eur(new, inputs[k], band) - home_cost_eur(plans[k], inputs[k])
        assert o.price_eur_per_kwh == pytest.approx(max(cost, 0.0) / o.energy_kwh)
        assert o.price_eur_per_kwh <= req.price_cap_eur_per_kwh


def test_offers_only_from_homes_of_the_point(homes):
    inputs, plans = homes
    agg = Aggregator("A", inputs, plans, POINTS)
    offers = agg.offers(evening_request(plans, point="feeder-1"))
    assert {o.home_id for o in offers} <= {"H001", "H002"}
    assert agg.offers(evening_request(plans, point="feeder-9")) == []


def test_margin_and_cap(homes):
    inputs, plans = homes
    req = evening_request(plans)
    base = {o.home_id: o.price_eur_per_kwh for o in Aggregator("A", inputs, plans, POINTS)
            .offers(req)}
    dear = Aggregator("A", inputs, plans, POINTS, margin_eur_per_kwh=0.5).offers(req)
    for o in dear:
        assert o.price_eur_per_kwh == pytest.approx(base[o.home_id] + 0.5)
    none = Aggregator("A", inputs, plans, POINTS, margin_eur_per_kwh=5.0).offers(req)
    assert none == []  # every price above the 1 EUR/kWh cap


def test_dispatch_reuses_the_priced_plan_and_keeps_the_band(homes):
    inputs, plans = homes
    agg = Aggregator("A", inputs, plans, POINTS)
    req = evening_request(plans)
    o = agg.offers(req)[0]
    new = agg.dispatch([FlexOrder.of(o)])
    assert set(new) == {o.home_id}
    assert agg.plans[o.home_id].net_kw == pytest.approx(
        plans[[i.home.home_id for i in inputs].index(o.home_id)].net_kw + o.delta_kw)
    lo, hi = agg.bands[o.home_id]
    assert np.all(np.isfinite(hi[list(req.steps)])) and np.isinf(lo).all()
    # orders of another aggregator are ignored
    other = FlexOrder.of(type(o)(**{**o.__dict__, "aggregator_id": "B", "offer_id": "x"}))
    assert agg.dispatch([other]) == {}
    # an order of an offer this aggregator never made is an error, not silently dropped
    forged = FlexOrder.of(type(o)(**{**o.__dict__, "offer_id": "forged"}))
    with pytest.raises(ValueError, match="did not make"):
        agg.dispatch([forged])


def test_two_orders_to_one_home_replan_under_both_bands(homes):
    inputs, plans = homes
    agg = Aggregator("A", inputs, plans, POINTS)
    req1 = evening_request(plans)
    o1 = agg.offers(req1)[0]
    h = o1.home_id
    k = [i.home.home_id for i in inputs].index(h)
    # a second request at other steps where the same home has down-flexibility
    flex = plans[k].flex_down_kw.copy()
    flex[list(req1.steps)] = 0.0
    steps = tuple(sorted(int(s) for s in np.argsort(-flex)[:2]))
    req2 = FlexRequest("R0-y", "transformer", Direction.DOWN, steps, np.ones(2),
                       np.full(2, 50.0), 1.0)
    o2 = next((o for o in agg.offers(req2) if o.home_id == h), None)
    if o2 is None:
        pytest.skip("no second offer from the same home in this portfolio")
    new = agg.dispatch([FlexOrder.of(o1), FlexOrder.of(o2)])
    lo, hi = agg.bands[h]
    assert np.isfinite(hi[list(req1.steps)]).all() and np.isfinite(hi[list(steps)]).all()
    # the re-plan respects both bands (soft, so up to its reported violation)
    over = new[h].net_kw - hi
    assert np.all(over <= np.maximum(new[h].band_violation_kw, 0.0) + 1e-6)


def test_duplicate_homes_rejected(homes):
    inputs, plans = homes
    with pytest.raises(ValueError):
        Aggregator("A", [inputs[0], inputs[0]], [plans[0], plans[0]])
    with pytest.raises(ValueError, match="empty"):
        Aggregator("A", [], [])


def test_clear_market_adopts_the_market_plans():
    inputs = random_homes(6, seed=5)  # a portfolio where two homes re-plan into the surplus
    plans = [plan_day(i) for i in inputs]
    agg = Aggregator("A", inputs, plans)
    res = agg.clear_market()
    assert res.replanned
    for h in res.replanned:
        assert agg.plans[h] is res.plans[h]
        assert agg.band(h) is not None and agg.signals[h] is not None
    prog = agg.prognosis()
    assert prog.point_kw["transformer"] == pytest.approx(
        np.sum([res.plans[h].net_kw for h in agg.portfolio], axis=0))
    for h in set(agg.portfolio) - set(res.replanned):
        assert agg.band(h) is None and agg.plans[h] is plans[agg.portfolio.index(h)]


def test_payments_split_order_money_between_home_and_aggregator(homes):
    inputs, plans = homes
    agg = Aggregator("A", inputs, plans, POINTS, margin_eur_per_kwh=0.02)
    o = agg.offers(evening_request(plans))[0]
    agg.dispatch([FlexOrder.of(o)])
    pay = agg.payments()
    assert list(pay.index) == list(agg.portfolio)
    # the home gets energy * (price - margin); the aggregator keeps energy * margin
    assert pay.loc[o.home_id, "flex_payment_eur"] == pytest.approx(
        o.energy_kwh * (o.price_eur_per_kwh - 0.02))
    assert pay.attrs["aggregator_margin_eur"] == pytest.approx(o.energy_kwh * 0.02)
    assert (pay.drop(o.home_id).flex_payment_eur == 0).all()
    assert (pay.market_settlement_eur <= 1e-12).all()
    assert pay.net_cost_eur.to_numpy() == pytest.approx(
        (pay.bill_eur + pay.market_settlement_eur - pay.flex_payment_eur).to_numpy())


def test_offers_many_is_offers_request_by_request_in_one_replan(homes):
    inputs, plans = homes
    calls = []

    def counting(ins, bands, sigs):
        calls.append(len(ins))
        return [plan_day(i, band=b, price_signal_eur_per_kwh=s)
                for i, b, s in zip(ins, bands, sigs, strict=True)]

    reqs = [evening_request(plans), evening_request(plans, point="feeder-2"),
            evening_request(plans, point="feeder-9")]
    one = [Aggregator("A", inputs, plans, POINTS).offers(q) for q in reqs]
    agg = Aggregator("A", inputs, plans, POINTS, replan=counting)
    many = agg.offers_many(reqs)
    n = [len(agg._candidates(q)) for q in reqs]
    assert n[0] > 0 and n[1] > 0 and n[2] == 0
    assert calls == [sum(n)]  # every re-plan of the three requests in one call
    assert len(many) == 3 and many[2] == [] and len(many[0]) > 0
    for a, b in zip(one, many, strict=True):
        assert [(o.offer_id, o.price_eur_per_kwh) for o in a] == \
            [(o.offer_id, o.price_eur_per_kwh) for o in b]
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x.delta_kw, y.delta_kw)
