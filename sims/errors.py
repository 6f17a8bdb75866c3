"""Typed errors of the actors layer (homes, CEMS, aggregator, DSO, collector)."""

from __future__ import annotations


class SimsError(Exception):
    """Base class of every error the actor models raise on purpose."""


class InfeasibleSchedule(SimsError, RuntimeError):
    """An optimisation problem has no feasible solution and no fallback was allowed."""


class RunStopped(Exception):
    """A run was asked to stop and stopped at a step boundary (every result table holds the
    same steps); not an error of the input."""
