"""``flex.net_bill_eur`` settles what was measured and delivered, not what was planned and
ordered: a case computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from testbed.flex_kpis import flex_kpis, measured_settlement
from testbed.scenario import Tariff, TouPeriod

# two 12-h steps a day: import 0.10 EUR/kWh in the first (00:00-07:00 period), 0.30 in the
# second; export 0.05
TARIFF = Tariff("two-rate", (TouPeriod(0, 420, 0.10), TouPeriod(420, 1440, 0.30)),
                export_eur_per_kwh=0.05, standing_eur_per_day=0.0)
T = pd.date_range("2016-01-20", periods=2, freq="12h", tz="Europe/London")


def _homes() -> pd.DataFrame:
    # measured: A exports 2 kW then imports 1 kW; B imports 3 kW then 1 kW
    return pd.DataFrame({"time": list(T) * 2, "home_id": ["A", "A", "B", "B"],
                         "p_kw": [-2.0, 1.0, 3.0, 1.0]})


PAYMENTS = pd.DataFrame({"day": [0, 0], "aggregator_id": ["agg0", "agg0"],
                         "home_id": ["A", "B"], "market_settlement_eur": [-0.5, -0.4],
                         "flex_payment_eur": [2.28, 0.0]})


def test_measured_settlement_by_hand():
    # step 0: A sells 2 kW, B buys 3 kW: 2 kW traded at 0.05 + 0.5 (0.10 - 0.05) = 0.075;
    # A gains 12 h * 2 kW * (0.075 - 0.05) = 0.6 EUR, B saves 12 * 2 * (0.10 - 0.075) = 0.6
    # step 1: nobody exports, no trade
    s = measured_settlement(_homes(), PAYMENTS, TARIFF, steps_per_day=2, step_h=12.0)
    assert s == pytest.approx(-1.2, abs=1e-12)
    # a home not in the day's market (no payments row) takes no part
    assert measured_settlement(_homes(), PAYMENTS.iloc[:1], TARIFF, steps_per_day=2,
                               step_h=12.0) == 0.0


def test_net_bill_is_measured_bill_plus_delivered_settlement():
    # one order at step 0: 1 kW for 12 h at 0.20 EUR/kWh = 2.4 EUR ordered; the aggregator's
    # margin 0.01 EUR/kWh leaves the home 2.4 - 0.12 = 2.28 (flex_payments, as ordered).
    # Measured, the home delivered 0.5 kW: 6 kWh, 1.2 EUR, 1.2 - 0.06 = 1.14 to the home.
    table = pd.DataFrame({"initial_light": ["yellow", "green"], "final_light": ["green"] * 2,
                          "operation_violation": [False, False], "requested_kw": [1.0, 0.0],
                          "offered_kw": [1.0, 0.0], "offered_eur": [2.4, 0.0],
                          "ordered_kw": [1.0, 0.0], "ordered_eur": [2.4, 0.0],
                          "delivered_kw": [0.5, 0.0], "delivered_eur": [1.2, 0.0]})
    days = pd.DataFrame({"new_congestion_steps": [0], "rounds": [1], "loop_iterations": [2]})
    operation = pd.DataFrame({"kind": pd.Series(dtype=str), "step": pd.Series(dtype=int)})
    settle = measured_settlement(_homes(), PAYMENTS, TARIFF, steps_per_day=2, step_h=12.0)
    k = flex_kpis(table, days, operation, PAYMENTS, step_h=12.0, n_days=1, price_cap=1.0,
                  total_bill_eur=10.0, loop_iteration_limit=14, upgrade_cost_eur=60000.0,
                  lifetime_years=40.0, discount_rate=0.035, years_deferred=5.0,
                  settlement_eur=settle)
    assert k["flex.market_settlement_eur"] == pytest.approx(-1.2)
    assert k["flex.payments_to_homes_eur"] == pytest.approx(1.14)
    assert k["flex.net_bill_eur"] == pytest.approx(10.0 - 1.2 - 1.14)  # 7.66
    # what was planned and ordered keeps its own name (before, net bill = 10 - 0.9 - 2.28)
    assert k["flex.planned_market_settlement_eur"] == pytest.approx(-0.9)
    assert k["flex.ordered_payments_to_homes_eur"] == pytest.approx(2.28)
