"""Typed errors of the study layer, and the tuple of every error a user can cause.

Every error names where the problem is (file, field, element, step) and the offending value,
in one line, so a user can fix the input without reading a traceback. Each layer has its own
errors (:mod:`grids.errors`, :mod:`sims.errors`); they are re-exported here for callers of the
study layer, and :data:`USER_ERRORS` is what the command line reports as one line.
"""

from __future__ import annotations

from grids.errors import (  # noqa: F401  (re-exported)
    GridError,
    GridsError,
    LoadflowInputError,
    LoadflowNotConverged,
    UnsupportedElement,
)
from sims.errors import (  # noqa: F401  (re-exported)
    DiskFull,
    InfeasibleSchedule,
    RunStopped,
    SimsError,
)


class TestbedError(Exception):
    """Base class of every error the study layer raises on purpose."""

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


class ReportError(TestbedError, ValueError):
    """A folder cannot be reported: not a run or comparison folder, or a table is unreadable.

    The message names the folder (or file) and what is missing.
    """


class OutputFolderError(TestbedError, FileExistsError):
    """An output folder is a file, holds earlier results, or the levels to compare are wrong."""


# Errors of every layer that come from the user's input (scenario, grid, load-flow input).
USER_ERRORS = (TestbedError, GridsError, SimsError)


class SimulatorFailed(RuntimeError):
    """A simulator ended a run before its last step (in its own process mosaik only logs that
    and returns); the message, one line, names it and its error when known. Not an error of
    the input (so not in :data:`USER_ERRORS`)."""


class RunInterrupted(RunStopped):
    """A run stopped at a step boundary on request (a signal): the tables hold the steps
    done, ``meta.json`` says ``interrupted``. The message is the line ``cosim`` prints.

    Parameters
    ----------
    out_dir
        The run folder.
    steps_done, n_steps
        Steps kept, and steps of the whole run [-].
    reached
        Simulated time the run reached (the end of the last step kept).
    signum
        The signal that asked for the stop (None: :func:`testbed.run.request_stop` called
        directly).
    """

    def __init__(self, *, out_dir, steps_done: int, n_steps: int, reached, signum=None):
        super().__init__(f"interrupted at {reached:%Y-%m-%d %H:%M %Z} (step {steps_done} of "
                         f"{n_steps}); results kept in {out_dir}", steps=steps_done)
        self.out_dir = out_dir
        self.n_steps = n_steps
        self.reached = reached
        self.signum = signum
