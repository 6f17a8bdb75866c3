"""Networks and helpers shared by the load-flow tests (compare with pandapower's runpp)."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pandapower as pp
import pandapower.networks as pn

#: Acceptance thresholds of issue 3 (not to be loosened).
DV_MAX_PU = 1e-8
LOADING_MAX_PERCENT = 1e-6
POWER_MAX_MW = 1e-8

SIMBENCH_CODES = [f"1-LV-{g}--{s}-sw" for g in ("rural1", "rural2", "rural3", "semiurb4",
                                               "semiurb5", "urban6") for s in (0, 2)]


@functools.cache
def _simbench(code: str):
    import simbench as sb
    return sb.get_simbench_net(code)


def simbench_net(code: str):
    """A private copy of a SimBench grid (loaded once per session)."""
    return copy.deepcopy(_simbench(code))


@functools.cache
def _feeder():
    from grids.networks.feeder import build_reference_feeder
    return build_reference_feeder(n_homes=184, seed=1)


def feeder_net(with_pv: bool = True):
    """The reference feeder (184 homes), with one PV sgen per home if ``with_pv``."""
    net = copy.deepcopy(_feeder().net)
    if with_pv:
        for _, row in net.load.iterrows():
            pp.create_sgen(net, row["bus"], p_mw=0.004, q_mvar=0.0, name=f"PV {row['name']}")
    return net


def meshed_feeder_net():
    """The reference feeder with ties (NAYY 4x120 SE) between the ends of feeder pairs."""
    net = feeder_net()
    names = net.bus["name"].astype(str)
    trunk = names[names.str.match(r"^F\d+-J\d+$")]
    feeders = trunk.str.extract(r"^F(\d+)-J(\d+)$").astype(int)
    ends = {f: grp[1].idxmax() for f, grp in feeders.groupby(0)}
    pairs = [(1, 2), (3, 4), (2, 3)]
    for a, b in pairs:
        if a in ends and b in ends:
            pp.create_line(net, ends[a], ends[b], length_km=0.15, std_type="NAYY 4x120 SE",
                           name=f"tie F{a}-F{b}")
    # and one tie between mid-trunk joints of feeders 1 and 5
    mid = {f: grp[1].index[len(grp) // 2] for f, grp in feeders.groupby(0)}
    if 1 in mid and 5 in mid:
        pp.create_line(net, mid[1], mid[5], length_km=0.2, std_type="NAYY 4x120 SE",
                       name="tie F1-F5")
    return net


def ieee_european_balanced():
    """pandapower's IEEE European LV feeder, its asymmetric loads made symmetric (sum of
    the three phases as one balanced load)."""
    net = pn.ieee_european_lv_asymmetric()
    al = net.asymmetric_load
    for _, row in al.iterrows():
        pp.create_load(net, row["bus"], p_mw=row["p_a_mw"] + row["p_b_mw"] + row["p_c_mw"],
                       q_mvar=row["q_a_mvar"] + row["q_b_mvar"] + row["q_c_mvar"],
                       name=row["name"], in_service=bool(row["in_service"]))
    net.asymmetric_load = net.asymmetric_load.iloc[0:0]
    return net


def small_net():
    """A small LV grid with every supported feature: two transformers in parallel, a bus-bus
    switch, an open line switch, an out-of-service line, a shunt, loads, sgens, storage."""
    net = pp.create_empty_network()
    mv = pp.create_bus(net, 20.0, name="MV")
    lv = pp.create_bus(net, 0.4, name="LV")
    lv2 = pp.create_bus(net, 0.4, name="LV2")
    pp.create_ext_grid(net, mv, vm_pu=1.02, va_degree=5.0)
    pp.create_transformer(net, mv, lv, "0.25 MVA 20/0.4 kV")
    pp.create_transformer(net, mv, lv2, "0.4 MVA 20/0.4 kV", tap_pos=1)
    pp.create_switch(net, lv, lv2, et="b", closed=True)
    buses = [pp.create_bus(net, 0.4, name=f"B{i}") for i in range(8)]
    prev = lv
    for i, b in enumerate(buses[:5]):
        pp.create_line(net, prev, b, 0.08 + 0.01 * i, "NAYY 4x150 SE")
        prev = b
    pp.create_line(net, buses[1], buses[5], 0.05, "NAYY 4x50 SE")
    pp.create_line(net, buses[5], buses[6], 0.04, "NAYY 4x50 SE")
    l_open = pp.create_line(net, buses[6], buses[4], 0.1, "NAYY 4x50 SE")
    pp.create_switch(net, buses[4], l_open, et="l", closed=False)
    pp.create_line(net, buses[2], buses[7], 0.05, "NAYY 4x50 SE", in_service=False)
    for i, b in enumerate(buses[:7]):
        pp.create_load(net, b, p_mw=0.01 + 0.002 * i, q_mvar=0.003, name=f"L{i}")
    pp.create_load(net, buses[7], p_mw=0.01, q_mvar=0.0, name="L-isolated")
    pp.create_load(net, buses[0], p_mw=0.02, q_mvar=0.0, name="L-oos", in_service=False)
    pp.create_sgen(net, buses[3], p_mw=0.02, q_mvar=-0.002, name="PV3")
    pp.create_sgen(net, buses[6], p_mw=0.015, name="PV6", scaling=0.8)
    pp.create_storage(net, buses[2], p_mw=0.005, max_e_mwh=0.01, q_mvar=0.001)
    pp.create_shunt(net, buses[4], q_mvar=0.002, p_mw=0.0001)
    return net


def draws(net, n_steps: int, seed: int):
    """Randomised load and PV draws from light load to heavy reverse flow.

    Returns ``load_p, load_q, sgen_p`` ``[n_steps, n]`` [MW]: step 0 light load, step 1 heavy
    load, step 2 heavy reverse flow (PV at up to three times its rating or, without sgens,
    negative loads), further steps uniform in between.
    """
    rng = np.random.default_rng(seed)
    p_nom = np.maximum(net.load["p_mw"].to_numpy(float), 0.002)
    g_nom = np.maximum(net.sgen["p_mw"].to_numpy(float), 0.003)
    nl, ng = len(p_nom), len(g_nom)
    lf = rng.uniform(0.0, 1.5, (n_steps, nl))
    gf = rng.uniform(0.0, 1.0, (n_steps, ng))
    lf[0] = rng.uniform(0.0, 0.3, nl)
    gf[0] = 0.0
    lf[1] = rng.uniform(1.0, 2.5, nl)
    gf[1] = 0.0
    lf[2] = rng.uniform(0.0, 0.2, nl)
    gf[2] = rng.uniform(1.5, 3.0, ng)
    load_p = lf * p_nom
    if ng == 0:
        load_p[2] = -rng.uniform(1.0, 3.0, nl) * p_nom
    load_q = load_p * rng.uniform(0.1, 0.4, (n_steps, nl))
    return load_p, load_q, gf * g_nom


#: Tolerance of the reference runpp [MVA]. The issue names 1e-10; at 1e-10 pandapower's own
#: result is up to 1.4e-6 % (line loading) and 1.6e-9 p.u. away from its converged solution on
#: the IEEE European feeder at heavy load (measured), which alone would exceed the thresholds.
#: A tighter reference makes the comparison measure our error, not pandapower's stopping point.
#: Where runpp cannot reach it (rounding floor, urban6), the reference uses ten times more.
REFERENCE_TOLERANCE_MVA = 1e-12


def runpp_step(net, load_p, load_q, sgen_p, tolerance_mva: float = REFERENCE_TOLERANCE_MVA):
    """pandapower's reference: runpp (NR) on a copy of ``net`` with these values."""
    ref = copy.deepcopy(net)
    ref.load["p_mw"] = load_p
    ref.load["q_mvar"] = load_q
    if len(ref.sgen):
        ref.sgen["p_mw"] = sgen_p
    try:
        pp.runpp(ref, algorithm="nr", tolerance_mva=tolerance_mva, lightsim2grid=False,
                 max_iteration=30)
    except pp.LoadflowNotConverged:
        # on the larger urban grids rounding keeps pandapower's mismatch above 1e-12 MVA
        pp.runpp(ref, algorithm="nr", tolerance_mva=10 * tolerance_mva, lightsim2grid=False,
                 max_iteration=30)
    return ref


def max_differences(res, step: int, ref) -> dict[str, float]:
    """Largest differences of one step of our result against ``ref`` (after runpp).

    NaN positions must agree; they are checked here and count as difference 0.
    """
    def diff(ours, theirs):
        ours = np.asarray(ours, float)
        theirs = np.asarray(theirs, float)
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), "NaN pattern differs"
        d = np.abs(ours - theirs)
        return float(np.nanmax(d)) if d.size and not np.all(np.isnan(d)) else 0.0

    v_ours = res.vm_pu[step] * np.exp(1j * np.deg2rad(res.va_degree[step]))
    v_ref = ref.res_bus["vm_pu"].to_numpy() * np.exp(1j * np.deg2rad(
        ref.res_bus["va_degree"].to_numpy()))
    out = {
        "vm_pu": diff(res.vm_pu[step], ref.res_bus["vm_pu"]),
        "line_loading_percent": diff(res.line_loading_percent[step],
                                     ref.res_line["loading_percent"]),
        "trafo_loading_percent": diff(res.trafo_loading_percent[step],
                                      ref.res_trafo["loading_percent"]),
        "ext_grid_p_mw": diff(res.ext_grid_p_mw[step], ref.res_ext_grid["p_mw"]),
        "ext_grid_q_mvar": diff(res.ext_grid_q_mvar[step], ref.res_ext_grid["q_mvar"]),
        "trafo_p_hv_mw": diff(res.trafo_p_hv_mw[step], ref.res_trafo["p_hv_mw"]),
        "trafo_q_hv_mvar": diff(res.trafo_q_hv_mvar[step], ref.res_trafo["q_hv_mvar"]),
        "v_pu": float(np.nanmax(np.abs(v_ours - v_ref))) if np.isfinite(v_ref).any() else 0.0,
        "losses_mw": abs(float(res.losses_mw[step]) - float(
            np.nansum(ref.res_line["pl_mw"]) + np.nansum(ref.res_trafo["pl_mw"]))),
    }
    return out


def assert_exact(res, step: int, ref) -> dict[str, float]:
    """Assert the acceptance thresholds of issue 3 for one step; return the differences."""
    d = max_differences(res, step, ref)
    assert d["v_pu"] < DV_MAX_PU, d
    assert d["vm_pu"] < DV_MAX_PU, d
    assert d["line_loading_percent"] < LOADING_MAX_PERCENT, d
    assert d["trafo_loading_percent"] < LOADING_MAX_PERCENT, d
    assert d["ext_grid_p_mw"] < POWER_MAX_MW, d
    assert d["ext_grid_q_mvar"] < POWER_MAX_MW, d
    assert d["trafo_p_hv_mw"] < POWER_MAX_MW, d
    assert d["trafo_q_hv_mvar"] < POWER_MAX_MW, d
    assert d["losses_mw"] < POWER_MAX_MW, d
    return d
