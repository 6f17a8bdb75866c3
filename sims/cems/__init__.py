"""UC1: the home's Customer Energy Management System (CEMS) as a model, without mosaik.

Public API
----------
Inputs (:mod:`sims.cems.assets`)
    :class:`CemsInput`, :class:`Tariff` (and :func:`tou_tariff`), :class:`Band`,
    :class:`EvSession`, :class:`ApplianceCycle`, :class:`ThermalLoad`,
    :class:`ProsumerCategory` (and ``CATEGORIES``), :func:`appliance_for_category`,
    :func:`ev_sessions_from_profile`,
    :func:`thermal_from_profile`.
Planning (:mod:`sims.cems.plan`)
    :func:`plan_day` (one home, optional band or price signal), :func:`plan_days` and
    :class:`CemsPool` (many homes on worker processes), :class:`Plan`.
Baseline and fallback (:mod:`sims.cems.fallback`)
    :func:`uncontrolled_schedule`.
Operation (:mod:`sims.cems.operate`)
    :class:`Operator` (step by step) and :func:`operate_day`.
"""

from sims.cems.assets import (
    CATEGORIES,
    ApplianceCycle,
    Band,
    CemsInput,
    EvSession,
    ProsumerCategory,
    Tariff,
    ThermalLoad,
    appliance_for_category,
    ev_sessions_from_profile,
    thermal_from_profile,
    tou_tariff,
)
from sims.cems.fallback import uncontrolled_schedule
from sims.cems.operate import OperationResult, Operator, StepResult, operate_day
from sims.cems.plan import CemsPool, Plan, fallback_plan, plan_day, plan_days

__all__ = [
    "CATEGORIES",
    "ApplianceCycle",
    "Band",
    "CemsInput",
    "CemsPool",
    "EvSession",
    "OperationResult",
    "Operator",
    "Plan",
    "ProsumerCategory",
    "StepResult",
    "Tariff",
    "ThermalLoad",
    "appliance_for_category",
    "ev_sessions_from_profile",
    "fallback_plan",
    "operate_day",
    "plan_day",
    "plan_days",
    "thermal_from_profile",
    "tou_tariff",
    "uncontrolled_schedule",
]
