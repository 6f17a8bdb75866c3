"""Typed errors of the testbed, one public module.

Every error names where the problem is (file, field, element, step) and the offending value,
in one line, so a user can fix the input without reading a traceback.
"""

from __future__ import annotations


class TestbedError(Exception):
    """Base class of every error the testbed raises on purpose."""

    __test__ = False  # not a pytest test class, despite the name


class ScenarioError(TestbedError, ValueError):
    """A scenario file is invalid.

    Parameters
    ----------
    problems
        One line per problem, each naming the file, the field and the value.
    """

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class GridError(TestbedError, ValueError):
    """A network cannot be used: not connected, no slack, bad impedance, unknown element..."""


class UnsupportedElement(GridError):
    """The load-flow engine cannot represent an element of the network (named in the message)."""


class LoadflowInputError(TestbedError, ValueError):
    """An input to the load flow is not finite or has the wrong shape (names element and step)."""


class LoadflowNotConverged(TestbedError, RuntimeError):
    """A load flow did not converge where the caller required it to."""


class InfeasibleSchedule(TestbedError, RuntimeError):
    """An optimisation problem has no feasible solution and no fallback was allowed."""
