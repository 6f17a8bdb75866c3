"""The home tariff: Time-of-Use import prices by local time of day, a flat export price.

One type for every actor and the study layer: the scenario reads it from its ``[tariff]``
table, the CEMS plans against it, the aggregator's market settles with it, the KPIs bill with
it. A tariff is a list of periods covering the day, each with its import price; a step takes
the price of the period its start falls in.

Two views of the same tariff:

- by local wall-clock time, for timestamps of a run (:meth:`Tariff.import_prices`; what the
  bill of the KPIs uses, daylight-saving days included);
- by step of a day of equal steps from midnight (:meth:`Tariff.prices`,
  :meth:`Tariff.bill_eur`; what the CEMS plans with). :meth:`Tariff.for_times` re-expresses
  a tariff on the steps of a run day (one period per step, the price at each step's local
  time), so that the CEMS of a home sees on a daylight-saving day exactly what it is billed.

The export price must stay below every import price for the CEMS (checked by the scenario's
validation and by :meth:`sims.homes.cems.CemsInput.problems`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sims.config import Config

__all__ = ["Tariff", "TouPeriod", "price_matrix"]

DAY_MIN = 1440


@dataclass(frozen=True)
class TouPeriod:
    """One Time-of-Use period: import price from ``start_min`` (inclusive) to ``end_min``.

    Minutes of the local day (0-1440); ``end_min`` may be 1440.
    """

    start_min: float
    end_min: float
    import_eur_per_kwh: float


@dataclass(frozen=True)
class Tariff(Config):
    """A home tariff: ToU import prices by time of day and a flat export price.

    Parameters
    ----------
    name
        Label for reports.
    periods
        Import-price periods in time order, covering the day without gap or overlap.
    export_eur_per_kwh
        Export price [EUR/kWh].
    standing_eur_per_day
        Standing charge [EUR/day] (in the KPIs' bills, not in the CEMS objective).
    """

    name: str
    periods: tuple[TouPeriod, ...]
    export_eur_per_kwh: float
    standing_eur_per_day: float = 0.0

    def __post_init__(self):  # period starts for look-ups (not a field)
        object.__setattr__(self, "_starts",
                           np.array([p.start_min for p in self.periods], dtype=float))

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_step_prices(cls, import_eur_per_kwh, export_eur_per_kwh: float,
                         name: str = "tou", standing_eur_per_day: float = 0.0) -> Tariff:
        """A tariff of one period per step of a day of ``len(import_eur_per_kwh)`` steps.

        Parameters
        ----------
        import_eur_per_kwh
            Import price of each step [EUR/kWh], steps of equal length from midnight.
        export_eur_per_kwh
            Export price [EUR/kWh].
        name, standing_eur_per_day
            As for :class:`Tariff`.
        """
        prices = np.asarray(import_eur_per_kwh, dtype=float)
        if prices.ndim != 1 or prices.size == 0:
            raise ValueError(f"tariff {name!r}: expected a 1-D array of step prices, "
                             f"got shape {prices.shape}")
        width = DAY_MIN / prices.size
        periods = tuple(TouPeriod(k * width, (k + 1) * width, float(p))
                        for k, p in enumerate(prices.tolist()))
        return cls(name, periods, float(export_eur_per_kwh), float(standing_eur_per_day))

    def for_times(self, times) -> Tariff:
        """This tariff on the steps of a run day: one period per step, priced at its time.

        Parameters
        ----------
        times
            The tz-aware start of each step of one day (local wall-clock time decides).
        """
        return Tariff.from_step_prices(self.import_prices(times), self.export_eur_per_kwh,
                                       self.name, self.standing_eur_per_day)

    # ---------------------------------------------------------------- by local time
    def import_price(self, minute_of_day: float) -> float:
        """Import price [EUR/kWh] at a local minute of the day (0-1439)."""
        for p in self.periods:
            if p.start_min <= minute_of_day < p.end_min:
                return p.import_eur_per_kwh
        raise ValueError(f"tariff {self.name}: no period covers minute {minute_of_day}")

    def import_prices(self, times) -> np.ndarray:
        """Import price [EUR/kWh] at each tz-aware timestamp (its local wall-clock time)."""
        t = pd.DatetimeIndex(times)
        minutes = np.asarray(t.hour * 60 + t.minute)
        prices = np.array([p.import_eur_per_kwh for p in self.periods])
        return prices[np.searchsorted(self._starts, minutes, side="right") - 1]

    # ---------------------------------------------------------------- by step of a day
    def prices(self, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Import and export price of each of ``n_steps`` equal steps from midnight.

        Raises
        ------
        ValueError
            A step starts in no period, or a price is not finite.
        """
        starts = np.arange(n_steps) * (DAY_MIN / n_steps)
        k = np.searchsorted(self._starts, starts, side="right") - 1
        ends = np.array([p.end_min for p in self.periods])
        bad = np.flatnonzero((k < 0) | (starts >= ends[np.maximum(k, 0)]))
        if bad.size:
            t = int(bad[0])
            raise ValueError(f"tariff {self.name!r}: no period covers step {t} "
                             f"({starts[t]:.0f} min)")
        imp = np.array([self.periods[i].import_eur_per_kwh for i in k.tolist()])
        exp = np.full(n_steps, float(self.export_eur_per_kwh))
        for name, arr in (("import", imp), ("export", exp)):
            if not np.all(np.isfinite(arr)):
                t = int(np.flatnonzero(~np.isfinite(arr))[0])
                raise ValueError(f"tariff {self.name!r}: {name} price at step {t} is not "
                                 f"finite ({arr[t]})")
        return imp, exp

    def bill_eur(self, net_kw, step_h: float) -> float:
        """Bill of a day's net power [EUR]: import * import price - export * export price.

        Parameters
        ----------
        net_kw
            Net power per step [kW] (> 0 import), equal steps from midnight.
        step_h
            Step length [h].
        """
        net = np.asarray(net_kw, dtype=float)
        imp, exp = self.prices(net.size)
        return float(step_h * (imp @ np.maximum(net, 0.0) - exp @ np.maximum(-net, 0.0)))


def price_matrix(tariffs, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Import and export prices of many homes, ``[n_homes, n_steps]`` each [EUR/kWh].

    Parameters
    ----------
    tariffs
        One :class:`Tariff` per home.
    n_steps
        Steps of the day.
    """
    prices = [t.prices(n_steps) for t in tariffs]
    imp = np.array([p[0] for p in prices]).reshape(len(prices), n_steps)
    exp = np.array([p[1] for p in prices]).reshape(len(prices), n_steps)
    return imp, exp
