"""The day-ahead negotiation between the DSO and the aggregators, as a bounded loop.

Each round: every aggregator sends its prognosis; the DSO validates the day (one batch load
flow); if a step is congested it sends requests (one per congestion point and direction) to
the aggregators with homes there; they answer with offers; the DSO orders the cheapest set
the load flow accepts (:func:`sims.dso.congestion.select_offers`); the aggregators dispatch the
orders
(their homes re-plan) and the next round re-validates the new prognoses, so the load flow
sees the homes' real re-plans, rebound included.

It ends when the day is clear (``"clear"``), when no offer helps (``"no_offer_helps"``) or
after ``config.max_rounds`` rounds (``"max_rounds"``): never a hang, whatever the offers.
Steps still congested at the end are ORANGE, the others GREEN.

:class:`DsoSession` is the DSO's side as a state machine (prognoses in, requests out; offers
in, orders out), for a mosaik adapter where the DSO and the aggregators are separate simulators
exchanging these messages in a same-time loop; :func:`negotiate` drives the same session with
the aggregator models called directly (one process, day-ahead). Both end by the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from sims.dso.congestion import (
    DsoConfig,
    Selection,
    Validation,
    make_requests,
    select_offers,
    validate,
)
from sims.dso.grid_view import DsoGrid
from sims.usef import FlexOffer, FlexOrder, FlexRequest, Prognosis, TrafficLight

__all__ = ["AggregatorLike", "DsoSession", "NegotiationResult", "Round", "negotiate"]


class AggregatorLike(Protocol):
    """What the negotiation needs of an aggregator
    (:class:`sims.aggregator.aggregator.Aggregator`)."""

    aggregator_id: str

    def prognosis(self) -> Prognosis: ...

    def offers(self, request: FlexRequest) -> list[FlexOffer]: ...

    def dispatch(self, orders: Sequence[FlexOrder]) -> dict: ...


@dataclass(frozen=True)
class Round:
    """One negotiation round: what was validated, requested, offered and ordered."""

    index: int
    validation: Validation
    requests: tuple[FlexRequest, ...]
    offers: tuple[FlexOffer, ...]
    selection: Selection | None


@dataclass(frozen=True)
class NegotiationResult:
    """Outcome of :func:`negotiate`.

    Attributes
    ----------
    initial, final
        Validation of the first prognoses and of the last ones (after every dispatch).
    lights
        Final traffic light per step: GREEN (clear) or ORANGE (still congested).
    rounds
        The rounds, in order.
    orders
        Every order placed.
    status
        ``"clear"``, ``"no_offer_helps"`` or ``"max_rounds"``.
    new_congestion_steps
        Steps green before some dispatch and congested after it (should stay empty: offers
        are checked with their re-plans' rebound; kept to prove it).
    """

    initial: Validation
    final: Validation
    lights: tuple[TrafficLight, ...]
    rounds: tuple[Round, ...]
    orders: tuple[FlexOrder, ...]
    status: str
    new_congestion_steps: tuple[int, ...] = field(default=())

    @property
    def cost_eur(self) -> float:
        """Total remuneration of the orders [EUR]."""
        return float(sum(o.cost_eur for o in self.orders))

    @property
    def orange_steps(self) -> np.ndarray:
        """Steps left congested."""
        return np.array([i for i, x in enumerate(self.lights) if x is TrafficLight.ORANGE],
                        dtype=int)

    @property
    def resolved_steps(self) -> np.ndarray:
        """Steps congested at first and clear at the end."""
        return np.flatnonzero(self.initial.check.violated & ~self.final.check.violated)

    def delivered_kw(self, grid: DsoGrid, measured_home_kw: np.ndarray) -> np.ndarray:
        """Flexibility delivered in operation per step [kW].

        For each order, at each of its steps: the move of the home's measured power from its
        prognosis of the order's round (the plan the order was a move from: later rounds'
        prognoses already hold the earlier orders and their rebound) in the order's
        direction, between 0 and the ordered power; summed over orders.

        Parameters
        ----------
        grid
            The DSO's network (column order of the arrays).
        measured_home_kw
            The homes' measured power [kW], ``[n_steps, n_homes]``.
        """
        meas = np.asarray(measured_home_kw, dtype=float)
        out = np.zeros(meas.shape[0])
        before = {r.index: r.validation.home_kw for r in self.rounds}
        for o in self.orders:
            c = grid.column(o.home_id)
            st = np.asarray(o.offer.steps, dtype=int)
            base = before.get(o.round, self.initial.home_kw)
            moved = o.offer.direction.sign * (meas[st, c] - base[st, c])
            out[st] += np.clip(moved, 0.0, o.offer.power_kw)
        return out

    def table(self) -> pd.DataFrame:
        """Flexibility per interval over all rounds (for ``flex.parquet``).

        Returns
        -------
        pandas.DataFrame
            One row per step: ``requested_kw`` (sum of the requests' ``min_kw``),
            ``offered_kw``, ``ordered_kw`` (relief, in the requested direction),
            ``ordered_eur`` (order cost spread over its steps by power), ``initial_light``,
            ``final_light``, ``initial_excess``, ``final_excess``. Delivery is measured in
            operation, not here.
        """
        n = len(self.lights)
        req = np.zeros(n)
        off = np.zeros(n)
        ordk = np.zeros(n)
        orde = np.zeros(n)
        for r in self.rounds:
            for q in r.requests:
                req[list(q.steps)] += q.min_kw
            for o in r.offers:
                off[list(o.steps)] += o.power_kw
        for o in self.orders:
            st = list(o.offer.steps)
            ordk[st] += o.offer.power_kw
            tot = float(o.offer.power_kw.sum())
            if tot > 0:
                orde[st] += o.cost_eur * o.offer.power_kw / tot
        return pd.DataFrame({
            "requested_kw": req, "offered_kw": off, "ordered_kw": ordk, "ordered_eur": orde,
            "initial_light": [x.value for x in self.initial.lights],
            "final_light": [x.value for x in self.lights],
            "initial_excess": self.initial.check.excess,
            "final_excess": self.final.check.excess,
        }, index=pd.RangeIndex(n, name="step"))

    def kpis(self, step_h: float = 0.25) -> dict[str, float | int | str]:
        """DSO KPIs of the negotiation.

        Parameters
        ----------
        step_h
            Interval length [h].

        Returns
        -------
        dict
            ``requested_kwh``, ``offered_kwh``, ``ordered_kwh``, ``ordered_eur``,
            ``congested_steps``, ``resolved_steps``, ``orange_steps``, ``share_resolved``
            (resolved / congested, 1.0 with no congestion), ``rounds``, ``status``.
        """
        t = self.table()
        n_cong = int(self.initial.check.violated.sum())
        return {
            "requested_kwh": float(t.requested_kw.sum() * step_h),
            "offered_kwh": float(t.offered_kw.sum() * step_h),
            "ordered_kwh": float(t.ordered_kw.sum() * step_h),
            "ordered_eur": self.cost_eur,
            "congested_steps": n_cong,
            "resolved_steps": int(self.resolved_steps.size),
            "orange_steps": int(self.orange_steps.size),
            "share_resolved": float(self.resolved_steps.size / n_cong) if n_cong else 1.0,
            "rounds": len(self.rounds),
            "status": self.status,
        }


class DsoSession:
    """The DSO's side of the negotiation as a message-driven state machine.

    The same logic as :func:`negotiate`, one message at a time, for a mosaik adapter in which
    aggregators and the DSO exchange messages (same-time loop rounds or events)::

        s = DsoSession(grid, config)
        requests = s.on_prognoses(prognoses)      # validate; requests (empty when done)
        orders = s.on_offers(offers)              # select; orders (empty: done, orange)
        requests = s.on_prognoses(new_prognoses)  # after dispatch: re-validate, next round
        ...
        s.done, s.result()

    Each ``on_offers`` is one round; ``done`` turns true when the day is clear, no offer
    helps, a dispatch brought no relief, or ``config.max_rounds`` rounds were played. After
    that every call returns an empty list.

    Parameters
    ----------
    grid
        The DSO's network.
    config
        Price cap, round cap, search caps.
    """

    def __init__(self, grid: DsoGrid, config: DsoConfig | None = None):
        self.grid = grid
        self.config = config or DsoConfig()
        self.rounds: list[Round] = []
        self.orders: list[FlexOrder] = []
        self.status = ""
        self.initial: Validation | None = None
        self.current: Validation | None = None
        self._requests: list[FlexRequest] = []
        self._new_cong: set[int] = set()
        self._awaiting = "prognoses"

    @property
    def done(self) -> bool:
        """The negotiation has ended."""
        return bool(self.status)

    def _finish(self, status: str) -> list:
        self.status = status
        return []

    def on_prognoses(self, prognoses: Sequence[Prognosis]) -> list[FlexRequest]:
        """Validate the (new) prognoses; return this round's requests (empty when done).

        Parameters
        ----------
        prognoses
            Every aggregator's prognosis (and fixed ones for unmanaged homes).
        """
        if self.done:
            return []
        val = validate(self.grid, prognoses)
        if self.initial is None:
            self.initial = val
        elif self.current is not None:
            before = self.current
            self._new_cong.update(
                int(s) for s in np.flatnonzero(val.check.violated & ~before.check.violated))
            if val.check.excess.sum() >= before.check.excess.sum() - self.config.tol_excess:
                self.current = val
                return self._finish("no_offer_helps")
        self.current = val
        if val.clear:
            return self._finish("clear")
        if len(self.rounds) >= self.config.max_rounds:
            return self._finish("max_rounds")
        self._requests = make_requests(self.grid, val, self.config, round=len(self.rounds))
        self._awaiting = "offers"
        return list(self._requests)

    def on_offers(self, offers: Sequence[FlexOffer]) -> list[FlexOrder]:
        """Select among the offers answering this round's requests; return the orders.

        Parameters
        ----------
        offers
            All aggregators' offers for the current requests.
        """
        if self.done or self._awaiting != "offers" or self.current is None:
            return []
        r = len(self.rounds)
        sel = select_offers(self.grid, self.current, list(offers), self.config, round=r)
        self.rounds.append(Round(r, self.current, tuple(self._requests), tuple(offers), sel))
        self._awaiting = "prognoses"
        if not sel.orders:
            return self._finish("no_offer_helps")
        self.orders.extend(sel.orders)
        return list(sel.orders)

    def result(self) -> NegotiationResult:
        """The outcome so far (final once :attr:`done`)."""
        if self.initial is None or self.current is None:
            raise RuntimeError("no prognoses received yet")
        lights = tuple(TrafficLight.ORANGE if v else TrafficLight.GREEN
                       for v in self.current.check.violated)
        return NegotiationResult(self.initial, self.current, lights, tuple(self.rounds),
                                 tuple(self.orders), self.status or "running",
                                 tuple(sorted(self._new_cong)))


def negotiate(grid: DsoGrid, aggregators: Sequence[AggregatorLike],
              config: DsoConfig | None = None,
              others: Sequence[Prognosis] = ()) -> NegotiationResult:
    """Run the day-ahead negotiation (see the module docstring) with a :class:`DsoSession`.

    Parameters
    ----------
    grid
        The DSO's network.
    aggregators
        The aggregators; together with ``others`` their prognoses must cover every home.
    config
        Price cap, round cap, search caps.
    others
        Fixed prognoses of homes no aggregator manages (no flexibility).

    Returns
    -------
    NegotiationResult
    """
    session = DsoSession(grid, config)

    def prognoses() -> list[Prognosis]:
        return [a.prognosis() for a in aggregators] + list(others)

    # each pass is one round; the session ends itself within max_rounds rounds, the bound
    # here is a second guard against a programming error
    for _ in range(2 * session.config.max_rounds + 2):
        requests = session.on_prognoses(prognoses())
        if session.done:
            break
        offers = [o for a in aggregators for per in _offers_of(a, requests) for o in per]
        orders = session.on_offers(offers)
        if session.done:
            break
        for a in aggregators:
            a.dispatch(orders)
    return session.result()


def _offers_of(agg: AggregatorLike, requests: Sequence[FlexRequest]) -> list[list[FlexOffer]]:
    """An aggregator's offers for each request: in one batch where it can
    (:meth:`sims.aggregator.aggregator.Aggregator.offers_many`), else request by request."""
    many = getattr(agg, "offers_many", None)
    if many is not None:
        return many(requests)
    return [agg.offers(q) for q in requests]
