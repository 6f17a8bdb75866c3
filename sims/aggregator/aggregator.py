"""UC2: an aggregator with a portfolio of homes: local market, prognosis, offers, dispatch.

Life of a day (the lead's mosaik adapter calls these in order)::

    agg = Aggregator("AGR1", inputs, plans, grid.congestion_points_of_homes())
    agg.clear_market()                 # local market (sims.aggregator.local_market)
    prog = agg.prognosis()             # D-prognosis for the DSO
    offers = agg.offers(request)       # for each FlexRequest of the DSO
    new_plans = agg.dispatch(orders)   # the DSO's FlexOrders, as bands the CEMS re-plans under
    agg.plans                          # the schedules the homes follow in operation

Several aggregators split a feeder's homes: each holds only its portfolio; the DSO validates
all prognoses together.

Offers
------
For a request (congestion point, direction, steps, band ``[min_kw, max_kw]``) every home of the
portfolio at that point with flexibility in that direction at a requested step (``plan.flex_up_kw``
/ ``flex_down_kw`` of its CEMS, capped at the request's ``max_kw``) is re-planned by its CEMS
under a band that forces the move at those steps (``max_kw = plan - flex`` for down,
``min_kw = plan + flex`` for up), holds the plan at the request's ``guard_steps`` against
the direction (no more consumption there for down, no less for up: the rebound must go
elsewhere), intersected with the bands of the orders it already has. The
re-plan is the offer's truth: its relief per step (the move actually achieved, >= 0), its
``delta_kw`` over the whole day (rebound included, which the DSO's load flow checks), and its
cost, the rise of the prosumer's bill + comfort cost
(:func:`sims.aggregator.local_market.home_cost_eur`).
The price is ``max(cost, 0) / energy + margin_eur_per_kwh``; offers above the request's price
cap or below ``min_energy_kwh`` are not sent. The re-plans are cached, so dispatching an
ordered offer reuses the plan the offer was priced on (identical band, same schedule). A
re-plan that would leave the home's standing band further than its current plan does (undo an
order already bought: a heat pump's building may not allow both moves) is not offered.

Dispatch
--------
An order's band is added to the home's standing bands (intersection); the home's new plan is
the re-plan under the intersection (the cached one when it is the only new order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sims.aggregator.local_market import (
    LocalMarketResult,
    Replanner,
    clear_local_market,
    home_cost_eur,
    local_settlement,
    sequential_replanner,
)
from sims.homes.cems import Band, CemsInput, Plan
from sims.homes.planning import plan_q_kvar
from sims.tariff import price_matrix
from sims.usef import Direction, FlexOffer, FlexOrder, FlexRequest, Prognosis

__all__ = ["Aggregator"]


class Aggregator:
    """An aggregator and its portfolio of homes (one CEMS per home).

    Parameters
    ----------
    aggregator_id
        Name used in messages.
    inputs
        The CEMS input of each home of the portfolio.
    plans
        The homes' day-ahead plans (same order, or a mapping by home id).
    congestion_points
        Each home's congestion points (``DsoGrid.congestion_points_of_homes()``); homes
        without an entry belong to ``("transformer",)``.
    replan
        How homes are re-planned (:data:`sims.aggregator.local_market.Replanner`).
    margin_eur_per_kwh
        Added to the homes' cost in offer prices [EUR/kWh].
    max_offers_per_request
        Cap on homes re-planned per request (most flexible first); None: all.
    min_energy_kwh
        Smallest relief worth offering [kWh].
    band_penalty_eur_per_kwh
        Penalty of the bands the homes re-plan under [EUR/kWh] (soft bands).
    """

    def __init__(self, aggregator_id: str, inputs: Sequence[CemsInput],
                 plans: Sequence[Plan] | Mapping[str, Plan],
                 congestion_points: Mapping[str, Sequence[str]] | None = None, *,
                 replan: Replanner = sequential_replanner, margin_eur_per_kwh: float = 0.0,
                 max_offers_per_request: int | None = None, min_energy_kwh: float = 0.05,
                 band_penalty_eur_per_kwh: float = 5.0):
        self.aggregator_id = aggregator_id
        if not inputs:
            raise ValueError(f"{aggregator_id}: the portfolio is empty")
        self.inputs: dict[str, CemsInput] = {i.home.home_id: i for i in inputs}
        if len(self.inputs) != len(inputs):
            raise ValueError(f"{aggregator_id}: duplicate home ids in the portfolio")
        if isinstance(plans, Mapping):
            self.plans: dict[str, Plan] = {h: plans[h] for h in self.inputs}
        else:
            if len(plans) != len(inputs):
                raise ValueError(f"{aggregator_id}: {len(inputs)} inputs, {len(plans)} plans")
            self.plans = dict(zip(self.inputs, plans, strict=True))
        cp = congestion_points or {}
        self.points = {h: tuple(cp.get(h, ("transformer",))) for h in self.inputs}
        self.replan = replan
        self.margin_eur_per_kwh = float(margin_eur_per_kwh)
        self.max_offers_per_request = max_offers_per_request
        self.min_energy_kwh = float(min_energy_kwh)
        self.band_penalty = float(band_penalty_eur_per_kwh)
        n = self.n_steps
        self.bands: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.signals: dict[str, np.ndarray | None] = {h: None for h in self.inputs}
        self.market: LocalMarketResult | None = None
        self.alpha = 0.5
        self.orders: list[FlexOrder] = []
        self._offer_cache: dict[str, tuple[Band, Plan]] = {}
        self._n = n

    # ---------------------------------------------------------------- basics
    @property
    def portfolio(self) -> tuple[str, ...]:
        """Home ids of the portfolio."""
        return tuple(self.inputs)

    @property
    def n_steps(self) -> int:
        """Steps of the day."""
        return next(iter(self.plans.values())).net_kw.size if self.plans else 0

    @property
    def step_h(self) -> float:
        """Step length [h]."""
        return next(iter(self.inputs.values())).step_h if self.inputs else 0.25

    def band(self, home_id: str) -> Band | None:
        """The home's standing band (market and DSO orders so far), or None.

        A home that re-plans during operation (rolling re-plan) must re-plan under this band
        and :attr:`signals` ``[home_id]``, or it undoes what it was ordered to do.
        """
        b = self.bands.get(home_id)
        return None if b is None else Band(b[0], b[1], self.band_penalty)

    # ---------------------------------------------------------------- market
    def clear_market(self, **kwargs) -> LocalMarketResult:
        """Clear the local market over the portfolio and adopt its plans.

        Keyword arguments go to :func:`sims.aggregator.local_market.clear_local_market` (``alpha``,
        ``max_replans``...); the re-planner is the aggregator's. The bands and price signals
        of accepted re-plans become the homes' standing constraints.
        """
        kwargs.setdefault("replan", self.replan)
        self.alpha = float(kwargs.get("alpha", self.alpha))
        ids = self.portfolio
        res = clear_local_market([self.inputs[h] for h in ids], [self.plans[h] for h in ids],
                                 **kwargs)
        self.plans = dict(res.plans)
        for h, band in res.bands.items():
            if band is not None:
                self.bands[h] = (np.broadcast_to(np.asarray(band.min_kw, float), (self._n,)).copy(),
                                 np.broadcast_to(np.asarray(band.max_kw, float), (self._n,)).copy())
        self.signals.update(res.signals)
        self.market = res
        return res

    # ---------------------------------------------------------------- prognosis
    def prognosis(self) -> Prognosis:
        """The portfolio's planned power per home and per congestion point [kW]."""
        home_kw = {h: p.net_kw for h, p in self.plans.items()}
        point_kw: dict[str, np.ndarray] = {}
        for h, pts in self.points.items():
            for pt in pts:
                point_kw[pt] = point_kw.get(pt, np.zeros(self._n)) + home_kw[h]
        home_kvar = {h: plan_q_kvar(self.inputs[h], p) for h, p in self.plans.items()
                     if h in self.inputs}
        return Prognosis(self.aggregator_id, self.step_h, home_kw, point_kw, home_kvar)

    # ---------------------------------------------------------------- offers
    def offers(self, request: FlexRequest) -> list[FlexOffer]:
        """Answer a request with one offer per able home (see the module docstring).

        Parameters
        ----------
        request
            The DSO's request.

        Returns
        -------
        list of FlexOffer
            Possibly empty (no home of the point has flexibility there at an acceptable price).
        """
        return self.offers_many([request])[0]

    def offers_many(self, requests: Sequence[FlexRequest]) -> list[list[FlexOffer]]:
        """Answer several requests of a round: the same offers as :meth:`offers` for each,
        with every re-plan in one call of the re-planner (a pool then works through all of
        them at once instead of waiting for the slowest plan of each request).

        Parameters
        ----------
        requests
            The DSO's requests.

        Returns
        -------
        list of list of FlexOffer
            The offers for each request, in request order.
        """
        jobs = [self._candidates(r) for r in requests]
        ins = [j[1] for cands in jobs for j in cands]
        bands = [j[2] for cands in jobs for j in cands]
        sigs = [j[3] for cands in jobs for j in cands]
        new = iter(self.replan(ins, bands, sigs) if ins else [])
        out = []
        for request, cands in zip(requests, jobs, strict=True):
            plans = [next(new) for _ in cands]
            out.append(self._price(request, cands, plans))
        return out

    def _candidates(self, request: FlexRequest) -> list[tuple[str, CemsInput, Band, object]]:
        """``(home, input, band, signal)`` of each home to re-plan for a request."""
        steps = np.asarray(request.steps, dtype=int)
        cap_kw = np.asarray(request.max_kw, dtype=float)
        down = request.direction is Direction.DOWN
        cands = []
        for h in self.portfolio:
            if request.congestion_point not in self.points[h]:
                continue
            p = self.plans[h]
            if p.fallback:
                continue
            flex = (p.flex_down_kw if down else p.flex_up_kw)[steps]
            flex = np.minimum(np.nan_to_num(flex), cap_kw)
            if flex.sum() * self.step_h >= self.min_energy_kwh:
                cands.append((float(flex.sum()), h, flex))
        cands.sort(key=lambda c: (-c[0], c[1]))
        if self.max_offers_per_request is not None:
            cands = cands[: self.max_offers_per_request]
        out = []
        for _, h, flex in cands:
            cur = self.plans[h].net_kw
            lo, hi = self.bands.get(h, (np.full(self._n, -np.inf), np.full(self._n, np.inf)))
            lo, hi = lo.copy(), hi.copy()
            move = flex > 1e-9
            target = cur[steps] + request.direction.sign * flex
            guard = np.asarray(request.guard_steps, dtype=int)
            if down:
                hi[steps[move]] = np.minimum(hi[steps[move]], target[move])
                hi[guard] = np.minimum(hi[guard], cur[guard])
            else:
                lo[steps[move]] = np.maximum(lo[steps[move]], target[move])
                lo[guard] = np.maximum(lo[guard], cur[guard])
            hi = np.maximum(hi, lo)  # never an empty band: the standing band wins
            out.append((h, self.inputs[h], Band(lo, hi, self.band_penalty), self.signals.get(h)))
        return out

    def _price(self, request: FlexRequest, cands, plans: Sequence[Plan]) -> list[FlexOffer]:
        """The offers of a request from its candidates' re-plans."""
        steps = np.asarray(request.steps, dtype=int)
        out = []
        for (h, _inp, band, sig), plan in zip(cands, plans, strict=True):
            if plan.fallback or self._breaks_standing_band(h, plan):
                continue
            cur = self.plans[h]
            delta = plan.net_kw - cur.net_kw
            relief = np.maximum(request.direction.sign * delta[steps], 0.0)
            energy = float(relief.sum() * self.step_h)
            if energy < self.min_energy_kwh:
                continue
            cost = (home_cost_eur(plan, self.inputs[h], band, sig)
                    - home_cost_eur(cur, self.inputs[h], self.band(h), sig))
            price = max(cost, 0.0) / energy + self.margin_eur_per_kwh
            if price > request.price_cap_eur_per_kwh:
                continue
            oid = f"{request.request_id}/{h}"
            self._offer_cache[oid] = (band, plan)
            out.append(FlexOffer(oid, request.request_id, self.aggregator_id, h,
                                 request.direction, request.steps, relief, delta, price,
                                 self.step_h))
        return out

    def _breaks_standing_band(self, home_id: str, plan: Plan) -> bool:
        """Whether ``plan`` leaves the home's standing band (earlier orders, the market's band)
        further than its current plan does at some step: such a move would undo an order
        already bought (a building's comfort band can make moves at different steps
        exclude each other), so it is not offered."""
        b = self.bands.get(home_id)
        if b is None:
            return False
        lo, hi = b

        def outside(net: np.ndarray) -> np.ndarray:
            return np.maximum(np.maximum(net - hi, lo - net), 0.0)

        return bool(np.any(outside(plan.net_kw) > outside(self.plans[home_id].net_kw) + 1e-6))

    # ---------------------------------------------------------------- dispatch
    def dispatch(self, orders: Sequence[FlexOrder]) -> dict[str, Plan]:
        """Dispatch the DSO's orders to the homes: re-plan each under its bands.

        Parameters
        ----------
        orders
            Orders of offers this aggregator made (others are ignored).

        Returns
        -------
        dict
            The new plan of every home that received an order.

        Raises
        ------
        ValueError
            An order (addressed to this aggregator) names an offer it did not make.
        """
        mine = [o for o in orders if o.aggregator_id == self.aggregator_id]
        by_home: dict[str, list[FlexOrder]] = {}
        for o in mine:
            by_home.setdefault(o.home_id, []).append(o)
        redo_h, redo_b = [], []
        out: dict[str, Plan] = {}
        for h, os_ in by_home.items():
            lo, hi = self.bands.get(h, (np.full(self._n, -np.inf), np.full(self._n, np.inf)))
            cached = [self._offer_cache.get(o.offer.offer_id) for o in os_]
            unknown = [o.offer.offer_id for o, c in zip(os_, cached, strict=True) if c is None]
            if unknown:
                raise ValueError(f"{self.aggregator_id}: orders for offers it did not make: "
                                 f"{unknown}")
            for c in cached:
                lo = np.maximum(lo, np.asarray(c[0].min_kw, float))
                hi = np.minimum(hi, np.asarray(c[0].max_kw, float))
            hi = np.maximum(hi, lo)
            self.bands[h] = (lo, hi)
            if len(os_) == 1:
                out[h] = cached[0][1]
            else:
                redo_h.append(h)
                redo_b.append(Band(lo, hi, self.band_penalty))
        if redo_h:
            plans = self.replan([self.inputs[h] for h in redo_h], redo_b,
                                [self.signals.get(h) for h in redo_h])
            out.update(zip(redo_h, plans, strict=True))
        self.plans.update(out)
        self.orders.extend(mine)
        return out

    # ---------------------------------------------------------------- settle
    def payments(self) -> pd.DataFrame:
        """Money per home for the day, on the current plans (settle phase).

        Returns
        -------
        pandas.DataFrame
            Indexed by home id: ``bill_eur`` (tariff bill of the plan), ``market_settlement_eur``
            (local exchange on the current plans, <= 0;
            :func:`sims.aggregator.local_market.local_settlement`
            with the market's ``alpha``), ``flex_payment_eur`` (what the home receives for its
            orders: ordered energy times the offer price less the aggregator's margin),
            ``net_cost_eur`` (bill + settlement - flex payment). The aggregator's margin over
            all orders is in ``attrs["aggregator_margin_eur"]``. Orders are paid as ordered;
            delivery is measured in operation.
        """
        ids = self.portfolio
        n = self._n
        net = np.array([self.plans[h].net_kw for h in ids]).reshape(len(ids), n)
        imp, exp = price_matrix([self.inputs[h].tariff for h in ids], n)
        settle = local_settlement(net, imp, exp, self.step_h, self.alpha).settlement_eur
        pay = dict.fromkeys(ids, 0.0)
        margin = 0.0
        for o in self.orders:
            m = self.margin_eur_per_kwh * o.offer.energy_kwh
            pay[o.home_id] += o.cost_eur - m
            margin += m
        bill = np.array([self.plans[h].bill_eur for h in ids])
        flex = np.array([pay[h] for h in ids])
        df = pd.DataFrame({"bill_eur": bill, "market_settlement_eur": settle,
                           "flex_payment_eur": flex, "net_cost_eur": bill + settle - flex},
                          index=pd.Index(ids, name="home_id"))
        df.attrs["aggregator_margin_eur"] = margin
        return df
