"""A small comparison written through the command line (its reports included), shared by the
report tests: 16 homes at control none and dso, with a 6 % loading limit so that the DSO has
congestion to manage (requests, offers, orders) on a feeder that never congests otherwise.
And a small sweep with one failing task (:func:`report_sweep`)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from cosim import main
from testbed.scenario import load_scenario

from ..conftest import scenario_with, small_scenario_text

# The fields the small scenario changes from scenarios/default.toml (dso level).
CHANGED_FIELDS = {"control", "grid.n_homes", "grid.n_feeders", "limits.max_loading_percent",
                  "penetration.cems"}


@pytest.fixture(scope="session")
def report_cmp(tmp_path_factory) -> Path:
    """``cosim compare --levels none,dso`` on 16 homes; the folder (reports written)."""
    tmp = tmp_path_factory.mktemp("report")
    scenario_with(tmp, "tight", n_homes=16, max_loading_percent=6.0, cems=0.8)
    out = tmp / "cmp"
    code = main(["compare", "--scenario", str(tmp / "tight.toml"), "--levels", "none,dso",
                 "--out", str(out), "--quiet"])
    assert code == 0
    return out


SWEEP_LEVELS = ["none", "dso"]


def write_sweep_scenarios(folder: Path) -> Path:
    """The sweep's two scenarios of 8 homes: ``alpha`` with a 5 % loading limit (the DSO
    orders flexibility on its winter day) and ``beta`` (another seed, PV in 80 % of homes)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = small_scenario_text(n_homes=8)
    alpha = text.replace("max_loading_percent = 100.0", "max_loading_percent = 5.0")
    beta = text.replace("seed = 42", "seed = 7").replace("pv = 0.4", "pv = 0.8")
    for name, t in (("alpha", alpha), ("beta", beta)):
        (folder / f"{name}.toml").write_text(t.replace('name = "default"', f'name = "{name}"'))
    return folder


@pytest.fixture(scope="session")
def report_sweep(tmp_path_factory) -> Path:
    """2 scenarios x 2 typical days x levels none, dso on 2 local workers, one task made to
    fail (:mod:`tests.report.sweep_tasks`), and its report (``cosim report``); the folder."""
    from testbed.sweep import run_sweep

    from .sweep_tasks import task_failing_once

    tmp = tmp_path_factory.mktemp("sweep")
    scen = write_sweep_scenarios(tmp / "scenarios")
    out = tmp / "sweep"
    summary = run_sweep([load_scenario(p) for p in sorted(scen.glob("*.toml"))], SWEEP_LEVELS,
                        out, n_days=2, workers=2, progress=False, task_fn=task_failing_once)
    assert (summary.total, summary.complete, summary.failed) == (8, 7, 1)
    assert main(["report", str(out)]) == 0
    return out


class Rows(HTMLParser):
    """The ``<tr>`` elements of one table (by id) of a report: attributes and cell texts."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.depth, self.rows = table_id, 0, []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.depth += 1 if (self.depth or a.get("id") == self.table_id) else 0
        elif self.depth and tag == "tr":
            self.rows.append({"attrs": a, "cells": [], "cell_attrs": []})
        elif self.depth and tag == "td" and self.rows:
            self._cell = []
            self.rows[-1]["cell_attrs"].append(a)

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag == "td" and self._cell is not None:
            self.rows[-1]["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str, table_id: str) -> list[dict]:
    """The rows of the table ``table_id`` in a report's HTML."""
    parser = Rows(table_id)
    parser.feed(html)
    return parser.rows
