"""Which worker runs which task: the tasks of one feeder stay on one worker.

A task's heavy inputs are its feeder (the network, its compiled load flow: about 0.2 s to build
in a warm worker) and its day's homes (0.03 s), kept in the worker's registry
(:mod:`sims.registry`). Left to Dask, the tasks of one feeder spread over every worker, so
every worker builds every feeder. :class:`Placement` hands each free worker, in this order:

1. the next task of the group it is running (a group: the tasks of one scenario and feeder,
   in the sweep's order: day by day, the levels of a day together);
2. else the first group no worker has started;
3. else the back half of the largest group left (split off as a group of its own), so that
   no worker idles while another has a queue; one task left is taken whole.

So each feeder is built on one worker while there are at least as many groups as workers,
and a district of fewer feeders than workers still keeps every worker busy. The driver keeps
:data:`DEPTH` tasks per worker submitted (one running, the next queued, so a worker never
waits for the driver), each restricted loosely to its worker (``workers=[address],
allow_other_workers=True``): if the worker leaves, Dask runs its tasks elsewhere. Placement
changes where a task runs, never what it computes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable

from testbed.sweep.tasks import Task

__all__ = ["DEPTH", "Placement"]

#: Tasks submitted per worker at a time (one running, the next queued).
DEPTH = 2


class Placement:
    """Hands out the tasks of a sweep to workers, keeping each group on one worker.

    Parameters
    ----------
    tasks
        The tasks to run, in the sweep's order (:func:`testbed.sweep.tasks.make_tasks`).
    """

    def __init__(self, tasks: Iterable[Task]) -> None:
        self._groups: dict[Hashable, deque[Task]] = {}
        for t in tasks:
            self._groups.setdefault(t.group, deque()).append(t)
        self._fresh = deque(self._groups)  # groups no worker has started, in order
        self._running: dict[Hashable, Hashable] = {}  # worker -> its group
        self._splits = 0

    def __len__(self) -> int:
        """Tasks not handed out yet."""
        return sum(len(q) for q in self._groups.values())

    def next_for(self, worker: Hashable) -> Task | None:
        """The task ``worker`` should run next (None: nothing left)."""
        group = self._running.get(worker)
        if group is not None and self._groups.get(group):
            return self._groups[group].popleft()
        while self._fresh:
            group = self._fresh.popleft()
            if self._groups[group]:
                self._running[worker] = group
                return self._groups[group].popleft()
        left = [(len(q), g) for g, q in self._groups.items() if q]
        if not left:
            return None
        n, largest = max(left, key=lambda x: x[0])
        back = self._groups[largest]
        # the front half stays with the worker that runs the group, the back half is ours
        self._groups[largest] = deque(back.popleft() for _ in range(n // 2))
        self._splits += 1
        group = (largest, "split", self._splits)
        self._groups[group] = back
        self._running[worker] = group
        return back.popleft()
