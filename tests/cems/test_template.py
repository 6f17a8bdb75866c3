"""The CEMS day model's fast paths give the reference path's numbers.

* the HiGHS template read from the derived disk cache is the one pyomo builds, and solves on
  it are bit-identical to solves on a freshly built one;
* the direct (matrix) path gives the pyomo path's optimum (1e-6 relative) and plan on
  hand-checked homes and on random ones, with and without heat pumps' buildings;
* lazy flexibility (re-plans) equals the eager one, also through pickling (the pool);
* the memo of a process's model answers an identical solve with the same solution.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sims.homes.cems import (
    ApplianceCycle,
    Band,
    EvSession,
    ThermalLoad,
    ThermalStore,
    plan_day,
)
from sims.homes.cems import formulation as F
from sims.homes.cems.plan import model_data
from sims.homes.cems.synthetic import random_homes
from tests.cems.conftest import Battery, ElectricVehicle, hourly

ROOT = Path(__file__).resolve().parents[2]


def _hand_checked():
    """The homes of the hand-checked optima (test_plan_optima, test_heat_pump) and variants."""
    bat = Battery(10.0, 2.0, 0.81, 0.0, 1.0, 0.5)
    prices = [0.30, 0.30, 0.10, 0.10, 0.10, 0.30, 0.30, 0.30]
    cyc = ApplianceCycle("wm", (2.0, 1.0), 0, 8, 0)
    ev = ElectricVehicle(3.0, "EV")
    half = ThermalStore(1.0, math.log(2.0), 2.0 * math.log(2.0), 0.0, 1.0)
    return [
        hourly(2.0, [0.10, 0.10, 0.30, 0.30], battery=bat),
        hourly(0.0, prices, appliances=(cyc,), category="moderate"),
        hourly(2.0, prices, ev=ev, ev_sessions=(EvSession(1, 7, 6.0),)),
        hourly(2.0, prices, ev=ev, ev_sessions=(EvSession(1, 7, 6.0),), max_import_kw=4.0),
        hourly(1.0, [0.30] * 4, export=0.05, pv=[3.0, 3.0, 0.0, 0.0], battery=bat),
        hourly(0.0, [0.10, 0.30, 0.30, 0.30], thermal=ThermalLoad(2.0, 4.0, np.ones(4), half)),
        hourly(1.0, prices, thermal=ThermalLoad(2.0, 6.0)),
    ]


def test_cached_template_is_the_one_pyomo_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("LVFLEX_CACHE_DIR", str(tmp_path))
    for shape in ((96, 0.25, 3, 12), (8, 1.0, 3, 12)):
        monkeypatch.setattr(F, "_TEMPLATES", {})
        first = F.DayModel(*shape)
        assert first._pyomo is not None  # a miss: built through pyomo, stored
        monkeypatch.setattr(F, "_TEMPLATES", {})
        second = F.DayModel(*shape)
        assert second._pyomo is None  # read back from the disk cache
        built = first._pyomo.template()
        stored = F._TEMPLATES[shape]
        for key, value in built.items():
            if isinstance(value, dict):
                assert value.keys() == stored[key].keys()
                for k in value:
                    np.testing.assert_array_equal(value[k], stored[key][k])
            else:
                np.testing.assert_array_equal(value, stored[key], err_msg=key)


def test_solves_on_the_cached_template_are_bit_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("LVFLEX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(F, "_TEMPLATES", {})
    fresh = F.DayModel(96, 0.25, 3, 12)
    monkeypatch.setattr(F, "_TEMPLATES", {})
    cached = F.DayModel(96, 0.25, 3, 12)
    assert fresh._pyomo is not None and cached._pyomo is None
    homes = random_homes(10, seed=21) + random_homes(6, seed=22, buildings=True)
    for h in homes:
        d = model_data(h, None, None, 3, 12, list(range(len(h.appliances))))
        a, b = fresh.solve(d), cached.solve(d)
        assert a.ok and b.ok and a.status == b.status
        assert a.objective == b.objective
        for k in a.values:
            np.testing.assert_array_equal(a.values[k], b.values[k], err_msg=k)


@pytest.mark.parametrize("which", ["hand", "random", "buildings"])
def test_direct_path_gives_the_pyomo_optimum_and_plan(which):
    if which == "hand":
        homes = _hand_checked()
    elif which == "random":
        homes = random_homes(12, seed=31)
    else:
        homes = random_homes(10, seed=32, buildings=True)
    for inp in homes:
        a = plan_day(inp, path="direct", flexibility=False)
        b = plan_day(inp, path="pyomo", flexibility=False)
        assert not a.fallback and not b.fallback, (a.reason, b.reason)
        assert a.objective_eur == pytest.approx(b.objective_eur, rel=1e-6, abs=1e-9)
        if inp.appliances:  # a MIP closed to 0.01 %: the same starts
            assert a.appliance_starts == b.appliance_starts
        np.testing.assert_allclose(a.net_kw, b.net_kw, atol=1e-6)
        np.testing.assert_allclose(a.battery_kw, b.battery_kw, atol=1e-6)


def test_lazy_flexibility_equals_eager_and_survives_pickling():
    homes = random_homes(8, seed=41) + random_homes(4, seed=42, buildings=True)
    for inp in homes:
        base = plan_day(inp)
        band = Band(base.net_kw - 0.5, base.net_kw + 0.5, 1.0)
        eager = plan_day(inp, band=band, flexibility=True)
        lazy = plan_day(inp, band=band)  # "auto": a re-plan under a band is lazy
        assert "flex_up_kw" not in lazy.__dict__
        again = pickle.loads(pickle.dumps(plan_day(inp, band=band)))  # as from a pool worker
        copy = dataclasses.replace(plan_day(inp, band=band))  # as the operator merges plans
        for p in (lazy, again, copy):
            for name in ("flex_up_kw", "flex_down_kw", "flex_up_cost_eur_per_kwh",
                         "flex_down_cost_eur_per_kwh"):
                np.testing.assert_array_equal(getattr(p, name), getattr(eager, name))
        assert "flex" in lazy.timings
        none = plan_day(inp, band=band, flexibility=False)
        assert not none.flex_up_kw.any()
    with pytest.raises(AttributeError):
        _ = lazy.no_such_field


def test_memo_answers_an_identical_solve_with_the_same_solution():
    plain = F.DayModel(96, 0.25, 3, 12)
    memo = F.DayModel(96, 0.25, 3, 12, memo_size=4)
    homes = random_homes(6, seed=51)
    data = [model_data(h, None, None, 3, 12, list(range(len(h.appliances)))) for h in homes]
    first = [memo.solve(d) for d in data]
    assert memo.memo_hits == 0 and len(memo._memo) == 4  # bounded: the oldest dropped
    again = [memo.solve(d) for d in data[-4:]]
    assert memo.memo_hits == 4
    for d, a, b in zip(data[-4:], first[-4:], again, strict=True):
        ref = plain.solve(d)
        assert a.objective == b.objective == ref.objective
        for k in a.values:
            np.testing.assert_array_equal(b.values[k], ref.values[k], err_msg=k)
        assert b.solve_s == 0.0
    again[0].values["imp"][:] = -1.0  # a caller's changes never reach the memo
    assert memo.solve(data[-4]).values["imp"].min() >= 0.0
    changed = dataclasses.replace(data[-1], c_band=data[-1].c_band + 1e-3)
    memo.solve(changed)
    assert memo.memo_hits == 5  # (the solve above), not the changed numbers


def test_a_cold_process_with_the_cached_template_never_imports_pyomo(tmp_path):
    code = (
        "import sys\n"
        "from sims.homes.cems import plan_day\n"
        "from sims.homes.cems.synthetic import random_homes\n"
        "p = plan_day(random_homes(1, seed=3)[0])\n"
        "assert not p.fallback, p.reason\n"
        "print('pyomo' in sys.modules)\n"
    )
    env = {"LVFLEX_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    run = lambda: subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,  # noqa: E731
                                 capture_output=True, text=True, check=True).stdout.strip()
    assert run() == "True"  # the first process builds the template through pyomo
    assert run() == "False"  # the next one reads it back
