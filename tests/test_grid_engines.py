"""The grid simulator's two engines agree on the default day (numba engine vs runpp)."""

from __future__ import annotations

import numpy as np

from sims.grid_model import GridModel
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
