"""Load flows that do not converge: the run completes but says so (meta.json, one warning
line, exit 3), its grid KPIs that depend on the failed steps are null, never 0, the deferral
is not credible, the annual KPIs carry the nulls and the report shows a banner."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pandas as pd
import pytest

from testbed.annual import annual_kpis, district_kpis
from testbed.flex_kpis import flex_kpis
from tests.conftest import ROOT, small_scenario_text

GRID_KEYS = ("grid.max_trafo_loading_percent", "grid.max_line_loading_percent",
             "grid.overload_minutes", "grid.trafo_overload_minutes",
             "grid.trafo_energy_above_rating_kvah", "grid.vm_min_pu", "grid.vm_max_pu",
             "grid.voltage_violation_minutes", "grid.voltage_violations", "grid.losses_kwh")


def test_cosim_run_with_loads_the_grid_cannot_carry(tmp_path):
    """12 homes of 1.6 GWh a year each: the load flow fails at 69 of 96 steps. Before: exit
    0, no word, 0 overload minutes, 0 violations, 0 kWh losses."""
    scenario = tmp_path / "huge.toml"
    scenario.write_text(small_scenario_text(n_homes=12).replace(
        "annual_kwh_mean = 3100.0", "annual_kwh_mean = 1600000.0"))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(ROOT / "cosim.py"), "run", "--scenario",
                           str(scenario), "--out", str(out), "--quiet"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
                          timeout=900)
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    grid = pd.read_parquet(out / "grid.parquet")
    bad = int((~grid.converged).sum())
    assert 0 < bad < 96 and len(grid) == 96
    assert lines[1:] == [f"cosim: warning: the load flow did not converge at {bad} of 96 "
                         f"steps: the grid KPIs that depend on them are null and the deferral "
                         f"is not credible"], proc.stderr
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["grid.nonconverged_steps"] == bad
    assert {k: kpis[k] for k in GRID_KEYS} == dict.fromkeys(GRID_KEYS)  # JSON null
    assert kpis["homes.import_kwh"] > 0  # the homes' side does not depend on the load flow
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "complete" and meta["nonconverged_steps"] == bad
    assert meta["warning"] == lines[1].removeprefix("cosim: warning: ")
    html = (out / "report.html").read_text()
    assert 'class="banner" role="alert"' in html and f"did not converge at {bad} of 96" in html


def _table(trafo_overload: bool) -> tuple:
    table = pd.DataFrame({"initial_light": ["yellow"], "final_light": ["green"],
                          "operation_violation": [trafo_overload], "requested_kw": [1.0],
                          "offered_kw": [1.0], "offered_eur": [0.1], "ordered_kw": [1.0],
                          "ordered_eur": [0.1], "delivered_kw": [1.0], "delivered_eur": [0.1]})
    days = pd.DataFrame({"new_congestion_steps": [0], "rounds": [1], "loop_iterations": [2]})
    operation = pd.DataFrame({"kind": ["transformer"] if trafo_overload else [],
                              "step": [3] if trafo_overload else []})
    payments = pd.DataFrame({"market_settlement_eur": [0.0], "flex_payment_eur": [0.1]})
    return table, days, operation, payments


ARGS = dict(step_h=0.25, n_days=1, price_cap=1.0, total_bill_eur=1.0, loop_iteration_limit=14,
            upgrade_cost_eur=60000.0, lifetime_years=40.0, discount_rate=0.035,
            years_deferred=5.0)


def test_deferral_is_not_credible_when_steps_were_not_measured():
    """Before: with every load flow failed the DSO measured no overload, so the deferral
    read credible (12,685.7 EUR on the 12-home dso case)."""
    healthy = flex_kpis(*_table(False), **ARGS)
    assert healthy["flex.deferral_credible"] == 1
    assert healthy["flex.deferral_value_eur"] == pytest.approx(
        60000 * (1 - 1.035 ** -5) / (1 - 1.035 ** -40))
    k = flex_kpis(*_table(False), **ARGS, nonconverged_steps=5)
    assert k["flex.deferral_credible"] == 0
    assert math.isnan(k["flex.deferral_value_eur"])
    assert math.isnan(k["flex.deferral_net_benefit_eur"])
    ops = [key for key in k if key.startswith("flex.operation_")]
    assert len(ops) == 5 and all(math.isnan(k[key]) for key in ops)
    assert k["flex.ordered_kwh"] == 0.25  # not a measurement of the grid


def test_annual_kpis_carry_a_day_s_null():
    day = {"grid.overload_minutes": 15.0, "grid.max_trafo_loading_percent": 110.0,
           "grid.vm_min_pu": 0.95, "grid.nonconverged_steps": 0, "homes.import_kwh": 100.0,
           "flex.ordered_eur": 1.0, "flex.operation_trafo_overload_intervals": 0,
           "flex.deferral_credible": 1}
    failed = {**day, "grid.overload_minutes": None, "grid.max_trafo_loading_percent": None,
              "grid.vm_min_pu": None, "grid.nonconverged_steps": 4,
              "flex.operation_trafo_overload_intervals": None, "flex.deferral_credible": 0}
    deferral = {"upgrade_cost_eur": 60000.0, "lifetime_years": 40.0, "discount_rate": 0.035,
                "years_deferred": 5.0}
    ok = annual_kpis([day, day], [100, 266], **deferral)
    assert ok["grid.overload_minutes"] == 366 * 15.0 and ok["flex.deferral_credible"] == 1
    a = annual_kpis([day, failed], [100, 266], **deferral)
    # before: the failed day counted as 0 minutes (1500) and was skipped in the extremes
    assert math.isnan(a["grid.overload_minutes"])
    assert math.isnan(a["grid.max_trafo_loading_percent"]) and math.isnan(a["grid.vm_min_pu"])
    assert a["grid.nonconverged_steps"] == 266 * 4 and a["homes.import_kwh"] == 36600.0
    assert a["flex.deferral_credible"] == 0 and math.isnan(a["flex.deferral_value_eur"])
    d = district_kpis([ok, a])
    assert math.isnan(d["grid.overload_minutes"]) and d["homes.import_kwh"] == 73200.0


def test_report_banner_lines():
    from testbed.report.run_report import warnings_banner

    assert warnings_banner({"status": "complete", "nonconverged_steps": 0}, {}) == []
    assert warnings_banner({"status": "complete", "nonconverged_steps": 4, "n_steps": 96,
                            "warning": "the load flow did not converge at 4 of 96 steps"},
                           {}) == ["the load flow did not converge at 4 of 96 steps"]
    assert warnings_banner({"status": "interrupted", "signal": "SIGINT", "steps_done": 53,
                            "n_steps": 96, "interrupted_at": "2016-01-20T13:15:00+00:00"},
                           None) == ["the run was interrupted (SIGINT) at "
                                     "2016-01-20T13:15:00+00:00, step 53 of 96: the tables "
                                     "hold the steps done, no KPIs"]
    assert warnings_banner({"status": "running"}, None)[0].startswith(
        "the run did not complete (killed, or still running)")


def test_sweep_marks_a_task_whose_load_flow_failed(tmp_path):
    """A task whose run completed with failed load-flow steps carries its warning in
    sweep.parquet; its grid KPIs are null, and so are its group's annual KPIs."""
    from testbed.scenario import DEFAULT_SCENARIO, load_scenario
    from testbed.sweep.collect import annual_table, sweep_table
    from testbed.sweep.tasks import Task

    tasks, state = [], {}
    for day, bad in ((0, 0), (1, 7)):
        folder = tmp_path / f"day{day}"
        folder.mkdir()
        meta = {"status": "complete", "wall_s": 1.0, "nonconverged_steps": bad}
        if bad:
            meta["warning"] = f"the load flow did not converge at {bad} of 96 steps"
        (folder / "meta.json").write_text(json.dumps(meta))
        (folder / "kpis.json").write_text(json.dumps({
            "grid.overload_minutes": None if bad else 30.0, "grid.nonconverged_steps": bad,
            "homes.import_kwh": 100.0}))
        t = Task(key=f"k{day}", scenario="default", feeder=0, day=day, date=f"2016-01-2{day}",
                 weight=183.0, level="none", folder=str(folder), text="", source="")
        tasks.append(t)
        state[t.key] = {"status": "complete", "error": "", "wall_s": 1.0}
    sweep = sweep_table(tasks, state)
    assert sweep.warning.tolist() == ["", "the load flow did not converge at 7 of 96 steps"]
    assert math.isnan(sweep["grid.overload_minutes"].iloc[1])
    annual = annual_table(sweep, {"default": load_scenario(DEFAULT_SCENARIO)}).iloc[0]
    assert math.isnan(annual["grid.overload_minutes"])
    assert annual["grid.nonconverged_steps"] == 183.0 * 7
    assert annual["homes.import_kwh"] == 366 * 100.0
