"""What a sweep's worker does around a run: the registry sized to the sweep, the result tables
written once at the end, the same results as a run with the default flushes."""

from __future__ import annotations

import json

import pandas as pd

import testbed.run
from sims import registry
from testbed.run import run_scenario
from testbed.scenario import parse_scenario
from testbed.sweep.tasks import make_tasks
from testbed.sweep.worker import run_task

from .conftest import small_scenario_text


def test_a_task_flushes_its_tables_once_and_gives_the_same_results(tmp_path, monkeypatch):
    sc = parse_scenario(small_scenario_text(n_homes=6))
    days = {sc.name: pd.DataFrame({"day": [0], "date": ["2016-01-05"], "weight": [366.0]})}
    task = make_tasks([sc], days, ["none"], tmp_path / "sweep", feeders=6)[0]
    seen = []

    def recording(scenario, out_dir, **kw):
        seen.append(kw["options"].flush_every)
        return run_scenario(scenario, out_dir, **kw)

    monkeypatch.setattr(testbed.run, "run_scenario", recording)
    registry.set_capacity(None)
    try:
        res = run_task(task)
        assert res["status"] == "complete", res["error"]
        assert seen == [96]  # one flush: the run's 96 steps
        assert registry.capacity() == task.keep == 6  # 6 feeder-days
    finally:
        registry.set_capacity(None)
    ref = tmp_path / "ref"
    run_scenario(parse_scenario(task.text), ref, progress=False)  # default flushes
    folder = tmp_path / "sweep" / task.folder
    assert json.loads((folder / "kpis.json").read_text()) == json.loads(
        (ref / "kpis.json").read_text())
    for table in ("homes", "buses", "lines", "transformer", "grid"):
        assert pd.read_parquet(folder / f"{table}.parquet").equals(
            pd.read_parquet(ref / f"{table}.parquet"))
