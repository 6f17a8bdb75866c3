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
    rebound. Each step's load flow depends on that step's power alone, so a trial runs only
    the steps its offer changes and keeps the day's severity elsewhere (the same numbers as a
    full-day run). Cost: in 1, one batch of the congested steps each offer changes; in 3 and
    4, the steps each tried or pruned offer changes (2.8x fewer steps than full days on the
    congested winter day, identical KPIs).
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


def _apply(grid: DsoGrid, base: np.ndarray, offers: Sequence[FlexOffer],
           steps: np.ndarray | None = None) -> np.ndarray:
    """``base`` with the offers' deltas added (only the rows ``steps`` if given)."""
    kw = base.copy() if steps is None else base[steps]
    for o in offers:
        kw[:, grid.column(o.home_id)] += o.delta_kw if steps is None else o.delta_kw[steps]
    return kw


#: Trials evaluated per load-flow call in the greedy search and the pruning (the next
#: candidates in order). A trial is judged against the day as it stands; when one is kept,
#: the evaluated trials whose steps it changed are evaluated again, the others stay valid.
#: Measured on the congested winter day at control dso (5 rounds; load-flow steps, chunks of
#: 64 lanes): 1 -> 27,057 steps in 572 calls (786 chunks), 2 -> 31,017 in 379 (683), 4 ->
#: 40,482 in 297 (786), 8 -> 61,205 in 268 (1,102): offers overlap in time, so most trials
#: after a kept one are stale; 2 fills the engine's lanes best.
_BLOCK = 2


@dataclass
class _Day:
    """A day of the homes' power being searched, with the severity of each of its steps."""

    kw: np.ndarray
    excess: np.ndarray
    violated: np.ndarray


class _Trials:
    """Trials of changes to a :class:`_Day`, evaluated in batches and re-run only where the
    day changed under them.

    A trial changes the homes' power at some steps (``rows`` at ``steps``). Each step's load
    flow depends on that step's power alone, so a trial's full-day severity is the day's with
    its steps replaced, and it stays valid while the day does not change at those steps.
    """

    def __init__(self, grid: DsoGrid, q: np.ndarray | None, day: _Day):
        self.grid, self.q, self.day = grid, q, day
        self._done: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self.load_flow_steps = 0

    def evaluate(self, keys: Sequence[int], make) -> None:
        """Evaluate, in one load flow, the trials ``keys`` not evaluated yet;
        ``make(key) -> (steps, rows)``."""
        need = [(k, *make(k)) for k in keys if k not in self._done]
        idx = np.concatenate([st for _, st, _ in need]) if need else np.zeros(0, int)
        exc, vio = np.zeros(0), np.zeros(0, dtype=bool)
        if idx.size:
            kw = np.concatenate([rows for _, _, rows in need])
            q = None if self.q is None else self.q[idx]
            exc, vio = self.grid.severity(self.grid.run(kw, q))
            self.load_flow_steps += idx.size
        a = 0
        for k, st, rows in need:
            self._done[k] = (st, rows, exc[a:a + st.size], vio[a:a + st.size])
            a += st.size

    def outcome(self, key: int) -> tuple[np.ndarray, np.ndarray]:
        """Full-day ``(excess, violated)`` of an evaluated trial."""
        st, _, e_st, v_st = self._done[key]
        e, v = self.day.excess.copy(), self.day.violated.copy()
        e[st], v[st] = e_st, v_st
        return e, v

    def apply(self, key: int) -> None:
        """Make a trial part of the day; forget the trials it invalidates."""
        st, rows, e_st, v_st = self._done.pop(key)
        d = self.day
        d.kw[st], d.excess[st], d.violated[st] = rows, e_st, v_st
        changed = np.zeros(d.excess.size, dtype=bool)
        changed[st] = True
        for k in [k for k, t in self._done.items() if changed[t[0]].any()]:
            del self._done[k]


def _changed_steps(offer: FlexOffer) -> np.ndarray:
    """Steps where an offer moves the home's power (the only ones a trial must re-run)."""
    return np.flatnonzero(offer.delta_kw != 0)


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
    # 1. each offer alone, on the congested steps (only those it changes are run), all in
    #    one load flow: trials on the day of the congested steps
    q = val.home_kvar
    cong_day = _Day(base[cong], val.check.excess[cong], val.check.violated[cong])
    alone = _Trials(grid, None if q is None else q[cong], cong_day)

    def only(k: int) -> tuple[np.ndarray, np.ndarray]:
        m = np.flatnonzero(offers[k].delta_kw[cong] != 0)
        return m, _apply(grid, base, [offers[k]], cong[m])  # m: rows of the congested day

    alone.evaluate(range(len(offers)), only)
    lf_steps += alone.load_flow_steps
    base_exc = float(cong_day.excess.sum())
    relief = np.array([base_exc - float(alone.outcome(k)[0].sum()) for k in range(len(offers))])
    helpful = [k for k in range(len(offers)) if relief[k] > config.tol_excess]
    if not helpful:
        return Selection((), False, val, {}, lf_steps)
    # 2. order by cost per unit of relief
    helpful.sort(key=lambda k: (offers[k].cost_eur / relief[k], -relief[k]))
    ranked = helpful[: config.max_candidates]
    relief_by_id = {offers[k].offer_id: float(relief[k]) for k in ranked}
    # 3. greedy: add offers in rank order, each kept only if the whole day's load flow shows
    #    less excess and no violation in a step that was green; stop once the day is clear.
    #    A trial re-runs only the steps its offer changes, _BLOCK trials per call.
    green_before = ~val.check.violated
    day = _Day(base.copy(), val.check.excess.copy(), val.check.violated.copy())
    added = _Trials(grid, q, day)

    def add(k: int) -> tuple[np.ndarray, np.ndarray]:
        st = _changed_steps(offers[k])
        return st, _apply(grid, day.kw, [offers[k]], st)

    cum_exc = float(day.excess.sum())
    sel: list[int] = []
    clear = False
    homes: set[str] = set()
    pos = 0
    while pos < len(ranked) and not clear:
        nxt = [j for j in range(pos, len(ranked))
               if offers[ranked[j]].home_id not in homes][:_BLOCK]  # one order per home
        if not nxt:
            break
        added.evaluate([ranked[j] for j in nxt], add)
        pos = nxt[-1] + 1
        for j in nxt:
            k = ranked[j]
            e, v = added.outcome(k)
            if (v & green_before).any():
                continue
            exc_k = float(e.sum())
            if exc_k < cum_exc - config.tol_excess or not v.any():
                added.apply(k)
                cum_exc = exc_k
                sel.append(k)
                homes.add(offers[k].home_id)
                clear = not v.any()
                pos = j + 1
                break
    lf_steps += added.load_flow_steps
    if not sel:
        return Selection((), False, val, relief_by_id, lf_steps)
    # 4. prune: drop the most expensive offers while the result stays as good
    todo = sorted(sel, key=lambda k: -offers[k].cost_eur)
    dropped = _Trials(grid, q, day)

    def drop(k: int) -> tuple[np.ndarray, np.ndarray]:
        st = _changed_steps(offers[k])
        return st, _apply(grid, base, [offers[j] for j in sel if j != k], st)

    pos = 0
    while pos < len(todo) and len(sel) > 1:
        nxt = todo[pos:pos + _BLOCK]
        dropped.evaluate(nxt, drop)
        pos += len(nxt)
        for i, k in enumerate(nxt):
            e, v = dropped.outcome(k)
            if clear:
                ok = not v.any()
            else:
                ok = not (v & green_before).any() and \
                    float(e.sum()) <= cum_exc + config.tol_excess
            if ok:
                dropped.apply(k)
                sel = [j for j in sel if j != k]
                pos -= len(nxt) - i - 1
                break
    lf_steps += dropped.load_flow_steps
    wi = validate_home_kw(grid, _apply(grid, base, [offers[k] for k in sel]), q)
    lf_steps += n
    orders = tuple(FlexOrder.of(offers[k], round) for k in sel)
    return Selection(orders, wi.clear, wi, relief_by_id, lf_steps)
