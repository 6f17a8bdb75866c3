"""The connection limit is a scenario field; a home measured beyond it is flagged.

Before: 23 kW was fixed in ``sims/homes/devices.py`` and a 37 kW uncontrolled heat-pump home
passed unflagged.
"""

from __future__ import annotations

import pandas as pd
import pytest

import cosim
from grids.networks.loaders import load_feeder
from sims.homes.population import draw_homes
from testbed.kpis import community_kpis, home_kpis
from testbed.prechecks import APPLIANCES_KW, connection_warning, uncontrolled_over_limit
from testbed.results import read_run
from testbed.run import run_scenario
from testbed.scenario import DEFAULT_SCENARIO, Tariff, TouPeriod, load_scenario
from tests.conftest import scenario_with

T = pd.date_range("2016-01-20 00:00", periods=3, freq="15min", tz="Europe/London")
FLAT = Tariff("flat", (TouPeriod(0, 1440, 0.2),), export_eur_per_kwh=0.05)


def test_the_default_is_23_kw_and_reaches_every_home(tmp_path):
    assert load_scenario(DEFAULT_SCENARIO).connection_limit_kw == 23.0
    s = scenario_with(tmp_path, "lim", n_homes=6, connection_limit_kw=11.5)
    assert s.connection_limit_kw == 11.5
    homes = draw_homes(s, [f"H{i}" for i in range(6)], list(range(6)))
    assert {(h.max_import_kw, h.max_export_kw) for h in homes} == {(11.5, 11.5)}


def test_home_kpis_flag_import_and_export_beyond_the_limit():
    # limit 5 kW: A imports 6 kW once -> flagged; B exports 5.5 kW -> flagged;
    # C sits exactly at +5 and -5 kW -> not flagged.
    homes = pd.DataFrame({
        "time": list(T) * 3, "home_id": ["A"] * 3 + ["B"] * 3 + ["C"] * 3,
        "p_kw": [1.0, 6.0, 2.0, 0.0, -5.5, 1.0, 5.0, -5.0, 0.0],
        "pv_kw": [0.0] * 9, "base_kw": [1.0] * 9, "ev_kw": [0.0] * 9, "hp_kw": [0.0] * 9,
    })
    per = home_kpis(homes, FLAT, step_s=900, days=1, connection_limit_kw=5.0)
    assert per.set_index("home_id").over_connection_limit.to_dict() == {
        "A": True, "B": True, "C": False}
    assert community_kpis(homes, per)["homes.over_connection_limit_homes"] == 2
    assert "over_connection_limit" not in home_kpis(homes, FLAT, step_s=900, days=1)


@pytest.fixture(scope="module")
def hot(tmp_path_factory):
    """Six homes, every one with a 30-40 kW heat pump, control none: uncontrolled."""
    tmp = tmp_path_factory.mktemp("hot")
    return scenario_with(tmp, "hot", n_homes=6, heat_pump="1.0", ev="0.0",
                         heat_pump_kw="[30.0, 40.0]")


def test_the_warning_names_the_homes_whose_devices_exceed_the_limit(hot):
    feeder = load_feeder("reference", n_homes=6, n_feeders=2)
    homes = draw_homes(hot, feeder.homes.index.tolist(), [int(b) for b in feeder.homes.bus])
    rated = {h.home_id: h.heat_pump.rated_kw + (APPLIANCES_KW if h.smart_appliances else 0.0)
             for h in homes}
    assert uncontrolled_over_limit(hot, feeder) == rated  # every one is above 23 kW
    worst = max(rated, key=rated.get)
    assert connection_warning(hot, feeder) == (
        f"6 home(s) without a CEMS have devices rated above the 23 kW connection limit (EV "
        f"charger + heat pump + appliances; largest {worst}: {rated[worst]:.1f} kW); they run "
        "uncontrolled and any step above the limit is flagged (home_kpis over_connection_limit)")
    # from control cems on, only the homes without a CEMS run uncontrolled
    free = {h.home_id: rated[h.home_id] for h in homes if not h.cems}
    assert 0 < len(free) < 6
    assert uncontrolled_over_limit(hot.with_overrides(control="cems"), feeder) == free


def test_an_uncontrolled_home_beyond_the_limit_is_flagged_in_the_results(hot, tmp_path, capsys):
    out = tmp_path / "run"
    assert cosim.main(["run", "--scenario", str(hot.source), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("cosim: warning: 6 home(s) without a CEMS have devices rated "
                             "above the 23 kW connection limit")
    assert err[1].startswith("cosim: default: reference feeder")
    r = read_run(out)
    peak = r["homes"].groupby("home_id").p_kw.max()
    flags = r["home_kpis"].set_index("home_id").over_connection_limit
    assert peak.max() > 30.0  # a heat pump home draws well beyond its 23 kW connection
    pd.testing.assert_series_equal(flags.sort_index(), (peak > 23.0).sort_index(),
                                   check_names=False)
    assert r["kpis"]["homes.over_connection_limit_homes"] == int((peak > 23.0).sum()) > 0


def test_a_cems_plans_within_a_lower_limit_and_the_rest_are_flagged(tmp_path):
    """With perfect forecasts a CEMS home operates its plan, within the scenario's limit."""
    s = scenario_with(tmp_path, "low", n_homes=6, connection_limit_kw=9.0, cems="0.5",
                      ev="1.0", heat_pump="0.0", base_error="0.0", pv_error="0.0")
    r = read_run(run_scenario(s.with_overrides(control="cems"), tmp_path / "run",
                              progress=False).out_dir)
    h = r["homes"]
    peak = h.groupby("home_id").p_kw.max()
    planned = h[(h.controlled == 1) & (h.fallback == 0)]
    assert len(planned) and planned.p_kw.max() <= 9.0 + 1e-6
    flags = r["home_kpis"].set_index("home_id").over_connection_limit
    pd.testing.assert_series_equal(flags.sort_index(), (peak > 9.0 + 1e-6).sort_index(),
                                   check_names=False)
    assert flags.any()  # 11 kW chargers of uncontrolled homes go beyond 9 kW
