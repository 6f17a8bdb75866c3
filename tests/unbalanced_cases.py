"""Networks, draws and references of the unbalanced load-flow tests (against ``runpp_3ph``).

The reference is pandapower's ``runpp_3ph`` iterated to its own fixed point: its outer loop
stops when the change of ``|S1|`` falls below a hard-coded 3e-8 p.u. (``outer_tolerance_mva``
in ``pandapower/pf/runpp_3ph.py``), which leaves a single call up to 2.3e-6 p.u. away from its
converged voltages on the IEEE European LV feeder at on-peak (measured). Restarting it from its
own results (``init="results"``) continues the same iteration; :func:`reference_3ph` does so
until the voltages change by less than 1e-11 p.u. (and reports how many restarts it took).
"""

from __future__ import annotations

import copy
import functools
import warnings

import numpy as np
import pandapower as pp
import pandapower.networks as pn

from grids.networks.phases import rotating_phases, single_phase_net

#: Acceptance thresholds of issue 12 (not to be loosened).
DV_MAX_PU = 1e-6
I_MAX_KA = 1e-6
#: Thresholds of the other results (consistent with the voltage threshold: a 1e-6 p.u.
#: voltage error moves loadings by about 1e-4 % and powers by about 1e-6 MW here).
LOADING_MAX_PERCENT = 1e-4
POWER_MAX_MW = 1e-6
VUF_MAX_PERCENT = 1e-4

SIMBENCH_CODES = [f"1-LV-{g}--{s}-sw" for g in ("rural1", "rural2", "rural3", "semiurb4",
                                               "semiurb5", "urban6") for s in (0, 2)]
PHASE_SEED = 12


@functools.cache
def _feeder():
    from grids.networks.feeder import build_reference_feeder
    return build_reference_feeder(n_homes=184, seed=1)


def feeder_case():
    """The reference feeder with its homes on their phases: ``(net3, connections, homes)``."""
    f = _feeder()
    net3, conns = single_phase_net(f.net, f.homes["phase"].to_numpy(),
                                   f.homes["load"].to_numpy())
    return net3, conns, f.homes


@functools.cache
def _simbench(code: str):
    import simbench as sb
    return sb.get_simbench_net(code)


def simbench_case(code: str):
    """A SimBench LV grid with its loads on phases (:func:`rotating_phases`, seeded), its
    sgens balanced and its storage out of service: ``(net3, connections)``."""
    net = copy.deepcopy(_simbench(code))
    net.profiles = {}
    if len(net.storage):  # as grids.networks.loaders does (runpp_3ph ignores storage)
        net.storage["in_service"] = False
    phases = rotating_phases(net, seed=PHASE_SEED)
    return single_phase_net(net, phases)


def ieee_case(case: str):
    """pandapower's IEEE European LV feeder, asymmetric as it ships (``on_peak_566`` or
    ``off_peak_1``)."""
    return pn.ieee_european_lv_asymmetric(case)


def small_net_3ph():
    """A small LV grid with every supported feature: two Dyn transformers in parallel, a
    bus-bus switch, an open line switch, an out-of-service line, an islanded bus, balanced
    loads and sgens, asymmetric loads (one out of service) and an asymmetric sgen."""
    net = pp.create_empty_network()
    mv = pp.create_bus(net, 20.0, name="MV")
    lv = pp.create_bus(net, 0.4, name="LV")
    lv2 = pp.create_bus(net, 0.4, name="LV2")
    pp.create_ext_grid(net, mv, vm_pu=1.02, va_degree=5.0, s_sc_max_mva=100.0, rx_max=0.1,
                       x0x_max=1.0, r0x0_max=0.1)
    for b, sn, tap in ((lv, 0.25, 0), (lv2, 0.4, 1)):
        pp.create_transformer_from_parameters(
            net, mv, b, sn_mva=sn, vn_hv_kv=20.0, vn_lv_kv=0.4, vk_percent=4.0,
            vkr_percent=1.2, pfe_kw=0.6, i0_percent=0.3, shift_degree=150.0,
            vector_group="Dyn", tap_side="hv", tap_neutral=0, tap_min=-2, tap_max=2,
            tap_step_percent=2.5, tap_pos=tap, vk0_percent=4.0, vkr0_percent=1.2,
            mag0_percent=100.0, mag0_rx=0.0, si0_hv_partial=0.9)
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
    net.line["r0_ohm_per_km"] = 4.0 * net.line["r_ohm_per_km"]
    net.line["x0_ohm_per_km"] = 4.0 * net.line["x_ohm_per_km"]
    net.line["c0_nf_per_km"] = net.line["c_nf_per_km"]
    for i, b in enumerate(buses[:3]):
        pp.create_load(net, b, p_mw=0.008 + 0.002 * i, q_mvar=0.002, name=f"L{i}")
    for i, b in enumerate(buses[2:7]):
        ph = np.zeros(3)
        ph[i % 3] = 1.0
        pp.create_asymmetric_load(net, b, p_a_mw=0.005 * ph[0], p_b_mw=0.006 * ph[1],
                                  p_c_mw=0.007 * ph[2], q_a_mvar=0.001 * ph[0],
                                  q_b_mvar=0.001 * ph[1], q_c_mvar=0.002 * ph[2],
                                  name=f"A{i}")
    pp.create_asymmetric_load(net, buses[0], p_a_mw=0.01, name="A-oos", in_service=False)
    pp.create_asymmetric_load(net, buses[7], p_b_mw=0.004, name="A-isolated")
    pp.create_sgen(net, buses[3], p_mw=0.012, q_mvar=-0.001, name="PV3")
    pp.create_sgen(net, buses[6], p_mw=0.009, name="PV6", scaling=0.8)
    pp.create_asymmetric_sgen(net, buses[4], p_a_mw=0.003, name="PV4a")
    return net


def connection_draws(n_steps: int, n_conn: int, seed: int, p_nom_mw: float = 0.002,
                     phase=None):
    """Per-connection powers from light load to heavy one-phase reverse flow [MW], [Mvar].

    Step 0 light load, step 1 heavy load, step 2 heavy reverse flow on phase a (the
    connections on phase a export 1.5-3x ``p_nom``, the others draw little; all connections
    export if ``phase`` is not given), further steps uniform from export to heavy load.
    """
    rng = np.random.default_rng(seed)
    p = rng.uniform(-1.0, 2.0, (n_steps, n_conn)) * p_nom_mw
    p[0] = rng.uniform(0.0, 0.3, n_conn) * p_nom_mw
    p[1] = rng.uniform(1.0, 2.5, n_conn) * p_nom_mw
    on_a = np.ones(n_conn, bool) if phase is None else (np.asarray(phase) == 0)
    p[2] = np.where(on_a, -rng.uniform(1.5, 3.0, n_conn), rng.uniform(0.0, 0.2, n_conn))
    p[2] *= p_nom_mw
    q = p * rng.uniform(0.1, 0.4, (n_steps, n_conn))
    return p, q


def sgen_draws(net, n_steps: int, seed: int) -> np.ndarray:
    """Balanced sgen powers [MW]: none at steps 0 and 1, 1.5-3x at step 2, then uniform."""
    rng = np.random.default_rng(seed)
    g = np.maximum(net.sgen["p_mw"].to_numpy(float), 0.003)
    out = rng.uniform(0.0, 1.0, (n_steps, len(g))) * g
    out[:2] = 0.0
    if n_steps > 2:
        out[2] = rng.uniform(1.5, 3.0, len(g)) * g
    return out


def with_connection_values(net3, conns, p, q):
    """A copy of ``net3`` with the connection powers of one step written into its
    asymmetric loads (rows a connection names take exactly their connections' sum)."""
    ref = copy.deepcopy(net3)
    al = ref.asymmetric_load
    named = np.unique(conns.asym_row)
    for c in ("p_a_mw", "p_b_mw", "p_c_mw", "q_a_mvar", "q_b_mvar", "q_c_mvar"):
        al.iloc[named, al.columns.get_loc(c)] = 0.0
    for j, (r, ph) in enumerate(zip(conns.asym_row, conns.phase, strict=True)):
        phases = "abc" if ph == 3 else "abc"[ph]
        share = 1.0 / len(phases)
        for c in phases:
            al.iloc[r, al.columns.get_loc(f"p_{c}_mw")] += p[j] * share
            al.iloc[r, al.columns.get_loc(f"q_{c}_mvar")] += q[j] * share
    return ref


def reference_3ph(net, max_restarts: int = 12):
    """``runpp_3ph`` on a copy of ``net``, restarted from its results to its fixed point.

    Returns
    -------
    ref
        The net after the last call (``res_*_3ph`` tables).
    restarts
        Restarts made after the first call.
    change
        Largest change of a phase voltage [p.u.] in the last restart (NaN: the net cannot
        be restarted, see the code).
    """
    from pandapower.pf.runpp_3ph import runpp_3ph

    from grids.unbalanced.defaults import with_sequence_data

    ref = with_sequence_data(net, warn=False)
    tol = 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tol in (1e-12, 1e-11, 1e-10):
            try:
                runpp_3ph(ref, tolerance_mva=tol, max_iteration=100)
                break
            except pp.LoadflowNotConverged:
                continue
        else:
            raise AssertionError("runpp_3ph did not converge")
        prev = phase_voltages(ref)
        change = np.inf
        restarts = 0
        while restarts < max_restarts and change > 1e-11:
            try:
                runpp_3ph(ref, tolerance_mva=tol, max_iteration=100, init="results")
            except KeyError:
                # pandapower 3.5.6 cannot restart from results with an open line switch
                # (_switch_branches looks the line up in res_line, not res_line_3ph): one
                # call is all the reference gets on such a net
                runpp_3ph(ref, tolerance_mva=tol, max_iteration=100)
                change = np.nan
                break
            cur = phase_voltages(ref)
            change = float(np.nanmax(np.abs(cur - prev)))
            prev = cur
            restarts += 1
    return ref, restarts, change


def phase_voltages(ref) -> np.ndarray:
    """Complex phase voltages ``[n_bus, 3]`` of a ``runpp_3ph`` result."""
    r = ref.res_bus_3ph
    return np.stack([r[f"vm_{p}_pu"].to_numpy() * np.exp(1j * np.deg2rad(
        r[f"va_{p}_degree"].to_numpy())) for p in "abc"], axis=1)


def max_differences(res, step: int, ref) -> dict[str, float]:
    """Largest differences of one step of our result against a ``runpp_3ph`` result.

    NaN positions must agree; they count as difference 0.
    """
    def diff(ours, theirs):
        ours = np.asarray(ours, float)
        theirs = np.asarray(theirs, float)
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), "NaN pattern differs"
        d = np.abs(ours - theirs)
        return float(np.nanmax(d)) if d.size and not np.all(np.isnan(d)) else 0.0

    def cols(df, fmt):
        return np.stack([df[fmt.format(p)].to_numpy(float) for p in "abc"], axis=1)

    rb, rl, rt, re_ = ref.res_bus_3ph, ref.res_line_3ph, ref.res_trafo_3ph, ref.res_ext_grid_3ph
    v_ours = res.vm_pu[step] * np.exp(1j * np.deg2rad(res.va_degree[step]))
    v_ref = phase_voltages(ref)
    loss_ref = (np.nansum(cols(rl, "pl_{}_mw")) + np.nansum(cols(rt, "pl_{}_mw"))
                if len(rt) else np.nansum(cols(rl, "pl_{}_mw")))
    out = {
        "v_pu": float(np.nanmax(np.abs(v_ours - v_ref))) if np.isfinite(v_ref).any() else 0.0,
        "vm_pu": diff(res.vm_pu[step], cols(rb, "vm_{}_pu")),
        "line_i_ka": diff(res.line_i_ka[step], cols(rl, "i_{}_ka")),
        "line_loading_percent": diff(res.line_loading_percent[step],
                                     cols(rl, "loading_{}_percent")),
        "trafo_loading_percent": diff(res.trafo_loading_percent[step],
                                      rt["loading_percent"].to_numpy(float)),
        "trafo_p_hv_mw": diff(res.trafo_p_hv_mw[step], cols(rt, "p_{}_hv_mw")),
        "trafo_q_hv_mvar": diff(res.trafo_q_hv_mvar[step], cols(rt, "q_{}_hv_mvar")),
        "ext_grid_p_mw": diff(res.ext_grid_p_mw[step], cols(re_, "p_{}_mw")),
        "ext_grid_q_mvar": diff(res.ext_grid_q_mvar[step], cols(re_, "q_{}_mvar")),
        "vuf_percent": diff(res.vuf_percent[step], rb["unbalance_percent"].to_numpy(float)),
        "losses_mw": abs(float(res.losses_mw[step]) - float(loss_ref)),
    }
    return out


def assert_exact(res, step: int, ref) -> dict[str, float]:
    """Assert the thresholds of issue 12 (and the derived ones) for one step."""
    d = max_differences(res, step, ref)
    assert d["v_pu"] < DV_MAX_PU, d
    assert d["vm_pu"] < DV_MAX_PU, d
    assert d["line_i_ka"] < I_MAX_KA, d
    for key in ("line_loading_percent", "trafo_loading_percent"):
        assert d[key] < LOADING_MAX_PERCENT, d
    for key in ("trafo_p_hv_mw", "trafo_q_hv_mvar", "ext_grid_p_mw", "ext_grid_q_mvar",
                "losses_mw"):
        assert d[key] < POWER_MAX_MW, d
    assert d["vuf_percent"] < VUF_MAX_PERCENT, d
    return d
