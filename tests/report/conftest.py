"""A small comparison written through the command line (its reports included), shared by the
report tests: 16 homes at control none and dso, with a 6 % loading limit so that the DSO has
congestion to manage (requests, offers, orders) on a feeder that never congests otherwise."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from cosim import main

from ..conftest import scenario_with

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
