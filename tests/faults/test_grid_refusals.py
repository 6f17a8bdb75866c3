"""Grids the testbed cannot study are refused with one line, before anything runs."""

from __future__ import annotations

import copy
import json

import pandapower as pp
import pytest

from grids.networks.checks import find_problems
from grids.networks.feeder import Feeder, build_reference_feeder
from grids.networks.loaders import load_feeder, load_json_feeder
from testbed.errors import GridError


@pytest.fixture(scope="module")
def small():
    return build_reference_feeder(n_homes=6, n_feeders=2, seed=3)


def _saved(tmp_path, net, name="grid.json"):
    path = tmp_path / name
    pp.to_json(net, str(path))
    return path


def _one_line(path) -> str:
    with pytest.raises(GridError) as err:
        load_json_feeder(path)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_an_mv_simbench_grid_is_refused():
    """Before: 96 "homes" ran on 20 kV buses, with null voltage KPIs."""
    with pytest.raises(GridError) as err:
        load_feeder("simbench:1-MV-rural--0-sw")
    assert str(err.value) == (
        "simbench:1-MV-rural--0-sw: home: the testbed studies LV feeders, every home must be on "
        "a bus below 1 kV (got 96 of 96 homes at 20 kV: H001, H002, H003, H004, H005 ...)")


def test_a_grid_without_loads_is_refused(tmp_path, small):
    """Before: it ran with 0 homes and wrote KPIs of an empty community."""
    net = copy.deepcopy(small.net)
    net.load["in_service"] = False
    path = _saved(tmp_path, net)
    assert _one_line(path) == (f"{path.name}: load: the testbed needs at least one home, one "
                               "per in-service load (got no in-service load)")


def test_a_negative_line_capacitance_is_refused(tmp_path, small):
    net = copy.deepcopy(small.net)
    net.line.at[2, "c_nf_per_km"] = -500.0
    path = _saved(tmp_path, net)
    assert _one_line(path) == f"{path.name}: line 2: c_nf_per_km must be >= 0, got -500.0"


def test_a_negative_line_conductance_is_refused(small):
    f = Feeder(copy.deepcopy(small.net), small.homes, "g")
    f.net.line.at[1, "g_us_per_km"] = -1.0
    assert find_problems(f) == ["g: line 1: g_us_per_km must be >= 0, got -1.0"]


def test_a_line_joining_two_voltage_levels_is_refused(tmp_path, small):
    net = copy.deepcopy(small.net)
    mv = int(net.bus.index[net.bus.vn_kv == 11.0][0])
    net.line.at[3, "from_bus"] = mv
    path = _saved(tmp_path, net)
    assert _one_line(path) == (
        f"{path.name}: line 3: joins buses of different nominal voltage; only a transformer "
        "may change the voltage level (got line 3: 11 kV to 0.4 kV)")


@pytest.mark.parametrize("edit, message", [
    (lambda o: o.update(bus=42), "bus: must be a table (got int)"),
    (lambda o: o.update(sn_mva=0), "sn_mva: must be a number > 0 (got 0)"),
    (lambda o: o.update(f_hz="50"), "f_hz: must be a number > 0 (got '50')"),
])
def test_a_network_whose_tables_are_not_tables_is_one_line(tmp_path, small, edit, message):
    doc = json.loads(pp.to_json(small.net))
    edit(doc["_object"])
    path = tmp_path / "shape.json"
    path.write_text(json.dumps(doc))
    assert _one_line(path) == f"{path.name}: {message}"


def _edit_table(small, table: str, column: str, row: int, value, dtype: str | None = None):
    doc = json.loads(pp.to_json(small.net))
    t = json.loads(doc["_object"][table]["_object"])
    t["data"][row][t["columns"].index(column)] = value
    doc["_object"][table]["_object"] = json.dumps(t)
    if dtype:
        doc["_object"][table]["dtype"][column] = dtype
    return json.dumps(doc)


@pytest.mark.parametrize("table, column, value, dtype, message", [
    ("bus", "vn_kv", "0.4", "object", "bus.vn_kv: must be numeric (got object)"),
    ("load", "in_service", "yes", "object", "load.in_service: must be true or false "
                                            "(got object)"),
    ("line", "to_bus", 999, None, "line 0: to_bus names no existing bus (got 999)"),
    ("load", "bus", 999, None, "load 0: bus names no existing bus (got 999)"),
])
def test_bad_cells_are_named(tmp_path, small, table, column, value, dtype, message):
    path = tmp_path / "cells.json"
    path.write_text(_edit_table(small, table, column, 0, value, dtype))
    assert _one_line(path) == f"{path.name}: {message}"


def test_a_missing_column_is_named(tmp_path, small):
    net = copy.deepcopy(small.net)
    net.line = net.line.drop(columns=["r_ohm_per_km"])
    path = _saved(tmp_path, net)
    assert _one_line(path) == f"{path.name}: line: missing column(s) r_ohm_per_km"


def test_every_shipped_lv_grid_still_loads():
    assert len(load_feeder("simbench:1-LV-semiurb4--0-sw").homes) == 41
    assert len(load_feeder("pandapower:ieee_european_lv").homes) == 55


def _set(column, value, table="line", rows=None):
    def edit(net):
        idx = net[table].index if rows is None else rows
        net[table].loc[idx, column] = value
    return edit


def _add_sgen(net):
    pp.create_sgen(net, int(net.load.bus.iloc[0]), p_mw=float("nan"))


def _add_shunt(net):
    pp.create_shunt(net, int(net.load.bus.iloc[0]), q_mvar=float("nan"))


@pytest.mark.parametrize("edit, message", [
    # before: loadings silently wrong (df 0) or "pandapower could not convert the network"
    (_set("df", 0.0, rows=[0]), "line 0: df must be in (0, 1] (got 0.0)"),
    (_set("parallel", 0, rows=[1, 2]), "line 1, 2: parallel must be >= 1 (got 0)"),
    # before: voltages of 0.05-0.10 p.u. and 12 steps not converged, without a word
    (_set("vn_hv_kv", 110.0, table="trafo"), "trafo 0: vn_hv_kv must be within -20 %/+25 % of "
     "its hv_bus's nominal voltage (11 kV at trafo 0) (got 110.0)"),
    # before: 96 steps not converged
    (_set("vm_pu", 0.0, table="ext_grid"), "ext_grid 0: vm_pu must be in [0.5, 1.5] (got 0.0)"),
    # before: an error at step 0, after the run had started
    (_add_sgen, "sgen 0: p_mw must be finite (got nan)"),
    (_add_shunt, "shunt 0: q_mvar must be finite (got nan)"),
    # before: the grid drew half (scaling) or a voltage-dependent share (ZIP) of each home's
    # power while homes.parquet showed all of it
    (_set("scaling", 0.5, table="load"), "load 0, 1, 2, 3, 4 ...: scaling must be 1 for a "
     "home's load: the home's power is written into it each step (got 0.5)"),
    (_set("const_z_p_percent", 100.0, table="load", rows=[2]), "load 2: const_z_p_percent "
     "must be 0 for a home's load: the home's power is written into it each step as constant "
     "power (got 100.0)"),
])
def test_values_a_load_flow_would_turn_silently_wrong(tmp_path, small, edit, message):
    net = copy.deepcopy(small.net)
    edit(net)
    path = _saved(tmp_path, net)
    assert _one_line(path) == f"{path.name}: {message}"


def test_a_grid_without_a_transformer_is_refused(tmp_path, small):
    """Before: null transformer KPIs at control none, a ValueError traceback at control dso."""
    net = copy.deepcopy(small.net)
    t = net.trafo.index[0]
    lv, hv = int(net.trafo.at[t, "lv_bus"]), int(net.trafo.at[t, "hv_bus"])
    net.trafo = net.trafo.drop(index=t)
    net.ext_grid.at[net.ext_grid.index[0], "bus"] = lv
    net.bus.at[hv, "in_service"] = False
    path = _saved(tmp_path, net)
    assert _one_line(path) == (f"{path.name}: trafo: the testbed studies LV feeders supplied by "
                               "an MV/LV transformer (its loading, its upgrade) (got no "
                               "in-service transformer)")
