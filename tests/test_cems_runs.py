"""The CEMS inside the co-simulation: bills, untouched homes, forecast error, fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sims.homes import fleet
from sims.homes.cems import fallback_plan
from testbed.results import read_run
from testbed.run import run_scenario

from .conftest import scenario_with


def _scenario(tmp_path, name: str, **fields):
    return scenario_with(tmp_path, name, n_homes=20, **fields)


@pytest.fixture(scope="module")
def perfect(tmp_path_factory):
    """20 homes, 70 % with a CEMS, every home with smart appliances, perfect forecasts."""
    tmp = tmp_path_factory.mktemp("cems")
    s = _scenario(tmp, "perfect", cems=0.7, smart_appliances=1.0, pv=0.6, battery=0.4,
                  base_error=0.0, pv_error=0.0)
    none = run_scenario(s.with_overrides(control="none"), tmp / "none", progress=False)
    cems = run_scenario(s.with_overrides(control="cems"), tmp / "cems", progress=False)
    return read_run(none.out_dir), read_run(cems.out_dir)


def test_no_home_pays_more_with_its_cems_under_perfect_forecasts(perfect):
    none, cems = perfect
    a = none["home_kpis"].set_index("home_id")
    b = cems["home_kpis"].set_index("home_id")
    controlled = b.index[b.controlled]
    assert len(controlled) == 14
    assert (b.loc[controlled, "bill_eur"] <= a.loc[controlled, "bill_eur"] + 1e-6).all()
    assert b.bill_eur.sum() < a.bill_eur.sum()  # and the CEMS saves something in total
    assert cems["kpis"]["homes.cems_homes"] == 14
    assert cems["kpis"]["homes.cems_fallback_home_days"] == 0


def test_homes_without_cems_behave_identically(perfect):
    none, cems = perfect
    b = cems["home_kpis"].set_index("home_id")
    free = b.index[~b.controlled]
    assert len(free) == 6
    x = none["homes"].set_index(["home_id", "time"]).loc[free].sort_index()
    y = cems["homes"].set_index(["home_id", "time"]).loc[free].sort_index()
    np.testing.assert_array_equal(x.p_kw.to_numpy(), y.p_kw.to_numpy())


def test_cems_homes_keep_their_energy_needs(perfect):
    none, cems = perfect
    for col in ("ev_kw", "hp_kw", "appliance_kw"):
        a = none["homes"].groupby("home_id")[col].sum()
        b = cems["homes"].groupby("home_id")[col].sum()
        pd.testing.assert_series_equal(a, b, atol=1e-6, rtol=1e-9)
    assert (cems["homes"].p_kw <= 23.0 + 1e-9).all()


def test_forecast_error_is_absorbed_and_plans_are_logged(tmp_path):
    s = _scenario(tmp_path, "noisy", cems=1.0, smart_appliances=1.0, base_error=0.3,
                  pv_error=0.3)
    r = read_run(run_scenario(s.with_overrides(control="cems"), tmp_path / "run",
                              progress=False).out_dir)
    plans = pd.read_parquet(tmp_path / "run" / "cems_plans.parquet")
    assert len(plans) == 20 and (plans.status == "optimal").all()
    assert r["homes"].controlled.all()
    # Actual bills differ from the planned ones: the forecast was wrong.
    planned = plans.set_index("home_id").planned_bill_eur
    actual = r["home_kpis"].set_index("home_id").bill_eur
    assert (planned - actual).abs().max() > 1e-3


def test_fallbacks_are_flagged_and_counted(tmp_path, monkeypatch):
    s = _scenario(tmp_path, "fail", cems=0.5)
    monkeypatch.setattr(fleet, "plan_day",
                        lambda inp: fallback_plan(inp, "infeasible", "forced in a test"))
    r = read_run(run_scenario(s.with_overrides(control="cems"), tmp_path / "run",
                              progress=False).out_dir)
    assert r["kpis"]["homes.cems_fallback_home_days"] == 10.0
    assert r["homes"].fallback.sum() == 10 * 96
    plans = pd.read_parquet(tmp_path / "run" / "cems_plans.parquet")
    assert (plans.reason == "forced in a test").all() and plans.fallback.all()
