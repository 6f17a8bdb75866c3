"""Write a pandapower network as an OpenDSS model (for comparing the unbalanced load flow).

:func:`opendss_script` returns the text of a self-contained OpenDSS script (``clear``, the
circuit, line codes, lines, transformers, loads, ``solve`` options); nothing here imports
OpenDSS (dss-python, a dev extra, runs it: :func:`run_opendss`). Element names are the
pandapower table and index (``b12``, ``line7``, ``tr0``, ``ld3``, ``al5a``...), so results map
back row by row.

What is written, and how it differs from pandapower's ``runpp_3ph`` model (what OpenDSS
models is stated; the differences are modelling, not numerical):

* **Lines**: one line code per line from its positive- and zero-sequence data (``r1, x1, r0,
  x0, c1, c0``, per km, after :func:`grids.unbalanced.defaults.with_sequence_data`), three
  phases, ``parallel`` lines as one with the impedance divided. OpenDSS builds the same
  symmetric (transposed) phase matrices with the neutral reduced: no modelling difference.
* **ext_grid**: the circuit's source at the ext_grid's bus, ``vm_pu``, ``va_degree``, with
  ``source="short_circuit"`` its short-circuit impedance in all three sequences (``|Z1| =
  vn^2 / s_sc_max_mva``, ``R/X = rx_max``, ``X0 = x0x_max X1``, ``R0 = r0x0_max X0``).
  ``runpp_3ph`` keeps the positive sequence ideal and scales the negative- and
  zero-sequence impedance by ``c = 1.1``: a modelling difference. ``source="ideal"``: a
  source of 1e9 MVA (use it with a net whose ext_grid is as stiff to compare the rest).
* **Transformers** (two-winding; ``Dyn`` with ``shift_degree`` 30 (Dyn1: OpenDSS's ANSI lag)
  or 330 (Dyn11: ``LeadLag=Euro``), ``YNyn`` with 0): ``%R`` split equally over the windings,
  ``XHL`` from ``vk`` and ``vkr``, ``%noloadloss`` and ``%imag`` from ``pfe_kw`` and
  ``i0_percent`` at the HV winding (pandapower's T model splits the leakage around the
  magnetising branch: a modelling difference of the order of ``i0 * vk``), the HV tap as
  ``taps``. OpenDSS's zero-sequence path of a Dyn transformer is its leakage impedance;
  pandapower's is its zero-sequence T model (``vk0``, ``si0_hv_partial``, ``mag0_percent``):
  with ``mag0_percent = 100`` (the IEEE European LV feeder's and the reference feeder's
  data) the zero-sequence impedance seen from the LV side is 0.57 times the leakage
  impedance (``0.1 Z + 0.9 Z || Z``): a modelling difference that moves the phase voltages
  under unbalance; with a large ``mag0_percent`` the two agree.
* **Loads and sgens**: constant-power loads (``model=1``, ``vminpu=0.01``: OpenDSS would turn
  them into impedances below 0.95 p.u.); a balanced load or sgen three-phase wye, an
  asymmetric one a single-phase load per phase with power (phase to ground); sgens as
  negative loads; ``scaling`` applied.
* **Switches**: a closed bus-bus switch fuses its buses (as pandapower does); an open line
  switch takes its line out (pandapower keeps the line's charging at the closed end: a
  difference of the order of the line's capacitance).

Unsupported elements raise :class:`grids.errors.UnsupportedElement` (as the engines do).
"""

from __future__ import annotations

import numpy as np

from grids.errors import UnsupportedElement

#: Tables the writer refuses when they hold an in-service row.
UNSUPPORTED = ("gen", "storage", "ward", "xward", "impedance", "trafo3w", "dcline", "shunt",
               "motor", "svc", "tcsc", "ssc", "vsc")


def _fused_buses(net) -> dict:
    """Bus -> representative bus, fusing buses joined by closed bus-bus switches."""
    parent = {b: b for b in net.bus.index}

    def find(b):
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        return b

    sw = net.switch
    for _, r in sw[(sw["et"] == "b") & sw["closed"].astype(bool)].iterrows():
        a, b = find(r["bus"]), find(r["element"])
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {b: find(b) for b in net.bus.index}


def opendss_script(net, *, name: str = "net", source: str = "short_circuit",
                   tolerance: float = 1e-10) -> str:
    """The OpenDSS script of ``net`` (see the module docstring for what is written).

    Parameters
    ----------
    net
        pandapower network (not modified); missing zero-sequence data take the defaults of
        :mod:`grids.unbalanced.defaults`.
    name
        Circuit name.
    source
        ``"short_circuit"``: the ext_grid behind its short-circuit impedance;
        ``"ideal"``: a source of 1e9 MVA.
    tolerance
        OpenDSS's solution tolerance (relative voltage change between iterations).

    Returns
    -------
    str
        The script.

    Raises
    ------
    grids.errors.UnsupportedElement
        An element the writer cannot represent (named).
    """
    from grids.unbalanced.defaults import with_sequence_data

    if source not in ("short_circuit", "ideal"):
        raise ValueError(f"source: must be 'short_circuit' or 'ideal' (got {source!r})")
    problems = []
    for table in UNSUPPORTED:
        df = net.get(table)
        if df is not None and len(df) and df["in_service"].astype(bool).any():
            problems.append(f"{table} rows {list(df.index[df['in_service'].astype(bool)])[:10]}")
    eg = net.ext_grid[net.ext_grid["in_service"].astype(bool)]
    if len(eg) != 1:
        problems.append(f"ext_grid: exactly one in service is needed (got {len(eg)})")
    if problems:
        raise UnsupportedElement("network not supported by the OpenDSS writer: "
                                 + "; ".join(problems))
    work = with_sequence_data(net, warn=False)
    fused = _fused_buses(work)
    vn = work.bus["vn_kv"].to_dict()
    on_bus = work.bus["in_service"].astype(bool).to_dict()

    def bus(b, nodes=""):
        return f"b{fused[b]}{nodes}"

    f_hz = float(work.get("f_hz", 50.0))
    out = ["clear", f"set defaultbasefrequency={f_hz:g}"]
    g = eg.iloc[0]
    kv = vn[g["bus"]]
    if source == "ideal":
        z1 = kv ** 2 / 1e9
        r1, x1, r0, x0 = z1 * 0.1, z1, z1 * 0.1, z1
    else:
        z1 = kv ** 2 / float(g["s_sc_max_mva"])
        x1 = z1 / np.sqrt(1.0 + float(g["rx_max"]) ** 2)
        r1 = float(g["rx_max"]) * x1
        x0 = float(g["x0x_max"]) * x1
        r0 = float(g["r0x0_max"]) * x0
    out.append(f"new circuit.{name} basekv={kv:.10g} pu={float(g['vm_pu']):.12g} "
               f"angle={float(g['va_degree']):.12g} phases=3 bus1={bus(g['bus'])} "
               f"R1={r1:.12g} X1={x1:.12g} R0={r0:.12g} X0={x0:.12g}")
    open_lines = set(work.switch.loc[(work.switch["et"] == "l")
                                     & ~work.switch["closed"].astype(bool), "element"])
    for i, r in work.line.iterrows():
        if not bool(r["in_service"]) or i in open_lines:
            continue
        if not (on_bus[r["from_bus"]] and on_bus[r["to_bus"]]):
            continue
        par = float(r["parallel"])
        out.append(f"new linecode.lc{i} nphases=3 units=km "
                   f"r1={r['r_ohm_per_km'] / par:.12g} x1={r['x_ohm_per_km'] / par:.12g} "
                   f"r0={r['r0_ohm_per_km'] / par:.12g} x0={r['x0_ohm_per_km'] / par:.12g} "
                   f"c1={r['c_nf_per_km'] * par:.12g} c0={r['c0_nf_per_km'] * par:.12g}")
        out.append(f"new line.line{i} bus1={bus(r['from_bus'])} bus2={bus(r['to_bus'])} "
                   f"linecode=lc{i} length={float(r['length_km']):.12g} units=km")
    for i, t in work.trafo.iterrows():
        if not bool(t["in_service"]):
            continue
        group = str(t["vector_group"]).lower()
        shift = float(t["shift_degree"]) % 360.0
        if group == "dyn" and abs(shift - 30.0) < 1e-6:
            conns, leadlag = "[delta wye]", "ansi"
        elif group == "dyn" and abs(shift - 330.0) < 1e-6:
            conns, leadlag = "[delta wye]", "euro"
        elif group == "ynyn" and abs(shift) < 1e-6:
            conns, leadlag = "[wye wye]", "ansi"
        else:
            raise UnsupportedElement(f"trafo {i}: vector_group {t['vector_group']} with "
                                     f"shift_degree {t['shift_degree']} is not written "
                                     "(Dyn 30 or 330, YNyn 0)")
        steps = (float(np.nan_to_num(t["tap_pos"])) - float(np.nan_to_num(t["tap_neutral"])))
        tap = 1.0 + steps * float(np.nan_to_num(t["tap_step_percent"])) / 100.0
        hv_tap, lv_tap = (tap, 1.0) if str(t["tap_side"]).lower() != "lv" else (1.0, tap)
        kva = float(t["sn_mva"]) * 1000.0 * float(t["parallel"])
        vkr, vk = float(t["vkr_percent"]), float(t["vk_percent"])
        noload = float(t["pfe_kw"]) / (float(t["sn_mva"]) * 1000.0) * 100.0
        imag = float(np.sqrt(max(float(t["i0_percent"]) ** 2 - noload ** 2, 0.0)))
        out.append(f"new transformer.tr{i} phases=3 windings=2 "
                   f"buses=[{bus(t['hv_bus'])} {bus(t['lv_bus'])}] conns={conns} "
                   f"kvs=[{float(t['vn_hv_kv']):.12g} {float(t['vn_lv_kv']):.12g}] "
                   f"kvas=[{kva:.12g} {kva:.12g}] taps=[{hv_tap:.12g} {lv_tap:.12g}] "
                   f"%rs=[{vkr / 2:.12g} {vkr / 2:.12g}] xhl={np.sqrt(vk ** 2 - vkr ** 2):.12g} "
                   f"%noloadloss={noload:.12g} %imag={imag:.12g} leadlag={leadlag}")

    def load(tag, b, nodes, phases, p, q, kv_ll):
        kv_el = kv_ll if phases == 3 else kv_ll / np.sqrt(3.0)
        out.append(f"new load.{tag} phases={phases} bus1={bus(b, nodes)} conn=wye "
                   f"kv={kv_el:.12g} kw={p * 1000.0:.12g} kvar={q * 1000.0:.12g} model=1 "
                   "vminpu=0.01 vmaxpu=2.0")

    for table, sign, prefix in (("load", 1.0, "ld"), ("sgen", -1.0, "sg")):
        for i, r in work[table].iterrows():
            if bool(r["in_service"]) and on_bus[r["bus"]]:
                s = float(r.get("scaling", 1.0)) * sign
                load(f"{prefix}{i}", r["bus"], "", 3, r["p_mw"] * s, r["q_mvar"] * s,
                     vn[r["bus"]])
    for table, sign, prefix in (("asymmetric_load", 1.0, "al"), ("asymmetric_sgen", -1.0,
                                                                 "as")):
        df = work.get(table)
        if df is None:
            continue
        for i, r in df.iterrows():
            if not (bool(r["in_service"]) and on_bus[r["bus"]]):
                continue
            s = float(r.get("scaling", 1.0)) * sign
            for node, ph in enumerate("abc", start=1):
                p, q = float(r[f"p_{ph}_mw"]), float(r[f"q_{ph}_mvar"])
                if p != 0.0 or q != 0.0:
                    load(f"{prefix}{i}{ph}", r["bus"], f".{node}", 1, p * s, q * s,
                         vn[r["bus"]])
    bases = sorted({round(float(v), 9) for v in work.bus["vn_kv"]})
    out += [f"set voltagebases=[{' '.join(f'{b:g}' for b in bases)}]", "calcvoltagebases",
            "set mode=snapshot", "set controlmode=off", "set maxiterations=200",
            f"set tolerance={tolerance:g}"]
    return "\n".join(out) + "\n"


def run_opendss(net, script: str) -> dict:
    """Solve ``script`` with dss-python and map its results back to ``net``'s rows.

    Returns
    -------
    dict
        ``converged``, ``iterations``; ``v_pu`` ``[n_bus, 3]`` complex phase-to-ground
        voltages in p.u. of ``vn_kv / sqrt(3)`` (NaN where a bus is not in the model);
        ``line_i_ka`` ``[n_line, 3]``: the larger phase current magnitude of the two ends
        (NaN for lines not in the model).
    """
    from dss import DSS

    for cmd in script.strip().splitlines():
        DSS.Text.Command = cmd
    DSS.Text.Command = "solve"
    circ = DSS.ActiveCircuit
    fused = _fused_buses(net)
    v = np.full((len(net.bus), 3), np.nan, dtype=complex)
    names = set(circ.AllBusNames)
    for pos, (b, kv) in enumerate(zip(net.bus.index, net.bus["vn_kv"], strict=True)):
        key = f"b{fused[b]}"
        if key not in names:
            continue
        circ.SetActiveBus(key)
        raw = np.asarray(circ.ActiveBus.Voltages)
        nodes = list(circ.ActiveBus.Nodes)
        for node, (re, im) in zip(nodes, raw.reshape(-1, 2), strict=True):
            if 1 <= node <= 3:
                v[pos, node - 1] = complex(re, im) / (kv * 1000.0 / np.sqrt(3.0))
    i_ka = np.full((len(net.line), 3), np.nan)
    lines = set(circ.Lines.AllNames)
    for pos, idx in enumerate(net.line.index):
        if f"line{idx}" not in lines:
            continue
        circ.Lines.Name = f"line{idx}"
        cur = np.asarray(circ.ActiveCktElement.Currents).reshape(-1, 2)
        mag = np.abs(cur[:, 0] + 1j * cur[:, 1]) / 1000.0
        n_cond = len(mag) // 2
        i_ka[pos] = np.maximum(mag[:3], mag[n_cond:n_cond + 3])
    return {"converged": bool(circ.Solution.Converged),
            "iterations": int(circ.Solution.Iterations), "v_pu": v, "line_i_ka": i_ka}
