"""Runs of the testbed with phases: the results contract, KPIs of the worst phase, the DSO's
prognosis load flow equal to operation's with a perfect forecast, scenario fields."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from testbed.results import read_run
from testbed.run import run_scenario
from testbed.scenario import ScenarioError, parse_scenario
from testbed.world import dso_grid_of

from ..conftest import small_scenario_text, with_phases


def _scenario(tmp_path, name: str, *, control: str = "none", phases: str | None = None,
              perfect: bool = False, n_homes: int = 20):
    text = small_scenario_text(n_homes=n_homes).replace('control = "none"',
                                                        f'control = "{control}"')
    if phases:
        text = with_phases(text, phases)
    if perfect:
        text = text.replace("base_error = 0.1", "base_error = 0.0").replace(
            "pv_error = 0.15", "pv_error = 0.0")
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return parse_scenario(text, source=path)


@pytest.fixture(scope="module")
def dso_run(tmp_path_factory):
    """20 homes at control dso with a perfect forecast (unbalanced: the default)."""
    d = tmp_path_factory.mktemp("phases")
    sc = _scenario(d, "perfect", control="dso", perfect=True)
    return sc, run_scenario(sc, d / "run", progress=False)


def test_bad_phases_and_vuf_limit_are_one_line_errors(tmp_path):
    text = small_scenario_text()
    for old, new, field, value in (
            ('phases = "auto"', 'phases = "split"', "grid.phases", "'split'"),
            ("[limits]", "[limits]\nvuf_max_percent = 0", "limits.vuf_max_percent", "0")):
        with pytest.raises(ScenarioError) as exc:
            parse_scenario(text.replace(old, new), source=tmp_path / "bad.toml")
        msg = str(exc.value)
        assert "\n" not in msg and "bad.toml" in msg and field in msg and value in msg


def test_unbalanced_run_results_contract_and_kpis(dso_run):
    sc, res = dso_run
    r = read_run(res.out_dir)
    buses, lines = r["buses"], r["lines"]
    assert list(buses.columns) == ["time", "bus_id", "phase", "vm_pu", "vuf_percent"]
    assert list(lines.columns) == ["time", "line_id", "phase", "loading_percent"]
    n_steps = sc.n_steps
    assert len(buses) == n_steps * buses.bus_id.nunique() * 3
    assert sorted(buses.phase.astype(str).unique()) == ["a", "b", "c"]
    # one VUF per bus and step, on its three rows
    assert (buses.groupby(["time", "bus_id"], observed=True).vuf_percent.nunique() == 1).all()
    k = res.kpis
    lv = buses[~buses.bus_id.astype(str).isin(["MV"])]
    assert k["grid.vm_min_pu"] == pytest.approx(float(lv.vm_pu.min()), abs=0)
    for ph in "abc":
        rows = lv[lv.phase.astype(str) == ph]
        assert k[f"grid.vm_min_pu_{ph}"] == float(rows.vm_pu.min())
        assert k[f"grid.vm_max_pu_{ph}"] == float(rows.vm_pu.max())
    assert k["grid.vm_min_pu"] == min(k[f"grid.vm_min_pu_{ph}"] for ph in "abc")
    assert k["grid.vuf_max_percent"] == float(lv.vuf_percent.max())
    over = lv[lv.vuf_percent > sc.vuf_max_percent].time.nunique()
    assert k["grid.vuf_violation_minutes"] == over * sc.step_s / 60
    assert k["grid.max_line_loading_percent"] == float(lines.loading_percent.max())
    meta = pd.read_json(res.out_dir / "meta.json", typ="series")
    assert meta["grid_model"] == {"phases": "unbalanced", "engine": "numba", "reason": None}


def test_perfect_forecast_dso_load_flow_equals_operation_on_green_intervals(dso_run):
    """The DSO's prognosis load flow has the homes' own P and Q: where no order changed the
    plan (green), it is the grid simulator's load flow of the day."""
    sc, res = dso_run
    d = res.out_dir
    day = pd.read_parquet(d / "flex_dayahead.parquet")
    green = day.loc[(day.initial_light == "green") & (day.final_light == "green"), "step"]
    assert len(green) > 48
    prog = pd.read_parquet(d / "flex_prognosis.parquet").sort_values(["step", "home_id"])
    homes = pd.read_parquet(d / "homes.parquet").sort_values(["time", "home_id"])
    n = homes.home_id.nunique()
    p = homes.p_kw.to_numpy().reshape(-1, n)
    q = homes.q_kvar.to_numpy().reshape(-1, n)
    fp = prog.final_kw.to_numpy().reshape(-1, n)
    fq = prog.final_kvar.to_numpy().reshape(-1, n)
    g = green.to_numpy()
    assert np.abs(fp[g] - p[g]).max() < 1e-9
    assert np.abs(fq[g] - q[g]).max() < 1e-9
    # and the load flows agree on every phase (the DSO's columns are in feeder order)
    grid = dso_grid_of(sc)
    order = np.argsort(np.asarray(grid.home_ids, dtype=object))
    cols = np.empty(n, dtype=int)
    cols[order] = np.arange(n)
    lf = grid.run(fp[g][:, cols], fq[g][:, cols])
    buses = pd.read_parquet(d / "buses.parquet")
    vm = buses.vm_pu.to_numpy().reshape(sc.n_steps, -1, 3)[g]
    assert np.abs(lf.vm_pu - vm).max() < 1e-9


def test_unbalanced_differs_from_balanced_and_balanced_run_has_no_phases(tmp_path):
    bal = run_scenario(_scenario(tmp_path, "bal", phases="balanced"), tmp_path / "b",
                       progress=False)
    unb = run_scenario(_scenario(tmp_path, "unb"), tmp_path / "u", progress=False)
    rb, ru = read_run(bal.out_dir), read_run(unb.out_dir)
    assert "phase" not in rb["buses"] and "phase" not in rb["lines"]
    assert "grid.vuf_max_percent" not in bal.kpis
    assert unb.kpis["grid.vuf_max_percent"] > 0.1
    # same homes, same powers: the phases change the grid, not the homes
    assert np.array_equal(rb["homes"].p_kw.to_numpy(), ru["homes"].p_kw.to_numpy())
    assert unb.kpis["grid.vm_min_pu"] < bal.kpis["grid.vm_min_pu"]
    assert unb.kpis["grid.losses_kwh"] > bal.kpis["grid.losses_kwh"]
