"""Input and solver outcomes are fallbacks (one status per cause); programming errors raise."""

from __future__ import annotations

import numpy as np
import pytest

import sims.homes.cems.plan as plan_mod
from sims.homes.cems import CemsPool, plan_day, plan_days
from sims.homes.cems.plan import _model_for, model_data
from tests.cems.conftest import Battery, hourly


def _boom(*args, **kwargs):
    raise ZeroDivisionError("a bug in the flexibility code")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_programming_error_raises_in_process_and_on_the_pool(monkeypatch, workers):
    # The worker pool forks after the patch, so its workers run the broken function too.
    # Before, the pool turned the exception into a counted fallback with status "error".
    monkeypatch.setattr(plan_mod, "flex_fn", _boom)
    homes = [hourly(1.0, [0.1, 0.3, 0.3, 0.3]) for _ in range(4)]
    with pytest.raises(ZeroDivisionError, match="a bug in the flexibility code"):
        plan_days(homes, workers=workers)


def test_a_programming_error_raises_from_a_kept_pool(monkeypatch):
    monkeypatch.setattr(plan_mod, "flex_fn", _boom)
    with CemsPool(2) as pool, pytest.raises(ZeroDivisionError):
        pool.plan_days([hourly(1.0, [0.2] * 4)] * 3)


def test_bad_input_and_solver_outcomes_stay_fallbacks_on_both_paths():
    good = hourly(1.0, [0.2] * 4)
    bad = hourly(np.r_[1.0, np.nan, 1.0, 1.0], [0.2] * 4)
    for workers in (1, 2):
        plans = plan_days([good, bad, good], workers=workers)
        assert [p.fallback for p in plans] == [False, True, False]
        assert plans[1].status == "invalid_input"


def _overload(battery, steps=4, hot=(1,), base_kw=60.0):
    base = np.full(steps, 1.0)
    base[list(hot)] = base_kw
    return hourly(base, [0.2] * steps, battery=battery)


def test_an_impossible_base_load_has_one_status_with_or_without_battery():
    # 60 kW of base load at hour 1 against a 23 kW import limit: no battery of 3 kW covers
    # it. Before, the home without a battery said invalid_input and the one with a battery
    # reached the solver and said infeasible.
    for bat in (None, Battery(10.0, 3.0, 0.9, 0.1, 0.9, 0.5)):
        p = plan_day(_overload(bat))
        assert p.fallback and p.status == "invalid_input", p.reason
        assert "T001: base load 60.00 kW minus PV exceeds max import 23.0 kW at step 1" in p.reason
    assert "the battery (3.0 kW, 10.00 kWh from SoC 0.500) cannot cover it" in p.reason


def test_the_base_load_check_is_exact_for_the_battery():
    # 1-h steps, max import 23 kW, base 25 kW: 2 kW to come from a 3 kW battery of 10 kWh,
    # SoC 0.1..0.9 starting and ending at 0.5, efficiency 0.9 (0.9487 each way).
    bat = Battery(10.0, 3.0, 0.9, 0.1, 0.9, 0.5)
    # (a) overloaded hours 0-3: 8 kWh needed, only (5 - 1) * 0.9487 = 3.79 kWh deliverable
    #     and no earlier hour to charge in: impossible.
    a = _overload(bat, steps=6, hot=(0, 1, 2, 3), base_kw=25.0)
    assert any("cannot cover it" in x for x in a.problems())
    # (b) overloaded hours 2-3 (4 kWh) of 6: charge in hours 0-1 (to 9 kWh), discharge
    #     2 kW in hours 2-3 (4 / 0.9487 = 4.22 kWh), recharge in hours 4-5 back to 5 kWh.
    b = _overload(bat, steps=6, hot=(2, 3), base_kw=25.0)
    assert b.problems() == []
    p = plan_day(b)
    assert not p.fallback and p.status == "optimal"
    np.testing.assert_allclose(p.net_kw[2:4], 23.0, atol=1e-6)
    # (c) (b) ending the day at SoC 0.9: the two hours after the overload recharge up to
    #     2 * 3 * 0.9487 = 5.69 kWh, from 9 - 4.22 = 4.78 kWh to 9 kWh: possible. With no hour
    #     after the overload (4 steps), the battery cannot get back to 5 kWh: impossible.
    from dataclasses import replace

    b9 = replace(b, soc_end=0.9)
    assert b9.problems() == []
    c = _overload(bat, steps=4, hot=(2, 3), base_kw=25.0)
    assert any("cannot cover it" in x for x in c.problems())
    # and the day model agrees on both sides of the line: (a) and (c) are infeasible for
    # the solver itself, (b) and (b9) are not
    for inp, feasible in ((a, False), (b, True), (b9, True), (c, False)):
        model = _model_for(inp)
        raw = model.solve(model_data(inp, None, None, model.n_slots, model.max_cycle, []))
        assert raw.ok is feasible, (raw.status, feasible)
