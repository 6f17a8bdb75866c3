"""UC1: the home's Customer Energy Management System (CEMS) as a model, without mosaik.

Public API
----------
Inputs (:mod:`sims.homes.cems.assets`)
    :class:`CemsInput`, :class:`Tariff` (:func:`tou_tariff`, :func:`tariff_from_periods`),
    :class:`Band`,
    :class:`EvSession`, :class:`ApplianceCycle`, :class:`ThermalLoad`, :class:`ThermalStore`
    (the building a heat pump heats, :func:`heat_pump_store`),
    :class:`ProsumerCategory` (and ``CATEGORIES``), ``APPLIANCE_CYCLES``,
    :func:`appliance_for_category`,
    :func:`ev_sessions_from_profile`,
    :func:`thermal_from_profile`.
Planning (:mod:`sims.homes.cems.plan`)
    :func:`plan_day` (one home, optional band or price signal), :func:`plan_days` and
    :class:`CemsPool` (many homes on worker processes), :class:`Plan`.
Exact price of one move (:mod:`sims.homes.cems.offers`)
    :func:`move_cost` (a re-plan with a forcing band).
Baseline and fallback (:mod:`sims.homes.cems.fallback`)
    :func:`uncontrolled_schedule`.
Operation (:mod:`sims.homes.cems.operate`)
    :class:`Operator` (step by step) and :func:`operate_day`.
"""

from sims.homes.cems.assets import (
    APPLIANCE_CYCLES,
    CATEGORIES,
    ApplianceCycle,
    Band,
    CemsInput,
    EvSession,
    ProsumerCategory,
    Tariff,
    ThermalLoad,
    ThermalStore,
    appliance_for_category,
    ev_sessions_from_profile,
    heat_pump_store,
    tariff_from_periods,
    thermal_from_profile,
    tou_tariff,
)
from sims.homes.cems.fallback import uncontrolled_schedule
from sims.homes.cems.offers import MoveCost, move_cost
from sims.homes.cems.operate import OperationResult, Operator, StepResult, operate_day
from sims.homes.cems.plan import CemsPool, Plan, fallback_plan, plan_day, plan_days

__all__ = [
    "APPLIANCE_CYCLES",
    "CATEGORIES",
    "ApplianceCycle",
    "Band",
    "CemsInput",
    "CemsPool",
    "EvSession",
    "MoveCost",
    "OperationResult",
    "Operator",
    "Plan",
    "ProsumerCategory",
    "StepResult",
    "Tariff",
    "ThermalLoad",
    "ThermalStore",
    "appliance_for_category",
    "ev_sessions_from_profile",
    "fallback_plan",
    "heat_pump_store",
    "move_cost",
    "operate_day",
    "plan_day",
    "plan_days",
    "tariff_from_periods",
    "thermal_from_profile",
    "tou_tariff",
    "uncontrolled_schedule",
]
