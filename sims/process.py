"""Run one of our mosaik adapters as its own process (mosaik's ``cmd:`` starter).

``python -m sims.dso.simulator HOST:PORT`` (and likewise the aggregator) calls :func:`serve`.
When ``LVFLEX_STATUS_DIR`` names a folder (the study layer sets it to a hidden folder of the
run), :func:`serve` writes there:

- ``<sid>.error``: the line of an error the simulator raised. Mosaik only learns that a step
  of a simulator in another process failed, and ends the run without an error (its logger is
  off); the study layer reports this line.
- ``<sid>.done``: once ``finalize`` has written the simulator's tables. At the end of a run
  mosaik sends ``stop`` and does not wait for the process (the study layer starts it with
  ``auto_terminate=False`` so that it is not killed while it writes); the study layer waits
  for this file before it reads the tables.

:func:`serve` also stops the process's CEMS worker pool (:mod:`sims.homes.planning`) after
``finalize`` and holds SIGTERM back during it, so that no table is cut short and no worker is
orphaned.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path

import mosaik_api_v3

__all__ = ["STATUS_DIR_ENV", "serve"]

STATUS_DIR_ENV = "LVFLEX_STATUS_DIR"
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


def _finalize_whole(sim: mosaik_api_v3.Simulator, folder: Path | None):
    finalize = sim.finalize

    @functools.wraps(finalize)
    def call():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            finalize()
        finally:
            planning = sys.modules.get("sims.homes.planning")
            if planning is not None:
                planning.close_pools()
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{getattr(sim, '_lvflex_sid', 'simulator')}.done").touch()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    return call


def serve(sim: mosaik_api_v3.Simulator, description: str) -> int:
    """Serve ``sim`` to the mosaik world at the address on the command line."""
    folder = os.environ.get(STATUS_DIR_ENV)
    sim.finalize = _finalize_whole(sim, Path(folder) if folder else None)
    if folder:
        init = sim.init

        def remember_sid(sid, *args, **kwargs):
            sim._lvflex_sid = sid
            return init(sid, *args, **kwargs)

        sim.init = functools.wraps(init)(remember_sid)
        for name in _METHODS:
            setattr(sim, name, _recording(sim, name, Path(folder)))
    return mosaik_api_v3.start_simulation(sim, description, configure_logging=False)
