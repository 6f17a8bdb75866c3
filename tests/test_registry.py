"""The process registry: one object per key, the least recently used out beyond its capacity,
and a capacity a sweep sizes (bounded)."""

from __future__ import annotations

import pytest

from sims import registry


@pytest.fixture(autouse=True)
def _fresh_registry():
    registry.clear("test")
    registry.set_capacity(None)
    yield
    registry.clear("test")
    registry.set_capacity(None)


def _counting():
    built = []

    def build(name):
        def make():
            built.append(name)
            return {"name": name}
        return make
    return built, build


def test_the_same_key_builds_once_and_hands_out_the_same_object():
    built, build = _counting()
    a = registry.shared("test", "k1", build("a"))
    assert registry.shared("test", "k1", build("again")) is a
    assert built == ["a"]


def test_beyond_the_default_capacity_the_least_recently_used_is_rebuilt():
    built, build = _counting()
    n = registry.KEEP
    for i in range(n):
        registry.shared("test", f"k{i}", build(i))
    registry.shared("test", "k0", build("not built"))  # k0 is now the most recent
    registry.shared("test", "new", build("new"))  # evicts k1, the least recently used
    registry.shared("test", "k0", build("not built"))
    registry.shared("test", "k1", build("k1 again"))
    assert built == [*range(n), "new", "k1 again"]


def test_reserve_keeps_a_sweeps_distinct_objects_and_never_lowers_the_capacity():
    assert registry.capacity() == registry.KEEP
    assert registry.reserve(16) == 16
    assert registry.reserve(2) == 16  # a smaller sweep later on the same worker
    built, build = _counting()
    for _ in range(2):  # a second pass over 16 feeders builds nothing
        for i in range(16):
            registry.shared("test", f"k{i}", build(i))
    assert built == list(range(16))


def test_reserve_is_bounded():
    assert registry.reserve(10 * registry.MAX_KEEP) == registry.MAX_KEEP


def test_set_capacity_evicts_now_and_none_restores_the_default():
    built, build = _counting()
    registry.set_capacity(8)
    for i in range(8):
        registry.shared("test", f"k{i}", build(i))
    registry.set_capacity(None)
    assert registry.capacity() == registry.KEEP
    for i in range(8 - registry.KEEP, 8):  # the most recent ones are still there
        registry.shared("test", f"k{i}", build("not built"))
    registry.shared("test", "k0", build("k0 again"))
    assert built == [*range(8), "k0 again"]
    with pytest.raises(ValueError, match="at least 1"):
        registry.set_capacity(0)


def test_kinds_are_bounded_separately():
    registry.set_capacity(1)
    built, build = _counting()
    registry.shared("test", "k", build("test"))
    registry.shared("test-other", "k", build("other"))
    registry.shared("test", "k", build("not built"))
    registry.clear("test-other")
    assert built == ["test", "other"]
