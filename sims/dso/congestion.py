"""UC3: the DSO's day-ahead congestion management (validate, request, select offers).

Validate
    :func:`validate` places every prognosed home power on its bus and runs the whole day in
    ONE batch call of the load-flow engine; each step is green (every limit holds) or yellow
    (a limit is exceeded: flexibility may help). Yellow turns orange when the negotiation
    ends without clearing it (:mod:`sims.dso.negotiation`).
Request
    :func:`make_requests` groups the violations by congestion point and direction, one
    :class:`~sims.usef.FlexRequest` each, with the relief needed per step estimated by
    :meth:`sims.dso.grid_view.DsoGrid.relief_needed_kw` (a guide for the aggregators), and the
    steps close to the same limit (``guard_steps``: within ``guard_loading_percent`` or
    ``guard_voltage_pu``), where the homes must not move against the request, so that the
    rebound of an activation does not land where it would congest.
Select
    :func:`select_offers` decides with the load flow, never with the estimate:

    1. *Effect of each offer alone*: one batch with every offer applied alone to the congested
       steps; relief = reduction of the summed severity (``excess``) there. Offers that do not
       reduce it are dropped ("no offer helps" when none is left).
    2. *Order*: by cost per unit of relief (EUR per unit of excess removed), cheapest first.
    3. *Greedy with the full-day load flow*: offers are added in that order; an offer is kept
       only if the whole day with it (rebound included) has less total excess and no
       violation in a step that was green before, and at most one offer per home is kept
       (a home's offers for different requests do not add up); the search stops as soon as
       no step is violated. So an order can never congest another interval.
    4. *Prune*: drop offers, most expensive first, while the day stays clear (or, for a partial
       relief, while no green step is violated and the excess does not grow).
    5. If the day cannot be cleared, the offers kept in 3 are still ordered (partial relief);
       the steps left congested end orange.

    This greedy search is not guaranteed to find the cheapest set (a covering problem), but
    every set it orders has been checked with the full-day load flow, including the offers'
    rebound. Cost: ``n_offers * n_congested`` steps in one batch, then one day (``n_steps``
    steps) per offer tried and per offer pruned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from grids.balanced.loadflow import LoadFlowResult
from sims.dso.grid_view import DsoGrid
from sims.dso.limits import GridLimits, StepCheck, Violation
from sims.usef import Direction, FlexOffer, FlexOrder, FlexRequest, Prognosis, TrafficLight

__all__ = ["DsoConfig", "Selection", "Validation", "make_requests", "select_offers", "validate"]


@dataclass(frozen=True)
class DsoConfig:
    """Parameters of the DSO's congestion management.

    Parameters
    ----------
    price_cap_eur_per_kwh
        Highest price paid for flexibility [EUR/kWh].
    guard_loading_percent, guard_voltage_pu
        A step within this much of a limit [% of rating], [p.u.] (in the same congestion point
        and direction as a request) becomes one of its ``guard_steps``.
    request_headroom
        A request's ``max_kw`` is this times its ``min_kw`` [-].
    relief_margin
        Safety factor on the estimated relief [-].
    max_rounds
        Cap on negotiation rounds (request, offers, orders, re-validation).
    max_candidates
        Cap on the offers tried in the prefix search (cheapest per relief first).
    tol_excess
        Smallest reduction of the severity that counts as relief [-].
    """

    price_cap_eur_per_kwh: float = 1.0
    guard_loading_percent: float = 10.0
    guard_voltage_pu: float = 0.01
    request_headroom: float = 3.0
    relief_margin: float = 1.1
    max_rounds: int = 5
    max_candidates: int = 200
    tol_excess: float = 1e-6


@dataclass(frozen=True)
class Validation:
    """The DSO's verdict on a day of prognoses.

    Attributes
    ----------
    home_kw
        The homes' power validated [kW], ``[n_steps, n_homes]`` (columns: ``grid.home_ids``).
    result
        The load flow of the day.
    check
        Violations, severity and violated steps.
    lights
        Traffic light per step (green or yellow here).
    home_kvar
        The homes' reactive power the load flow used [kvar], like ``home_kw`` (None: the
        grid's power-factor rule).
    """

    home_kw: np.ndarray
    result: LoadFlowResult
    check: StepCheck
    lights: tuple[TrafficLight, ...]
    home_kvar: np.ndarray | None = None

    @property
    def congested_steps(self) -> np.ndarray:
        """Steps with a violation."""
        return np.flatnonzero(self.check.violated)

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Every violation of the day."""
        return self.check.violations

    @property
    def clear(self) -> bool:
        """True if every step is green."""
        return not self.check.violated.any()


def validate_home_kw(grid: DsoGrid, home_kw: np.ndarray,
                     home_kvar: np.ndarray | None = None) -> Validation:
    """Validate the homes' power of a day: one batch load flow, limits, lights.

    Parameters
    ----------
    grid
        The DSO's network.
    home_kw
        Net power per home [kW], ``[n_steps, n_homes]`` in ``grid.home_ids`` order.
    home_kvar
        Reactive power per home [kvar], same shape (None: the grid's power-factor rule).
    """
    kw = np.array(home_kw, dtype=float)
    kw.setflags(write=False)
    kvar = None
    if home_kvar is not None:
        kvar = np.array(np.broadcast_to(home_kvar, kw.shape), dtype=float)
        kvar.setflags(write=False)
    res = grid.run(kw, kvar)
    chk = grid.check(res, kw)
    lights = tuple(TrafficLight.YELLOW if v else TrafficLight.GREEN for v in chk.violated)
    return Validation(kw, res, chk, lights, kvar)


def validate(grid: DsoGrid, prognoses: Sequence[Prognosis]) -> Validation:
    """Validate aggregators' prognoses (every home of the grid in exactly one).

    Parameters
    ----------
    grid
        The DSO's network.
    prognoses
        One per aggregator (homes without an aggregator go in a prognosis of their own).

    Returns
    -------
    Validation
    """
    kw = grid.home_matrix(prognoses)
    return validate_home_kw(grid, kw, grid.kvar_matrix(prognoses, kw))


def make_requests(grid: DsoGrid, val: Validation, config: DsoConfig = DsoConfig(),
                  round: int = 0) -> list[FlexRequest]:
    """Flexibility requests for a validated day: one per congestion point and direction.

    Parameters
    ----------
    grid
        The DSO's network.
    val
        The validation with its violations.
    config
        Price cap, headroom, margin.
    round
        Negotiation round (part of the request ids).

    Returns
    -------
    list of FlexRequest
        Sorted by id; empty if the day is clear. A not-converged step (no voltage to read)
        asks the transformer point for the headroom of the whole transformer.
    """
    vs = [v for v in val.violations]
    need = grid.relief_needed_kw(val.home_kw, vs, margin=config.relief_margin,
                                 home_kvar=val.home_kvar)
    groups: dict[tuple[str, Direction], dict[int, tuple[float, list[str]]]] = {}
    for v, kw in zip(vs, need, strict=True):
        if not np.isfinite(kw):
            kw = float(grid.trafo_sn_kva.sum())
        g = groups.setdefault((v.congestion_point, v.direction), {})
        old_kw, why = g.get(v.step, (0.0, []))
        why.append(v.kind)
        g[v.step] = (max(old_kw, float(kw)), why)
    lim = grid.limits
    tight = GridLimits(lim.vm_min_pu + config.guard_voltage_pu,
                       lim.vm_max_pu - config.guard_voltage_pu,
                       lim.max_loading_percent - config.guard_loading_percent)
    near: dict[tuple[str, Direction], set[int]] = {}
    for v in grid.check(val.result, val.home_kw, limits=tight).violations:
        near.setdefault((v.congestion_point, v.direction), set()).add(v.step)
    out = []
    for (pt, d), steps in groups.items():
        st = sorted(steps)
        mins = np.array([steps[s][0] for s in st])
        kinds = sorted({k for s in st for k in steps[s][1]})
        out.append(FlexRequest(
            request_id=f"R{round}-{pt}-{d.value}", congestion_point=pt, direction=d,
            steps=tuple(st), min_kw=mins, max_kw=mins * config.request_headroom,
            price_cap_eur_per_kwh=config.price_cap_eur_per_kwh,
            reason=f"{', '.join(kinds)} at {len(st)} step(s)",
            guard_steps=tuple(near.get((pt, d), set()))))
    return sorted(out, key=lambda r: r.request_id)


@dataclass(frozen=True)
class Selection:
    """Outcome of :func:`select_offers`.

    Attributes
    ----------
    orders
        The offers ordered (empty if no offer helps).
    cleared
        The ordered set clears every step (checked with the load flow).
    what_if
        Validation of the day with the orders applied (the base day if nothing is ordered).
    relief
        Reduction of the day's severity by each offer alone, by offer id [-] (helpful ones).
    load_flow_steps
        Steps of load flow the search ran.
    """

    orders: tuple[FlexOrder, ...]
    cleared: bool
    what_if: Validation
    relief: dict[str, float]
    load_flow_steps: int

    @property
    def cost_eur(self) -> float:
        """Cost of the ordered offers [EUR]."""
        return float(sum(o.cost_eur for o in self.orders))


def _apply(grid: DsoGrid, base: np.ndarray, offers: Sequence[FlexOffer]) -> np.ndarray:
    kw = base.copy()
    for o in offers:
        kw[:, grid.column(o.home_id)] += o.delta_kw
    return kw


def select_offers(grid: DsoGrid, val: Validation, offers: Sequence[FlexOffer],
                  config: DsoConfig = DsoConfig(), round: int = 0) -> Selection:
    """Choose the offers to order (see the module docstring for the search).

    Parameters
    ----------
    grid
        The DSO's network.
    val
        The validated day the offers would change.
    offers
        Offers answering this round's requests (any aggregators).
    config
        Caps and tolerances.
    round
        Round number recorded in the orders.

    Returns
    -------
    Selection
    """
    base = np.asarray(val.home_kw)
    n = base.shape[0]
    cong = val.congested_steps
    lf_steps = 0
    none = Selection((), val.clear, val, {}, 0)
    offers = [o for o in offers if o.price_eur_per_kwh <= config.price_cap_eur_per_kwh + 1e-12
              and o.delta_kw.size == n]
    if cong.size == 0 or not offers:
        return none
    # 1. each offer alone, on the congested steps
    batch = np.tile(base[cong], (len(offers), 1))
    for i, o in enumerate(offers):
        batch[i * cong.size:(i + 1) * cong.size, grid.column(o.home_id)] += o.delta_kw[cong]
    q = val.home_kvar
    res = grid.run(batch, None if q is None else np.tile(q[cong], (len(offers), 1)))
    lf_steps += batch.shape[0]
    chk = grid.check(res, batch)
    exc = chk.excess.reshape(len(offers), cong.size).sum(axis=1)
    base_exc = float(val.check.excess[cong].sum())
    relief = base_exc - exc
    helpful = [k for k in range(len(offers)) if relief[k] > config.tol_excess]
    if not helpful:
        return Selection((), False, val, {}, lf_steps)
    # 2. order by cost per unit of relief
    helpful.sort(key=lambda k: (offers[k].cost_eur / relief[k], -relief[k]))
    ranked = helpful[: config.max_candidates]
    relief_by_id = {offers[k].offer_id: float(relief[k]) for k in ranked}
    # 3. greedy: add offers in rank order, each kept only if the whole day's load flow shows
    #    less excess and no violation in a step that was green; stop once the day is clear
    green_before = ~val.check.violated
    cum = base.copy()
    cum_exc = float(val.check.excess.sum())
    sel: list[int] = []
    clear = False
    homes: set[str] = set()
    for k in ranked:
        if offers[k].home_id in homes:  # one order per home and round
            continue
        trial = cum + _offer_matrix(grid, offers[k], n)
        c = grid.check(grid.run(trial, q), trial)
        lf_steps += n
        if (c.violated & green_before).any():
            continue
        exc = float(c.excess.sum())
        if exc < cum_exc - config.tol_excess or not c.violated.any():
            cum, cum_exc = trial, exc
            sel.append(k)
            homes.add(offers[k].home_id)
            if not c.violated.any():
                clear = True
                break
    if not sel:
        return Selection((), False, val, relief_by_id, lf_steps)
    # 4. prune: drop the most expensive offers while the result stays as good
    for k in sorted(sel, key=lambda k: -offers[k].cost_eur):
        if len(sel) == 1:
            break
        rest = [j for j in sel if j != k]
        kw = _apply(grid, base, [offers[j] for j in rest])
        c = grid.check(grid.run(kw, q), kw)
        lf_steps += n
        if clear:
            ok = not c.violated.any()
        else:
            ok = not (c.violated & green_before).any() and \
                float(c.excess.sum()) <= cum_exc + config.tol_excess
        if ok:
            sel = rest
    wi = validate_home_kw(grid, _apply(grid, base, [offers[k] for k in sel]), q)
    lf_steps += n
    orders = tuple(FlexOrder.of(offers[k], round) for k in sel)
    return Selection(orders, wi.clear, wi, relief_by_id, lf_steps)


def _offer_matrix(grid: DsoGrid, offer: FlexOffer, n: int) -> np.ndarray:
    m = np.zeros((n, grid.n_homes))
    m[:, grid.column(offer.home_id)] = offer.delta_kw
    return m
