"""Annual KPIs of three typical days with weights 100, 200 and 66, computed by hand."""

from __future__ import annotations

import math

import pytest

from testbed.annual import annual_kpis, annual_rule, district_kpis

W = [100, 200, 66]
DEFERRAL = {"upgrade_cost_eur": 60000.0, "lifetime_years": 40.0, "discount_rate": 0.035,
            "years_deferred": 5.0}


def _day(i: int, **extra) -> dict:
    """Day i of the hand case (values chosen so the sums are easy to check)."""
    base = [
        {"grid.max_trafo_loading_percent": 80.0, "grid.vm_min_pu": 0.95, "grid.vm_max_pu": 1.06,
         "grid.losses_kwh": 10.0, "grid.overload_minutes": 0.0, "grid.voltage_violations": 0,
         "homes.total_bill_eur": 100.0, "homes.import_kwh": 500.0, "homes.export_kwh": 20.0,
         "homes.pv_kwh": 40.0, "homes.demand_kwh": 520.0, "homes.self_consumption": 0.5,
         "homes.self_sufficiency": 20.0 / 520.0, "homes.peak_import_kw": 60.0,
         "homes.peak_to_average": 3.0, "homes.cems_homes": 5,
         "flex.ordered_eur": 2.0, "flex.congested_intervals_dayahead": 4,
         "flex.orange_intervals": 1, "flex.share_resolved": 0.75,
         "flex.operation_trafo_overload_intervals": 0, "flex.rounds_max": 2,
         "flex.annual_flex_cost_eur": 730.0, "flex.deferral_value_eur": 1.0},
        {"grid.max_trafo_loading_percent": 120.0, "grid.vm_min_pu": 0.92, "grid.vm_max_pu": 1.05,
         "grid.losses_kwh": 20.0, "grid.overload_minutes": 30.0, "grid.voltage_violations": 7,
         "homes.total_bill_eur": 150.0, "homes.import_kwh": 700.0, "homes.export_kwh": 0.0,
         "homes.pv_kwh": 10.0, "homes.demand_kwh": 710.0, "homes.self_consumption": 1.0,
         "homes.self_sufficiency": 10.0 / 710.0, "homes.peak_import_kw": 90.0,
         "homes.peak_to_average": 3.1, "homes.cems_homes": 5,
         "flex.ordered_eur": 5.0, "flex.congested_intervals_dayahead": 0,
         "flex.orange_intervals": 0, "flex.share_resolved": 1.0,
         "flex.operation_trafo_overload_intervals": 0, "flex.rounds_max": 4,
         "flex.annual_flex_cost_eur": 1825.0, "flex.deferral_value_eur": 1.0},
        {"grid.max_trafo_loading_percent": 95.0, "grid.vm_min_pu": 0.97, "grid.vm_max_pu": 1.11,
         "grid.losses_kwh": 5.0, "grid.overload_minutes": 15.0, "grid.voltage_violations": 3,
         "homes.total_bill_eur": -10.0, "homes.import_kwh": 100.0, "homes.export_kwh": 200.0,
         "homes.pv_kwh": 300.0, "homes.demand_kwh": 200.0, "homes.self_consumption": 1.0 / 3,
         "homes.self_sufficiency": 0.5, "homes.peak_import_kw": 30.0,
         "homes.peak_to_average": 9.0, "homes.cems_homes": 5,
         "flex.ordered_eur": 0.0, "flex.congested_intervals_dayahead": 2,
         "flex.orange_intervals": 2, "flex.share_resolved": 0.0,
         "flex.operation_trafo_overload_intervals": 0, "flex.rounds_max": 1,
         "flex.annual_flex_cost_eur": 0.0, "flex.deferral_value_eur": None},
    ][i]
    return {**base, **extra}


def test_hand_computed_year():
    a = annual_kpis([_day(0), _day(1), _day(2)], W, **DEFERRAL)
    assert a["days"] == 3 and a["weight"] == 366
    # weighted sums
    assert a["grid.losses_kwh"] == 100 * 10 + 200 * 20 + 66 * 5 == 5330
    assert a["grid.overload_minutes"] == 200 * 30 + 66 * 15 == 6990
    assert a["grid.voltage_violations"] == 200 * 7 + 66 * 3 == 1598
    assert a["homes.total_bill_eur"] == 100 * 100 + 200 * 150 - 66 * 10 == 39340
    assert a["homes.import_kwh"] == 50000 + 140000 + 6600
    assert a["homes.export_kwh"] == 2000 + 0 + 13200
    # extremes
    assert a["grid.max_trafo_loading_percent"] == 120.0
    assert a["grid.vm_min_pu"] == 0.92 and a["grid.vm_max_pu"] == 1.11
    assert a["homes.peak_import_kw"] == 90.0 and a["flex.rounds_max"] == 4
    assert a["homes.cems_homes"] == 5
    # ratios of annual sums: self-consumed 100*20 + 200*10 + 66*100 = 10600 kWh
    pv = 100 * 40 + 200 * 10 + 66 * 300
    demand = 100 * 520 + 200 * 710 + 66 * 200
    assert a["homes.self_consumption"] == pytest.approx(10600 / pv)
    assert a["homes.self_sufficiency"] == pytest.approx(10600 / demand)
    mean_kw = (196600 - 15200) / (24 * 366)
    assert a["homes.peak_to_average"] == pytest.approx(90.0 / mean_kw)
    # congested 400 + 0 + 132 = 532, orange 100 + 132 = 232
    assert a["flex.congested_intervals_dayahead"] == 532
    assert a["flex.share_resolved"] == pytest.approx(300 / 532)
    # deferral from the weighted days: F = 100 * 2 + 200 * 5 = 1200 EUR a year
    assert a["flex.annual_flex_cost_eur"] == 1200.0
    r, n, life = 0.035, 5.0, 40.0
    value = 60000 * (1 - (1 + r) ** -n) / (1 - (1 + r) ** -life)
    pv_f = 1200 * (1 - (1 + r) ** -n) / r
    assert a["flex.deferral_value_eur"] == pytest.approx(value, rel=1e-12)
    assert a["flex.flex_cost_pv_eur"] == pytest.approx(pv_f, rel=1e-12)
    assert a["flex.deferral_net_benefit_eur"] == pytest.approx(value - pv_f, rel=1e-12)
    assert a["flex.breakeven_annual_flex_cost_eur"] == pytest.approx(
        60000 * r / (1 - (1 + r) ** -life), rel=1e-12)
    assert a["flex.deferral_credible"] == 1


def test_an_overload_in_operation_makes_the_deferral_not_credible():
    days = [_day(0), _day(1, **{"flex.operation_trafo_overload_intervals": 2}), _day(2)]
    a = annual_kpis(days, W, **DEFERRAL)
    assert a["flex.deferral_credible"] == 0
    assert math.isnan(a["flex.deferral_value_eur"])
    assert math.isnan(a["flex.deferral_net_benefit_eur"])
    assert a["flex.annual_flex_cost_eur"] == 1200.0
    assert a["flex.operation_trafo_overload_intervals"] == 400


def test_rules_for_keys_added_later():
    assert annual_rule("grid.unbalance_minutes") == "sum"
    assert annual_rule("grid.max_vuf_percent") == "max"
    assert annual_rule("grid.vm_min_phase_pu") == "min"
    assert annual_rule("homes.something_else") is None
    a = annual_kpis([{"grid.vuf_violation_minutes": 2.0, "homes.label": 1.0}] * 2, [1, 365],
                    **DEFERRAL)
    assert a["grid.vuf_violation_minutes"] == 732.0 and "homes.label" not in a


def test_district_adds_feeders_up():
    f1 = annual_kpis([_day(0), _day(1), _day(2)], W, **DEFERRAL)
    f2 = annual_kpis([_day(0), _day(1, **{"flex.operation_trafo_overload_intervals": 1}),
                      _day(2)], W, **DEFERRAL)
    d = district_kpis([f1, f2])
    assert d["feeders"] == 2 and d["weight"] == 366 and d["days"] == 3
    assert d["grid.losses_kwh"] == 2 * 5330
    assert d["grid.max_trafo_loading_percent"] == 120.0
    assert d["homes.self_consumption"] == pytest.approx(f1["homes.self_consumption"])
    assert d["flex.annual_flex_cost_eur"] == 2400.0
    assert d["flex.deferral_credible"] == 1  # one of the two feeders
    assert d["flex.deferral_value_eur"] == pytest.approx(f1["flex.deferral_value_eur"])
    assert "homes.peak_to_average" not in d


def test_one_weight_per_day():
    with pytest.raises(ValueError, match="one weight per day"):
        annual_kpis([_day(0)], [1, 2], **DEFERRAL)


def test_every_kpi_of_a_run_has_its_own_rule(default_run):
    """Every key the run KPIs produce today is named explicitly (none left to the name rule)."""
    import pandas as pd

    from testbed.annual import KNOWN_KEYS
    from testbed.flex_kpis import flex_kpis

    table = pd.DataFrame({"initial_light": ["yellow"], "final_light": ["green"],
                          "operation_violation": [False], "requested_kw": [1.0],
                          "offered_kw": [1.0], "offered_eur": [0.1], "ordered_kw": [1.0],
                          "ordered_eur": [0.1], "delivered_kw": [1.0], "delivered_eur": [0.1]})
    days = pd.DataFrame({"new_congestion_steps": [0], "rounds": [1], "loop_iterations": [2]})
    operation = pd.DataFrame({"kind": ["transformer"], "step": [3]})
    payments = pd.DataFrame({"market_settlement_eur": [0.0], "flex_payment_eur": [0.1]})
    flex = flex_kpis(table, days, operation, payments, step_h=0.25, n_days=1, price_cap=1.0,
                     total_bill_eur=1.0, loop_iteration_limit=14, upgrade_cost_eur=60000.0,
                     lifetime_years=40.0, discount_rate=0.035, years_deferred=5.0)
    keys = set(default_run.kpis) | set(flex)
    assert keys - KNOWN_KEYS == set()
