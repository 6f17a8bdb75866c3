"""Public planning API: a home's day-ahead plan, re-plans under a band or price signal.

>>> plan = plan_day(CemsInput(home=spec, base_kw=b, pv_kw=p, tariff=tou_tariff()))
>>> plan.net_kw, plan.bill_eur, plan.flex_up_kw, plan.fallback, plan.reason

Each process keeps one :class:`~sims.homes.cems.formulation.DayModel` per model shape (steps, step
length, appliance slots, longest cycle) and reuses it for every home; :func:`plan_days` spreads
homes over a pool of worker processes, each with its own models. The models are process state:
call the planner from one thread per process.

An input no schedule can satisfy (see :meth:`CemsInput.problems`), or a solve that ends
without a usable solution, gives the flagged fallback (:func:`fallback_plan`): the uncontrolled
schedule with ``fallback=True`` and the reason. Nothing here raises for a bad day; a
programming error raises, in this process and on a worker pool alike (the pool re-raises the
worker's exception in the caller): it never becomes a counted fallback. Statuses: one cause,
one status. ``invalid_input`` for what :meth:`CemsInput.problems` finds before any solve
(including a base load the connection and battery cannot serve, with or without a battery);
otherwise the solver's termination condition (``infeasible``, ``maxTimeLimit`` without a
solution, ``error``...).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from sims.errors import InfeasibleSchedule
from sims.homes.cems.assets import Band, CemsInput
from sims.homes.cems.fallback import thermal_reference, uncontrolled_devices, uncontrolled_schedule
from sims.homes.cems.flex import flexibility as flex_fn
from sims.homes.cems.formulation import BIG_KW, DayModel, ModelData, RawSolution

__all__ = ["Plan", "fallback_plan", "model_data", "plan_day", "plan_days", "CemsPool"]

TOL_KW = 1e-6
BIG_KWH = 1.0e5
"""Stands for an absent bound on the stored heat of the ideal thermal store [kWh]."""


@dataclass
class Plan:
    """A home's schedule for the day and its flexibility.

    Arrays have one value per step unless stated; powers [kW] in the load convention.

    Attributes
    ----------
    net_kw
        Net power at the connection (> 0 import).
    battery_kw
        Battery power (> 0 charging).
    ev_kw
        EV power at the charger (> 0 charging, < 0 V2G).
    appliance_kw, thermal_kw
        Power of the appliance cycles and of the thermal load.
    curtail_kw
        PV curtailed.
    soc
        Battery state of charge, ``n + 1`` values (start of each step, then end of day) [-];
        NaN without a battery.
    thermal_state_kwh
        Heat stored in the thermal load's building or store relative to its uncontrolled
        reference, ``n + 1`` values like ``soc`` [kWh] (divide by the store's capacity for
        the indoor temperature above the set point [K]); NaN without a thermal load.
    appliance_starts
        Start step of each appliance cycle, in input order.
    bill_eur
        The prosumer's bill for the day at the tariff (no price signal, no penalties) [EUR].
    objective_eur
        Optimal objective: bill + price signal + comfort cost + band penalty [EUR].
    band_violation_kw
        Net power outside the band (> 0 above the maximum, < 0 below the minimum).
    flex_up_kw, flex_down_kw
        How far the net power can go up / down from the plan in each step, one step at a
        time, >= 0 (see :mod:`sims.homes.cems.flex` for the method).
    flex_up_cost_eur_per_kwh, flex_down_cost_eur_per_kwh
        What moving costs the prosumer per kWh moved [EUR/kWh] (NaN where no flexibility).
    status
        ``"optimal"``, ``"maxTimeLimit"`` (feasible, gap not reached), or the reason class of
        a fallback (``"invalid_input"``, ``"infeasible"``...).
    fallback
        True if this is the uncontrolled fallback, not an optimised plan.
    reason
        Why the fallback was used, or notes on the plan; empty if none.
    gap
        Relative optimality gap reached [-] (NaN for a fallback).
    timings
        Seconds spent: ``update``, ``solve``, ``read``, ``flex``, ``total`` (wall clock) and
        ``solve_cpu``, ``total_cpu`` (CPU time of this process).
    """

    net_kw: np.ndarray
    battery_kw: np.ndarray
    ev_kw: np.ndarray
    appliance_kw: np.ndarray
    thermal_kw: np.ndarray
    curtail_kw: np.ndarray
    soc: np.ndarray
    appliance_starts: list[int]
    bill_eur: float
    objective_eur: float
    band_violation_kw: np.ndarray
    flex_up_kw: np.ndarray
    flex_down_kw: np.ndarray
    flex_up_cost_eur_per_kwh: np.ndarray
    flex_down_cost_eur_per_kwh: np.ndarray
    status: str
    fallback: bool
    reason: str
    gap: float
    home_id: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    thermal_state_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __getattr__(self, name: str):
        # Only reached for a missing attribute: the flexibility of a lazy plan (see
        # :func:`plan_day`), computed on first use from the plan and its input.
        d = self.__dict__
        if name in _FLEX_FIELDS and "_flex_inp" in d:
            _set_flexibility(self, d.pop("_flex_inp"))
            return d[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def peak_import_kw(self) -> float:
        """Highest net import of the day [kW]."""
        return float(np.max(self.net_kw))


_FLEX_FIELDS = ("flex_up_kw", "flex_down_kw", "flex_up_cost_eur_per_kwh",
                "flex_down_cost_eur_per_kwh")


def _set_flexibility(plan: Plan, inp: CemsInput) -> None:
    t0 = time.perf_counter()
    up, dn, cu, cd = flex_fn(plan, inp)
    plan.flex_up_kw, plan.flex_down_kw = up, dn
    plan.flex_up_cost_eur_per_kwh, plan.flex_down_cost_eur_per_kwh = cu, cd
    plan.timings["flex"] = time.perf_counter() - t0


def _defer_flexibility(plan: Plan, inp: CemsInput) -> None:
    """Compute the plan's flexibility when it is first read (the same numbers, later)."""
    for name in _FLEX_FIELDS:
        del plan.__dict__[name]
    plan.__dict__["_flex_inp"] = inp


# ---------------------------------------------------------------- data
def model_data(
    inp: CemsInput,
    band: Band | None = None,
    price_signal_eur_per_kwh: np.ndarray | None = None,
    n_slots: int | None = None,
    max_cycle: int | None = None,
    slots: list[int] | None = None,
) -> ModelData:
    """Translate a home's day into the numbers of the day model.

    Parameters
    ----------
    inp
        The home's day (assumed valid: see :meth:`CemsInput.problems`).
    band
        Optional band on the net power.
    price_signal_eur_per_kwh
        Optional extra price per step on net power (added to import and export prices).
    n_slots, max_cycle
        Shape of the model's appliance slots (default: just enough).
    slots
        Slot of each appliance (default: in order).
    """
    n, dt = inp.n_steps, inp.step_h
    home = inp.home
    imp_p, exp_p = inp.tariff.prices(n)
    if price_signal_eur_per_kwh is not None:
        sig = np.broadcast_to(np.asarray(price_signal_eur_per_kwh, dtype=float), (n,))
        imp_p, exp_p = imp_p + sig, exp_p + sig
    base = np.asarray(inp.base_kw, dtype=float)
    pv = np.asarray(inp.pv_kw, dtype=float)
    w = inp.category.willingness_eur_per_kwh
    full = np.ones(n)

    b = inp.battery
    if b is not None and b.capacity_kwh > 0:
        cap = b.capacity_kwh
        s0 = b.soc_init if inp.soc_init is None else inp.soc_init
        s1 = s0 if inp.soc_end is None else inp.soc_end
        soc_lb = np.full(n + 1, b.soc_min * cap)
        soc_ub = np.full(n + 1, b.soc_max * cap)
        soc_lb[0] = soc_ub[0] = s0 * cap
        soc_lb[n] = soc_ub[n] = s1 * cap
        eta = math.sqrt(b.efficiency_roundtrip)
        ch_ub = dis_ub = full * b.power_kw
    else:
        soc_lb = soc_ub = np.zeros(n + 1)
        eta = 1.0
        ch_ub = dis_ub = np.zeros(n)

    past = slice(0, inp.start_step)
    if inp.start_step > 0:
        ch_ub, dis_ub = np.array(ch_ub, dtype=float), np.array(dis_ub, dtype=float)
        ch_ub[past] = dis_ub[past] = 0.0
        soc_lb, soc_ub = soc_lb.copy(), soc_ub.copy()
        soc_lb[: inp.start_step + 1] = soc_ub[: inp.start_step + 1] = soc_lb[0]

    ev_ub = np.zeros(n)
    evd_ub = np.zeros(n)
    cum_lb = np.zeros(n)
    cum_ub = np.zeros(n)
    ev_ref = np.zeros(n)
    if home.ev is not None and inp.ev_sessions:
        done = 0.0
        for s in inp.ev_sessions:
            ev_ub[s.arrival : s.departure] = home.ev.charger_kw
            if home.ev.v2g:
                evd_ub[s.arrival : s.departure] = home.ev.charger_kw
            res = s.v2g_reserve_kwh if home.ev.v2g else 0.0
            cum_lb[s.arrival : s.departure - 1] = done - res
            cum_ub[s.arrival : s.departure - 1] = done + s.energy_kwh
            done += s.energy_kwh
            cum_lb[s.departure - 1 :] = done
            cum_ub[s.departure - 1 :] = done
        ev_ref = uncontrolled_devices(inp)["ev_kw"]
        ev_ub[past] = evd_ub[past] = 0.0

    th = inp.thermal
    e_lb, e_ub = np.zeros(n + 1), np.zeros(n + 1)
    if th is not None:
        th_ub, th_ref, th_energy = full * th.rated_kw, thermal_reference(inp), th.energy_kwh
        th_ub[past] = 0.0
        th_a, th_gain = th.coefficients(dt)
        lo, hi = th.band_kwh()
        lo, hi = max(lo, -BIG_KWH), min(hi, BIG_KWH)
        e_lb[:], e_ub[:] = lo, hi
        th_rhs = -th_gain * th_ref
        init = th.initial_kwh  # None: a building's plan chooses it; the ideal store starts at 0
        if init is None and th.store is None:
            init = 0.0
        th_cyc = 0.0  # e[n] - e[0]: the day ends with the heat it started with ...
        if init is not None:
            init = min(max(init, lo), hi)  # (within the solver's tolerances of the band)
            e_lb[: inp.start_step + 1] = e_ub[: inp.start_step + 1] = init
            th_rhs[past] = (1.0 - th_a) * init  # the state holds still in the past
            if th.end_kwh is not None:  # ... unless told otherwise
                th_cyc = min(max(th.end_kwh, lo), hi) - init
    else:
        th_ub, th_ref, th_rhs = np.zeros(n), np.zeros(n), np.zeros(n)
        th_a, th_gain, th_cyc, th_energy = 1.0, dt, 0.0, 0.0

    n_app = len(inp.appliances)
    A = max(n_app, 1) if n_slots is None else n_slots
    longest = max((a.steps for a in inp.appliances), default=1)
    L = longest if max_cycle is None else max_cycle
    if n_app > A or longest > L:
        raise ValueError(f"model has {A} slots of {L} steps; home needs {n_app} of {longest}")
    slots = list(range(n_app)) if slots is None else slots
    s_ub = np.zeros((A, n))
    s_cost = np.zeros((A, n))
    active = np.zeros(A)
    profile = np.zeros((A, L))
    for a, slot in zip(inp.appliances, slots, strict=True):
        first, last = a.earliest_start, a.latest_end - a.steps
        s_ub[slot, first : last + 1] = 1.0
        k = np.arange(n)
        pref = min(max(a.preferred_start, first), last)
        s_cost[slot] = (k != pref) * w * a.energy_kwh(dt)
        active[slot] = 1.0
        profile[slot, : a.steps] = a.profile_kw

    if band is not None:
        bmin = np.clip(np.broadcast_to(np.asarray(band.min_kw, dtype=float), (n,)), -BIG_KW, BIG_KW)
        bmax = np.clip(np.broadcast_to(np.asarray(band.max_kw, dtype=float), (n,)), -BIG_KW, BIG_KW)
        c_band = band.penalty_eur_per_kwh * dt
    else:
        bmin, bmax, c_band = np.full(n, -BIG_KW), np.full(n, BIG_KW), 0.0

    return ModelData(
        c_imp=imp_p * dt,
        c_exp=exp_p * dt,
        rhs_bal=base - pv,
        imp_ub=full * home.max_import_kw,
        exp_ub=full * home.max_export_kw,
        curt_ub=np.where(np.arange(n) < inp.start_step, 0.0, pv),
        ch_ub=np.array(ch_ub, dtype=float),
        dis_ub=np.array(dis_ub, dtype=float),
        eta_c=eta,
        eta_d=eta,
        soc_lb=soc_lb,
        soc_ub=soc_ub,
        ev_ub=ev_ub,
        evd_ub=evd_ub,
        cum_lb=cum_lb,
        cum_ub=cum_ub,
        ev_ref=ev_ref,
        th_ub=np.array(th_ub, dtype=float),
        th_energy=float(th_energy),
        th_a=float(th_a),
        th_gain=float(th_gain),
        th_rhs=np.array(th_rhs, dtype=float),
        e_lb=e_lb,
        e_ub=e_ub,
        th_cyc=float(th_cyc),
        th_ref=th_ref,
        c_dev=w * dt / 2.0,
        s_ub=s_ub,
        s_cost=s_cost,
        active=active,
        profile=profile,
        bmin=np.array(bmin),
        bmax=np.array(bmax),
        c_band=float(c_band),
    )


# --------------------------------------------------------------- models
_MODELS: dict[tuple, DayModel] = {}
SLOT_STEP = 4
"""Appliance cycle lengths are rounded up to a multiple of this to share models [steps]."""
MIN_SLOTS, MIN_CYCLE = 3, 12
MEMO_SIZE = 1024
"""Optimal solves a process's model keeps to answer an identical solve (a home's day-ahead plan
of the same day at another control level in a sweep worker, a re-plan repeated): the same
solution, not solved again (:meth:`DayModel.solve`); ~20 kB each."""


def _model_for(inp: CemsInput) -> DayModel:
    """This process's model for the shape of ``inp`` (built on first use)."""
    n_app = len(inp.appliances)
    longest = max((a.steps for a in inp.appliances), default=1)
    key = (
        inp.n_steps,
        round(inp.step_h, 9),
        max(MIN_SLOTS, n_app),
        max(MIN_CYCLE, -(-longest // SLOT_STEP) * SLOT_STEP),
    )
    model = _MODELS.get(key)
    if model is None:
        model = _MODELS[key] = DayModel(key[0], key[1], key[2], key[3], memo_size=MEMO_SIZE)
    return model


def _assign_slots(model: DayModel, inp: CemsInput) -> list[int]:
    """Appliance ``i`` goes to slot ``i``: a fixed rule, so that a home's plan does not depend
    on which homes this process planned before (bit-for-bit reproducible runs)."""
    return list(range(len(inp.appliances)))


def model_cache_info() -> dict[tuple, float]:
    """Build time [s] of each model this process holds, by shape."""
    return {k: m.build_s for k, m in _MODELS.items()}


# ----------------------------------------------------------------- plans
def fallback_plan(inp: CemsInput, status: str, reason: str) -> Plan:
    """The flagged fallback: the uncontrolled schedule, with the reason it is used.

    Parameters
    ----------
    inp
        The home's day.
    status
        Short class of the failure (``"invalid_input"``, ``"infeasible"``, ``"error"``...).
    reason
        One line a user can act on.
    """
    n = inp.n_steps
    try:
        u = uncontrolled_schedule(inp)
    except Exception as e:  # noqa: BLE001 - even a broken input must give a schedule
        base = np.nan_to_num(np.asarray(inp.base_kw, dtype=float).ravel())
        pv = np.nan_to_num(np.asarray(inp.pv_kw, dtype=float).ravel())
        m = min(base.size, pv.size)
        z = np.zeros(m)
        u = {
            "net_kw": base[:m] - pv[:m],
            "battery_kw": z,
            "ev_kw": z,
            "appliance_kw": z,
            "thermal_kw": z,
            "soc": np.full(m + 1, np.nan),
            "thermal_state_kwh": np.full(m + 1, np.nan),
            "appliance_starts": [],
        }
        reason = f"{reason}; uncontrolled schedule failed too ({e}): base load minus PV only"
        n = m
    try:
        bill = inp.tariff.bill_eur(u["net_kw"], inp.step_h)
    except Exception:  # noqa: BLE001
        bill = float("nan")
    zeros = np.zeros(n)
    nan = np.full(n, np.nan)
    return Plan(
        net_kw=u["net_kw"], battery_kw=u["battery_kw"], ev_kw=u["ev_kw"],
        appliance_kw=u["appliance_kw"], thermal_kw=u["thermal_kw"], curtail_kw=zeros.copy(),
        soc=u["soc"], appliance_starts=list(u["appliance_starts"]), bill_eur=bill,
        objective_eur=float("nan"), band_violation_kw=zeros.copy(), flex_up_kw=zeros.copy(),
        flex_down_kw=zeros.copy(), flex_up_cost_eur_per_kwh=nan.copy(),
        flex_down_cost_eur_per_kwh=nan.copy(), status=status, fallback=True, reason=reason,
        gap=float("nan"), home_id=inp.home.home_id, thermal_state_kwh=u["thermal_state_kwh"],
    )  # fmt: skip


def plan_day(
    inp: CemsInput,
    band: Band | None = None,
    price_signal_eur_per_kwh: np.ndarray | None = None,
    flexibility: bool | str = "auto",
    path: str = "direct",
    allow_fallback: bool = True,
) -> Plan:
    """Plan a home's day: the schedule with the lowest bill, and its flexibility.

    Parameters
    ----------
    inp
        The home's day (forecasts, devices, tariff, category).
    band
        Optional power band on the net power per step (a re-plan for the aggregator or the
        DSO); soft, with the band's penalty per kWh outside it.
    price_signal_eur_per_kwh
        Optional extra price per step on the net power [EUR/kWh] (a price re-plan).
    flexibility
        Compute the flexibility arrays: ``True`` now, ``False`` never (zeros), ``"lazy"`` when
        first read (the same numbers: :func:`sims.homes.cems.flex.flexibility` of this plan and
        input, on the process that reads them), ``"auto"`` (default) lazily for a re-plan
        under a band or price signal (most are offers never bought, whose flexibility nobody
        reads) and now otherwise.
    path
        Model update path, ``"direct"`` or ``"pyomo"`` (see :mod:`sims.homes.cems.formulation`).
    allow_fallback
        If false, raise :class:`testbed.errors.InfeasibleSchedule` instead of returning the
        fallback.

    Returns
    -------
    Plan
        The optimised plan, or the flagged fallback (``plan.fallback``) with ``plan.reason``.
    """
    c0, t0 = time.process_time(), time.perf_counter()
    plan = _plan_day(inp, band, price_signal_eur_per_kwh, flexibility, path)
    plan.timings["total"] = time.perf_counter() - t0
    plan.timings["total_cpu"] = time.process_time() - c0
    if plan.fallback and not allow_fallback:
        raise InfeasibleSchedule(plan.reason)
    return plan


def _plan_day(inp, band, price_signal_eur_per_kwh, flexibility, path) -> Plan:
    problems = inp.problems()
    if band is not None:
        problems += _band_problems(inp, band)
    if price_signal_eur_per_kwh is not None:
        sig = np.asarray(price_signal_eur_per_kwh, dtype=float)
        if sig.size not in (1, inp.n_steps) or not np.all(np.isfinite(sig)):
            problems.append(
                f"{inp.home.home_id}: price signal must be finite, 1 or {inp.n_steps} values"
            )
    if problems:
        return fallback_plan(inp, "invalid_input", "; ".join(problems))
    model = _model_for(inp)
    slots = _assign_slots(model, inp)
    data = model_data(inp, band, price_signal_eur_per_kwh, model.n_slots, model.max_cycle, slots)
    raw = model.solve(data, path=path)
    if not raw.ok:
        return fallback_plan(
            inp, raw.status,
            f"{inp.home.home_id}: solver ended '{raw.status}' without a usable solution; "
            + _diagnose(inp),
        )  # fmt: skip
    plan = _to_plan(inp, raw, slots, band)
    if flexibility == "lazy" or (
        flexibility == "auto" and (band is not None or price_signal_eur_per_kwh is not None)
    ):
        _defer_flexibility(plan, inp)
    elif flexibility:
        _set_flexibility(plan, inp)
    return plan


def _diagnose(inp: CemsInput) -> str:
    """A best guess at which limits conflict, for the reason of an infeasible plan."""
    n, dt = inp.n_steps, inp.step_h
    b = inp.battery
    pb = b.power_kw if b is not None and b.capacity_kwh > 0 else 0.0
    ebat = (b.soc_max - b.soc_min) * b.capacity_kwh if b is not None else 0.0
    base = np.asarray(inp.base_kw, dtype=float) - np.asarray(inp.pv_kw, dtype=float)
    room = inp.home.max_import_kw - base  # import headroom per step before flexible loads
    t = int(np.argmin(room))
    if room[t] + pb < -1e-9:
        return (
            f"base load minus PV needs {base[t]:.2f} kW at step {t}, more than the max import "
            f"{inp.home.max_import_kw} kW plus the battery's {pb} kW"
        )
    head = np.clip(room, 0.0, None) + pb  # most a flexible load can draw per step [kW]
    ev = inp.home.ev
    for k, s in enumerate(inp.ev_sessions):
        if ev is None:
            break
        a = max(s.arrival, inp.start_step)
        most = float(np.minimum(ev.charger_kw, head[a : s.departure]).sum() * dt)
        if s.energy_kwh > most + 1e-9:
            return (
                f"EV session {k} needs {s.energy_kwh:.2f} kWh but the connection (max import "
                f"{inp.home.max_import_kw} kW, battery included) lets it take at most "
                f"{most:.2f} kWh between steps {a} and {s.departure}"
            )
    for a in inp.appliances:
        prof = np.asarray(a.profile_kw, dtype=float)
        fits = [
            k
            for k in range(a.earliest_start, a.latest_end - a.steps + 1)
            if np.all(prof <= head[k : k + a.steps] + 1e-9)
        ]
        if not fits:
            return (
                f"appliance {a.name!r} (peak {prof.max():.2f} kW) fits nowhere in its window "
                f"[{a.earliest_start}, {a.latest_end}) under the max import "
                f"{inp.home.max_import_kw} kW"
            )
    th = inp.thermal
    if th is not None:
        most = float(np.minimum(th.rated_kw, head[inp.start_step :]).sum() * dt)
        if th.energy_kwh > most + 1e-9:
            return (
                f"thermal load needs {th.energy_kwh:.2f} kWh but the connection lets it take at "
                f"most {most:.2f} kWh"
            )
    flex_kwh = sum(s.energy_kwh for s in inp.ev_sessions)
    flex_kwh += sum(a.energy_kwh(dt) for a in inp.appliances)
    flex_kwh += th.energy_kwh if th is not None else 0.0
    avail = float(np.clip(room, 0.0, None)[inp.start_step :].sum() * dt) + ebat
    if flex_kwh > avail + 1e-9:
        return (
            f"the EV, appliances and thermal load need {flex_kwh:.2f} kWh but the connection "
            f"leaves at most {avail:.2f} kWh (max import {inp.home.max_import_kw} kW, battery "
            f"included)"
        )
    return (
        "conflicting limits (connection, battery state of charge, EV sessions, appliance "
        f"windows or thermal energy over {n} steps)"
    )


def _band_problems(inp: CemsInput, band: Band) -> list[str]:
    out = []
    for nm in ("min_kw", "max_kw"):
        a = np.asarray(getattr(band, nm), dtype=float)
        if a.size not in (1, inp.n_steps) or np.any(np.isnan(a)):
            out.append(f"{inp.home.home_id}: band {nm} must have 1 or {inp.n_steps} non-NaN values")
    if not out and np.any(np.asarray(band.min_kw) > np.asarray(band.max_kw)):
        out.append(f"{inp.home.home_id}: band min_kw above max_kw")
    if not math.isfinite(band.penalty_eur_per_kwh) or band.penalty_eur_per_kwh <= 0:
        out.append(f"{inp.home.home_id}: band penalty must be > 0, got {band.penalty_eur_per_kwh}")
    return out


def _to_plan(inp: CemsInput, raw: RawSolution, slots: list[int], band: Band | None) -> Plan:
    v = raw.values
    n = inp.n_steps
    net = v["imp"] - v["exp"]
    notes = []
    if raw.status != "optimal":
        notes.append(f"solver stopped at '{raw.status}' with a feasible plan, gap {raw.gap:.2%}")
    both = np.minimum(v["imp"], v["exp"])
    if np.any(both > 1e-5):
        notes.append(f"simultaneous import and export at {int(np.sum(both > 1e-5))} steps")
    both = np.minimum(v["ch"], v["dis"])
    if np.any(both > 1e-5):
        notes.append(f"simultaneous charge and discharge at {int(np.sum(both > 1e-5))} steps")
    b = inp.battery
    soc = (
        v["soc"] / b.capacity_kwh
        if b is not None and b.capacity_kwh > 0
        else np.full(n + 1, np.nan)
    )
    e = v["e"].copy() if inp.thermal is not None else np.full(n + 1, np.nan)
    starts = [int(np.argmax(v["s"][slot])) for slot in slots]
    viol = np.zeros(n)
    if band is not None:
        viol = v["vu"] - v["vd"]
        if np.any(np.abs(viol) > 1e-6):
            notes.append(
                f"band missed by {float(np.sum(np.abs(viol)) * inp.step_h):.3f} kWh "
                f"(soft, penalised)"
            )
    clean = lambda x: np.where(np.abs(x) < 1e-9, 0.0, x)  # noqa: E731
    return Plan(
        net_kw=clean(net), battery_kw=clean(v["ch"] - v["dis"]), ev_kw=clean(v["ev"] - v["evd"]),
        appliance_kw=clean(v["app"]), thermal_kw=clean(v["th"]), curtail_kw=clean(v["curt"]),
        soc=soc, appliance_starts=starts, bill_eur=inp.tariff.bill_eur(net, inp.step_h),
        objective_eur=raw.objective, band_violation_kw=clean(viol), flex_up_kw=np.zeros(n),
        flex_down_kw=np.zeros(n), flex_up_cost_eur_per_kwh=np.full(n, np.nan),
        flex_down_cost_eur_per_kwh=np.full(n, np.nan), status=raw.status, fallback=False,
        reason="; ".join(notes), gap=raw.gap, home_id=inp.home.home_id,
        timings={"update": raw.update_s, "solve": raw.solve_s, "read": raw.read_s,
                 "solve_cpu": raw.solve_cpu_s}, thermal_state_kwh=e,
    )  # fmt: skip


# ------------------------------------------------------------------ pool
def _plan_one(args: tuple) -> Plan:
    """One home's plan on a worker or in this process: exactly :func:`plan_day`.

    A bad input or a failed solve already comes back as the flagged fallback; any exception
    is a programming error and propagates (a pool re-raises it in the caller), so it can
    never pass for a counted fallback.
    """
    inp, band, signal, flexibility = args
    return plan_day(inp, band, signal, flexibility)


def _warm() -> int:
    """Build the default model in a worker (so the first home does not pay for it)."""
    from sims.homes.cems.formulation import DayModel  # noqa: F401

    key = (96, 0.25, MIN_SLOTS, MIN_CYCLE)
    if key not in _MODELS:
        _MODELS[key] = DayModel(*key, memo_size=MEMO_SIZE)
    return os.getpid()


class CemsPool:
    """A pool of worker processes that plan homes; keep it across days to reuse the models.

    Parameters
    ----------
    workers
        Worker processes (default: number of CPUs).
    warm
        Build the default 96-step model in every worker at start.
    context
        Multiprocessing start method. Default ``"fork"`` where the OS has it: workers start
        in milliseconds with every module already imported and need no ``__main__`` guard in
        the calling script (safe here: HiGHS runs single-threaded, ``threads=1``, so the
        parent holds no solver threads). ``"forkserver"`` or ``"spawn"`` work too but need
        the guard and re-import pyomo in each worker (~1 s).

    Examples
    --------
    >>> with CemsPool(2) as pool:
    ...     plans = pool.plan_days(inputs)
    """

    def __init__(self, workers: int | None = None, warm: bool = True, context: str | None = None):
        self.workers = workers or os.cpu_count() or 1
        if context is None:
            context = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(context)
        if context == "forkserver":
            ctx.set_forkserver_preload(["sims.homes.cems.plan"])
        self._ex = ProcessPoolExecutor(self.workers, mp_context=ctx)
        if warm:
            list(self._ex.map(_warm_any, range(self.workers)))

    def plan_days(
        self,
        inputs: list[CemsInput],
        bands: list[Band | None] | None = None,
        price_signals: list[np.ndarray | None] | None = None,
        flexibility: bool | str = "auto",
    ) -> list[Plan]:
        """Plan every home, in input order (see :func:`plan_days` for the arguments)."""
        k = len(inputs)
        bands = bands or [None] * k
        price_signals = price_signals or [None] * k
        args = list(zip(inputs, bands, price_signals, [flexibility] * k, strict=True))
        chunk = max(1, k // (self.workers * 8))
        return list(self._ex.map(_plan_one, args, chunksize=chunk))

    def close(self) -> None:
        """Stop the workers."""
        self._ex.shutdown()

    def __enter__(self) -> CemsPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _warm_any(_: int) -> int:
    import time

    pid = _warm()
    time.sleep(0.05)  # let every worker take one warm-up task
    return pid


def plan_days(
    inputs: list[CemsInput],
    workers: int = 2,
    bands: list[Band | None] | None = None,
    price_signals: list[np.ndarray | None] | None = None,
    flexibility: bool | str = "auto",
) -> list[Plan]:
    """Plan many homes in parallel (a fresh pool; keep a :class:`CemsPool` to reuse one).

    Parameters
    ----------
    inputs
        One :class:`CemsInput` per home.
    workers
        Worker processes; ``<= 1`` plans in this process.
    bands, price_signals
        Optional, one per home (``None`` for none), as in :func:`plan_day`.
    flexibility
        Compute the flexibility arrays (as in :func:`plan_day`).

    Returns
    -------
    list of Plan
        In the order of ``inputs``; a home whose input is bad or whose solve fails gets its
        flagged fallback, so one bad home never stops the others (a programming error
        raises). A plan depends only on its input (not on the worker or the order), so runs
        are reproducible bit for bit.
    """
    if workers <= 1:
        k = len(inputs)
        return [
            _plan_one((i, b, s, flexibility))
            for i, b, s in zip(
                inputs, bands or [None] * k, price_signals or [None] * k, strict=True
            )
        ]
    with CemsPool(workers) as pool:
        return pool.plan_days(inputs, bands, price_signals, flexibility)
