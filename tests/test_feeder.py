"""The reference feeder: size, rating, radial structure, reproducibility."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.topology as top
import pandas as pd
import pytest

from grids.networks.feeder import build_reference_feeder, element_ids


@pytest.fixture(scope="module")
def feeder():
    return build_reference_feeder()


def test_184_homes_each_on_its_own_named_bus(feeder):
    net, homes = feeder.net, feeder.homes
    assert len(homes) == 184
    assert homes.index.tolist() == [f"H{i:03d}" for i in range(1, 185)]
    assert homes.bus.is_unique
    assert net.bus.loc[homes.bus, "name"].tolist() == homes.index.tolist()
    assert net.load.loc[homes["load"], "name"].tolist() == homes.index.tolist()
    assert (net.load.loc[homes["load"], "bus"].to_numpy() == homes.bus.to_numpy()).all()
    assert set(homes.feeder) == {1, 2, 3, 4, 5}


def test_one_500_kva_11_kv_transformer_feeding_the_lv_board(feeder):
    net = feeder.net
    assert len(net.trafo) == 1 and len(net.ext_grid) == 1
    t = net.trafo.iloc[0]
    assert t.sn_mva == 0.5 and t.vn_hv_kv == 11.0 and t.vn_lv_kv == 0.433
    assert net.bus.at[t.hv_bus, "vn_kv"] == 11.0 and net.bus.at[t.lv_bus, "vn_kv"] == 0.4
    assert net.ext_grid.bus.iloc[0] == t.hv_bus


def test_radial_and_connected(feeder):
    net = feeder.net
    graph = top.create_nxgraph(net)
    assert nx.is_tree(nx.Graph(graph))
    assert len(net.line) + len(net.trafo) == len(net.bus) - 1


def test_realistic_cables(feeder):
    net = feeder.net
    assert set(net.line.std_type) == {"NAYY 4x150 SE", "NAYY 4x120 SE", "NAYY 4x50 SE"}
    service = net.line[net.line.std_type == "NAYY 4x50 SE"]
    assert len(service) == 184
    assert service.length_km.between(0.008, 0.025).all()
    mains = net.line[net.line.std_type != "NAYY 4x50 SE"]
    assert mains.length_km.between(0.025, 0.045).all()
    assert 4.0 < net.line.length_km.sum() < 10.0


def test_same_seed_same_grid_other_seed_other_grid():
    a, b = build_reference_feeder(seed=7), build_reference_feeder(seed=7)
    for table in ("bus", "line", "load", "trafo", "ext_grid"):
        pd.testing.assert_frame_equal(a.net[table], b.net[table])
    pd.testing.assert_frame_equal(a.homes, b.homes)
    c = build_reference_feeder(seed=8)
    assert not np.allclose(a.net.line.length_km.sum(), c.net.line.length_km.sum())


def test_no_load_voltage_sits_high_in_the_band(feeder):
    """UK practice: 433 V open circuit, tap +1 (-2.5 %): 1.0825/1.025 = 1.0561 p.u."""
    net = pp.from_json_string(pp.to_json(feeder.net))
    pp.runpp(net, tolerance_mva=1e-10, lightsim2grid=False)
    lv = net.trafo.lv_bus.iloc[0]
    assert net.res_bus.vm_pu[lv] == pytest.approx(1.0825 / 1.025, abs=2e-4)


def test_element_ids_fall_back_to_index_when_names_are_not_unique(feeder):
    assert element_ids(feeder.net.bus)[:2] == ["MV", "LV"]
    df = pd.DataFrame({"name": ["a", "a", None]}, index=[4, 5, 9])
    assert element_ids(df) == ["4", "5", "9"]


def test_rejects_fewer_homes_than_feeders():
    with pytest.raises(ValueError, match=r"n_homes \(2\) must be at least n_feeders \(3\)"):
        build_reference_feeder(n_homes=2, n_feeders=3)
