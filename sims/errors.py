"""Typed errors of the actors layer (homes, CEMS, aggregator, DSO, collector)."""

from __future__ import annotations


class SimsError(Exception):
    """Base class of every error the actor models raise on purpose."""


class InfeasibleSchedule(SimsError, RuntimeError):
    """An optimisation problem has no feasible solution and no fallback was allowed."""


class RunStopped(Exception):
    """A run was asked to stop and stopped at a step boundary (every result table holds the
    same steps); not an error of the input.

    Parameters
    ----------
    message
        One line: where the run stopped.
    steps
        Steps collected (and kept) when it stopped [-], if known.
    """

    def __init__(self, message: str, steps: int | None = None):
        super().__init__(message)
        self.steps = steps


class DiskFull(RuntimeError):
    """No space left on the device while a result table was written (``errno.ENOSPC``).

    The message (one line) names the file; the parts written before it stay readable. Not an
    error of the input.
    """
