"""A process-level registry of heavy read-only objects, keyed by the content they derive from.

Simulators take JSON-serialisable parameters (so that each can run in its own process), yet
the objects those parameters describe are costly to build: the feeder and its compiled load
flow (about 1 s), the homes and their profile series, the DSO's view of the grid. Every
builder of such an object goes through :func:`shared`: the first caller in a process builds
it, every later caller with the same parameters gets the same object. In one process the grid
simulator, both DSO roles and the study layer therefore share one feeder and one compiled load
flow; a simulator started in its own process rebuilds them from the same parameters.

Objects handed out are shared: callers must treat them as read-only.

The registry keeps the :data:`KEEP` most recently used objects of each kind, so that a warm
worker running many tasks (sweeps) reuses what its tasks have in common without growing
without bound.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["KEEP", "clear", "content_key", "shared"]

T = TypeVar("T")

#: Objects kept per kind (most recently used first).
KEEP = 4

_store: dict[str, OrderedDict[str, Any]] = {}
_lock = threading.Lock()


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
        What the object is (``"feeder"``, ``"homes"``...): each kind keeps its own
        :data:`KEEP` most recent objects.
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
        while len(objects) > KEEP:
            objects.popitem(last=False)
    return value


def clear(kind: str | None = None) -> None:
    """Forget the objects of one kind (or of every kind)."""
    with _lock:
        if kind is None:
            _store.clear()
        else:
            _store.pop(kind, None)
