"""Typed errors of the grids layer (networks and load-flow engines).

Every error names where the problem is (file, element, step) and the offending value, in one
line. The layers above catch :class:`GridsError` to report a bad grid or load-flow input.
"""

from __future__ import annotations


class GridsError(Exception):
    """Base class of every error the grids layer raises on purpose."""


class GridError(GridsError, ValueError):
    """A network cannot be used: not connected, no slack, bad impedance, unknown element..."""


class UnsupportedElement(GridError):
    """The load-flow engine cannot represent an element of the network (named in the message)."""


class LoadflowInputError(GridsError, ValueError):
    """An input to the load flow is not finite or has the wrong shape (names element and step)."""


class LoadflowNotConverged(GridsError, RuntimeError):
    """A load flow did not converge where the caller required it to."""
