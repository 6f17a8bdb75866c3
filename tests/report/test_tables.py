"""The report's small pieces, by hand: units and formats of KPIs, the scenario's differences
from the default, the time axis of a figure (also on a day with a clock change)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from testbed.report.style import time_x
from testbed.report.tables import compare_rows, format_number, kpi_unit, scenario_rows


@pytest.mark.parametrize(("key", "unit"), [
    ("grid.max_trafo_loading_percent", "%"), ("grid.vm_min_pu", "p.u."),
    ("grid.vm_min_pu_a", "p.u."), ("grid.overload_minutes", "min"),
    ("grid.trafo_energy_above_rating_kvah", "kVAh"), ("homes.total_bill_eur", "EUR"),
    ("flex.requested_eur_at_cap", "EUR"), ("homes.peak_import_kw", "kW"),
    ("homes.cems_homes", "count"), ("homes.peak_to_average", "ratio"),
    ("homes.self_consumption", "ratio"), ("flex.rounds_max", "count"),
    ("flex.operation_violation_intervals_after_green", "count"),
    ("flex.deferral_credible", "1 = yes"), ("wall_s", "s"),
])
def test_kpi_unit_from_its_name(key, unit):
    assert kpi_unit(key) == unit


@pytest.mark.parametrize(("value", "unit", "text"), [
    (84.1234, "%", "84.1"), (0.96612, "p.u.", "0.9661"), (1211.724, "EUR", "1,211.72"),
    (360.0, "min", "360"), (0.0, "kWh", "0.0"), (0.0004, "kWh", "0.0004"),
    (-0.01523, "kWh", "-0.015"), (None, "EUR", "\u2014"), (float("nan"), "%", "\u2014"),
    (3.0, "count", "3"), (0.91318, "ratio", "0.913"), (2.5, "?", "2.5000"),
])
def test_format_number(value, unit, text):
    assert format_number(value, unit) == text


def test_scenario_rows_mark_what_differs_from_the_default():
    default = {"seed": 42, "days": 1, "grid": {"n_homes": 184, "source": "reference"},
               "homes": {"categories": {"flexible": 0.3, "moderate": 0.7}},
               "tariff": {"periods": [{"start": "00:00", "end": "24:00", "price": 0.2}]}}
    run = {"seed": 42, "days": 2, "grid": {"n_homes": 184},
           "homes": {"categories": {"flexible": 0.5, "moderate": 0.5}},
           "tariff": {"periods": [{"start": "00:00", "end": "24:00", "price": 0.2}]}}
    rows = {r.field: r for r in scenario_rows(run, default)}
    assert {f for f, r in rows.items() if r.differs} == {
        "days", "homes.categories.flexible", "homes.categories.moderate"}
    assert (rows["days"].value, rows["days"].default) == ("2", "1")
    assert rows["grid.source"].value == "(not set)" and not rows["grid.source"].differs
    assert rows["tariff.periods"].value == "start = 00:00, end = 24:00, price = 0.2"


def test_compare_rows_differences_against_the_first_level():
    table = pd.DataFrame({"none": [84.1, 1200.0, float("nan")], "cems": [72.6, 1090.5, 3.0]},
                         index=pd.Index(["grid.max_trafo_loading_percent",
                                         "homes.total_bill_eur", "flex.rounds_max"],
                                        name="kpi"))
    rows = {r.key: r for r in compare_rows(table)}
    assert rows["grid.max_trafo_loading_percent"].diffs == ["-11.5"]
    assert rows["homes.total_bill_eur"].diffs == ["-109.50"]
    assert rows["flex.rounds_max"].diffs == [""]  # no value at the base level
    assert [v.text for v in rows["flex.rounds_max"].values] == ["\u2014", "3"]


def test_time_x_is_x0_and_dx_for_regular_steps_and_text_across_a_clock_change():
    day = pd.date_range("2016-01-20", periods=96, freq="15min", tz="Europe/London")
    assert time_x(day) == {"x0": "2016-01-20 00:00:00", "dx": 900_000}
    start = pd.Timestamp(dt.datetime(2016, 3, 27), tz="Europe/London")  # clocks go forward
    spring = pd.date_range(start, periods=92, freq="15min")  # 23 h of wall clock
    x = time_x(spring)["x"]
    assert x[3] == "2016-03-27 00:45" and x[4] == "2016-03-27 02:00"  # 01:00 does not exist
    assert len(x) == 92
