"""The process's CEMS worker pool, shared by the homes' day plans and the aggregators' re-plans.

A :class:`sims.homes.cems.CemsPool` costs a second or so to start; one pool per worker count
serves every run of the process (a sweep's warm worker, a comparison of control levels), and
is closed at exit. ``cems.workers = 1`` never starts one (planning stays in the process: what
a Dask worker, whose processes cannot have children, needs).
"""

from __future__ import annotations

import atexit
import threading

from sims.homes.cems import CemsPool

__all__ = ["POOL_MIN_HOMES", "cems_pool", "close_pools"]

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
