"""The process's CEMS worker pool, shared by the homes' day plans and the aggregators' re-plans.

A :class:`sims.homes.cems.CemsPool` costs a second or so to start; one pool per worker count
serves every run of the process (a sweep's warm worker, a comparison of control levels), and
is closed at exit. ``cems.workers = 1`` never starts one (planning stays in the process: what
a Dask worker, whose processes cannot have children, needs).
"""

from __future__ import annotations

import atexit
import math
import threading

import numpy as np

from sims.homes.cems import CemsInput, CemsPool, Plan

__all__ = ["POOL_MIN_HOMES", "cems_pool", "close_pools", "plan_q_kvar"]

#: Below this many CEMS homes a day is planned in-process: a worker pool costs more than it saves.
POOL_MIN_HOMES = 16

_POOLS: dict[int, CemsPool] = {}
_LOCK = threading.Lock()


def cems_pool(workers: int) -> CemsPool:
    """The process's pool of ``workers`` (> 1) CEMS worker processes, started on first use."""
    if workers < 2:
        raise ValueError(f"cems_pool: a pool needs at least 2 workers (got {workers})")
    with _LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = CemsPool(workers)
        return _POOLS[workers]


def close_pools() -> None:
    """Stop every pool of the process (done at exit)."""
    with _LOCK:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()


atexit.register(close_pools)


def plan_q_kvar(inp: CemsInput, plan: Plan) -> np.ndarray:
    """The reactive power a CEMS home will draw with a plan [kvar per step].

    As the homes in operation (:mod:`sims.homes.fleet`): the base load and the heat pump at
    the home's power factor (lagging); PV, battery, EV and appliances at unity power factor.
    """
    tan_phi = math.tan(math.acos(inp.home.power_factor))
    return (np.asarray(inp.base_kw, dtype=float) + np.asarray(plan.thermal_kw, dtype=float)) \
        * tan_phi
