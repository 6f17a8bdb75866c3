"""Reuse of the memory of dropped batch results (grids.balanced.buffers, used by LoadFlow)."""

from __future__ import annotations

import numpy as np

from grids.balanced.buffers import BufferPool
from grids.balanced.loadflow import LoadFlow
from tests.loadflow_cases import draws, small_net


def _addr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_pool_reuses_only_buffers_nothing_refers_to():
    pool = BufferPool(keep=2, min_bytes=0)
    a = pool.take(100)
    pool.give(a)
    view = a[10:20].reshape(2, 5).T  # a result array: a view of the buffer
    a_addr = _addr(a)
    del a
    b = pool.take(100)  # the view still refers to a: never handed out again
    assert _addr(b) != a_addr
    del view
    c = pool.take(100)  # now nothing does
    assert _addr(c) == a_addr
    assert pool.take(99).shape == (99,)  # no kept buffer of that size: a new one


def test_pool_keeps_the_last_two_and_not_small_ones():
    pool = BufferPool(keep=2, min_bytes=800)
    pool.give(np.empty(10))  # 80 bytes: not kept
    assert pool.nbytes == 0
    bufs = [np.empty(100) for _ in range(3)]
    addrs = [_addr(b) for b in bufs]
    for b in bufs:
        pool.give(b)
    assert pool.nbytes == 2 * 800
    del bufs, b
    got = {_addr(pool.take(100)), _addr(pool.take(100))}
    assert got == set(addrs[1:])  # the oldest was released
    pool.clear()
    assert pool.nbytes == 0


def test_small_batch_reuses_a_dropped_result_and_never_a_live_one():
    net = small_net()
    lf = LoadFlow(net)
    lf._buffers.min_bytes = 0  # the small grid's results are far below the default
    lp, lq, gp = draws(net, 150, seed=5)
    lp2 = lp * 0.5
    expected = LoadFlow(net).run(lp2, lq, gp).vm_pu.copy()

    first = lf.run(lp, lq, gp)
    first_vm = first.vm_pu.copy()
    second = lf.run(lp2, lq, gp)  # first is alive: fresh memory
    assert not np.shares_memory(first.vm_pu, second.vm_pu)
    second_addr = _addr(second.vm_pu)
    del second
    third = lf.run(lp2, lq, gp)  # second was dropped: its memory is reused
    assert _addr(third.vm_pu) == second_addr
    np.testing.assert_array_equal(third.vm_pu, expected)
    np.testing.assert_array_equal(first.vm_pu, first_vm)  # untouched throughout
    assert not third.vm_pu.flags.writeable
    lf.release_memory()
    assert lf._buffers.nbytes == 0
