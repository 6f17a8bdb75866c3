"""Normalised profiles from the data that ship offline with simbench (no download, ever).

simbench's complete data set holds a year (2016, 366 days at 15 min, 35,136 rows) of normalised
profiles: households ``H0-*`` (peak 1.0), home EV charging ``HLS_*`` (fraction of the charger
rating), heat pumps (fraction of rating) and PV ``PV1``-``PV8`` (fraction of kWp). Only the
columns a run needs are read (about 0.3-0.5 s), once per process, and kept in the disk cache
(:mod:`sims.cache`) for the next process (a few milliseconds).

Time: the 2016 rows carry no daylight-saving shift, so we read them as local wall-clock time.
A run's timestamp is matched to the profile row with the same wall-clock time on the 2016 date
nearest to the same calendar day that falls on the same weekday (household and EV profiles
depend on the weekday).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sims import cache

PROFILE_YEAR = 2016
ROWS_PER_DAY = 96
PROFILE_STEP_S = 900
PV_PROFILE = "PV3"  # one irradiance source per run; PV3 is a south-facing-like average profile
#: simbench household profiles a home's base load is drawn from.
BASE_PROFILES = ("H0-A", "H0-B", "H0-C", "H0-G", "H0-L")
#: simbench home-charging profiles per charger rating [kW].
EV_PROFILES = {3.7: ("HLS_A_3.7", "HLS_B_3.7", "HLS_C_3.7"), 11.0: ("HLS_A_11.0", "HLS_B_11.0")}
#: simbench heat-pump profiles.
HP_PROFILES = (
    "Air_Alternative_1", "Air_Parallel_1", "Air_Semi-Parallel_1", "Soil_Alternative_1",
    "Air_Alternative_2", "Air_Parallel_2", "Air_Semi-Parallel_2", "Soil_Alternative_2",
)


def _data_dir() -> Path:
    """simbench's data folder, found without importing simbench (about 2 s)."""
    spec = importlib.util.find_spec("simbench")
    if spec is None or not spec.origin:
        raise RuntimeError("simbench is not installed: its profiles are the homes' data")
    return Path(spec.origin).parent / "networks" / "1-complete_data-mixed-all-2-sw"


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    df = pd.read_csv(path, sep=";", usecols=columns)
    if len(df) != 366 * ROWS_PER_DAY:
        raise RuntimeError(f"{path}: expected {366 * ROWS_PER_DAY} rows, found {len(df)}")
    return df


@lru_cache(maxsize=8)
def _read_columns(file: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """The columns of a simbench file, once per process; from the disk cache
    (:mod:`sims.cache`, keyed by the file's path, size and modification time) when a process
    read them before."""
    path = _data_dir() / file
    st = path.stat()
    key = cache.digest(str(path.resolve()), str(st.st_size), str(st.st_mtime_ns))
    found = {}
    for c in columns:
        col = cache.load(cache.cache_path("profiles", cache.digest(key, c), ".npy.pkl"))
        if isinstance(col, np.ndarray) and col.shape == (366 * ROWS_PER_DAY,):
            found[c] = col
    missing = [c for c in columns if c not in found]
    if missing:
        df = _read_csv(path, missing)
        for c in missing:
            found[c] = df[c].to_numpy()
            cache.store(cache.cache_path("profiles", cache.digest(key, c), ".npy.pkl"),
                        found[c])
    return pd.DataFrame({c: found[c] for c in columns})


def load_columns(names: list[str]) -> pd.DataFrame:
    """Return the named normalised profiles (household/EV/heat-pump loads or PV) as columns.

    Parameters
    ----------
    names
        Profile names without the ``_pload`` suffix for loads (``"H0-A"``, ``"HLS_A_3.7"``,
        ``"Air_Parallel_1"``) and as-is for PV (``"PV3"``).

    Returns
    -------
    DataFrame
        35,136 rows (2016 at 15 min), one float column per name.

    Raises
    ------
    KeyError
        If a name is not in the simbench data.
    """
    pv = sorted(n for n in names if n.startswith("PV"))
    loads = sorted(n for n in names if not n.startswith("PV"))
    parts = []
    if loads:
        cols = tuple(f"{n}_pload" for n in loads)
        try:
            df = _read_columns("LoadProfile.csv", cols)
        except ValueError as exc:
            raise KeyError(f"simbench LoadProfile.csv: {exc}") from None
        parts.append(df.rename(columns=lambda c: c.removesuffix("_pload")))
    if pv:
        try:
            parts.append(_read_columns("RESProfile.csv", tuple(pv)))
        except ValueError as exc:
            raise KeyError(f"simbench RESProfile.csv: {exc}") from None
    out = pd.concat(parts, axis=1) if parts else pd.DataFrame()
    return out[list(names)].astype(float)


def profile_day(date: dt.date) -> int:
    """Index (0-365) of the 2016 day used for a run date: same weekday, nearest calendar day.

    Parameters
    ----------
    date
        A local calendar date of the run.
    """
    try:
        anchor = date.replace(year=PROFILE_YEAR)
    except ValueError:  # 29 February of a run year mapped onto 2016 exists; other failures none
        anchor = dt.date(PROFILE_YEAR, 2, 28)
    shift = (date.weekday() - anchor.weekday() + 3) % 7 - 3  # in -3..3
    candidate = anchor + dt.timedelta(days=shift)
    if candidate.year != PROFILE_YEAR:
        candidate = anchor + dt.timedelta(days=shift - 7 if candidate.year > PROFILE_YEAR
                                          else shift + 7)
    return (candidate - dt.date(PROFILE_YEAR, 1, 1)).days


_BASE_ROWS: dict[tuple, np.ndarray] = {}


def _base_rows(ts: pd.DatetimeIndex) -> np.ndarray:
    """The rows of ``ts`` before offsets, memoised by the timestamps (a run's homes share them)."""
    key = (str(ts.tz), ts.asi8.tobytes())
    rows = _BASE_ROWS.get(key)
    if rows is None:
        local = ts.tz_localize(None)
        unique, inverse = np.unique(local.normalize().to_numpy(), return_inverse=True)
        days = np.array([profile_day(pd.Timestamp(d).date()) for d in unique],
                        dtype=np.int64)[inverse.ravel()]
        minute = np.asarray(local.hour * 60 + local.minute, dtype=np.int64)
        rows = days * ROWS_PER_DAY + minute * 60 // PROFILE_STEP_S
        if len(_BASE_ROWS) > 64:
            _BASE_ROWS.clear()
        _BASE_ROWS[key] = rows
    return rows


def profile_rows(timestamps: pd.DatetimeIndex, day_offset: int = 0, step_offset: int = 0
                 ) -> np.ndarray:
    """Row indices into the 2016 profiles for tz-aware run timestamps.

    Each timestamp is matched to its profile day (:func:`profile_day`) and wall-clock time,
    then moved by ``day_offset`` days and ``step_offset`` profile steps. A row that falls
    before the first or after the last day of 2016 is moved by 52 weeks (364 days) into the
    year, so it keeps its weekday and its time of day (366 days, the length of 2016, is not a
    whole number of weeks: wrapping by it would land on another weekday).

    Parameters
    ----------
    timestamps
        Run timestamps (tz-aware, local time zone of the scenario).
    day_offset
        Days added to the matched profile day (a multiple of 7 keeps the weekday).
    step_offset
        Profile steps (15 min) added; crossing midnight moves to the neighbouring day.

    Returns
    -------
    ndarray of int
        One row per timestamp, in ``0 .. 366 * 96 - 1``.
    """
    base = _base_rows(pd.DatetimeIndex(timestamps))
    rows = base + (day_offset * ROWS_PER_DAY + step_offset)
    n_rows, weeks_52 = 366 * ROWS_PER_DAY, 364 * ROWS_PER_DAY
    rows = np.where(rows < 0, rows + weeks_52, rows)
    rows = np.where(rows >= n_rows, rows - weeks_52, rows)
    if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
        raise ValueError(f"profile_rows: offsets too large (day_offset={day_offset}, "
                         f"step_offset={step_offset}): more than 52 weeks out of the year")
    return rows
