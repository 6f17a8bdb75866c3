"""The task function of the report tests' sweep (imported by the Dask workers by name).

:func:`task_failing_once` runs every task as the sweep does, but gives one task (scenario
``beta``, its second day, level ``dso``) one CEMS home for two aggregators: the aggregator
simulator finds at the first step that its second aggregator has no home, and the task
fails with that one-line error as any failing run would.
"""

from __future__ import annotations

import dataclasses

from testbed.sweep.tasks import Task, set_table_field
from testbed.sweep.worker import run_task

FAILING = ("beta", 1, "dso")  # scenario, day, level


def task_failing_once(task: Task) -> dict:
    """:func:`testbed.sweep.worker.run_task`, made to fail for the task :data:`FAILING`."""
    if (task.scenario, task.day, task.level) == FAILING:
        text = set_table_field(task.text, "penetration", "cems", 0.125)
        task = dataclasses.replace(task, text=set_table_field(text, "flex", "aggregators", 2))
    return run_task(task)
