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
    out = read_run(none.out_dir), read_run(cems.out_dir)
    out[1]["dir"] = cems.out_dir
    return out


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
    for col in ("ev_kw", "appliance_kw"):
        a = none["homes"].groupby("home_id")[col].sum()
        b = cems["homes"].groupby("home_id")[col].sum()
        pd.testing.assert_series_equal(a, b, atol=1e-6, rtol=1e-9)
    # the heat pump delivers at least its day's heat: never less electricity than without a
    # CEMS (more when it pre-heats: a warmer house loses more), and at most what its
    # building's band can add in losses (H * band * 24 h / COP, every home at the band's top
    # all day)
    a = none["homes"].groupby("home_id").hp_kw.sum() * 0.25
    b = cems["homes"].groupby("home_id").hp_kw.sum() * 0.25
    assert (b >= a - 1e-6).all() and (b > a + 1e-3).any()
    specs = {h.home_id: h for h in _homes(cems)}
    assert {h for h, x in specs.items() if x.heat_pump} == set(a.index[a > 0])
    for hid in a.index[a > 0]:
        hp = specs[hid].heat_pump
        assert b[hid] - a[hid] <= hp.heat_loss_kw_per_k * hp.comfort_band_k * 24 / hp.cop + 1e-6
    assert (cems["homes"].p_kw <= 23.0 + 1e-9).all()


def _homes(run):
    """The homes a run drew (from the scenario as run, in its folder)."""
    from sims.homes.population import draw_homes
    from testbed.scenario import load_scenario

    s = load_scenario(run["dir"] / "scenario.toml")
    ids = sorted(run["home_kpis"].home_id)  # H001, H002... : the feeder's home order
    return draw_homes(s, ids, list(range(len(ids))))


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
