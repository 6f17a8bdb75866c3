"""Operate: follow a plan when the actual base load and PV differ from the forecast.

At every step the EV, the appliance cycles and the thermal load run as planned (so the
building's stored heat follows the plan and stays in its comfort band); the battery
absorbs the forecast error (actual minus forecast net load), so the home's net power stays
at the plan, within the battery's power and state-of-charge limits
(:func:`sims.homes.battery.follow`, the rule every home battery follows); what it cannot absorb
goes to the grid. If the export would pass the connection's export limit, PV is curtailed;
an import above the limit is recorded (no device limit is ever broken to hide it).

Optionally the plan is re-optimised over the rest of the day every ``replan_every_steps``
steps (rolling horizon), from the actual state (battery SoC, EV and thermal energy still
due, the building's stored heat, appliances already started) with the original forecasts
for the steps ahead. A re-plan that fails keeps the current plan and is noted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sims.homes.battery import follow
from sims.homes.cems.assets import ApplianceCycle, CemsInput, EvSession
from sims.homes.cems.fallback import thermal_reference
from sims.homes.cems.plan import Plan, plan_day

__all__ = ["OperationResult", "Operator", "StepResult", "operate_day"]


@dataclass(frozen=True)
class StepResult:
    """What the home did in one step (powers [kW], load convention).

    Attributes
    ----------
    net_kw, battery_kw, ev_kw, appliance_kw, thermal_kw, curtail_kw
        Actual powers.
    soc
        Battery state of charge at the end of the step [-] (NaN without battery).
    thermal_state_kwh
        Heat stored in the thermal load's building or store at the end of the step,
        relative to its reference [kWh] (NaN without a thermal load).
    deviation_kw
        Actual minus planned net power.
    import_excess_kw
        Import above the connection's limit (0 normally).
    """

    net_kw: float
    battery_kw: float
    ev_kw: float
    appliance_kw: float
    thermal_kw: float
    curtail_kw: float
    soc: float
    thermal_state_kwh: float
    deviation_kw: float
    import_excess_kw: float


@dataclass
class OperationResult:
    """A day operated: arrays per step of every :class:`StepResult` field, the bill [EUR],
    the number of successful re-plans and notes."""

    net_kw: np.ndarray
    battery_kw: np.ndarray
    ev_kw: np.ndarray
    appliance_kw: np.ndarray
    thermal_kw: np.ndarray
    curtail_kw: np.ndarray
    soc: np.ndarray
    thermal_state_kwh: np.ndarray
    deviation_kw: np.ndarray
    import_excess_kw: np.ndarray
    bill_eur: float
    replans: int
    notes: list[str] = field(default_factory=list)


class Operator:
    """Follows one home's plan step by step (what the home simulator calls every step).

    Parameters
    ----------
    inp
        The input the plan was made from (forecasts, devices, tariff).
    plan
        The plan to follow (an optimised plan or the fallback).
    replan_every_steps
        Re-optimise the rest of the day every this many steps; ``None`` never.
    """

    def __init__(self, inp: CemsInput, plan: Plan, replan_every_steps: int | None = None):
        self.inp = inp
        self.plan = plan
        self.replan_every = replan_every_steps
        self.t = 0
        b = inp.battery
        self.has_battery = b is not None and b.capacity_kwh > 0
        s0 = (b.soc_init if inp.soc_init is None else inp.soc_init) if self.has_battery else 0.0
        self.soc_kwh = s0 * b.capacity_kwh if self.has_battery else 0.0
        self.ev_delivered_kwh = np.zeros(len(inp.ev_sessions))
        self.thermal_kwh = 0.0
        th = inp.thermal
        self.thermal_ref_kw = thermal_reference(inp)
        self._th_coef = th.coefficients(inp.step_h) if th is not None else (1.0, 0.0)
        self.thermal_state_kwh = float("nan")  # the stored heat now [kWh]
        if th is not None:  # where the plan starts the day (it may choose), else the input's
            e0 = plan.thermal_state_kwh[0] if plan.thermal_state_kwh.size else np.nan
            if not np.isfinite(e0):
                e0 = th.initial_kwh or 0.0
            self.thermal_state_kwh = float(e0)
            self.thermal_end_kwh = float(e0) if th.end_kwh is None else th.end_kwh
        self.starts = list(plan.appliance_starts)
        self.replans = 0
        self.notes: list[str] = []

    def step(self, base_kw: float, pv_kw: float) -> StepResult:
        """Operate the current step with the actual base load and PV [kW]; advance one step."""
        inp, p, t, dt = self.inp, self.plan, self.t, self.inp.step_h
        n = inp.n_steps
        if t >= n:
            raise IndexError(f"{inp.home.home_id}: the day has only {n} steps")
        if self.replan_every and t > 0 and t % self.replan_every == 0:
            self._replan()
            p = self.plan
        ev, app, th = float(p.ev_kw[t]), float(p.appliance_kw[t]), float(p.thermal_kw[t])
        curt = min(float(p.curtail_kw[t]), max(pv_kw, 0.0))
        pv_eff = pv_kw - curt
        without_battery = base_kw - pv_eff + ev + app + th
        pb = 0.0
        if self.has_battery:  # the battery power that keeps the plan, within its limits
            want = float(p.net_kw[t]) - without_battery
            pb, self.soc_kwh = follow(want, self.soc_kwh, inp.battery, dt)
        net = without_battery + pb
        if net < -inp.home.max_export_kw:  # curtail PV down to the export limit
            extra = min(-inp.home.max_export_kw - net, pv_eff)
            curt += extra
            net += extra
        excess = max(0.0, net - inp.home.max_import_kw)
        for k, s in enumerate(inp.ev_sessions):
            if s.arrival <= t < s.departure:
                self.ev_delivered_kwh[k] += ev * dt
        self.thermal_kwh += th * dt
        if inp.thermal is not None:
            a, g = self._th_coef
            self.thermal_state_kwh = a * self.thermal_state_kwh + g * (th - self.thermal_ref_kw[t])
        soc = self.soc_kwh / inp.battery.capacity_kwh if self.has_battery else float("nan")
        self.t += 1
        return StepResult(net, pb, ev, app, th, curt, soc, self.thermal_state_kwh,
                          net - float(p.net_kw[t]), excess)

    def _replan(self) -> None:
        """Re-optimise steps t..n-1 from the actual state; keep the plan if that fails."""
        inp, t = self.inp, self.t
        n = inp.n_steps
        past = np.arange(n) < t
        sessions = []
        for k, s in enumerate(inp.ev_sessions):
            if s.departure > t:
                left = max(0.0, s.energy_kwh - self.ev_delivered_kwh[k])
                sessions.append(EvSession(max(s.arrival, t), s.departure, left, s.v2g_reserve_kwh))
        apps = []
        for a, k in zip(inp.appliances, self.starts, strict=True):
            if k < t:  # started: fixed
                apps.append(ApplianceCycle(a.name, a.profile_kw, k, k + a.steps, k))
            else:
                first = max(a.earliest_start, t)
                apps.append(
                    replace(a, earliest_start=first, preferred_start=max(a.preferred_start, first))
                )
        th = inp.thermal
        if th is not None:  # the reference ahead, and the actual stored heat now
            lo, hi = th.band_kwh()  # (clipped: the solver's tolerances, not a real excursion)
            th = replace(th, energy_kwh=max(0.0, th.energy_kwh - self.thermal_kwh),
                         reference_kw=np.where(past, 0.0, self.thermal_ref_kw),
                         initial_kwh=min(max(self.thermal_state_kwh, lo), hi),
                         end_kwh=self.thermal_end_kwh)
        soc0 = None
        if self.has_battery:
            b = inp.battery
            soc0 = min(max(self.soc_kwh / b.capacity_kwh, b.soc_min), b.soc_max)
        soc_end = inp.soc_end if inp.soc_end is not None else (
            (inp.battery.soc_init if inp.soc_init is None else inp.soc_init)
            if self.has_battery else None)  # fmt: skip
        evref = None if inp.ev_reference_kw is None else np.where(past, 0.0, inp.ev_reference_kw)
        rest = replace(
            inp,
            base_kw=np.where(past, 0.0, inp.base_kw),
            pv_kw=np.where(past, 0.0, inp.pv_kw),
            ev_sessions=tuple(sessions),
            appliances=tuple(apps),
            thermal=th,
            soc_init=soc0,
            soc_end=soc_end,
            ev_reference_kw=evref,
            start_step=t,
        )
        new = plan_day(rest, flexibility=False)
        if new.fallback:
            self.notes.append(f"step {t}: re-plan failed ({new.reason}); kept the plan")
            return
        merged = replace(self.plan)
        for nm in ("net_kw", "battery_kw", "ev_kw", "appliance_kw", "thermal_kw", "curtail_kw"):
            arr = getattr(self.plan, nm).copy()
            arr[t:] = getattr(new, nm)[t:]
            setattr(merged, nm, arr)
        if inp.thermal is not None and self.plan.thermal_state_kwh.size == n + 1:
            e = self.plan.thermal_state_kwh.copy()
            e[t + 1:] = new.thermal_state_kwh[t + 1:]
            merged.thermal_state_kwh = e
        self.plan = merged
        self.starts = [k if k < t else new.appliance_starts[i] for i, k in enumerate(self.starts)]
        self.replans += 1


def operate_day(
    inp: CemsInput,
    plan: Plan,
    base_kw: np.ndarray,
    pv_kw: np.ndarray,
    replan_every_steps: int | None = None,
) -> OperationResult:
    """Operate a whole day with actual base load and PV (see :class:`Operator`).

    Parameters
    ----------
    inp
        The input the plan was made from (its ``base_kw`` and ``pv_kw`` are the forecasts).
    plan
        The plan to follow.
    base_kw, pv_kw
        Actual base load and PV per step [kW].
    replan_every_steps
        Rolling re-optimisation period [steps]; ``None`` never.
    """
    op = Operator(inp, plan, replan_every_steps)
    rows = [op.step(float(b), float(p)) for b, p in zip(base_kw, pv_kw, strict=True)]
    cols = {f: np.array([getattr(r, f) for r in rows]) for f in StepResult.__dataclass_fields__}
    bill = inp.tariff.bill_eur(cols["net_kw"], inp.step_h)
    return OperationResult(**cols, bill_eur=bill, replans=op.replans, notes=op.notes)
