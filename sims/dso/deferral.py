"""Value of deferring grid reinforcement with flexibility, against the cost of flexibility.

Formulas (``C`` upgrade cost [EUR], ``L`` its lifetime [years], ``r`` discount rate [1/year],
``n`` years deferred, ``F`` annual cost of the flexibility that makes the deferral possible
[EUR/year]):

* Annuity factor ``AF(r, n) = (1 - (1 + r)^-n) / r`` (``= n`` at ``r = 0``) and capital
  recovery factor ``CRF(r, L) = 1 / AF(r, L)``.
* Deferral value. An upgrade is not a one-off: the asset is replaced every ``L`` years, a
  chain whose present value is ``C / (1 - (1 + r)^-L)``. Deferring the whole chain by ``n``
  years is worth

      V = C (1 - (1 + r)^-n) / (1 - (1 + r)^-L).

  With a very long lifetime this is the textbook ``C (1 - (1 + r)^-n)``; the lifetime term
  credits the later replacements that move too.
* Present value of the flexibility over the deferral: ``PV_F = F AF(r, n)``.
* Net benefit ``V - PV_F``; deferral is worth it if it is >= 0. Dividing by ``AF(r, n)`` gives
  the break-even annual flexibility cost ``F* = C CRF(r, L)``: the upgrade's equivalent
  annual cost, independent of ``n``.

The annual flexibility cost comes from the typical days: ``F = sum_d w_d cost_d`` with ``w_d``
the number of days of the year each typical day stands for (:func:`annual_flex_cost_eur`).

Defaults for a UK 500 kVA ground-mounted transformer upgrade (to 800 kVA, with civil works):
``C = 60 000 EUR``, ``L = 40`` years, ``r = 3.5 %`` (HM Treasury Green Book); scenario inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DeferralAssessment",
    "annual_flex_cost_eur",
    "annuity_factor",
    "assess_deferral",
    "deferral_value_eur",
]


def annuity_factor(rate: float, years: float) -> float:
    """``(1 - (1 + r)^-n) / r`` [years]; ``n`` at ``r = 0``.

    Parameters
    ----------
    rate
        Discount rate [1/year], > -1.
    years
        Number of years [years], >= 0.
    """
    if rate <= -1.0 or years < 0:
        raise ValueError(f"need rate > -1 and years >= 0, got rate={rate}, years={years}")
    if abs(rate) < 1e-12:
        return float(years)
    return (1.0 - (1.0 + rate) ** -years) / rate


def deferral_value_eur(upgrade_cost_eur: float, years_deferred: float, discount_rate: float,
                       lifetime_years: float = float("inf")) -> float:
    """Present value of deferring a reinforcement by ``years_deferred`` [EUR].

    ``C (1 - (1 + r)^-n) / (1 - (1 + r)^-L)`` (module docstring); ``C (1 - (1 + r)^-n)`` with
    an infinite lifetime. At ``r = 0`` the limit ``C n / L`` (or 0 with infinite lifetime).

    Parameters
    ----------
    upgrade_cost_eur
        Cost of the upgrade today [EUR].
    years_deferred
        Years the upgrade is deferred [years].
    discount_rate
        Discount rate [1/year].
    lifetime_years
        Lifetime of the upgraded asset [years].
    """
    if lifetime_years <= 0:
        raise ValueError(f"lifetime_years must be > 0, got {lifetime_years}")
    if abs(discount_rate) < 1e-12:
        return 0.0 if lifetime_years == float("inf") else upgrade_cost_eur * years_deferred \
            / lifetime_years
    inf = lifetime_years == float("inf")
    chain = 1.0 if inf else 1.0 - (1.0 + discount_rate) ** -lifetime_years
    return upgrade_cost_eur * (1.0 - (1.0 + discount_rate) ** -years_deferred) / chain


def annual_flex_cost_eur(day_costs_eur: Sequence[float], day_weights: Sequence[float]) -> float:
    """Annual flexibility cost from typical days: ``sum_d w_d cost_d`` [EUR/year].

    Parameters
    ----------
    day_costs_eur
        Flexibility cost of each typical day [EUR].
    day_weights
        Days of the year each typical day stands for [days] (sum 365 for a full year).
    """
    if len(day_costs_eur) != len(day_weights):
        raise ValueError(f"{len(day_costs_eur)} costs but {len(day_weights)} weights")
    return float(sum(c * w for c, w in zip(day_costs_eur, day_weights, strict=True)))


@dataclass(frozen=True)
class DeferralAssessment:
    """Deferral value against the cost of flexibility (all [EUR] unless stated).

    Attributes
    ----------
    deferral_value_eur
        ``V`` (module docstring).
    flex_cost_pv_eur
        ``PV_F``.
    net_benefit_eur
        ``V - PV_F``.
    breakeven_annual_flex_cost_eur
        ``F* = C CRF(r, L)`` [EUR/year].
    annual_flex_cost_eur
        ``F`` [EUR/year].
    worthwhile
        ``net_benefit_eur >= 0``.
    """

    deferral_value_eur: float
    flex_cost_pv_eur: float
    net_benefit_eur: float
    breakeven_annual_flex_cost_eur: float
    annual_flex_cost_eur: float
    worthwhile: bool


def assess_deferral(upgrade_cost_eur: float, annual_flex_cost_eur: float, *,
                    years_deferred: float = 5.0, discount_rate: float = 0.035,
                    lifetime_years: float = 40.0) -> DeferralAssessment:
    """Compare the value of deferring an upgrade with the flexibility that defers it.

    Parameters
    ----------
    upgrade_cost_eur
        Cost of the upgrade today [EUR].
    annual_flex_cost_eur
        Cost of the flexibility per year [EUR/year].
    years_deferred
        Years the flexibility defers the upgrade [years].
    discount_rate
        Discount rate [1/year].
    lifetime_years
        Lifetime of the upgraded asset [years].

    Returns
    -------
    DeferralAssessment
    """
    v = deferral_value_eur(upgrade_cost_eur, years_deferred, discount_rate, lifetime_years)
    pv_f = annual_flex_cost_eur * annuity_factor(discount_rate, years_deferred)
    breakeven = upgrade_cost_eur / annuity_factor(discount_rate, lifetime_years)
    return DeferralAssessment(v, pv_f, v - pv_f, breakeven, float(annual_flex_cost_eur),
                              v - pv_f >= 0)
