"""A process-level registry of heavy read-only objects, keyed by the content they derive from.

Simulators take JSON-serialisable parameters (so that each can run in its own process), yet
the objects those parameters describe are costly to build: the feeder and its compiled load
flow (about 0.2 s in a warm process), the homes and their profile series, the DSO's view of
the grid. Every builder of such an object goes through :func:`shared`: the first caller in a
process builds it, every later caller with the same parameters gets the same object. In one
process the grid simulator, both DSO roles and the study layer therefore share one feeder and
one compiled load flow; a simulator started in its own process rebuilds them from the same
parameters.

Objects handed out are shared: callers must treat them as read-only.

How much is kept: the :func:`capacity` most recently used objects of each kind (least
recently used first out). It is :data:`KEEP` in a process that runs one scenario at a time.
A sweep raises it with :func:`reserve` in each of its workers to the number of distinct
feeder-days of the sweep (a worker then keeps every feeder and every day's homes it built for
the sweep, whatever the order of its tasks), never beyond :data:`MAX_KEEP`, so the memory a
registry holds stays bounded. Measured on the reference feeder (184 homes, unbalanced,
tracemalloc, December 2026): a feeder with its compiled load flow and network JSON (kind
``grid``) holds about 2.6 MiB, a day's homes and their series (``homes``) 0.7 MiB, the DSO's
view (``dso_grid``) 0.2 MiB, a prepared run (``prepared``) nothing beyond the objects it
shares; a new feeder-day grows a worker's RSS by about 3.4 MiB. At :data:`MAX_KEEP` a worker
therefore holds at most about 64 x 3.5 MiB, 225 MiB, of reference feeders (a larger grid file
scales this with its size).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["KEEP", "MAX_KEEP", "capacity", "clear", "content_key", "reserve", "set_capacity",
           "shared"]

T = TypeVar("T")

#: Objects kept per kind by default (most recently used first).
KEEP = 4
#: The most objects per kind :func:`reserve` keeps (see the module docstring for memory).
MAX_KEEP = 64

_store: dict[str, OrderedDict[str, Any]] = {}
_lock = threading.Lock()
_capacity = KEEP


def capacity() -> int:
    """How many objects of each kind the registry keeps now."""
    return _capacity


def reserve(n: int) -> int:
    """Keep at least ``n`` objects of each kind from now on in this process (a sweep: its
    distinct feeder-days), at most :data:`MAX_KEEP`; never lowers the capacity.

    Returns the capacity now.
    """
    global _capacity
    with _lock:
        _capacity = max(_capacity, min(int(n), MAX_KEEP))
        return _capacity


def set_capacity(n: int | None = None) -> None:
    """Keep exactly ``n`` objects of each kind (``None``: :data:`KEEP`); objects beyond it go
    now, least recently used first."""
    global _capacity
    if n is not None and int(n) < 1:
        raise ValueError(f"registry: capacity must be at least 1 (got {n})")
    with _lock:
        _capacity = KEEP if n is None else int(n)
        for objects in _store.values():
            _trim(objects)


def _trim(objects: OrderedDict[str, Any]) -> None:
    while len(objects) > _capacity:
        objects.popitem(last=False)


def content_key(*parts: Any) -> str:
    """A stable key of JSON-serialisable parts: the SHA-256 of their canonical JSON.

    Parameters
    ----------
    parts
        Values made of dicts, lists, strings, numbers, booleans and None (dict keys sorted).
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def shared(kind: str, key: str, build: Callable[[], T]) -> T:
    """The object of ``kind`` under ``key``: built by ``build()`` on first use in the process.

    Parameters
    ----------
    kind
        What the object is (``"grid"``, ``"homes"``...): each kind keeps its own
        :func:`capacity` most recent objects.
    key
        Content key of the parameters the object is built from (:func:`content_key`).
    build
        Builds the object; called at most once per key while the object is kept.
    """
    with _lock:
        objects = _store.setdefault(kind, OrderedDict())
        if key in objects:
            objects.move_to_end(key)
            return objects[key]
    value = build()  # outside the lock: builders may use the registry themselves
    with _lock:
        objects = _store.setdefault(kind, OrderedDict())
        value = objects.setdefault(key, value)
        objects.move_to_end(key)
        _trim(objects)
    return value


def clear(kind: str | None = None) -> None:
    """Forget the objects of one kind (or of every kind)."""
    with _lock:
        if kind is None:
            _store.clear()
        else:
            _store.pop(kind, None)
