"""UC2: the aggregator's local flexibility market over its portfolio (day-ahead).

Two stages, both over the homes' day-ahead plans from their CEMS (:func:`sims.homes.cems.plan_day`).

Stage 1, local energy exchange (settlement, no change of schedule)
------------------------------------------------------------------
In each step ``t``, sellers are the homes with net export ``e_i = -net_i > 0`` and buyers the
homes with net import ``d_j = net_j > 0``. With ``E = sum e_i``, ``D = sum d_j`` the energy
exchanged locally is ``M = min(E, D)`` (times ``step_h``), shared pro rata: seller ``i`` sells
``x_i = M e_i / E``, buyer ``j`` buys ``y_j = M d_j / D``. The local price is

    p_t = ebar_t + alpha * (ibar_t - ebar_t),

with ``ebar_t`` the highest export price of the step's sellers, ``ibar_t`` the lowest import
price of its buyers and ``alpha`` in [0, 1] the share of the spread given to the sellers
(``0.5`` by default: the surplus of local exchange split equally). If ``ibar_t < ebar_t`` no
energy is exchanged at ``t``. Each home's tariff bill is then adjusted by its *settlement*
(< 0: money back):

    seller i: -x_i (p_t - exp_i,t) step_h,     buyer j: -y_j (imp_j,t - p_t) step_h.

Buyers pay what sellers receive (budget balanced within the community); the aggregator acts as
the community's supplier, so the supplier sees only the community's net import and export
(energy-sharing / virtual net metering). The community's grid import per step falls from
``D`` to ``D - M``.

Stage 2, shifting demand into the community's PV surplus
--------------------------------------------------------
Homes with flexibility are asked to re-plan with two signals: in steps where the community
exports (``E > D``) a price signal ``p_t - imp_h,t`` (< 0: the local price a buyer would pay
instead of its import price; not given in steps the home itself exports, where it would
under-value the export), and in the community's peak steps (import at least ``peak_share``
of the day's peak) a band asking the home to give up its down-flexibility there (upper limit
= planned power minus ``flex_down_kw``; soft, so a home that cannot is not forced). The
re-plans run as one batch (a :data:`Replanner`, e.g. a :class:`sims.homes.cems.CemsPool`); each
is then *accepted* in turn, in order of the home's up-flexibility in surplus steps, only if,
with the settlement recomputed for the whole community including it,

* the home's cost (tariff bill + comfort cost + settlement) falls by at least ``min_gain_eur``,
* the community's grid import energy does not rise, and its peak import does not rise.

Individual rationality (no home loses by joining)
-------------------------------------------------
Let a home's *cost* be its tariff bill + comfort cost (the CEMS objective without band
penalties and price signals) + its settlement; its standalone cost is the same without the
market (settlement 0), on its own CEMS plan.

1. Every settlement is <= 0. At a step with exchange, ``ebar_t <= p_t <= ibar_t`` (since
   ``alpha`` is in [0, 1] and ``ebar_t <= ibar_t``). A seller's export price is at most
   ``ebar_t <= p_t``, so ``-x_i (p_t - exp_i) <= 0``; a buyer's import price is at least
   ``ibar_t >= p_t``, so ``-y_j (imp_j - p_t) <= 0``; homes that neither buy nor sell
   settle 0.
2. A home that keeps its own plan therefore costs ``bill + comfort + settlement <= bill +
   comfort`` = its standalone cost.
3. A re-planned home's settlement depends on the others' final schedules (a later
   acceptance may dilute its local share). So after all acceptances, the final pass
   recomputes every settlement and reverts to its own plan the re-planned home whose cost
   exceeds its standalone cost by the most, and repeats until none does (at most once per
   re-planned home, so it ends). Every re-planned home left has final cost <= standalone
   cost by this check, and every other home by point 2.

Hence every home's final cost is at most its standalone cost. The test
``tests/flex/test_local_market.py`` checks it on seeded random portfolios.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from sims.homes.cems import Band, CemsInput, Plan, plan_day
from sims.tariff import price_matrix

__all__ = [
    "LocalMarketResult",
    "Replanner",
    "clear_local_market",
    "home_cost_eur",
    "local_settlement",
    "pool_replanner",
    "sequential_replanner",
]

Replanner = Callable[
    [Sequence[CemsInput], Sequence[Band | None], Sequence[np.ndarray | None]], list[Plan]
]
"""Re-plans homes: ``(inputs, bands, price_signals) -> plans``, same order as the inputs.

:func:`sequential_replanner` calls :func:`sims.homes.cems.plan_day` in this process; with a pool,
``lambda i, b, s: pool.plan_days(list(i), bands=list(b), price_signals=list(s))``.
"""


def sequential_replanner(
    inputs: Sequence[CemsInput],
    bands: Sequence[Band | None],
    signals: Sequence[np.ndarray | None],
) -> list[Plan]:
    """Re-plan homes one after the other in this process (see :data:`Replanner`)."""
    return [plan_day(i, band=b, price_signal_eur_per_kwh=s)
            for i, b, s in zip(inputs, bands, signals, strict=True)]


def pool_replanner(pool) -> Replanner:
    """A :data:`Replanner` that re-plans on a :class:`sims.homes.cems.CemsPool` (kept open by the
    caller)."""

    def replan(inputs, bands, signals):
        return pool.plan_days(list(inputs), bands=list(bands), price_signals=list(signals))

    return replan


def home_cost_eur(plan: Plan, inp: CemsInput, band: Band | None = None,
                  signal: np.ndarray | None = None) -> float:
    """The prosumer's own cost of a plan: tariff bill + comfort cost [EUR].

    The CEMS objective less the band penalty and the price-signal payments it contains
    (which are not money the prosumer pays). A fallback plan has no objective: its bill.

    Parameters
    ----------
    plan
        The plan.
    inp
        The input it was planned from.
    band, signal
        The band [kW] and price signal [EUR/kWh] it was planned under, if any.
    """
    if plan.fallback or not np.isfinite(plan.objective_eur):
        return float(plan.bill_eur)
    cost = float(plan.objective_eur)
    if band is not None:
        cost -= band.penalty_eur_per_kwh * inp.step_h * float(np.abs(plan.band_violation_kw).sum())
    if signal is not None:
        sig = np.broadcast_to(np.asarray(signal, dtype=float), plan.net_kw.shape)
        cost -= inp.step_h * float(sig @ plan.net_kw)
    return cost


@dataclass(frozen=True)
class Settlement:
    """Result of stage 1 for a set of schedules (see the module docstring).

    Attributes
    ----------
    settlement_eur
        Adjustment of each home's tariff bill [EUR] (<= 0), ``[n_homes]``.
    local_price_eur_per_kwh
        ``p_t`` [EUR/kWh]; NaN where nothing is exchanged, ``[n_steps]``.
    matched_kw
        Power exchanged locally ``M`` [kW], ``[n_steps]``.
    import_kw, export_kw
        Community grid import and export after local exchange [kW], ``[n_steps]``.
    """

    settlement_eur: np.ndarray
    local_price_eur_per_kwh: np.ndarray
    matched_kw: np.ndarray
    import_kw: np.ndarray
    export_kw: np.ndarray


def local_settlement(net_kw: np.ndarray, imp_price: np.ndarray, exp_price: np.ndarray,
                     step_h: float, alpha: float = 0.5) -> Settlement:
    """Stage 1: local exchange and its settlement for given schedules.

    Parameters
    ----------
    net_kw
        Net power of each home [kW], ``[n_homes, n_steps]``, > 0 import.
    imp_price, exp_price
        Each home's import and export price [EUR/kWh], ``[n_homes, n_steps]``.
    step_h
        Step length [h].
    alpha
        Share of the import-export spread given to sellers [-], in [0, 1].

    Returns
    -------
    Settlement
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    net = np.asarray(net_kw, dtype=float)
    exp_kw = np.maximum(-net, 0.0)
    imp_kw = np.maximum(net, 0.0)
    e_tot, d_tot = exp_kw.sum(axis=0), imp_kw.sum(axis=0)
    sell, buy = exp_kw > 0, imp_kw > 0
    ebar = np.where(sell, exp_price, -np.inf).max(axis=0)
    ibar = np.where(buy, imp_price, np.inf).min(axis=0)
    trade = (e_tot > 0) & (d_tot > 0) & (ibar >= ebar)
    m = np.where(trade, np.minimum(e_tot, d_tot), 0.0)
    price = np.full(net.shape[1], np.nan)
    price[trade] = ebar[trade] + alpha * (ibar[trade] - ebar[trade])
    p = np.nan_to_num(price)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(trade, exp_kw * (m / np.where(e_tot > 0, e_tot, 1.0)), 0.0)
        y = np.where(trade, imp_kw * (m / np.where(d_tot > 0, d_tot, 1.0)), 0.0)
    settle = -step_h * ((x * (p - exp_price)).sum(axis=1) + (y * (imp_price - p)).sum(axis=1))
    return Settlement(settle, price, m, d_tot - m, e_tot - m)


@dataclass(frozen=True)
class LocalMarketResult:
    """Outcome of :func:`clear_local_market`.

    Attributes
    ----------
    plans
        Final plan per home (re-planned homes replaced), ``home_id -> Plan``.
    standalone_cost_eur, cost_eur
        Each home's cost alone and in the market: bill + comfort (+ settlement) [EUR].
    settlement_eur
        Each home's settlement [EUR] (<= 0).
    replanned, rejected
        Homes whose re-plan was kept, and those whose re-plan was refused or reverted.
    local_price_eur_per_kwh, matched_kw
        Per step: local price [EUR/kWh] (NaN without exchange) and power exchanged locally
        [kW].
    import_kw_before, import_kw, export_kw
        Community grid import on the standalone plans without exchange, and import and export
        after the market [kW], per step.
    bands, signals
        The band and price signal each kept re-plan was made under (for dispatch records).
    """

    plans: Mapping[str, Plan]
    standalone_cost_eur: Mapping[str, float]
    cost_eur: Mapping[str, float]
    settlement_eur: Mapping[str, float]
    replanned: tuple[str, ...]
    rejected: tuple[str, ...]
    local_price_eur_per_kwh: np.ndarray
    matched_kw: np.ndarray
    import_kw_before: np.ndarray
    import_kw: np.ndarray
    export_kw: np.ndarray
    bands: Mapping[str, Band | None]
    signals: Mapping[str, np.ndarray | None]

    def gain_eur(self, home_id: str) -> float:
        """Standalone cost minus market cost of a home [EUR] (>= 0)."""
        return self.standalone_cost_eur[home_id] - self.cost_eur[home_id]


def _peak_steps(total_kw: np.ndarray, share: float) -> np.ndarray:
    peak = float(total_kw.max())
    return (total_kw >= share * peak) & (total_kw > 0) if peak > 0 else np.zeros_like(
        total_kw, dtype=bool)


def clear_local_market(
    inputs: Sequence[CemsInput],
    plans: Sequence[Plan],
    *,
    alpha: float = 0.5,
    replan: Replanner | None = sequential_replanner,
    max_replans: int | None = None,
    peak_share: float = 0.9,
    min_gain_eur: float = 1e-3,
    tol_kw: float = 1e-6,
) -> LocalMarketResult:
    """Clear the local market of a portfolio (see the module docstring for rule and proof).

    Parameters
    ----------
    inputs
        The homes' CEMS inputs (forecasts, tariffs), one per home.
    plans
        Their standalone day-ahead plans, same order.
    alpha
        Share of the import-export spread paid to sellers [-].
    replan
        Re-plans homes for stage 2; ``None`` runs stage 1 only.
    max_replans
        Cap on the homes asked to re-plan (those with the most up-flexibility in surplus
        steps first); default all homes with flexibility there.
    peak_share
        Steps whose community import is at least this share of the day's peak are "peak steps",
        where homes are asked to lower their power [-].
    min_gain_eur
        Smallest saving that makes a re-plan worth accepting [EUR].
    tol_kw
        Tolerance on power comparisons [kW].

    Returns
    -------
    LocalMarketResult
    """
    if len(inputs) != len(plans):
        raise ValueError(f"{len(inputs)} inputs but {len(plans)} plans")
    if not inputs:
        raise ValueError("the portfolio is empty")
    ids = [inp.home.home_id for inp in inputs]
    if len(set(ids)) != len(ids):
        raise ValueError("home ids in a portfolio must be unique")
    n = plans[0].net_kw.size if plans else 0
    step_h = inputs[0].step_h if inputs else 0.25
    imp, exp = price_matrix([inp.tariff for inp in inputs], n)
    standalone = np.array([home_cost_eur(p, i) for p, i in zip(plans, inputs, strict=True)])
    net = np.array([p.net_kw for p in plans], dtype=float).reshape(len(inputs), n)
    own_cost = standalone.copy()  # bill + comfort of each home's current schedule
    cur_plans = list(plans)
    bands: dict[str, Band | None] = {}
    signals: dict[str, np.ndarray | None] = {}
    accepted: list[int] = []
    rejected: list[str] = []

    def community(net_now: np.ndarray) -> tuple[Settlement, float, float]:
        s = local_settlement(net_now, imp, exp, step_h, alpha)
        return s, float(s.import_kw.sum() * step_h), float(s.import_kw.max(initial=0.0))

    settle, imp_kwh, peak_kw = community(net)
    import_before = np.maximum(net, 0.0).sum(axis=0)

    if replan is not None and len(inputs) > 1:
        surplus = settle.export_kw > tol_kw
        peak = _peak_steps(settle.import_kw, peak_share)
        score = np.array([float(p.flex_up_kw[surplus].sum()) if not p.fallback else 0.0
                          for p in plans])
        cand = [k for k in np.argsort(-score, kind="stable") if score[k] > tol_kw]
        if max_replans is not None:
            cand = cand[:max_replans]
        props_in, props_band, props_sig = [], [], []
        for k in cand:
            # local price a buyer would pay in surplus steps (lowest import price incl. k)
            ibar = np.minimum(np.where(np.isfinite(settle.local_price_eur_per_kwh),
                                       settle.local_price_eur_per_kwh, imp[k]), imp[k])
            sig = np.where(surplus & (net[k] >= 0), ibar - imp[k], 0.0)
            # in the community's peak steps: give up the down-flexibility (soft band)
            bmax = np.where(peak, net[k] - np.nan_to_num(plans[k].flex_down_kw), np.inf)
            props_in.append(inputs[k])
            props_band.append(Band(np.full(n, -np.inf), bmax))
            props_sig.append(sig)
        new_plans = replan(props_in, props_band, props_sig) if cand else []
        for k, newp, band, sig in zip(cand, new_plans, props_band, props_sig, strict=True):
            if newp.fallback:
                rejected.append(ids[k])
                continue
            trial = net.copy()
            trial[k] = newp.net_kw
            s2, imp2, peak2 = community(trial)
            c_new = home_cost_eur(newp, inputs[k], band, sig)
            gain = (own_cost[k] + settle.settlement_eur[k]) - (c_new + s2.settlement_eur[k])
            if gain >= min_gain_eur and imp2 <= imp_kwh + 1e-9 and peak2 <= peak_kw + tol_kw:
                net, settle, imp_kwh, peak_kw = trial, s2, imp2, peak2
                own_cost[k] = c_new
                cur_plans[k] = newp
                bands[ids[k]], signals[ids[k]] = band, sig
                accepted.append(k)
            else:
                rejected.append(ids[k])

    # final pass: every re-planned home at most its standalone cost (proof, point 3)
    while accepted:
        excess = np.array([own_cost[k] + settle.settlement_eur[k] - standalone[k]
                           for k in accepted])
        worst = int(np.argmax(excess))
        if excess[worst] <= 1e-9:
            break
        k = accepted.pop(worst)
        net[k] = plans[k].net_kw
        own_cost[k] = standalone[k]
        cur_plans[k] = plans[k]
        bands.pop(ids[k]), signals.pop(ids[k])
        rejected.append(ids[k])
        settle, imp_kwh, peak_kw = community(net)

    cost = own_cost + settle.settlement_eur
    return LocalMarketResult(
        plans=MappingProxyType(dict(zip(ids, cur_plans, strict=True))),
        standalone_cost_eur=MappingProxyType(dict(zip(ids, standalone.tolist(), strict=True))),
        cost_eur=MappingProxyType(dict(zip(ids, cost.tolist(), strict=True))),
        settlement_eur=MappingProxyType(
            dict(zip(ids, settle.settlement_eur.tolist(), strict=True))),
        replanned=tuple(ids[k] for k in accepted),
        rejected=tuple(rejected),
        local_price_eur_per_kwh=settle.local_price_eur_per_kwh,
        matched_kw=settle.matched_kw,
        import_kw_before=import_before,
        import_kw=settle.import_kw,
        export_kw=settle.export_kw,
        bands=MappingProxyType(bands),
        signals=MappingProxyType(signals),
    )
