"""Deferral value and its comparison with the flexibility cost, computed by hand."""

from __future__ import annotations

import pytest

from sims.dso.deferral import (
    annual_flex_cost_eur,
    annuity_factor,
    assess_deferral,
    deferral_value_eur,
)

# C = 100 000 EUR, r = 5 %, n = 5 years:
#   1.05^-5 = 0.783526 -> 1 - 0.783526 = 0.216474 -> C (1 - (1 + r)^-n) = 21 647.4 EUR
#   1.05^-40 = 0.142046 -> chain factor 1 - 0.142046 = 0.857954
#   with L = 40: 21 647.4 / 0.857954 = 25 231.4 EUR
#   AF(5 %, 5) = 0.216474 / 0.05 = 4.32948 years
#   break-even F* = C r / (1 - 1.05^-40) = 5 000 / 0.857954 = 5 827.8 EUR/year


def test_textbook_deferral_value():
    assert deferral_value_eur(100_000, 5, 0.05) == pytest.approx(21_647.4, abs=0.1)


def test_deferral_value_with_lifetime():
    assert deferral_value_eur(100_000, 5, 0.05, 40) == pytest.approx(25_231.4, abs=0.1)


def test_zero_rate_limits():
    # r = 0: deferring a chain of 40-year assets by 5 years saves 5/40 of one asset
    assert deferral_value_eur(100_000, 5, 0.0, 40) == pytest.approx(12_500.0)
    assert deferral_value_eur(100_000, 5, 0.0) == 0.0
    assert annuity_factor(0.0, 5) == 5.0


def test_annuity_factor():
    assert annuity_factor(0.05, 5) == pytest.approx(4.32948, abs=1e-5)


def test_assessment_break_even():
    cheap = assess_deferral(100_000, 5_000, years_deferred=5, discount_rate=0.05,
                            lifetime_years=40)
    # PV of 5 000 EUR/year over 5 years: 5 000 * 4.32948 = 21 647.4; net 25 231.4 - 21 647.4
    assert cheap.flex_cost_pv_eur == pytest.approx(21_647.4, abs=0.1)
    assert cheap.net_benefit_eur == pytest.approx(3_584.0, abs=0.1)
    assert cheap.breakeven_annual_flex_cost_eur == pytest.approx(5_827.8, abs=0.1)
    assert cheap.worthwhile
    dear = assess_deferral(100_000, 6_000, years_deferred=5, discount_rate=0.05,
                           lifetime_years=40)
    assert not dear.worthwhile  # 6 000 > 5 827.8 EUR/year
    # break-even is independent of n: at F*, the net benefit is zero for any deferral
    for n in (1, 3, 10):
        at = assess_deferral(100_000, cheap.breakeven_annual_flex_cost_eur, years_deferred=n,
                             discount_rate=0.05, lifetime_years=40)
        assert at.net_benefit_eur == pytest.approx(0.0, abs=1e-6)


def test_annual_flex_cost_from_typical_days():
    # 2 EUR on 300 days + 10 EUR on 65 days = 600 + 650
    assert annual_flex_cost_eur([2.0, 10.0], [300, 65]) == pytest.approx(1_250.0)
    with pytest.raises(ValueError):
        annual_flex_cost_eur([1.0], [1.0, 2.0])


def test_bad_inputs():
    with pytest.raises(ValueError):
        deferral_value_eur(1.0, 1, 0.05, 0)
    with pytest.raises(ValueError):
        annuity_factor(-1.0, 5)
