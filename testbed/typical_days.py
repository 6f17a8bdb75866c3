"""Typical days of a scenario: N real days of 2016 that stand for the year, each with a weight.

The year the feeder sees
    :func:`feeder_days` sums the uncontrolled base load, PV, EV and heat-pump power of the
    scenario's homes (drawn by :func:`sims.homes.population.draw_homes`, their series from
    :func:`sims.homes.population.home_series` over one span of the 366 days of 2016, the
    profile year) and cuts the span into the 366 local days a one-day run of each date sees
    (local midnight + 24 h, so a day with a daylight-saving change is cut as the run steps
    it). Every value is a function of the instant alone, so a day of this table equals the
    uncontrolled series of a ``cosim run`` of that date, exactly. ``net_kw`` is the feeder's
    net uncontrolled power (base + EV + heat pump - PV).

Selection (:func:`select_typical_days`, tsam 4)
    ``tsam.aggregate`` clusters the 366 days on ``base_kw``, ``pv_kw``, ``ev_kw`` and ``hp_kw``
    (each min-max normalised by tsam; a column that is zero all year is left out), with
    hierarchical (Ward) clustering and the medoid representation: each cluster is represented
    by the member day closest to the others, a real calendar day the co-simulation can run.
    The weight of a typical day is the number of days in its cluster (weights sum to 366).
    Two extreme days are kept inside the N with tsam's ``replace`` method (``append`` would
    make N + 2): the day of the highest net import peak (``max_value`` of ``net_kw``) and the
    day of the largest PV export (``min_value`` of ``net_kw``, only when the scenario has PV).
    tsam's ``replace`` overwrites the extreme's columns in the nearest cluster centre (a
    hybrid day no run could simulate); we keep its choice of cluster and make the extreme day
    itself that cluster's representative, with the cluster's weight and members. ``net_kw``
    enters tsam with the smallest weight tsam allows (1e-6), so that it serves the extremes
    without moving the clustering. If both extremes fall into one cluster, the other 364 days
    are clustered into N - 2 clusters and the two extremes are typical days of their own
    (weight 1 each), so N stays N (one day holding both extremes is one typical day,
    ``peak_import+pv_export``). Everything is deterministic: same scenario, same days.

Table (:func:`typical_days`, written by :func:`write_days` as CSV)
    One row per typical day, in date order: ``scenario``, ``day`` (0..N-1), ``date``
    (ISO ``YYYY-MM-DD``, a day of 2016), ``weight`` (days of the year it stands for),
    ``extreme`` (``peak_import``, ``pv_export`` or empty), ``cluster`` (tsam's cluster
    number), ``peak_import_kw`` and ``max_export_kw`` (the day's uncontrolled feeder
    extremes), ``members`` (the ISO dates it stands for, space-separated, itself included).
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from grids.networks.feeder import Feeder
from sims.homes import profile_data
from sims.homes.population import draw_homes, home_series
from testbed.scenario import Scenario

YEAR = profile_data.PROFILE_YEAR
N_YEAR_DAYS = 366
CLUSTER_COLUMNS = ("base_kw", "pv_kw", "ev_kw", "hp_kw")
DAY_COLUMNS = ("scenario", "day", "date", "weight", "extreme", "cluster", "peak_import_kw",
               "max_export_kw", "members")
PEAK, EXPORT = "peak_import", "pv_export"
_HOMES_PER_CHUNK = 48  # bounds the memory of the year's per-home arrays


def year_dates() -> list[dt.date]:
    """The 366 dates of the profile year 2016."""
    first = dt.date(YEAR, 1, 1)
    return [first + dt.timedelta(days=d) for d in range(N_YEAR_DAYS)]


def feeder_days(scenario: Scenario, feeder: Feeder) -> dict[str, np.ndarray]:
    """The feeder's uncontrolled total powers per day of 2016, ``[366, steps_per_day]`` [kW].

    Parameters
    ----------
    scenario
        The validated scenario (homes, penetrations, seed, step, time zone).
    feeder
        Its feeder (the homes' ids and buses).

    Returns
    -------
    dict of arrays
        ``base_kw``, ``pv_kw``, ``ev_kw``, ``hp_kw`` and ``net_kw`` (base + EV + heat pump -
        PV), summed over the homes; row ``d`` is what a one-day run of ``year_dates()[d]``
        sees at its steps.
    """
    year = scenario.with_overrides(start=dt.date(YEAR, 1, 1), days=N_YEAR_DAYS, control="none")
    ids = feeder.homes.index.tolist()
    specs = draw_homes(year, ids, [int(b) for b in feeder.homes.bus])
    totals = {c: np.zeros(year.n_steps) for c in CLUSTER_COLUMNS}
    for i in range(0, len(specs), _HOMES_PER_CHUNK):
        s = home_series(year, specs[i:i + _HOMES_PER_CHUNK])
        for c in CLUSTER_COLUMNS:
            totals[c] += getattr(s, c).sum(axis=1)
    # index of each local midnight in the span (elapsed steps from 1 January, 00:00 local)
    tz = scenario.timezone
    first = pd.Timestamp(dt.datetime(YEAR, 1, 1), tz=tz)
    mids = pd.DatetimeIndex([pd.Timestamp(dt.datetime.combine(d, dt.time()), tz=tz)
                             for d in year_dates()])
    offsets = ((mids - first).total_seconds().to_numpy() // scenario.step_s).astype(np.int64)
    spd = scenario.steps_per_day
    idx = offsets[:, None] + np.arange(spd)[None, :]
    if idx.max() >= year.n_steps:  # a zone ahead of its standard time at the year's end
        extra = idx.max() + 1 - year.n_steps
        raise ValueError(f"{scenario.timezone}: the year's last day ends {extra} step(s) "
                         f"after the profile span")
    out = {c: totals[c][idx] for c in CLUSTER_COLUMNS}
    out["net_kw"] = out["base_kw"] + out["ev_kw"] + out["hp_kw"] - out["pv_kw"]
    return out


def _frame(days: dict[str, np.ndarray], rows: np.ndarray, step_s: int) -> pd.DataFrame:
    """Some days as one regular series (tsam's input): one column each, a naive index."""
    spd = days["net_kw"].shape[1]
    index = pd.date_range(f"{YEAR}-01-01", periods=len(rows) * spd, freq=f"{step_s}s")
    cols = [c for c in CLUSTER_COLUMNS if np.ptp(days[c][rows]) > 0]
    return pd.DataFrame({c: days[c][rows].ravel() for c in [*cols, "net_kw"]}, index=index)


def _cluster(frame: pd.DataFrame, n: int, step_s: int, with_export: bool | None
             ) -> tuple[np.ndarray, list[int]]:
    """tsam's clusters of the frame's days: assignment per day and medoid day per cluster.

    ``with_export`` None: no extremes; else tsam's ``replace`` for the net import peak and,
    if True, the PV export (it keeps the assignment; see the module docstring).
    """
    import tsam
    from tsam.options import options

    extremes = None
    if with_export is not None:
        extremes = tsam.ExtremeConfig(method="replace", max_value=["net_kw"],
                                      min_value=["net_kw"] if with_export else [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tsam's notes on bounds and rescaling
        res = tsam.aggregate(
            frame, n, period_duration=24, temporal_resolution=step_s / 3600.0,
            cluster=tsam.ClusterConfig(method="hierarchical", representation="medoid"),
            extremes=extremes, weights={"net_kw": options.min_weight},
            preserve_column_means=False)
    c = res.clustering
    return np.asarray(c.cluster_assignments), [int(x) for x in c.cluster_centers]


def select_typical_days(days: dict[str, np.ndarray], n: int, step_s: int
                        ) -> pd.DataFrame:
    """Choose ``n`` typical days among the days of ``days`` (see the module docstring).

    Parameters
    ----------
    days
        ``base_kw``, ``pv_kw``, ``ev_kw``, ``hp_kw``, ``net_kw`` arrays ``[n_days, steps]``
        (:func:`feeder_days`); day ``d`` is ``year_dates()[d]``.
    n
        Number of typical days, 2 <= n <= number of days (3 if both extremes fall into one
        of 2 clusters).
    step_s
        Step length [s].

    Returns
    -------
    DataFrame
        The table of the module docstring without the ``scenario`` column.
    """
    n_days = days["net_kw"].shape[0]
    if not 2 <= n <= n_days:
        raise ValueError(f"typical days: n must be in 2..{n_days} (got {n})")
    net = days["net_kw"]
    peak_day = int(net.max(axis=1).argmax())
    with_export = bool(days["pv_kw"].max() > 0)
    export_day = int(net.min(axis=1).argmin()) if with_export else peak_day
    everyone = np.arange(n_days)
    order, reps = _cluster(_frame(days, everyone, step_s), n, step_s, with_export)
    extreme = dict.fromkeys(range(len(reps)), "")
    if export_day != peak_day and order[peak_day] == order[export_day]:
        # both extremes in one cluster: N - 2 clusters of the other days, and the two
        # extremes as days of their own
        if n < 3:
            raise ValueError(f"typical days: both extremes fall into one of {n} clusters; "
                             f"choose n >= 3 (got {n})")
        rest = everyone[(everyone != peak_day) & (everyone != export_day)]
        sub_order, sub_reps = _cluster(_frame(days, rest, step_s), n - 2, step_s, None)
        order = np.empty(n_days, dtype=int)
        order[rest] = sub_order
        order[peak_day], order[export_day] = n - 2, n - 1
        reps = [int(rest[r]) for r in sub_reps] + [peak_day, export_day]
        extreme = dict.fromkeys(range(n), "")
    for day, kind in [(peak_day, PEAK)] + ([(export_day, EXPORT)] if with_export else []):
        c = int(order[day])
        reps[c] = day
        extreme[c] = f"{extreme[c]}+{kind}" if extreme[c] else kind
    dates = year_dates()[:n_days]
    rows = []
    for c, rep in enumerate(reps):
        members = np.flatnonzero(order == c)
        rows.append({
            "date": dates[rep].isoformat(), "weight": int(len(members)),
            "extreme": extreme[c], "cluster": c,
            "peak_import_kw": float(net[rep].max()),
            "max_export_kw": float(max(0.0, -net[rep].min())),
            "members": " ".join(dates[m].isoformat() for m in members),
        })
    table = pd.DataFrame(rows).sort_values("date", ignore_index=True)
    table.insert(0, "day", np.arange(len(table)))
    if table.weight.sum() != n_days or len(table) != n:
        raise RuntimeError(f"typical days: {len(table)} days with weights summing to "
                           f"{table.weight.sum()} (expected {n} and {n_days})")
    return table


def typical_days(scenario: Scenario, feeder: Feeder, n: int = 15) -> pd.DataFrame:
    """The scenario's ``n`` typical days with their weights (the module's table).

    Parameters
    ----------
    scenario
        The validated scenario.
    feeder
        Its feeder.
    n
        Number of typical days.
    """
    table = select_typical_days(feeder_days(scenario, feeder), n, scenario.step_s)
    table.insert(0, "scenario", scenario.name)
    return table[list(DAY_COLUMNS)]


def all_days(scenario: Scenario) -> pd.DataFrame:
    """Every day of 2016 with weight 1 (the reference of the typical days), same columns."""
    dates = [d.isoformat() for d in year_dates()]
    return pd.DataFrame({"scenario": scenario.name, "day": np.arange(len(dates)),
                         "date": dates, "weight": 1, "extreme": "", "cluster": np.arange(
                             len(dates)), "peak_import_kw": np.nan, "max_export_kw": np.nan,
                         "members": dates})[list(DAY_COLUMNS)]


def write_days(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a days table as CSV (columns of the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.6g")
    return path


def read_days(path: str | Path) -> pd.DataFrame:
    """Read a days table written by :func:`write_days`."""
    return pd.read_csv(path, dtype={"extreme": str, "members": str, "date": str,
                                    "scenario": str, "days_key": str},
                       keep_default_na=False, na_values={"peak_import_kw": [""],
                                                         "max_export_kw": [""]})
