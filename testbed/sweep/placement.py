"""Which worker runs which task: the tasks of one feeder stay on one worker.

A task's heavy inputs are its feeder (the network, its compiled load flow: about 0.2 s to build
in a warm worker) and its day's homes (0.03 s), kept in the worker's registry
(:mod:`sims.registry`). Left to Dask, the tasks of one feeder spread over every worker, so
every worker builds every feeder. A group is the tasks of one scenario and feeder, in the
sweep's order (day by day, the levels of a day together); the i-th group belongs to the
i-th worker (modulo the number of workers, in the order of their addresses), so that a sweep
run again on the same cluster finds each feeder where it was built. :class:`Placement` hands
each free worker, in this order:

1. the next task of the group it is running;
2. else the first group of its own that no worker has started;
3. else the last group nobody has started (another worker's: it would reach it last);
4. else the back half of the largest group left (split off as a group of its own), so that
   no worker idles while another has a queue; one task left is taken whole.

So each feeder is built on one worker while there are at least as many groups as workers,
and a district of fewer feeders than workers still keeps every worker busy. The driver keeps
:data:`DEPTH` tasks per worker thread submitted, plus one (a worker of one thread: one
running, the next queued, so a worker never waits for the driver; the first round gives every
worker one task before any gets a second),
each restricted loosely to its worker (``workers=[address], allow_other_workers=True``): if
the worker leaves, Dask runs its tasks elsewhere. Placement changes where a task runs, never
what it computes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable

from testbed.sweep.tasks import Task

__all__ = ["DEPTH", "Placement"]

#: Tasks submitted per worker thread at a time, plus one queued (one thread: one running,
#: the next queued).
DEPTH = 1


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
        self._index = {g: i for i, g in enumerate(self._groups)}
        self._fresh = list(self._groups)  # groups no worker has started, in order
        self._running: dict[Hashable, Hashable] = {}  # worker -> its group
        self._workers: list[Hashable] = []
        self._splits = 0

    def __len__(self) -> int:
        """Tasks not handed out yet."""
        return sum(len(q) for q in self._groups.values())

    def set_workers(self, workers: Iterable[Hashable]) -> None:
        """The workers now (in a stable order: the i-th group belongs to the i-th)."""
        self._workers = list(workers)

    def _owner(self, group: Hashable) -> Hashable | None:
        if not self._workers:
            return None
        return self._workers[self._index[group] % len(self._workers)]

    def _start(self, worker: Hashable, group: Hashable) -> Task:
        self._fresh.remove(group)
        self._running[worker] = group
        return self._groups[group].popleft()

    def next_for(self, worker: Hashable) -> Task | None:
        """The task ``worker`` should run next (None: nothing left)."""
        group = self._running.get(worker)
        if group is not None and self._groups.get(group):
            return self._groups[group].popleft()
        own = next((g for g in self._fresh if self._owner(g) == worker), None)
        if own is not None:
            return self._start(worker, own)
        if self._fresh:
            return self._start(worker, self._fresh[-1])
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
        self._index[group] = self._index[largest]
        self._running[worker] = group
        return back.popleft()
