"""Phases of the homes (rotating pattern, seeded) and the reference feeder's three-phase data."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from grids.networks.feeder import build_reference_feeder
from grids.networks.phases import (
    feeder_positions,
    phase_names,
    rotating_phases,
    single_phase_net,
)
from tests.unbalanced_cases import simbench_case


@pytest.fixture(scope="module")
def feeder():
    return build_reference_feeder()


def test_reference_homes_have_a_phase_balanced_over_the_feeder(feeder):
    homes = feeder.homes
    assert set(homes["phase"]) == {"a", "b", "c"}
    counts = homes["phase"].value_counts()
    # 184 homes: 61-62 per phase on the pattern; one in five moved keeps them within 10 %
    assert (abs(counts - len(homes) / 3) <= 0.1 * len(homes) / 3).all(), counts
    codes = np.array(["abc".index(p) for p in homes["phase"]])
    pattern = rotating_phases(feeder.net, homes["load"].to_numpy(), off_pattern_share=0.0)
    off = np.mean(codes != pattern)
    assert 0.1 < off < 0.3, off  # 20 % drawn off the pattern (binomial spread)


def test_same_seed_same_phases_and_the_layout_does_not_depend_on_them():
    a, b = build_reference_feeder(seed=7), build_reference_feeder(seed=7)
    pd.testing.assert_series_equal(a.homes["phase"], b.homes["phase"])
    c = build_reference_feeder(seed=8)
    assert not a.homes["phase"].equals(c.homes["phase"])
    # the phase draws have their own child of the seed: the layout is that of the first
    # child alone, as before phases existed (same buses, lines, homes)
    layout_rng = np.random.default_rng(np.random.SeedSequence(7).spawn(1)[0])
    first = layout_rng.uniform(0.7, 1.3, 5)  # the feeders' home shares, drawn first
    weights = first / first.sum()
    shares = np.floor(weights * (184 - 5)).astype(int) + 1
    shares[: 184 - shares.sum()] += 1
    assert list(a.homes.groupby("feeder").size()) == list(shares)


def test_rotating_pattern_along_each_feeder(feeder):
    net, homes = feeder.net, feeder.homes
    loads = homes["load"].to_numpy()
    pattern = rotating_phases(net, loads, off_pattern_share=0.0)
    pos = feeder_positions(net, loads)
    feeders = pos["feeder"].to_numpy()
    assert len(set(feeders)) == 5  # the five cables leaving the LV board
    order = np.lexsort((np.arange(len(loads)), pos["distance_km"].to_numpy()))
    starts = []
    for f in dict.fromkeys(feeders[order]):
        along = [pattern[i] for i in order if feeders[i] == f]
        start = along[0]
        starts.append(start)
        assert along == [(start + k) % 3 for k in range(len(along))]
    assert starts == [k % 3 for k in range(5)]
    # the distance is the cable length from the LV busbar (a home: its joint + service)
    h0 = int(loads[0])
    bus = net.load.at[h0, "bus"]
    service = net.line[net.line["to_bus"] == bus].iloc[0]
    assert pos.at[h0, "distance_km"] > service["length_km"]


def test_off_pattern_draws_are_stable_across_shares(feeder):
    net, loads = feeder.net, feeder.homes["load"].to_numpy()
    pattern = rotating_phases(net, loads, off_pattern_share=0.0)
    low = rotating_phases(net, loads, seed=3, off_pattern_share=0.2)
    high = rotating_phases(net, loads, seed=3, off_pattern_share=0.4)
    off_low, off_high = low != pattern, high != pattern
    assert np.all(off_high[off_low])  # raising the share only adds homes
    np.testing.assert_array_equal(low[off_low], high[off_low])
    assert np.all(rotating_phases(net, loads, off_pattern_share=1.0) != pattern)
    with pytest.raises(ValueError, match=r"off_pattern_share: must be in \[0, 1\] \(got 1.5\)"):
        rotating_phases(net, loads, off_pattern_share=1.5)


def test_single_phase_net_moves_loads_to_their_phase(feeder):
    net = copy.deepcopy(feeder.net)
    net.load["p_mw"] = 0.002
    net.load["q_mvar"] = 0.0005
    net.load.loc[3, "scaling"] = 0.5
    phases = list(feeder.homes["phase"])
    phases[5] = "abc"
    net3, conns = single_phase_net(net, phases, feeder.homes["load"].to_numpy())
    assert len(net3.load) == 0 and len(net3.asymmetric_load) == len(net.load)
    al = net3.asymmetric_load
    for j, ph in enumerate(phases):
        row = al.iloc[conns.asym_row[j]]
        assert row["bus"] == net.load.at[j, "bus"] and row["name"] == net.load.at[j, "name"]
        for c in "abc":
            share = 1 / 3 if ph == "abc" else float(c == ph)
            assert row[f"p_{c}_mw"] == pytest.approx(0.002 * share)
            assert row[f"q_{c}_mvar"] == pytest.approx(0.0005 * share)
    assert al.iloc[conns.asym_row[3]]["scaling"] == 0.5
    assert list(phase_names(conns.phase))[:6] == phases[:6]
    assert len(net.load) == 184  # the input net is not modified


def test_single_phase_net_table_equals_pandapowers_own_rows(feeder):
    """The asymmetric loads, built as one table for speed, are the rows pandapower's
    ``create_asymmetric_load`` makes one by one: same index, columns, dtypes and values (also
    after an existing asymmetric load, and with a load left balanced)."""
    net = copy.deepcopy(feeder.net)
    net.load["p_mw"] = np.linspace(0.001, 0.004, len(net.load))
    net.load["q_mvar"] = 0.0003
    net.load.loc[7, "in_service"] = False
    net.load.loc[9, "scaling"] = 0.25
    pp.create_asymmetric_load(net, bus=int(net.load.at[0, "bus"]), p_a_mw=0.001, name="x")
    loads = feeder.homes["load"].to_numpy()[1:]  # load 0 stays balanced
    phases = list(feeder.homes["phase"])[1:]
    phases[4] = "abc"
    net3, conns = single_phase_net(net, phases, loads)
    ref = copy.deepcopy(net)
    rows = []
    for j, label in enumerate(loads):
        r = ref.load.loc[label]
        share = np.full(3, 1 / 3) if phases[j] == "abc" else np.eye(3)["abc".index(phases[j])]
        rows.append(pp.create_asymmetric_load(
            ref, bus=int(r["bus"]), p_a_mw=r["p_mw"] * share[0], p_b_mw=r["p_mw"] * share[1],
            p_c_mw=r["p_mw"] * share[2], q_a_mvar=r["q_mvar"] * share[0],
            q_b_mvar=r["q_mvar"] * share[1], q_c_mvar=r["q_mvar"] * share[2], name=r["name"],
            scaling=float(r["scaling"]), in_service=bool(r["in_service"]), type="wye"))
    ref.load = ref.load.drop(index=loads)
    pd.testing.assert_frame_equal(net3.asymmetric_load, ref.asymmetric_load)
    pd.testing.assert_frame_equal(net3.load, ref.load)
    assert list(conns.asym_row) == rows


def test_simbench_loads_put_on_phases_by_feeder():
    net3, conns = simbench_case("1-LV-semiurb4--0-sw")
    counts = np.bincount(conns.phase, minlength=3)
    assert counts.sum() == 41 and counts.min() >= 9, counts


def test_three_phase_data_leave_balanced_results_unchanged(feeder):
    """The zero-sequence columns added to the reference feeder do not enter runpp."""
    net = copy.deepcopy(feeder.net)
    net.load["p_mw"] = 0.002
    net.load["q_mvar"] = 0.0006
    bare = copy.deepcopy(net)
    for col in ("r0_ohm_per_km", "x0_ohm_per_km", "c0_nf_per_km"):
        del bare.line[col]
    for col in ("vk0_percent", "vkr0_percent", "mag0_percent", "mag0_rx", "si0_hv_partial"):
        del bare.trafo[col]
    bare.trafo["vector_group"] = "Dyn11"
    for col in ("x0x_max", "r0x0_max"):
        del bare.ext_grid[col]
    pp.runpp(net, tolerance_mva=1e-12, lightsim2grid=False)
    pp.runpp(bare, tolerance_mva=1e-12, lightsim2grid=False)
    pd.testing.assert_frame_equal(net.res_bus, bare.res_bus, check_exact=True)
    pd.testing.assert_frame_equal(net.res_line, bare.res_line, check_exact=True)
    np.testing.assert_allclose(net.line["r0_ohm_per_km"], 4 * net.line["r_ohm_per_km"])
    assert net.trafo.at[0, "vector_group"] == "Dyn" and net.trafo.at[0, "shift_degree"] == 330
