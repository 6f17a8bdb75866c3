"""The uncontrolled home: balance, battery self-consumption rule, reactive power."""

from __future__ import annotations

import math

import pytest

from sims.homes.devices import Battery, HomeSpec
from sims.homes.home_model import HomeModel


def test_home_without_battery_is_the_device_balance():
    home = HomeModel(HomeSpec("H1", 0, "H0-A", 3000.0, power_factor=0.95), step_s=900)
    s = home.step(base_kw=1.0, pv_kw=3.0, ev_kw=0.5, hp_kw=2.0)
    assert s.p_kw == pytest.approx(0.5)
    assert s.q_kvar == pytest.approx(3.0 * math.tan(math.acos(0.95)))
    assert s.battery_kw == 0.0 and s.soc == 0.0


def test_battery_charges_from_surplus_and_discharges_to_demand_by_hand():
    # 10 kWh, 3 kW, round trip 0.81 -> 0.9 each way; SoC 0.5, limits 0.1-0.9; 1 h steps.
    bat = Battery(capacity_kwh=10.0, power_kw=3.0, efficiency_roundtrip=0.81)
    home = HomeModel(HomeSpec("H1", 0, "H0-A", 3000.0, pv_kwp=5.0, battery=bat), step_s=3600)
    s = home.step(base_kw=1.0, pv_kw=3.0, ev_kw=0.0, hp_kw=0.0)  # 2 kW surplus
    assert s.battery_kw == pytest.approx(2.0) and s.p_kw == pytest.approx(0.0)
    assert s.soc == pytest.approx(0.5 + 2.0 * 0.9 / 10.0)  # 0.68
    # 5 kW surplus: the 3 kW cap does not bind, the room to SoC 0.9 does:
    # 0.9 - 0.68 = 0.22 -> 2.2 kWh stored = 2.2 / 0.9 kWh at the terminals over 1 h.
    s = home.step(base_kw=0.0, pv_kw=5.0, ev_kw=0.0, hp_kw=0.0)
    assert s.battery_kw == pytest.approx(2.2 / 0.9) and s.p_kw == pytest.approx(-5.0 + 2.2 / 0.9)
    assert s.soc == pytest.approx(0.9)
    # 1 kW demand: discharge 1 kW, SoC falls by 1 / 0.9 / 10.
    s = home.step(base_kw=1.0, pv_kw=0.0, ev_kw=0.0, hp_kw=0.0)
    assert s.battery_kw == pytest.approx(-1.0) and s.p_kw == pytest.approx(0.0)
    assert s.soc == pytest.approx(0.9 - 1.0 / 0.9 / 10.0)


def test_battery_respects_soc_limits_by_hand():
    bat = Battery(capacity_kwh=10.0, power_kw=3.0, efficiency_roundtrip=0.81, soc_init=0.85)
    home = HomeModel(HomeSpec("H1", 0, "H0-A", 3000.0, pv_kwp=5.0, battery=bat), step_s=3600)
    # Room to 0.9 is 0.5 kWh stored = 0.5/0.9 kWh at the terminals.
    s = home.step(base_kw=0.0, pv_kw=5.0, ev_kw=0.0, hp_kw=0.0)
    assert s.battery_kw == pytest.approx(0.5 / 0.9)
    assert s.soc == pytest.approx(0.9)
    assert s.p_kw == pytest.approx(-5.0 + 0.5 / 0.9)
    # Discharge: 0.8 of 10 kWh above the 0.1 floor = 8 kWh stored -> 7.2 kWh delivered,
    # capped by 3 kW; demand 4 kW -> 3 kW from the battery, 1 kW imported.
    s = home.step(base_kw=4.0, pv_kw=0.0, ev_kw=0.0, hp_kw=0.0)
    assert s.battery_kw == pytest.approx(-3.0) and s.p_kw == pytest.approx(1.0)
    assert s.soc == pytest.approx(0.9 - 3.0 / 0.9 / 10.0)
