"""A DSO simulator whose monitor fails at step 9: run as its own process by a test
(``python -m tests.flex.failing_dso ADDR``), to check how a crashed process ends a run."""

from __future__ import annotations

from sims.dso.simulator import DsoSim
from sims.process import serve

FAIL_AT_S = 9 * 900


class FailingDso(DsoSim):
    """The DSO, but its monitor raises at ``FAIL_AT_S``."""

    def step(self, time, inputs, max_advance):
        if self.kind == "DsoMonitor" and time >= FAIL_AT_S:
            raise RuntimeError("injected failure in the DSO's process")
        return super().step(time, inputs, max_advance)


if __name__ == "__main__":
    serve(FailingDso(), "failing DSO (test)")
