"""Small hand-checkable homes for the CEMS tests."""

from __future__ import annotations

import numpy as np

from sims.homes.cems import CATEGORIES, CemsInput, Tariff
from sims.homes.devices import Battery, ElectricVehicle, HomeSpec


def home(battery=None, ev=None, max_import_kw=23.0, max_export_kw=23.0, hid="T001") -> HomeSpec:
    return HomeSpec(
        hid,
        0,
        "H0-A",
        3000.0,
        battery=battery,
        ev=ev,
        cems=True,
        max_import_kw=max_import_kw,
        max_export_kw=max_export_kw,
    )


def hourly(base, prices, export=0.0, pv=None, category="flexible", **kw) -> CemsInput:
    """A day of len(prices) one-hour steps."""
    n = len(prices)
    base = np.broadcast_to(np.asarray(base, dtype=float), (n,)).copy()
    pv = np.zeros(n) if pv is None else np.asarray(pv, dtype=float)
    h = kw.pop("home", None) or home(
        kw.pop("battery", None), kw.pop("ev", None), kw.pop("max_import_kw", 23.0)
    )
    return CemsInput(
        home=h,
        base_kw=base,
        pv_kw=pv,
        tariff=Tariff.from_step_prices(prices, export),
        step_h=1.0,
        category=CATEGORIES[category],
        **kw,
    )


__all__ = ["Battery", "ElectricVehicle", "home", "hourly"]
