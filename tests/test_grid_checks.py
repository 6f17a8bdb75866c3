"""Grid checks and loaders: every problem named, untrusted files refused, shipped grids load."""

from __future__ import annotations

import copy
import json

import pandapower as pp
import pytest

from grids.networks.checks import check_feeder, find_problems
from grids.networks.feeder import Feeder, build_reference_feeder
from grids.networks.loaders import ieee_european_lv_balanced, load_feeder, load_json_feeder
from testbed.errors import GridError


@pytest.fixture(scope="module")
def small():
    return build_reference_feeder(n_homes=6, n_feeders=2, seed=3)


def _copy(feeder: Feeder) -> Feeder:
    return Feeder(copy.deepcopy(feeder.net), feeder.homes.copy(), "test grid")


def test_reference_feeder_has_no_problem(small):
    assert find_problems(small) == []
    assert check_feeder(small) is small


def test_two_slacks(small):
    f = _copy(small)
    pp.create_ext_grid(f.net, 1)
    with pytest.raises(GridError, match=r"^test grid: ext_grid: expected exactly one "
                       r"in-service slack, found 2$"):
        check_feeder(f)


def test_disconnected_bus_and_its_home(small):
    f = _copy(small)
    home_line = f.net.line.index[f.net.line.name == "H006 service"][0]
    f.net.line.at[home_line, "in_service"] = False
    bus = f.homes.at["H006", "bus"]
    assert find_problems(f) == [
        f"test grid: bus: 1 in-service buses are not connected to the slack: {bus}",
        f"test grid: home H006: bus {bus} is not energised",
    ]


def test_every_bad_impedance_is_listed(small):
    f = _copy(small)
    f.net.line.at[0, "length_km"] = 0.0
    f.net.line.at[1, "r_ohm_per_km"] = -0.1
    f.net.trafo.at[0, "vk_percent"] = 0.0
    problems = find_problems(f)
    assert "test grid: line 0: length_km must be > 0, got 0.0" in problems
    assert "test grid: line 1: r_ohm_per_km must be > 0, got -0.1" in problems
    assert "test grid: trafo 0: vk_percent must be > 0, got 0.0" in problems


def test_home_on_missing_bus(small):
    f = _copy(small)
    f.homes.at["H002", "bus"] = 999
    with pytest.raises(GridError, match=r"test grid: home H002: bus 999 does not exist"):
        check_feeder(f)


def test_json_round_trip_makes_every_load_a_home(tmp_path, small):
    path = tmp_path / "mine.json"
    pp.to_json(small.net, str(path))
    f = load_json_feeder(path)
    assert f.homes.index.tolist() == [f"H{i:03d}" for i in range(1, 7)]
    assert f.homes.load_name.tolist() == small.homes.index.tolist()
    assert f.homes.bus.tolist() == small.homes.bus.tolist()
    assert load_feeder("mine.json", base_dir=tmp_path).homes.equals(f.homes)


def test_json_naming_a_foreign_module_is_refused_before_import(tmp_path, small):
    doc = json.loads(pp.to_json(small.net))
    doc["_module"] = "os"
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(GridError, match=r"evil.json: _module/_class: not an object of a "
                       r"pandapower network; nothing is imported from a grid file "
                       r"\(got 'os'/'pandapowerNet'\)$"):
        load_json_feeder(path)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(GridError, match=r"nope.json: grid file not found"):
        load_json_feeder(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(GridError, match=r"bad.json: not a JSON file"):
        load_json_feeder(bad)
    with pytest.raises(GridError, match=r"grid.txt: grid source must be 'reference'"):
        load_feeder("grid.txt")
    with pytest.raises(GridError, match=r"pandapower:kerber: unknown pandapower grid"):
        load_feeder("pandapower:kerber")


def test_ieee_european_lv_made_balanced():
    net = ieee_european_lv_balanced()
    assert len(net.load) == 55 and len(net.asymmetric_load) == 0
    assert net.load.p_mw.sum() == pytest.approx(
        pp.networks.ieee_european_lv_asymmetric("on_peak_566").asymmetric_load[
            ["p_a_mw", "p_b_mw", "p_c_mw"]].to_numpy().sum())
    f = load_feeder("pandapower:ieee_european_lv")
    assert len(f.homes) == 55


def test_simbench_grid_loads_with_its_loads_as_homes():
    f = load_feeder("simbench:1-LV-rural1--0-sw")
    assert len(f.homes) == 13
    assert not f.net.sgen.in_service.any()
    with pytest.raises(GridError, match=r"simbench:nope: not a SimBench grid code"):
        load_feeder("simbench:nope")
