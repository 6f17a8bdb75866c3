"""Run one of our mosaik adapters as its own process (mosaik's ``cmd:`` starter).

``python -m sims.dso.simulator HOST:PORT`` (and likewise the aggregator) calls :func:`serve`.
When a simulator fails in its own process, mosaik only learns that its step failed and ends
the run without an error (its logger is off): :func:`serve` therefore also writes the error,
one line, to ``<LVFLEX_ERROR_DIR>/<sid>.error`` when that environment variable names a folder
(the study layer sets it to the run folder and reports the line).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import mosaik_api_v3

__all__ = ["ERROR_DIR_ENV", "serve"]

ERROR_DIR_ENV = "LVFLEX_ERROR_DIR"
_METHODS = ("init", "create", "setup_done", "step", "get_data", "finalize")


def _recording(sim: mosaik_api_v3.Simulator, name: str, folder: Path):
    method = getattr(sim, name)

    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            sid = getattr(sim, "_lvflex_sid", "simulator")
            if name == "init" and args:
                sid = args[0]
            where = f" at t={args[0]} s" if name == "step" and args else ""
            line = f"{sid} ({type(sim).__name__}.{name}{where}): {type(exc).__name__}: {exc}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{sid}.error").write_text(" ".join(line.split()) + "\n")
            raise

    return call


def serve(sim: mosaik_api_v3.Simulator, description: str) -> int:
    """Serve ``sim`` to the mosaik world at the address on the command line."""
    folder = os.environ.get(ERROR_DIR_ENV)
    if folder:
        init = sim.init

        def remember_sid(sid, *args, **kwargs):
            sim._lvflex_sid = sid
            return init(sid, *args, **kwargs)

        sim.init = functools.wraps(init)(remember_sid)
        for name in _METHODS:
            setattr(sim, name, _recording(sim, name, Path(folder)))
    return mosaik_api_v3.start_simulation(sim, description)
