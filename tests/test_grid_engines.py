"""The grid simulator's two engines agree (numba engine vs runpp): on the default day, with
two transformers; and nets the engine cannot represent fall back to runpp."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp

from grids.networks.feeder import Feeder
from sims.grid.model import GridModel
from testbed.results import read_run
from testbed.run import scenario_feeder


def test_numba_engine_matches_runpp_on_the_default_day(default_run, default_scenario):
    feeder = scenario_feeder(default_scenario)
    fast, reference = GridModel(feeder), GridModel(feeder, engine="pandapower")
    assert fast.engine == "numba" and reference.engine == "pandapower"
    homes = read_run(default_run.out_dir)["homes"]
    p = homes.pivot(index="time", columns="home_id", values="p_kw")[feeder.homes.index]
    q = homes.pivot(index="time", columns="home_id", values="q_kvar")[feeder.homes.index]
    worst = {"vm": 0.0, "line": 0.0, "trafo": 0.0, "p": 0.0, "losses": 0.0}
    for t in range(len(p)):
        a = fast.solve(p.iloc[t].to_numpy(), q.iloc[t].to_numpy())
        b = reference.solve(p.iloc[t].to_numpy(), q.iloc[t].to_numpy())
        assert a.converged and b.converged
        worst["vm"] = max(worst["vm"], np.abs(a.vm_pu - b.vm_pu).max())
        worst["line"] = max(worst["line"], np.abs(a.line_loading_percent
                                                  - b.line_loading_percent).max())
        worst["trafo"] = max(worst["trafo"], np.abs(a.trafo_loading_percent
                                                    - b.trafo_loading_percent).max())
        worst["p"] = max(worst["p"], np.abs(a.trafo_p_mw - b.trafo_p_mw).max())
        worst["losses"] = max(worst["losses"], abs(a.losses_mw - b.losses_mw))
    assert worst["vm"] < 1e-8, worst
    assert worst["line"] < 1e-6 and worst["trafo"] < 1e-6, worst
    assert worst["p"] < 1e-8 and worst["losses"] < 1e-8, worst
    # The results of the run itself come from the numba engine (the default).
    run = read_run(default_run.out_dir)
    assert run["grid"].converged.all()


def _with_parallel_transformer(feeder: Feeder) -> Feeder:
    """The feeder with a second, identical transformer beside the first (and a light MV
    load at the HV bus): the slack's power is no longer one transformer's."""
    net = copy.deepcopy(feeder.net)
    tr = net.trafo.iloc[0]
    params = {c: tr[c] for c in ("sn_mva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "vkr_percent",
                                 "pfe_kw", "i0_percent", "shift_degree")}
    pp.create_transformer_from_parameters(net, tr["hv_bus"], tr["lv_bus"], **params)
    pp.create_load(net, tr["hv_bus"], p_mw=0.05, q_mvar=0.01)
    return Feeder(net=net, homes=feeder.homes, name=feeder.name + " + parallel trafo")


def test_numba_engine_reports_each_transformer_like_runpp(default_scenario):
    feeder = _with_parallel_transformer(scenario_feeder(default_scenario))
    fast, reference = GridModel(feeder), GridModel(feeder, engine="pandapower")
    assert fast.engine == "numba" and fast.fallback_reason is None
    rng = np.random.default_rng(7)
    for _ in range(3):
        p = rng.uniform(-4.0, 6.0, len(feeder.homes))
        q = 0.2 * p
        a, b = fast.solve(p, q), reference.solve(p, q)
        assert a.converged and b.converged
        assert a.trafo_p_mw.shape == (2,)
        np.testing.assert_allclose(a.trafo_p_mw, b.trafo_p_mw, rtol=0, atol=1e-8)
        np.testing.assert_allclose(a.trafo_q_mvar, b.trafo_q_mvar, rtol=0, atol=1e-8)
        np.testing.assert_allclose(a.vm_pu, b.vm_pu, rtol=0, atol=1e-8)
        assert abs(a.losses_mw - b.losses_mw) < 1e-8


def test_grid_model_falls_back_to_runpp_for_elements_the_engine_lacks(default_scenario):
    feeder = scenario_feeder(default_scenario)
    net = copy.deepcopy(feeder.net)
    pp.create_gen(net, int(feeder.homes["bus"].iloc[0]), p_mw=0.002, vm_pu=1.0)
    model = GridModel(Feeder(net=net, homes=feeder.homes, name="with a gen"))
    assert model.engine == "pandapower"
    assert "gen" in model.fallback_reason
    step = model.solve(np.full(len(feeder.homes), 1.0), np.zeros(len(feeder.homes)))
    assert step.converged
