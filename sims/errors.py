"""Typed errors of the actors layer (homes, CEMS, aggregator, DSO, collector)."""

from __future__ import annotations


class SimsError(Exception):
    """Base class of every error the actor models raise on purpose."""


class InfeasibleSchedule(SimsError, RuntimeError):
    """An optimisation problem has no feasible solution and no fallback was allowed."""
