"""Task placement of a sweep: the tasks of a feeder stay on one worker, no worker idles while
another has a queue (testbed.sweep.placement), and the sweep sizes the registry to itself."""

from __future__ import annotations

import pandas as pd

from testbed.scenario import parse_scenario
from testbed.sweep.placement import Placement
from testbed.sweep.tasks import Task, make_tasks

from .conftest import small_scenario_text


def _tasks(feeders: int, per_feeder: int, scenario: str = "s") -> list[Task]:
    return [Task(key=f"{scenario}{f}-{i}", scenario=scenario, feeder=f, day=i, date="",
                 weight=1.0, level="none", folder="", text="", source="")
            for f in range(1, feeders + 1) for i in range(per_feeder)]


def _run(placement: Placement, workers: list[str], depth: int = 2) -> dict[str, list[Task]]:
    """Hand out every task: each worker in turn takes ``depth`` tasks, then one at a time as
    if its tasks finished in turn."""
    placement.set_workers(workers)
    got = {w: [] for w in workers}
    for _ in range(depth):
        for w in workers:
            t = placement.next_for(w)
            if t is not None:
                got[w].append(t)
    while len(placement):
        for w in workers:
            t = placement.next_for(w)
            if t is not None:
                got[w].append(t)
    return got


def test_more_feeders_than_workers_each_feeder_runs_on_one_worker():
    placement = Placement(_tasks(8, 4))
    got = _run(placement, ["a", "b"])
    assert placement.next_for("a") is None and len(placement) == 0
    ran = {w: {t.feeder for t in ts} for w, ts in got.items()}
    assert ran["a"].isdisjoint(ran["b"])
    assert sum(len(ts) for ts in got.values()) == 32
    for ts in got.values():  # a worker runs a feeder's tasks in the sweep's order
        for f in {t.feeder for t in ts}:
            assert [t.day for t in ts if t.feeder == f] == [0, 1, 2, 3]


def test_each_worker_gets_the_same_feeders_when_the_sweep_runs_again():
    runs = [_run(Placement(_tasks(6, 2)), ["a", "b", "c"]) for _ in range(2)]
    for got in runs:
        assert {w: sorted({t.feeder for t in ts}) for w, ts in got.items()} == {
            "a": [1, 4], "b": [2, 5], "c": [3, 6]}


def test_a_worker_without_groups_of_its_own_takes_the_last_one_nobody_started():
    placement = Placement(_tasks(4, 2))
    placement.set_workers(["a", "b"])
    assert [placement.next_for("a").feeder for _ in range(2)] == [1, 1]
    assert [placement.next_for("a").feeder for _ in range(2)] == [3, 3]
    assert placement.next_for("a").feeder == 4  # b's, which b would have reached last
    assert placement.next_for("b").feeder == 2


def test_one_feeder_on_two_workers_is_split_in_halves():
    placement = Placement(_tasks(1, 6))
    placement.set_workers(["a", "b"])
    a = [placement.next_for("a")]
    b = placement.next_for("b")  # nothing fresh: the back half of the feeder's tasks
    assert (a[0].day, b.day) == (0, 3)
    a += [placement.next_for("a"), placement.next_for("a")]
    assert [t.day for t in a] == [0, 1, 2]
    assert [placement.next_for("b").day, placement.next_for("b").day] == [4, 5]
    assert placement.next_for("a") is None and placement.next_for("b") is None


def test_a_worker_that_runs_out_helps_with_the_largest_group_left():
    placement = Placement(_tasks(2, 4))
    placement.set_workers(["a", "b"])
    assert placement.next_for("a").feeder == 1
    assert placement.next_for("b").feeder == 2
    for _ in range(3):
        assert placement.next_for("b").feeder == 2
    t = placement.next_for("b")  # feeder 1 has 3 left: b takes the back 2, a keeps 1
    assert (t.feeder, t.day) == (1, 2)
    assert (placement.next_for("a").day, placement.next_for("b").day) == (1, 3)
    assert placement.next_for("a") is None and placement.next_for("b") is None


def test_every_task_is_handed_out_once_whatever_the_workers():
    tasks = _tasks(3, 5) + _tasks(2, 3, scenario="t")
    for workers in (["a"], ["a", "b"], ["a", "b", "c", "d", "e", "f", "g"]):
        got = _run(Placement(tasks), workers)
        keys = [t.key for ts in got.values() for t in ts]
        assert sorted(keys) == sorted(t.key for t in tasks)


def test_make_tasks_sizes_the_registry_to_the_sweeps_feeder_days(tmp_path):
    sc = parse_scenario(small_scenario_text(n_homes=4))
    days = {sc.name: pd.DataFrame({"day": [0, 1, 2], "date": ["2016-01-05", "2016-03-01",
                                                             "2016-06-01"],
                                   "weight": [100.0, 100.0, 166.0]})}
    tasks = make_tasks([sc], days, ["none", "cems"], tmp_path, feeders=4)
    assert len(tasks) == 24
    assert {t.keep for t in tasks} == {12}  # 4 feeders x 3 days
    assert "keep" not in tasks[0].row()
    assert {t.group for t in tasks} == {(sc.name, f) for f in range(1, 5)}


class _StubClient:
    """What the driver asks of a Dask client: the workers, and submit (recorded)."""

    def __init__(self, workers, nthreads=None):
        self.workers = workers
        self.nthreads = nthreads or {}
        self.submitted = []

    def scheduler_info(self):
        return {"workers": {w: {"nthreads": self.nthreads.get(w, 1)} for w in self.workers}}

    def submit(self, fn, task, *, key, pure, workers, allow_other_workers):
        self.submitted.append((task, key, workers, allow_other_workers))
        return key


def test_the_driver_keeps_two_tasks_per_worker_each_restricted_loosely_to_it():
    from testbed.sweep.driver import _submitter

    client = _StubClient(["tcp://b:1", "tcp://a:1"])
    submit = _submitter(client, lambda t: {}, Placement(_tasks(4, 3)), refresh_s=0.0)
    first = submit()
    assert len(first) == 4
    on = {}
    for task, key, workers, loose in client.submitted:
        assert loose is True and len(workers) == 1 and key == f"cosim-{task.key}"
        on.setdefault(workers[0], set()).add(task.feeder)
    assert on == {"tcp://a:1": {1}, "tcp://b:1": {2}}
    # one task each before any worker gets a second
    assert [w[0] for _, _, w, _ in client.submitted] == ["tcp://a:1", "tcp://b:1"] * 2
    assert submit() == []  # every worker has its two
    of_a = [k for _, k, w, _ in client.submitted if w == ["tcp://a:1"]]
    more = submit(of_a[0])  # a's first task finished: a gets feeder 1's third
    assert len(more) == 1 and client.submitted[-1][0].feeder == 1
    assert client.submitted[-1][2] == ["tcp://a:1"]
    submit(of_a[1])  # a's second: feeder 1 is handed out, so a takes feeder 3, its own
    assert client.submitted[-1][0].feeder == 3
    assert client.submitted[-1][2] == ["tcp://a:1"]
    client.workers.append("tcp://c:1")  # a worker joins: it gets feeder 4, nobody's yet
    of_b = [k for _, k, w, _ in client.submitted if w == ["tcp://b:1"]]
    more = submit(of_b[0])
    assert ("tcp://c:1", 4) in {(w[0], t.feeder) for t, _, w, _ in client.submitted}


def test_with_no_worker_yet_the_driver_submits_unrestricted():
    from testbed.sweep.driver import _submitter

    client = _StubClient([])
    submit = _submitter(client, lambda t: {}, Placement(_tasks(1, 3)), refresh_s=0.0)
    assert len(submit()) == 2
    assert {w for _, _, w, _ in client.submitted} == {None}


def test_a_worker_of_several_threads_gets_a_task_per_thread_plus_one():
    from testbed.sweep.driver import _submitter

    client = _StubClient(["tcp://a:1", "tcp://b:1"], nthreads={"tcp://b:1": 3})
    submit = _submitter(client, lambda t: {}, Placement(_tasks(2, 6)), refresh_s=0.0)
    assert len(submit()) == 2 + 4
    on = [w[0] for _, _, w, _ in client.submitted]
    assert on[:2] == ["tcp://a:1", "tcp://b:1"]
    assert (on.count("tcp://a:1"), on.count("tcp://b:1")) == (2, 4)
