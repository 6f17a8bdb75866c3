"""UC2 and UC3 inside the co-simulation: control levels market and dso on a small feeder.

The feeder is the default scenario shrunk to 16 homes; its 500 kVA transformer never
congests with 16 homes, so the tests lower the loading limit (``limits.max_loading_percent``)
to make the evening peak a congestion the DSO must manage. Every home has a CEMS and 40 % a
battery (:data:`TIGHT`): since heat pumps heat buildings with a comfort band, a heat pump's
move comes with a rebound next to it, so the flexibility that can clear a congested interval
without congesting its neighbours is mostly the EVs', the appliances' and the batteries'.
"""

from __future__ import annotations

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from testbed.errors import ScenarioError
from testbed.flex_kpis import FLEX_COLUMNS
from testbed.results import read_run
from testbed.run import compare_levels, loop_iteration_limit, portfolios, run_scenario
from testbed.scenario import parse_scenario
from testbed.world import dso_grid_of

from ..conftest import ROOT, scenario_with

# The congested day of these tests: a 7 % loading limit (35 kVA for 16 homes), every home with
# a CEMS, 60 % with PV and 40 % with a battery, perfect forecasts.
TIGHT = {"limit": 7.0, "cems": 1.0, "pv": 0.6, "battery": 0.4}


def _scenario(tmp_path, name: str, *, limit: float, phases: str = "balanced", **fields):
    # balanced: these tests check the negotiation's bookkeeping, whose numbers were
    # hand-checked on the balanced feeder (the unbalanced case: test_unbalanced_delivery)
    return scenario_with(tmp_path, name, n_homes=16, max_loading_percent=limit,
                         phases=f'"{phases}"', **fields)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same 16 homes (:data:`TIGHT`, perfect forecasts) compared at every control level."""
    tmp = tmp_path_factory.mktemp("flex")
    s = _scenario(tmp, "tight", **TIGHT, base_error=0.0, pv_error=0.0)
    table = compare_levels(s, ["none", "cems", "market", "dso"], tmp / "cmp", progress=False)
    out = {"table": table, "dir": tmp / "cmp", "scenario": s.with_overrides(control="dso")}
    for level in ("market", "dso"):
        out[level] = read_run(tmp / "cmp" / level)
        out[level]["dir"] = tmp / "cmp" / level
    return out


@pytest.mark.parametrize("level", ["market", "dso"])
def test_run_writes_flex_table_and_kpis(runs, level):
    r = runs[level]
    flex = r["flex"]
    assert list(flex.columns) == list(FLEX_COLUMNS)
    assert len(flex) == 96
    assert (flex.step.to_numpy() == np.arange(96)).all()
    k = r["kpis"]
    assert k["flex.congested_intervals_dayahead"] > 0  # the 7 % limit congests the day
    assert k["flex.congested_intervals_dayahead"] == int((flex.initial_light == "yellow").sum())
    assert k["flex.new_congestion_intervals"] == 0
    assert k["flex.delivered_kwh"] <= k["flex.ordered_kwh"] + 1e-9
    assert k["flex.loop_iterations_max"] <= k["flex.loop_iteration_limit"]
    assert set(flex.final_light) <= {"green", "orange"}
    plans = pd.read_parquet(runs[level]["dir"] / "cems_plans.parquet")
    assert len(plans) == r["kpis"]["homes.cems_homes"]  # one plan per CEMS home and day


def test_market_level_requests_nothing(runs):
    k = runs["market"]["kpis"]
    # the market leaves the transformer overloaded in operation: nothing is deferred
    assert k["flex.operation_trafo_overload_intervals"] > 0
    assert k["flex.deferral_credible"] == 0
    assert k["flex.deferral_value_eur"] is None and k["flex.deferral_net_benefit_eur"] is None
    assert k["flex.requested_kwh"] == 0.0
    assert k["flex.ordered_kwh"] == 0.0
    assert k["flex.rounds_max"] == 0
    assert k["flex.orange_intervals"] == k["flex.congested_intervals_dayahead"]


def test_dso_orders_flexibility_and_homes_deliver_it(runs):
    k = runs["dso"]["kpis"]
    assert k["flex.requested_kwh"] > 0
    assert k["flex.ordered_kwh"] > 0
    assert k["flex.orange_intervals"] < k["flex.congested_intervals_dayahead"]
    # perfect forecasts: the homes operate the ordered plans exactly, so what was ordered is
    # what the meters measure
    assert k["flex.delivered_kwh"] == pytest.approx(k["flex.ordered_kwh"], rel=1e-6)
    orders = pd.read_parquet(runs["dso"]["dir"] / "flex_orders.parquet")
    assert len(orders) > 0 and (orders.price_eur_per_kwh <= 1.0).all()


def test_unbalanced_delivery_equals_orders_with_perfect_forecasts(tmp_path):
    s = _scenario(tmp_path, "tight3", **TIGHT, phases="unbalanced", base_error=0.0,
                  pv_error=0.0)
    out = tmp_path / "dso"
    k = run_scenario(s.with_overrides(control="dso"), out, progress=False).kpis
    assert k["flex.ordered_kwh"] > 0
    assert k["flex.delivered_kwh"] == pytest.approx(k["flex.ordered_kwh"], rel=1e-6)
    # the case that made it fail when delivery was measured from the first prognosis: a home
    # ordered in a later round, at a step where its first prognosis already had the power the
    # order asks for (the order takes back an earlier order's rebound)
    orders = pd.read_parquet(out / "flex_orders.parquet")
    prog = pd.read_parquet(out / "flex_prognosis.parquet").set_index(["step", "home_id"])
    first = prog.initial_kw.loc[list(zip(orders.step, orders.home_id, strict=True))].to_numpy()
    later = (orders["round"] > 0) & (orders.ordered_kw > 0.1)
    assert (later & (np.abs(orders.baseline_kw - first) > 0.1)).any()


def test_an_order_never_congests_another_interval(runs):
    """From the run's tables: the day's prognoses before and after the orders, re-checked
    with the load flow; no interval green before is congested after."""
    d = runs["dso"]["dir"]
    prog = pd.read_parquet(d / "flex_prognosis.parquet")
    grid = dso_grid_of(runs["scenario"])
    cols = list(grid.home_ids)
    before = prog.pivot(index="step", columns="home_id", values="initial_kw")[cols].to_numpy()
    after = prog.pivot(index="step", columns="home_id", values="final_kw")[cols].to_numpy()
    assert np.abs(after - before).sum() > 0  # orders changed the plans
    v0 = grid.check(grid.run(before), before).violated
    # the DSO's load flow takes the reactive power the homes' plans carry (flex_prognosis)
    after_kvar = prog.pivot(index="step", columns="home_id", values="final_kvar")[cols]
    v1 = grid.check(grid.run(after, after_kvar.to_numpy()), after).violated
    assert v0.any()
    assert not (v1 & ~v0).any()
    flex = runs["dso"]["flex"]
    np.testing.assert_array_equal(v0, (flex.initial_light == "yellow").to_numpy())
    np.testing.assert_array_equal(v1, (flex.final_light == "orange").to_numpy())
    assert v1.sum() < v0.sum()


def test_unmeetable_request_ends_orange_within_loop_limit(tmp_path):
    """A 0.2 % loading limit (1 kVA for 16 homes) no offer can meet, one negotiation round,
    two days, two aggregators: the run completes, every interval of both days ends orange (no
    hang, no crash) and the loop stays within mosaik's limit."""
    s = _scenario(tmp_path, "hopeless", limit=0.2, cems=0.8, max_rounds=1, aggregators=2,
                  days=2)
    assert loop_iteration_limit(s) == 6
    r = run_scenario(s.with_overrides(control="dso"), tmp_path / "run", progress=False)
    k = r.kpis
    days = pd.read_parquet(r.out_dir / "flex_days.parquet")
    assert days.day.tolist() == [0, 1]
    assert set(days.status) <= {"no_offer_helps", "max_rounds"}
    assert len(pd.read_parquet(r.out_dir / "flex.parquet")) == 192
    assert k["flex.congested_intervals_dayahead"] == 192
    assert k["flex.orange_intervals"] == 192
    assert k["flex.share_resolved"] == 0.0
    assert k["flex.rounds_max"] <= 1
    assert k["flex.loop_iterations_max"] <= k["flex.loop_iteration_limit"] == 6
    pay = pd.read_parquet(r.out_dir / "flex_payments.parquet")
    assert set(pay.aggregator_id) == {"AGR1", "AGR2"}


def test_emergency_limitation_cuts_sustained_violations(runs, tmp_path):
    """The same market run with the DSO's emergency limitation: caps set at a violated step
    act from the next step for HOLD_STEPS steps, and fewer intervals stay violated."""
    from sims.dso.simulator import HOLD_STEPS

    s = _scenario(tmp_path, "tight", **TIGHT, base_error=0.0, pv_error=0.0,
                  emergency_limitation="true")
    r = run_scenario(s.with_overrides(control="market"), tmp_path / "run", progress=False)
    k, k0 = r.kpis, runs["market"]["kpis"]
    assert k0["flex.emergency_actions"] == 0 and k0["flex.limited_kwh"] == 0.0
    assert k["flex.emergency_actions"] > 0 and k["flex.limited_kwh"] > 0
    assert k["flex.operation_violation_intervals"] < k0["flex.operation_violation_intervals"]
    acts = pd.read_parquet(r.out_dir / "dso_emergency.parquet")
    homes = read_run(r.out_dir)["homes"]
    steps = sorted(homes.time.unique())
    limited = {steps.index(t) for t in homes.time[homes.limited_kw > 0]}
    held = {s + d for s in acts.step for d in range(1, HOLD_STEPS + 1)}
    assert limited and limited <= held
    assert not limited & set(acts.step[~acts.step.isin(list(held))])


def test_limit_cuts_ev_then_heat_pump_or_curtails_pv():
    from sims.homes.fleet import OUTPUTS, HomeFleet

    def out(**kw):
        o = {name: np.zeros(1) for name in OUTPUTS}
        for key, v in kw.items():
            o[key][0] = v
        return o

    o = out(p_kw=9.0, ev_kw=5.0, hp_kw=3.0, base_kw=1.0)
    HomeFleet.limit(o, 0, -np.inf, 2.0)
    assert (o["p_kw"][0], o["ev_kw"][0], o["hp_kw"][0], o["limited_kw"][0]) == (2.0, 0.0, 1.0,
                                                                                  7.0)
    o = out(p_kw=9.0, ev_kw=5.0, hp_kw=3.0, base_kw=1.0)
    HomeFleet.limit(o, 0, -np.inf, 0.5)  # the base load is not cut: the cap is not reached
    assert (o["p_kw"][0], o["limited_kw"][0]) == (1.0, 8.0)
    o = out(p_kw=-6.0, pv_kw=7.0, base_kw=1.0)
    HomeFleet.limit(o, 0, -2.0, np.inf)
    assert (o["p_kw"][0], o["pv_kw"][0], o["limited_kw"][0]) == (-2.0, 3.0, 4.0)
    o = out(p_kw=1.0, ev_kw=1.0)
    HomeFleet.limit(o, 0, -2.0, 2.0)  # within the caps: untouched
    assert (o["p_kw"][0], o["ev_kw"][0], o["limited_kw"][0]) == (1.0, 1.0, 0.0)


def test_portfolios_split_the_feeder():
    ids = [f"h{i}" for i in range(10)]
    parts = portfolios(ids, 3)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert sum(parts, []) == ids


@pytest.mark.parametrize("field,value,msg", [
    ("aggregators", "0", "flex.aggregators: must be >= 1 (got 0)"),
    ("aggregators", "500", "flex.aggregators: must not exceed grid.n_homes (184) (got 500)"),
    ("price_cap_eur_per_kwh", "0.0", "flex.price_cap_eur_per_kwh: must be > 0.0 (got 0.0)"),
    ("max_rounds", "0", "flex.max_rounds: must be >= 1 (got 0)"),
    ("upgrade_cost_eur", "-1.0", "flex.upgrade_cost_eur: must be >= 0.0 (got -1.0)"),
    ("upgrade_lifetime_years", "0.0", "flex.upgrade_lifetime_years: must be > 0.0 (got 0.0)"),
    ("discount_rate", "2.0", "flex.discount_rate: must be <= 1.0 (got 2.0)"),
    ("years_deferred", "0", "flex.years_deferred: must be > 0.0 (got 0)"),
])
def test_flex_fields_validated(field, value, msg):
    from testbed.scenario import DEFAULT_SCENARIO

    text = DEFAULT_SCENARIO.read_text().replace(f"\n{field} = ", f"\n{field} = {value} #", 1)
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text, source="x.toml")
    assert f"x.toml: {msg}" in str(e.value)


def test_comparison_table_has_every_level(runs):
    t = runs["table"]
    assert list(t.columns) == ["none", "cems", "market", "dso"]
    assert np.isnan(t.loc["flex.ordered_kwh", "none"])
    assert t.loc["flex.ordered_kwh", "dso"] > 0
    assert t.loc["homes.cems_homes", "none"] == 0 and t.loc["homes.cems_homes", "dso"] > 0


def test_congestion_notebook_executes(runs, monkeypatch):
    monkeypatch.setenv("LVFLEX_COMPARE", str(runs["dir"]))
    nb = nbformat.read(ROOT / "notebooks" / "02_congestion_management.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # loading, voltage envelope, flexibility
    text = "".join(o.get("text", "") for o in outputs)
    assert str(runs["dir"]) in text
    assert "energy [kWh]" in text


@pytest.mark.parametrize("level", ["market", "dso"])
def test_rolling_replan_refused_with_aggregators(level):
    from testbed.scenario import DEFAULT_SCENARIO

    text = DEFAULT_SCENARIO.read_text().replace('control = "none"', f'control = "{level}"', 1)
    text = text.replace("replan_every_steps = 0", "replan_every_steps = 4", 1)
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text, source="x.toml")
    assert (f"x.toml: cems.replan_every_steps: must be 0 for control '{level}' (a rolling "
            f"re-plan ignores the aggregator's bands and would undo the market and the DSO's "
            f"orders) (got 4)") in str(e.value)
    parse_scenario(text.replace(f'control = "{level}"', 'control = "cems"'), source="x.toml")


def test_mosaik_enforces_the_loop_limit(tmp_path, monkeypatch):
    """The limit the runs stay within is real: a negotiation that needs more same-time
    iterations than allowed stops with mosaik's error (and a failed run folder), not a hang."""
    import json

    import testbed.params as run_mod

    s = _scenario(tmp_path, "tight", **TIGHT)
    monkeypatch.setattr(run_mod, "loop_iteration_limit", lambda scenario: 1)
    with pytest.raises(Exception, match="sub-step more than 1 times"):
        run_scenario(s.with_overrides(control="dso"), tmp_path / "run", progress=False)
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["status"] == "failed"
