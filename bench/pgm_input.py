"""Build power-grid-model input from a pandapower net (bench only).

Written for the grids of the bench (lines, two-winding transformers, bus-bus and line
switches, one ext_grid, loads, sgens, storage as constant loads), not as a general
converter. Differences to pandapower's model that remain: PGM's transformer is a pi model
(pandapower: T model); the ext_grid is a source with a very high short-circuit power
(``sk = 1e15`` VA) instead of an ideal voltage. The bench reports PGM's largest voltage
difference to our engine for information.
"""

from __future__ import annotations

import numpy as np
from power_grid_model import ComponentType, DatasetType, initialize_array
from power_grid_model.enum import BranchSide, LoadGenType, WindingType


def pgm_input(net) -> tuple[dict, dict]:
    """Return ``(input_data, ids)`` for ``power_grid_model.PowerGridModel``.

    ``ids`` maps ``"node"``, ``"line"``, ``"transformer"``, ``"sym_load"``, ``"sym_gen"`` to
    the PGM ids in net row order (buses, lines, trafos, loads, sgens).
    """
    next_id = [0]

    def new_ids(n: int) -> np.ndarray:
        out = np.arange(next_id[0], next_id[0] + n)
        next_id[0] += n
        return out

    bus = net.bus
    node = initialize_array(DatasetType.input, ComponentType.node, len(bus))
    node["id"] = new_ids(len(bus))
    node["u_rated"] = bus["vn_kv"].to_numpy() * 1e3
    node_of = dict(zip(bus.index, node["id"], strict=True))

    sw = net.switch
    line_sw = sw[sw["et"] == "l"]
    open_at = {(int(r["element"]), int(r["bus"])) for _, r in line_sw.iterrows()
               if not bool(r["closed"])}

    ln = net.line
    line = initialize_array(DatasetType.input, ComponentType.line, len(ln))
    line["id"] = new_ids(len(ln))
    line["from_node"] = [node_of[b] for b in ln["from_bus"]]
    line["to_node"] = [node_of[b] for b in ln["to_bus"]]
    ins = ln["in_service"].to_numpy(bool)
    line["from_status"] = [int(i and (idx, fb) not in open_at)
                           for idx, fb, i in zip(ln.index, ln["from_bus"], ins, strict=True)]
    line["to_status"] = [int(i and (idx, tb) not in open_at)
                         for idx, tb, i in zip(ln.index, ln["to_bus"], ins, strict=True)]
    par = ln["parallel"].to_numpy(float)
    length = ln["length_km"].to_numpy(float)
    line["r1"] = ln["r_ohm_per_km"].to_numpy() * length / par
    line["x1"] = ln["x_ohm_per_km"].to_numpy() * length / par
    line["c1"] = ln["c_nf_per_km"].to_numpy() * length * 1e-9 * par
    line["tan1"] = 0.0
    line["i_n"] = ln["max_i_ka"].to_numpy() * 1e3 * par * ln["df"].to_numpy()

    bb = sw[(sw["et"] == "b") & sw["closed"].astype(bool)]
    link = initialize_array(DatasetType.input, ComponentType.link, len(bb))
    link["id"] = new_ids(len(bb))
    link["from_node"] = [node_of[b] for b in bb["bus"]]
    link["to_node"] = [node_of[b] for b in bb["element"]]
    link["from_status"] = 1
    link["to_status"] = 1

    tr = net.trafo
    trafo = initialize_array(DatasetType.input, ComponentType.transformer, len(tr))
    trafo["id"] = new_ids(len(tr))
    trafo["from_node"] = [node_of[b] for b in tr["hv_bus"]]
    trafo["to_node"] = [node_of[b] for b in tr["lv_bus"]]
    trafo["from_status"] = tr["in_service"].to_numpy(int)
    trafo["to_status"] = tr["in_service"].to_numpy(int)
    trafo["u1"] = tr["vn_hv_kv"].to_numpy() * 1e3
    trafo["u2"] = tr["vn_lv_kv"].to_numpy() * 1e3
    sn = tr["sn_mva"].to_numpy() * 1e6
    trafo["sn"] = sn
    trafo["uk"] = tr["vk_percent"].to_numpy() / 100
    trafo["pk"] = tr["vkr_percent"].to_numpy() / 100 * sn
    trafo["i0"] = np.maximum(tr["i0_percent"].to_numpy() / 100,
                             tr["pfe_kw"].to_numpy() * 1e3 / sn)
    trafo["p0"] = tr["pfe_kw"].to_numpy() * 1e3
    trafo["winding_from"] = WindingType.delta
    trafo["winding_to"] = WindingType.wye_n
    trafo["clock"] = np.round(tr["shift_degree"].fillna(0).to_numpy() / 30).astype(int) % 12
    hv_side = (tr["tap_side"].fillna("hv") == "hv").to_numpy()
    trafo["tap_side"] = np.where(hv_side, BranchSide.from_side, BranchSide.to_side)
    trafo["tap_pos"] = tr["tap_pos"].fillna(0).to_numpy(int)
    trafo["tap_min"] = tr["tap_min"].fillna(0).to_numpy(int)
    trafo["tap_max"] = tr["tap_max"].fillna(0).to_numpy(int)
    trafo["tap_nom"] = tr["tap_neutral"].fillna(0).to_numpy(int)
    vn_side = np.where(hv_side, trafo["u1"], trafo["u2"])
    trafo["tap_size"] = tr["tap_step_percent"].fillna(0).to_numpy() / 100 * vn_side

    eg = net.ext_grid
    source = initialize_array(DatasetType.input, ComponentType.source, len(eg))
    source["id"] = new_ids(len(eg))
    source["node"] = [node_of[b] for b in eg["bus"]]
    source["status"] = eg["in_service"].to_numpy(int)
    source["u_ref"] = eg["vm_pu"].to_numpy()
    source["u_ref_angle"] = np.deg2rad(eg["va_degree"].to_numpy())
    source["sk"] = 1e15

    ld = net.load
    load = initialize_array(DatasetType.input, ComponentType.sym_load, len(ld))
    load["id"] = new_ids(len(ld))
    load["node"] = [node_of[b] for b in ld["bus"]]
    load["status"] = ld["in_service"].to_numpy(int)
    load["type"] = LoadGenType.const_power
    load["p_specified"] = ld["p_mw"].to_numpy() * 1e6 * ld["scaling"].to_numpy()
    load["q_specified"] = ld["q_mvar"].to_numpy() * 1e6 * ld["scaling"].to_numpy()

    st = net.get("storage")
    if st is not None and len(st):  # constant, as in our engine (consumption positive)
        sto = initialize_array(DatasetType.input, ComponentType.sym_load, len(st))
        sto["id"] = new_ids(len(st))
        sto["node"] = [node_of[b] for b in st["bus"]]
        sto["status"] = st["in_service"].to_numpy(int)
        sto["type"] = LoadGenType.const_power
        sto["p_specified"] = st["p_mw"].to_numpy() * 1e6 * st["scaling"].to_numpy()
        sto["q_specified"] = st["q_mvar"].to_numpy() * 1e6 * st["scaling"].to_numpy()
    else:
        sto = initialize_array(DatasetType.input, ComponentType.sym_load, 0)

    sg = net.sgen
    gen = initialize_array(DatasetType.input, ComponentType.sym_gen, len(sg))
    gen["id"] = new_ids(len(sg))
    gen["node"] = [node_of[b] for b in sg["bus"]]
    gen["status"] = sg["in_service"].to_numpy(int)
    gen["type"] = LoadGenType.const_power
    gen["p_specified"] = sg["p_mw"].to_numpy() * 1e6 * sg["scaling"].to_numpy()
    gen["q_specified"] = sg["q_mvar"].to_numpy() * 1e6 * sg["scaling"].to_numpy()

    data = {ComponentType.node: node, ComponentType.line: line, ComponentType.link: link,
            ComponentType.transformer: trafo, ComponentType.source: source,
            ComponentType.sym_load: np.concatenate([load, sto]), ComponentType.sym_gen: gen}
    ids = {"node": node["id"], "line": line["id"], "transformer": trafo["id"],
           "sym_load": load["id"], "sym_gen": gen["id"]}
    return data, ids


def pgm_update(ids: dict, load_p_mw, load_q_mvar, sgen_p_mw, load_scale, sgen_scale) -> dict:
    """Batch update ``[n_steps, n]`` for loads (p, q) and sgens (p), in W / var."""
    n_steps = load_p_mw.shape[0]
    upd = {}
    lu = initialize_array(DatasetType.update, ComponentType.sym_load,
                          (n_steps, len(ids["sym_load"])))
    lu["id"] = ids["sym_load"]
    lu["p_specified"] = load_p_mw * 1e6 * load_scale
    lu["q_specified"] = load_q_mvar * 1e6 * load_scale
    upd[ComponentType.sym_load] = lu
    if len(ids["sym_gen"]):
        gu = initialize_array(DatasetType.update, ComponentType.sym_gen,
                              (n_steps, len(ids["sym_gen"])))
        gu["id"] = ids["sym_gen"]
        gu["p_specified"] = sgen_p_mw * 1e6 * sgen_scale
        upd[ComponentType.sym_gen] = gu
    return upd


def pgm_input_asym(net) -> tuple[dict, dict]:
    """Input for power-grid-model's asymmetric calculation: :func:`pgm_input` plus the
    zero-sequence data of the lines (``r0``, ``x0``, ``c0``) and ``net.asymmetric_load``
    as ``asym_load`` (``ids["asym_load"]``). Missing zero-sequence data take the defaults
    of :mod:`grids.unbalanced.defaults`, as our engine does.

    The models differ from pandapower's ``runpp_3ph`` in what PGM models: its source is one
    impedance for all sequences (``sk = 1e15``: ideal, where ``runpp_3ph`` puts the
    short-circuit impedance in the negative and zero sequence only) and its transformer a
    pi model; the bench reports PGM's largest voltage difference to ours for information.
    """
    from grids.unbalanced.defaults import with_sequence_data

    work = with_sequence_data(net, warn=False)
    data, ids = pgm_input(work)
    ln = work.line
    line = data[ComponentType.line]
    length = ln["length_km"].to_numpy(float)
    par = ln["parallel"].to_numpy(float)
    line["r0"] = ln["r0_ohm_per_km"].to_numpy(float) * length / par
    line["x0"] = ln["x0_ohm_per_km"].to_numpy(float) * length / par
    line["c0"] = ln["c0_nf_per_km"].to_numpy(float) * length * 1e-9 * par
    line["tan0"] = 0.0
    al = work.asymmetric_load
    node_of = dict(zip(work.bus.index, data[ComponentType.node]["id"], strict=True))
    asym = initialize_array(DatasetType.input, ComponentType.asym_load, len(al))
    next_id = int(max(int(a["id"].max()) for a in data.values() if len(a)) + 1)
    asym["id"] = np.arange(next_id, next_id + len(al))
    asym["node"] = [node_of[b] for b in al["bus"]]
    asym["status"] = al["in_service"].to_numpy(int)
    asym["type"] = LoadGenType.const_power
    scale = al["scaling"].to_numpy(float)[:, None]
    asym["p_specified"] = al[["p_a_mw", "p_b_mw", "p_c_mw"]].to_numpy(float) * 1e6 * scale
    asym["q_specified"] = al[["q_a_mvar", "q_b_mvar", "q_c_mvar"]].to_numpy(float) * 1e6 * scale
    data[ComponentType.asym_load] = asym
    ids = dict(ids, asym_load=asym["id"])
    return data, ids


def pgm_update_asym(ids: dict, asym_p_mw, asym_q_mvar, scaling) -> dict:
    """Batch update ``[n_steps, n_asym, 3]`` of the asymmetric loads, in W / var."""
    n_steps = asym_p_mw.shape[0]
    upd = initialize_array(DatasetType.update, ComponentType.asym_load,
                           (n_steps, len(ids["asym_load"])))
    upd["id"] = ids["asym_load"]
    upd["p_specified"] = asym_p_mw * 1e6 * scaling[None, :, None]
    upd["q_specified"] = asym_q_mvar * 1e6 * scaling[None, :, None]
    return {ComponentType.asym_load: upd}
