"""Profile rows keep the weekday and the time of day at both ends of the year."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sims.homes import profile_data

YEAR_START = pd.Timestamp("2016-01-01")


def _local_steps(first: str, days: int) -> pd.DatetimeIndex:
    start = pd.Timestamp(first, tz="Europe/London")
    return start + pd.to_timedelta(np.arange(days * 96) * 900, unit="s")


def _row_time(rows: np.ndarray) -> pd.DatetimeIndex:
    """The 2016 wall-clock time each profile row stands for."""
    return YEAR_START + pd.to_timedelta(rows * 900, unit="s")


@pytest.mark.parametrize("first", ["2016-01-01", "2016-12-29"])
@pytest.mark.parametrize("day_offset", [-21, -14, -7, 0, 7, 14, 21])
@pytest.mark.parametrize("step_offset", [-4, -2, 0, 2, 4])
def test_rows_keep_weekday_and_time_at_the_ends_of_the_year(first, day_offset, step_offset):
    ts = _local_steps(first, 3)
    rows = profile_data.profile_rows(ts, day_offset, step_offset)
    assert rows.min() >= 0 and rows.max() < 366 * 96
    # what the row should stand for: the run's wall-clock time moved by the offsets
    wanted = ts.tz_localize(None) + pd.to_timedelta(day_offset, unit="D") \
        + pd.to_timedelta(step_offset * 15, unit="min")
    got = _row_time(rows)
    np.testing.assert_array_equal(got.weekday, wanted.weekday)
    np.testing.assert_array_equal(got.hour * 60 + got.minute,
                                  wanted.hour * 60 + wanted.minute)
    # inside the year nothing moves; outside it, exactly 52 weeks
    shift_days = (got.normalize() - wanted.normalize()).days
    assert set(np.unique(shift_days)) <= {-364, 0, 364}
    inside = (wanted >= YEAR_START) & (wanted < pd.Timestamp("2017-01-01"))
    assert (shift_days[inside] == 0).all()
    assert (shift_days[~inside] != 0).all()


def test_three_weeks_before_new_year_day_lands_in_late_december_on_a_friday():
    ts = _local_steps("2016-01-01", 1)  # a Friday
    rows = profile_data.profile_rows(ts, day_offset=-21)
    got = _row_time(rows)
    assert got[0] == pd.Timestamp("2016-12-09")  # 52 weeks after 2015-12-11
    assert got[0].weekday() == dt.date(2016, 1, 1).weekday() == 4


def test_rows_of_a_summer_day_follow_wall_clock_time():
    ts = _local_steps("2016-07-04", 1)  # BST: local midnight is 23:00 UTC
    rows = profile_data.profile_rows(ts)
    day = (dt.date(2016, 7, 4) - dt.date(2016, 1, 1)).days
    np.testing.assert_array_equal(rows, day * 96 + np.arange(96))


def test_offsets_beyond_52_weeks_are_refused():
    with pytest.raises(ValueError, match="day_offset=800"):
        profile_data.profile_rows(_local_steps("2016-06-01", 1), day_offset=800)
