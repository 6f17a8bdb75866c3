"""Mosaik adapter: the results collector, writing each step to the run folder as the run goes.

Model ``Collector`` (one entity, eid ``collector``). Connect to it the homes' array outputs
(``sims.homes.simulator`` ``Fleet`` entity: every name of
:data:`~sims.collector.writer.HOME_COLUMNS`, one value per home in ``home_ids`` order) and the
grid's (``sims.grid.simulator`` ``Grid`` entity: every name of
:data:`~sims.collector.writer.GRID_INPUTS`, and of :data:`~sims.collector.writer.PHASE_INPUTS`
in unbalanced runs). Each input has one source. The steps go to a
:class:`~sims.collector.writer.ResultsWriter` (Parquet part files every ``flush_every``
steps); ``finalize`` turns the parts into one file per table.

Parameters of ``init`` (JSON-serialisable): ``out_dir``; ``start`` (local date or time of
mosaik time 0, ISO) and ``timezone``; ``step_s``; ``home_ids``, ``bus_ids``, ``line_ids``,
``trafo_ids`` and ``trafo_sn_mva`` (the element order of the arrays); ``flush_every``;
``n_steps`` and ``progress`` (a progress bar that counts the steps collected); ``unbalanced``
(the grid's arrays are per phase: the ``phase`` columns of ``buses`` and ``lines``).

Stopping a run at a step boundary: :func:`request_stop` (for a signal handler) makes the
collector, after it has buffered the current step, flush every table and raise
:class:`RunStopped`, so that the run ends with every table holding the same steps.
"""

from __future__ import annotations

import threading

import mosaik_api_v3
import pandas as pd

from sims.collector.writer import GRID_INPUTS, HOME_COLUMNS, PHASE_INPUTS, ResultsWriter
from sims.errors import RunStopped

__all__ = ["CollectorSim", "RunStopped", "clear_stop", "request_stop", "take_close_error"]

META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {"Collector": {"public": True, "params": [],
                             "attrs": [*HOME_COLUMNS, *GRID_INPUTS, *PHASE_INPUTS]}},
}

_STOP = threading.Event()
_CLOSE_ERRORS: list[BaseException] = []


def request_stop() -> None:
    """Ask the collector of this process to stop the run after the current step.

    Safe to call from a signal handler or another thread.
    """
    _STOP.set()


def clear_stop() -> None:
    """Forget a stop request (done at the end of each run)."""
    _STOP.clear()


def stop_requested() -> bool:
    """Whether :func:`request_stop` was called since the last :func:`clear_stop`."""
    return _STOP.is_set()


def take_close_error() -> BaseException | None:
    """The error the collector's ``finalize`` met writing the final tables (then forgotten).

    ``finalize`` does not raise it: an error there would leave mosaik's world half shut down
    (its other simulators not stopped, its event loop open); the study layer raises it after
    the world is closed.
    """
    return _CLOSE_ERRORS.pop() if _CLOSE_ERRORS else None


class CollectorSim(mosaik_api_v3.Simulator):
    """Hands every step's arrays to the results writer."""

    def __init__(self):
        super().__init__(META)
        self.writer: ResultsWriter | None = None
        self.bar = None

    def init(self, sid, time_resolution=1.0, *, out_dir: str, start: str, timezone: str,
             step_s: int, home_ids: list[str], bus_ids: list[str], line_ids: list[str],
             trafo_ids: list[str], trafo_sn_mva: list[float], flush_every: int = 4,
             n_steps: int | None = None, progress: bool = False, unbalanced: bool = False):
        self.writer = ResultsWriter(out_dir, timezone=timezone, home_ids=home_ids,
                                    bus_ids=bus_ids, line_ids=line_ids, trafo_ids=trafo_ids,
                                    trafo_sn_mva=trafo_sn_mva, flush_every=flush_every,
                                    unbalanced=unbalanced)
        self.inputs = (*HOME_COLUMNS, *GRID_INPUTS, *(PHASE_INPUTS if unbalanced else ()))
        t0 = pd.Timestamp(start)
        t0 = t0.tz_localize(timezone) if t0.tz is None else t0
        self.start_ns = t0.value
        self.step_s = int(step_s)
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=n_steps, unit="step", desc="steps", leave=False)
        return self.meta

    def create(self, num, model, **params):
        if num != 1:
            raise ValueError("CollectorSim: create exactly one Collector")
        return [{"eid": "collector", "type": model}]

    def step(self, time, inputs, max_advance):
        data = inputs.get("collector", {})
        try:
            values = {a: next(iter(data[a].values())) for a in self.inputs}
        except KeyError as exc:
            raise ValueError(f"CollectorSim: no input {exc.args[0]!r} at t={time} s") from None
        self.writer.add_step(self.start_ns + int(time) * 1_000_000_000, values, values)
        if self.bar is not None:
            self.bar.update(1)
        if _STOP.is_set():
            self.writer.flush()
            self.writer.wait()  # on disk before the run ends
            raise RunStopped(f"stopped on request after the step at t={time} s "
                             f"({self.writer.steps_written} steps written)",
                             steps=self.writer.steps_written)
        return time + self.step_s

    def finalize(self):
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception as exc:  # raised by the study layer (take_close_error)
                _CLOSE_ERRORS[:] = [exc]
