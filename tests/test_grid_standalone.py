"""The grid simulator in a world of its own, as mosaik-pandapower-2 users would use it: a
Grid model made from a pandapower JSON file, its Load children fed by a home simulator written
here, its Bus, Line and Transformer children read by a recorder; checked against runpp."""

from __future__ import annotations

import math

import mosaik
import mosaik_api_v3
import numpy as np
import pandapower as pp
import pytest

STEP_S = 900
N_STEPS = 4
RECORDED: dict[int, dict[str, dict[str, float]]] = {}


def home_power(i: int, k: int) -> tuple[float, float]:
    """Home ``i``'s net power at step ``k`` [kW, kvar] (one home exports at step 2)."""
    p = 2.0 + 1.5 * i + 3.0 * math.sin(0.7 * k + i)
    if i == 1 and k == 2:
        p = -4.0
    return p, 0.25 * max(p, 0.0)


class TinyHomes(mosaik_api_v3.Simulator):
    """Homes whose net power follows :func:`home_power` (load convention)."""

    def __init__(self):
        super().__init__({"api_version": "3.0", "type": "time-based", "models": {
            "Home": {"public": True, "params": [], "attrs": ["p_kw", "q_kvar"]}}})
        self.n = 0

    def init(self, sid, time_resolution=1.0):
        return self.meta

    def create(self, num, model):
        out = [{"eid": f"home{self.n + j}", "type": model} for j in range(num)]
        self.n += num
        return out

    def step(self, time, inputs, max_advance):
        self.k = time // STEP_S
        return time + STEP_S

    def get_data(self, outputs):
        data = {}
        for eid, attrs in outputs.items():
            p, q = home_power(int(eid.removeprefix("home")), self.k)
            data[eid] = {a: {"p_kw": p, "q_kvar": q}[a] for a in attrs}
        return data


class Recorder(mosaik_api_v3.Simulator):
    """Keeps every input it receives, by step, in ``RECORDED``."""

    def __init__(self):
        super().__init__({"api_version": "3.0", "type": "time-based", "models": {
            "Recorder": {"public": True, "params": [], "any_inputs": True, "attrs": []}}})

    def init(self, sid, time_resolution=1.0):
        return self.meta

    def create(self, num, model):
        return [{"eid": "rec", "type": model}]

    def step(self, time, inputs, max_advance):
        RECORDED[time // STEP_S] = {
            attr: {src.split(".", 1)[1]: float(v) for src, v in vals.items()}
            for attr, vals in inputs["rec"].items()}
        return time + STEP_S


def small_net() -> pp.pandapowerNet:
    """MV bus, a 250 kVA transformer, two feeders, five loads (one is not a home: out of
    service), a line out of service."""
    net = pp.create_empty_network()
    mv = pp.create_bus(net, 10.0, name="MV")
    lv = pp.create_bus(net, 0.4, name="LV")
    pp.create_ext_grid(net, mv, vm_pu=1.02)
    pp.create_transformer(net, mv, lv, "0.25 MVA 10/0.4 kV", name="T1")
    buses = [pp.create_bus(net, 0.4, name=f"B{i}") for i in range(5)]
    pp.create_line(net, lv, buses[0], 0.12, "NAYY 4x150 SE", name="L0")
    pp.create_line(net, buses[0], buses[1], 0.08, "NAYY 4x50 SE", name="L1")
    pp.create_line(net, lv, buses[2], 0.2, "NAYY 4x120 SE", name="L2")
    pp.create_line(net, buses[2], buses[3], 0.1, "NAYY 4x50 SE", name="L3")
    pp.create_line(net, buses[3], buses[4], 0.05, "NAYY 4x50 SE", name="L4")
    pp.create_line(net, buses[1], buses[4], 0.3, "NAYY 4x50 SE", name="open", in_service=False)
    for b in (buses[1], buses[0], buses[3], buses[4]):
        pp.create_load(net, b, 0.0)
    pp.create_load(net, buses[2], 0.01, in_service=False)
    return net


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "net.json"
    net = small_net()
    pp.to_json(net, str(path))
    RECORDED.clear()
    config = {"Grid": {"python": "sims.grid.simulator:GridSim"},
              "Homes": {"python": "tests.test_grid_standalone:TinyHomes"},
              "Recorder": {"python": "tests.test_grid_standalone:Recorder"}}
    with mosaik.World(config, skip_greetings=True, configure_logging=False) as world:
        grid = world.start("Grid", step_size=STEP_S).Grid(json=str(path))
        by_type = {}
        for e in grid.children:
            by_type.setdefault(e.type, []).append(e)
        homes = world.start("Homes").Home.create(len(by_type["Load"]))
        rec = world.start("Recorder").Recorder()
        for home, load in zip(homes, by_type["Load"], strict=True):
            world.connect(home, load, "p_kw", "q_kvar")
        for bus in by_type["Bus"]:
            world.connect(bus, rec, "vm_pu")
        for line in by_type["Line"]:
            world.connect(line, rec, "loading_percent")
        for trafo in by_type["Transformer"]:
            world.connect(trafo, rec, "p_mw", "q_mvar", ("loading_percent", "trafo_loading"))
        world.run(until=N_STEPS * STEP_S, print_progress=False)
    return net, by_type


def test_children_are_the_net_elements(standalone):
    net, by_type = standalone
    assert [e.eid for e in by_type["Bus"]] == [f"Bus-{b}" for b in net.bus.index]
    assert [e.eid for e in by_type["Line"]] == [f"Line-{x}" for x in net.line.index]
    assert [e.eid for e in by_type["Transformer"]] == ["Transformer-0"]
    # the in-service loads are the homes, in net.load order
    assert [e.eid for e in by_type["Load"]] == ["Load-0", "Load-1", "Load-2", "Load-3"]
    assert [e.extra_info["home_id"] for e in by_type["Load"]] == ["H001", "H002", "H003",
                                                                  "H004"]


@pytest.mark.parametrize("k", range(N_STEPS))
def test_results_equal_runpp(standalone, k):
    """Each step: the children's values against pandapower's runpp with the same loads,
    voltages to 1e-8 p.u."""
    net, _ = standalone
    ref = pp.from_json_string(pp.to_json(net))  # a copy
    for i in range(4):
        p, q = home_power(i, k)
        ref.load.loc[i, ["p_mw", "q_mvar"]] = p / 1000.0, q / 1000.0
    pp.runpp(ref, algorithm="nr", tolerance_mva=1e-11, lightsim2grid=False)
    got = RECORDED[k]
    vm = np.array([got["vm_pu"][f"Bus-{b}"] for b in ref.bus.index])
    np.testing.assert_allclose(vm, ref.res_bus.vm_pu.to_numpy(), rtol=0, atol=1e-8)
    loading = np.array([got["loading_percent"][f"Line-{x}"] for x in ref.line.index])
    np.testing.assert_allclose(loading, ref.res_line.loading_percent.to_numpy(), rtol=1e-7,
                               atol=1e-9)
    assert got["p_mw"]["Transformer-0"] == pytest.approx(ref.res_trafo.p_hv_mw[0], rel=1e-7)
    assert got["q_mvar"]["Transformer-0"] == pytest.approx(ref.res_trafo.q_hv_mvar[0],
                                                           rel=1e-7)
    assert got["trafo_loading"]["Transformer-0"] == pytest.approx(
        ref.res_trafo.loading_percent[0], rel=1e-7)
    assert vm[1:].max() - vm[1:].min() > 2e-3  # a real load flow along the feeders
