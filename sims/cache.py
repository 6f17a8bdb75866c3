"""A derived on-disk cache for what a cold process would otherwise rebuild (never results).

Three things cost a new process seconds that the next process can read back in milliseconds:
the compiled load flow of a feeder (pandapower's network conversion runs, and compiles its own
numba code, on first use: about 1-2 s) and the simbench profile columns a run needs (a CSV read
of about 0.3 s); so does the CEMS day model's HiGHS template (importing pyomo and building the
model: 0.7-1.5 s per process, :mod:`sims.homes.cems.formulation`). They are stored under
``$LVFLEX_CACHE_DIR`` (default ``$XDG_CACHE_HOME/lvflex`` or ``~/.cache/lvflex``), keyed by the
content they derive from (the network's JSON and the engine's source; the simbench file's path,
size and time; the formulation's source and the pyomo and highspy versions), written
atomically, and rebuilt when missing, stale or unreadable. ``LVFLEX_CACHE_DIR=off`` turns the
cache off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

__all__ = ["cache_path", "digest", "load", "store"]


def _root() -> Path | None:
    env = os.environ.get("LVFLEX_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lvflex"


def digest(*parts: str | bytes) -> str:
    """SHA-256 of the parts (strings encoded as UTF-8)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()


def cache_path(kind: str, key: str, suffix: str = ".pkl") -> Path | None:
    """Where the object of ``kind`` under ``key`` is kept (None if the cache is off)."""
    root = _root()
    return None if root is None else root / kind / f"{key}{suffix}"


def load(path: Path | None) -> Any | None:
    """The object stored at ``path``, or None (missing, unreadable or cache off)."""
    if path is None or not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception:  # a damaged or foreign file: rebuild
        return None


def store(path: Path | None, obj: Any) -> None:
    """Store ``obj`` at ``path`` atomically (nothing if the cache is off or not writable)."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass
