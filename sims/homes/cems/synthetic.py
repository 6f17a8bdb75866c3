"""Random but realistic home days, reproducible from a seed (for the benchmark and tests).

Not the scenario's profiles (those come from simbench in the home simulator): simple shapes
with UK-like sizes, enough to exercise every device of the CEMS. Each home draws from its own
child of ``numpy.random.SeedSequence(seed)``.
"""

from __future__ import annotations

import numpy as np

from sims.homes.cems.assets import (
    APPLIANCE_CYCLES,
    CATEGORIES,
    ApplianceCycle,
    CemsInput,
    EvSession,
    Tariff,
    ThermalLoad,
    ThermalStore,
    tou_tariff,
)
from sims.homes.devices import Battery, ElectricVehicle, HomeSpec

__all__ = ["APPLIANCE_LIBRARY", "random_home", "random_homes"]

APPLIANCE_LIBRARY = APPLIANCE_CYCLES
"""The cycles the random homes draw from (see :data:`sims.homes.cems.assets.APPLIANCE_CYCLES`)."""


def _base_shape(hours: np.ndarray) -> np.ndarray:
    """A domestic daily shape: night floor, morning and evening peaks [-], mean 1."""
    s = (
        0.45
        + 0.6 * np.exp(-0.5 * ((hours - 7.5) / 1.2) ** 2)
        + 1.3 * np.exp(-0.5 * ((hours - 18.5) / 2.0) ** 2)
        + 0.25 * np.exp(-0.5 * ((hours - 13.0) / 2.5) ** 2)
    )
    return s / s.mean()


def random_home(
    rng: np.random.Generator, index: int, n_steps: int = 96, buildings: bool = False
) -> CemsInput:
    """One random home day (see the module docstring).

    ``buildings``: the thermal load is a heat pump heating its building (a
    :class:`ThermalStore`, drawn like :mod:`sims.homes.population` draws it), else a water
    heater with an ideal store (daily energy only). Same draws either way.
    """
    dt = 24.0 / n_steps
    hours = (np.arange(n_steps) + 0.5) * dt
    annual = rng.uniform(2500, 5500)
    base = annual / 365.0 / 24.0 * _base_shape(hours) * rng.lognormal(0.0, 0.35, n_steps)
    pv_kwp = float(rng.choice([0, 0, 3, 4, 5, 6, 12])) if rng.random() < 0.6 else 0.0
    day_len = rng.uniform(8.0, 16.0)
    sun = np.clip(np.cos(np.pi * (hours - 12.5) / day_len), 0.0, None) ** 1.5
    pv = pv_kwp * 0.8 * sun * rng.uniform(0.4, 1.0) * np.clip(rng.normal(1.0, 0.1, n_steps), 0, 1.2)
    battery = None
    if rng.random() < 0.35:
        cap = float(rng.choice([5.0, 7.0, 10.0, 13.5]))
        battery = Battery(
            cap, float(min(5.0, cap / 2)), 0.9, 0.1, 0.9, float(rng.uniform(0.2, 0.8))
        )
    cat = CATEGORIES[str(rng.choice(list(CATEGORIES)))]
    ev = None
    sessions: tuple[EvSession, ...] = ()
    if rng.random() < 0.35:
        kw = float(rng.choice([3.7, 7.4, 11.0]))
        ev = ElectricVehicle(kw, f"EV_{kw}")
        arr = int(rng.integers(int(16.5 / dt), int(20.5 / dt)))
        dep = min(n_steps, arr + int(cat.ev_plug_extension_h / dt) + int(rng.integers(4, 12)))
        need = float(min(rng.uniform(4.0, 18.0), 0.9 * kw * (dep - arr) * dt))
        sessions = (EvSession(arr, dep, need),)
    apps = []
    for name, prof in APPLIANCE_LIBRARY.items():
        if rng.random() < 0.5:
            pref = int(rng.integers(int(7 / dt), int(21 / dt)))
            first = max(0, pref - int(cat.shift_before_h / dt))
            last_end = min(n_steps, pref + len(prof) + int(cat.shift_after_h / dt))
            pref = min(pref, n_steps - len(prof))
            first = min(first, pref)
            last_end = max(last_end, pref + len(prof))
            apps.append(ApplianceCycle(name, prof, first, last_end, pref))
    rated, ref = 0.0, np.zeros(n_steps)
    if rng.random() < 0.3:
        rated = float(rng.choice([3.0, 3.0, 2.0]))
        for h0, e in ((6.0, rng.uniform(1.5, 3.5)), (18.0, rng.uniform(1.5, 3.5))):
            k, left = int(h0 / dt), e
            while left > 1e-9 and k < n_steps:
                ref[k] = min(rated, left / dt)
                left -= ref[k] * dt
                k += 1
    tariff = (
        tou_tariff(n_steps)
        if rng.random() < 0.7
        else Tariff.from_step_prices(np.full(n_steps, 0.25), 0.05, name="flat")
    )
    # A heat pump's building (drawn after everything above, so the earlier draws are
    # unchanged): COP, time constant and a heat loss sized to the rating, as
    # sims.homes.population draws them; the band from the category.
    cop = float(rng.uniform(2.2, 3.0))
    tau_h = float(rng.uniform(10.0, 50.0))
    thermal = None
    if rated > 0:
        loss = rated * cop / 24.0
        band = {"flexible": 2.0, "moderate": 1.0, "comfort_first": 0.5}[cat.name]
        store = ThermalStore(tau_h * loss, loss, cop, 0.0, band) if buildings else None
        thermal = ThermalLoad(rated, float(ref.sum() * dt), ref, store)
    home = HomeSpec(
        home_id=f"H{index + 1:03d}",
        bus=index,
        base_profile="H0-A",
        annual_kwh=annual,
        pv_kwp=pv_kwp,
        battery=battery,
        ev=ev,
        cems=True,
    )
    return CemsInput(
        home=home,
        base_kw=base,
        pv_kw=pv,
        tariff=tariff,
        step_h=dt,
        ev_sessions=sessions,
        appliances=tuple(apps),
        thermal=thermal,
        category=cat,
    )


def random_homes(
    n: int, seed: int = 0, n_steps: int = 96, buildings: bool = False
) -> list[CemsInput]:
    """``n`` random home days from ``seed`` (one SeedSequence child per home); ``buildings``
    as in :func:`random_home`."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [
        random_home(np.random.default_rng(c), i, n_steps, buildings)
        for i, c in enumerate(children)
    ]
