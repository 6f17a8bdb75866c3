"""KPIs on small cases computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from testbed.kpis import community_kpis, grid_kpis, home_kpis
from testbed.scenario import Tariff, TouPeriod

T = pd.date_range("2016-01-20 06:30", periods=3, freq="30min", tz="Europe/London")
TARIFF = Tariff("two-rate", (TouPeriod(0, 420, 0.10), TouPeriod(420, 1440, 0.30)),
                export_eur_per_kwh=0.05, standing_eur_per_day=0.5)


def test_import_prices_follow_local_wall_clock():
    assert TARIFF.import_prices(T).tolist() == [0.10, 0.30, 0.30]
    summer = pd.DatetimeIndex(["2016-07-01 06:59+01:00", "2016-07-01 07:00+01:00"])
    assert TARIFF.import_prices(summer.tz_convert("Europe/London")).tolist() == [0.10, 0.30]


def test_home_kpis_by_hand():
    # Two homes, three 30-min steps (dt = 0.5 h).
    # A: p = 2, -1, 4 kW; PV 0, 3, 0; demand (base+ev+hp) = 2, 2, 4.
    #    import 1 + 0 + 2 = 3 kWh; export 0.5 kWh; PV 1.5 kWh; demand 4 kWh.
    #    bill = 1*0.10 + 2*0.30 - 0.5*0.05 + 0.5 standing (1 day) = 1.175 EUR
    #    self-consumed = 1.5 - 0.5 = 1.0 -> self-consumption 2/3, self-sufficiency 1/4;
    #    peak import 4 kW.
    # B: p = 1, 1, 1 kW, no PV; import 1.5 kWh; bill = 0.05 + 0.15 + 0.15 + 0.5 = 0.85 EUR.
    homes = pd.DataFrame({
        "time": list(T) * 2,
        "home_id": ["A"] * 3 + ["B"] * 3,
        "p_kw": [2.0, -1.0, 4.0, 1.0, 1.0, 1.0],
        "pv_kw": [0.0, 3.0, 0.0, 0.0, 0.0, 0.0],
        "base_kw": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        "ev_kw": [0.0, 0.0, 3.0, 0.0, 0.0, 0.0],
        "hp_kw": [1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
    })
    per = home_kpis(homes, TARIFF, step_s=1800, days=1).set_index("home_id")
    assert per.loc["A", "import_kwh"] == pytest.approx(3.0)
    assert per.loc["A", "export_kwh"] == pytest.approx(0.5)
    assert per.loc["A", "bill_eur"] == pytest.approx(1.175)
    assert per.loc["A", "self_consumption"] == pytest.approx(2 / 3)
    assert per.loc["A", "self_sufficiency"] == pytest.approx(0.25)
    assert per.loc["A", "peak_import_kw"] == 4.0
    assert per.loc["B", "bill_eur"] == pytest.approx(0.85)
    assert pd.isna(per.loc["B", "self_consumption"])
    assert per.loc["B", "self_sufficiency"] == 0.0
    # Community: totals per step 3, 0, 5 kW -> peak 5, mean 8/3, PAR 15/8.
    # self-consumption 1.0/1.5; self-sufficiency 1.0/(4 + 1.5).
    c = community_kpis(homes, per.reset_index())
    assert c["homes.total_bill_eur"] == pytest.approx(2.025)
    assert c["homes.peak_import_kw"] == 5.0
    assert c["homes.peak_to_average"] == pytest.approx(15 / 8)
    assert c["homes.self_consumption"] == pytest.approx(2 / 3)
    assert c["homes.self_sufficiency"] == pytest.approx(1.0 / 5.5)


def test_grid_kpis_by_hand():
    # Three 15-min steps; step 2 did not converge (NaN) and is excluded.
    # Trafo 500 kVA at 90, NaN, 120 % -> overload 15 min, energy above rating
    # (1.2 - 1) * 500 kVA * 0.25 h = 25 kVAh. Line at 50, NaN, 101 % -> same step.
    # LV buses b1, b2: b1 0.95, NaN, 1.12 (step 3 above 1.10); b2 0.93 (below 0.94), NaN, 1.0.
    # MV bus at 1.2 is outside the band but not an LV bus.
    t = pd.date_range("2016-01-20", periods=3, freq="15min", tz="Europe/London")
    nan = float("nan")
    buses = pd.DataFrame({"time": list(t) * 3, "bus_id": ["b1"] * 3 + ["b2"] * 3 + ["MV"] * 3,
                          "vm_pu": [0.95, nan, 1.12, 0.93, nan, 1.0, 1.2, nan, 1.2]})
    lines = pd.DataFrame({"time": t, "line_id": "l1", "loading_percent": [50.0, nan, 101.0]})
    trafo = pd.DataFrame({"time": t, "trafo_id": "T1", "loading_percent": [90.0, nan, 120.0],
                          "p_mw": [0.4, nan, 0.55], "q_mvar": 0.1, "sn_mva": 0.5})
    grid = pd.DataFrame({"time": t, "losses_mw": [0.004, nan, 0.012],
                         "converged": [True, False, True]})
    k = grid_kpis(buses, lines, trafo, grid, step_s=900, vm_min_pu=0.94, vm_max_pu=1.10,
                  band_bus_ids=["b1", "b2"], converged_only=True)
    assert k["grid.max_trafo_loading_percent"] == 120.0
    assert k["grid.overload_minutes"] == 15.0
    assert k["grid.trafo_overload_minutes"] == 15.0
    assert k["grid.trafo_energy_above_rating_kvah"] == pytest.approx(25.0)
    assert k["grid.vm_min_pu"] == 0.93 and k["grid.vm_max_pu"] == 1.12
    assert k["grid.voltage_violation_minutes"] == 30.0
    assert k["grid.voltage_violations"] == 2
    assert k["grid.losses_kwh"] == pytest.approx((0.004 + 0.012) * 1000 * 0.25)
    assert k["grid.nonconverged_steps"] == 1
    everything = grid_kpis(buses, lines, trafo, grid, step_s=900, vm_min_pu=0.94,
                           vm_max_pu=1.10, converged_only=True)
    assert everything["grid.vm_max_pu"] == 1.2 and everything["grid.voltage_violations"] == 4


def test_grid_kpis_are_null_when_a_step_did_not_converge():
    # the case above with its load flow failed at step 2: an overload, a violation or the
    # losses of that step are unknown, so no grid KPI may read 0 (healthy); only the count
    t = pd.date_range("2016-01-20", periods=3, freq="15min", tz="Europe/London")
    nan = float("nan")
    buses = pd.DataFrame({"time": t, "bus_id": "b1", "vm_pu": [0.95, nan, 1.0]})
    lines = pd.DataFrame({"time": t, "line_id": "l1", "loading_percent": [50.0, nan, 60.0]})
    trafo = pd.DataFrame({"time": t, "trafo_id": "T1", "loading_percent": [90.0, nan, 80.0],
                          "p_mw": [0.4, nan, 0.35], "q_mvar": 0.1, "sn_mva": 0.5})
    grid = pd.DataFrame({"time": t, "losses_mw": [0.004, nan, 0.003],
                         "converged": [True, False, True]})
    k = grid_kpis(buses, lines, trafo, grid, step_s=900, vm_min_pu=0.94, vm_max_pu=1.10)
    assert k.pop("grid.nonconverged_steps") == 1
    assert len(k) == 10 and all(math.isnan(v) for v in k.values()), k
    ok = grid_kpis(buses, lines, trafo, grid.assign(converged=True).fillna(0.0), step_s=900,
                   vm_min_pu=0.94, vm_max_pu=1.10)
    assert ok["grid.overload_minutes"] == 0.0 and ok["grid.nonconverged_steps"] == 0
