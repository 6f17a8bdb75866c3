"""Typical days: real dates of 2016, weights summing to 366, deterministic, extremes inside N."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import cosim
from sims.homes.population import draw_homes, home_series
from testbed.run import scenario_feeder
from testbed.scenario import parse_scenario
from testbed.typical_days import (
    feeder_days,
    read_days,
    select_typical_days,
    typical_days,
    year_dates,
)

from .conftest import small_scenario_text


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    path = tmp_path_factory.mktemp("days") / "small.toml"
    path.write_text(small_scenario_text(n_homes=16))
    return parse_scenario(path.read_text(), source=path)


@pytest.fixture(scope="module")
def feeder(scenario):
    return scenario_feeder(scenario)


@pytest.fixture(scope="module")
def year(scenario, feeder):
    return feeder_days(scenario, feeder)


@pytest.fixture(scope="module")
def table(scenario, feeder):
    return typical_days(scenario, feeder, 8)


def test_weights_sum_to_366_and_members_partition_the_year(table):
    assert len(table) == 8
    assert table.weight.sum() == 366
    members = [d for m in table.members for d in m.split()]
    assert sorted(members) == [d.isoformat() for d in year_dates()]
    for row in table.itertuples():
        days = row.members.split()
        assert row.weight == len(days)
        assert row.date in days  # a medoid is one of the days it stands for


def test_typical_days_are_real_dates_of_2016_in_date_order(table):
    dates = [dt.date.fromisoformat(d) for d in table.date]
    assert all(d.year == 2016 for d in dates)
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert table.day.tolist() == list(range(8))


def test_same_scenario_same_days(scenario, feeder, table):
    pd.testing.assert_frame_equal(typical_days(scenario, feeder, 8), table)


def test_extreme_days_are_inside_the_n(table, year):
    net = year["net_kw"]
    peak = year_dates()[int(net.max(axis=1).argmax())].isoformat()
    export = year_dates()[int(net.min(axis=1).argmin())].isoformat()
    assert peak != export
    by_date = table.set_index("date")
    assert by_date.loc[peak, "extreme"] == "peak_import"
    assert by_date.loc[export, "extreme"] == "pv_export"
    assert by_date.loc[peak, "peak_import_kw"] == pytest.approx(net.max())
    assert by_date.loc[export, "max_export_kw"] == pytest.approx(-net.min())


@pytest.mark.parametrize("date", ["2016-03-27", "2016-07-04", "2016-10-30", "2016-12-31"])
def test_a_day_of_the_year_is_what_a_one_day_run_sees(scenario, feeder, year, date):
    """Exact, including the daylight-saving days (23 h and 25 h of wall-clock time)."""
    one = scenario.with_overrides(start=dt.date.fromisoformat(date), days=1)
    specs = draw_homes(one, feeder.homes.index.tolist(), [int(b) for b in feeder.homes.bus])
    s = home_series(one, specs)
    d = (dt.date.fromisoformat(date) - dt.date(2016, 1, 1)).days
    for col in ("base_kw", "pv_kw", "ev_kw", "hp_kw"):
        np.testing.assert_array_equal(year[col][d], getattr(s, col).sum(axis=1))
    np.testing.assert_allclose(year["net_kw"][d], (s.base_kw + s.ev_kw + s.hp_kw
                                                   - s.pv_kw).sum(axis=1), atol=1e-9)


def _synthetic(n_days: int = 40, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(96)
    season = np.cos(2 * np.pi * np.arange(n_days) / n_days)[:, None]
    base = 50 + 20 * season + rng.normal(0, 1, (n_days, 96))
    pv = np.clip(np.sin(np.pi * (t - 24) / 48), 0, None)[None, :] * (30 - 20 * season)
    ev = np.zeros((n_days, 96))
    ev[:, 72:80] = 10 + 5 * season
    hp = np.clip(20 * season, 0, None) + np.zeros((1, 96))
    return {"base_kw": base, "pv_kw": pv, "ev_kw": ev, "hp_kw": hp,
            "net_kw": base + ev + hp - pv}


def test_both_extremes_in_one_cluster_become_days_of_their_own():
    days = _synthetic()
    # days 5 and 6: the same profiles (one cluster), day 5 holds the net peak, day 6 the
    # deepest export
    for c in ("base_kw", "pv_kw", "ev_kw", "hp_kw"):
        days[c][6] = days[c][5]
    days["net_kw"] = days["base_kw"] + days["ev_kw"] + days["hp_kw"] - days["pv_kw"]
    days["net_kw"][5, 40] = 1e4
    days["net_kw"][6, 50] = -1e4
    t = select_typical_days(days, 6, 900)
    first = dt.date(2016, 1, 1)
    d5, d6 = (first + dt.timedelta(days=5)).isoformat(), (first + dt.timedelta(days=6)).isoformat()
    assert len(t) == 6 and t.weight.sum() == 40
    by_date = t.set_index("date")
    assert by_date.loc[d5, "extreme"] == "peak_import" and by_date.loc[d5, "weight"] == 1
    assert by_date.loc[d6, "extreme"] == "pv_export" and by_date.loc[d6, "weight"] == 1


def test_no_pv_no_export_extreme():
    days = _synthetic()
    days["pv_kw"][:] = 0.0
    days["net_kw"] = days["base_kw"] + days["ev_kw"] + days["hp_kw"]
    t = select_typical_days(days, 5, 900)
    assert (t.extreme != "").sum() == 1 and "pv_export" not in set(t.extreme)
    assert t.weight.sum() == 40


def test_n_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"typical days: n must be in 2\.\.40 \(got 41\)"):
        select_typical_days(_synthetic(), 41, 900)


def test_cosim_days_prints_and_writes_the_table(scenario, table, tmp_path, capsys):
    out = tmp_path / "days.csv"
    assert cosim.main(["days", "--scenario", str(scenario.source), "--n", "8",
                       "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "weights sum to 366" in printed and str(out) in printed
    for d in table.date:
        assert d in printed
    pd.testing.assert_frame_equal(read_days(out), table, check_dtype=False)


def test_cosim_days_bad_n_is_one_line(scenario, capsys):
    assert cosim.main(["days", "--scenario", str(scenario.source), "--n", "400"]) == 2
    assert capsys.readouterr().err == "cosim: error: --n: must be in 2..366 (got 400)\n"
