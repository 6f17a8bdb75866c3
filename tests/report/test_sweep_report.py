"""What the sweep report shows, on a real small sweep with one failing task (``report_sweep``):
the heat maps hold annual.parquet's values, the calendars days.csv's weights (366 per
scenario), the failed task is listed with its one-line error, every task with its status and
wall time, every axis says its unit; a killed sweep's report says what is missing; links to
the task reports are relative; a district shows each feeder and the total."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from cosim import main
from testbed.report import build_page, write_report
from testbed.report.sweep_figures import HEAT_KPIS, MONTHS, date_ranges
from testbed.sweep.manifest import read_manifest
from testbed.typical_days import read_days

from .conftest import SWEEP_LEVELS, table_rows, write_sweep_scenarios
from .sweep_tasks import FAILING

UNIT = re.compile(r"\[[^\]]+\]")
N_FIGURES = len(HEAT_KPIS) + 2 + 1  # heat maps, a calendar per scenario, wall times


def _heat(page, prefix: str, key: str):
    (trace,) = page.figure(f"{prefix}-{key.replace('.', '-')}").figure.data
    return trace


def _axes(fig):
    return [fig.layout[name] for name in fig.layout if name.startswith(("xaxis", "yaxis"))]


def _failing_date(sweep: Path) -> str:
    days = read_days(sweep / "days.csv")
    return days[(days.scenario == FAILING[0]) & (days.day == FAILING[1])].date.item()


def test_heat_maps_hold_the_annual_kpis(report_sweep):
    page = build_page(report_sweep)
    assert [f.key for f in page.figures][:len(HEAT_KPIS)] == [
        f"annual-{k.key.replace('.', '-')}" for k in HEAT_KPIS]
    annual = pd.read_parquet(report_sweep / "annual.parquet").set_index(["scenario", "level"])
    assert annual.loc[("beta", "dso"), "status"] == "incomplete"  # its failed day
    for kpi in HEAT_KPIS:
        t = _heat(page, "annual", kpi.key)
        assert list(t.y) == ["alpha", "beta"] and list(t.x) == SWEEP_LEVELS
        for i, name in enumerate(t.y):
            for j, level in enumerate(t.x):
                row = annual.loc[(name, level)]
                cell, text, hover = t.z[i][j], t.text[i][j], t.customdata[i][j]
                if row.status != "complete":
                    assert cell is None and text == "incomplete"
                    assert hover == f"{name}, level {level}<br>{kpi.label}: incomplete: 1 " \
                                    f"of 2 days"
                elif pd.isna(row[kpi.key]):
                    assert cell is None and text == "n/a"
                    assert hover.endswith(": not at this level")
                    assert kpi.key.startswith("flex.") and level == "none"
                else:
                    assert cell == row[kpi.key]  # exact: the heat map holds the value
                    assert text == kpi.text(row[kpi.key])
                    assert hover == (f"{name}, level {level}<br>{kpi.label}: {text} "
                                     f"{kpi.unit}<br>over 2 days")
    peak = annual.loc[("alpha", "none"), "grid.max_trafo_loading_percent"]
    assert _heat(page, "annual", "grid.max_trafo_loading_percent").text[0][0] == f"{peak:.1f}"
    flex = annual.loc[("alpha", "dso"), "flex.ordered_eur"]
    assert flex > 0  # the DSO ordered flexibility on alpha's winter day: a cost to show


def test_annual_table_shows_the_same_numbers(report_sweep):
    annual = pd.read_parquet(report_sweep / "annual.parquet").set_index(["scenario", "level"])
    rows = [r for r in table_rows((report_sweep / "report.html").read_text(),
                                  "annual-kpi-table") if "data-row" in r["attrs"]]
    assert [(r["attrs"]["data-row"], r["attrs"]["data-level"]) for r in rows] == [
        ("alpha", "none"), ("alpha", "dso"), ("beta", "none"), ("beta", "dso")]
    for r in rows:
        a = annual.loc[(r["attrs"]["data-row"], r["attrs"]["data-level"])]
        assert r["cell_attrs"][2]["data-status"] == a.status
        cells = {c["data-key"]: c["data-value"] for c in r["cell_attrs"] if "data-key" in c}
        assert list(cells) == [k.key for k in HEAT_KPIS]
        for key, value in cells.items():
            if a.status == "complete" and pd.notna(a[key]):
                assert float(value) == a[key]
            else:
                assert value == ""
    assert [r["cells"][2] for r in rows] == ["complete, 2 days"] * 3 + [
        "incomplete: 1 of 2 days"]


def test_calendars_hold_the_typical_days_and_their_weights(report_sweep):
    days = read_days(report_sweep / "days.csv")
    page = build_page(report_sweep)
    html = (report_sweep / "report.html").read_text()
    for i, name in enumerate(["alpha", "beta"]):
        d = days[days.scenario == name].sort_values("date").reset_index(drop=True)
        assert d.weight.sum() == 366
        fig = page.figure(f"days-{i}").figure
        assert fig.layout.title.text == f"Typical days of {name}"
        cells, chosen = fig.data
        z = np.array(cells.z, dtype=object)
        # every day of 2016 is coloured by its typical day, as many days as its weight
        counts = Counter(v for v in z.ravel() if v is not None)
        assert sum(counts.values()) == 366
        assert [counts[k] for k in range(len(d))] == d.weight.astype(int).tolist()
        for k, r in d.iterrows():
            for m in r.members.split():
                day = dt.date.fromisoformat(m)
                assert z[day.month - 1, day.day - 1] == k
        # the typical days themselves, framed, their weight written in
        dates = [dt.date.fromisoformat(x) for x in d.date]
        assert list(chosen.x) == [x.day for x in dates]
        assert list(chosen.y) == [MONTHS[x.month - 1] for x in dates]
        assert list(chosen.text) == [f"{w:g}" for w in d.weight]
        for hover, r in zip(chosen.customdata, d.itertuples(), strict=True):
            assert f"weight {r.weight:g} days" in hover
            assert date_ranges(r.members.split()).split(", ")[0] in hover
        rows = [r for r in table_rows(html, f"days-table-{i}") if "data-date" in r["attrs"]]
        assert [r["attrs"]["data-date"] for r in rows] == d.date.tolist()
        assert [float(r["attrs"]["data-weight"]) for r in rows] == d.weight.tolist()
        assert [int(r["attrs"]["data-members"]) for r in rows] == d.weight.astype(int).tolist()
        assert f"{name}: 2 typical days, weights sum to 366" in html


def test_failed_task_is_listed_with_its_error(report_sweep):
    html = (report_sweep / "report.html").read_text()
    manifest = read_manifest(report_sweep)
    (bad,) = [t for t in manifest["tasks"] if t["status"] == "failed"]
    assert (bad["scenario"], bad["day"], bad["level"]) == FAILING
    assert re.fullmatch(r"ValueError: AggregatorSim: AGR2 has no CEMS home.*", bad["error"])
    (row,) = [r for r in table_rows(html, "failed-table") if "data-key" in r["attrs"]]
    assert row["attrs"]["data-key"] == bad["key"]
    assert row["cells"][:4] == ["beta", _failing_date(report_sweep), "dso", bad["error"]]
    # its run folder exists (the run failed at its first step), its report is not written
    assert json.loads((Path(bad["folder"]) / "meta.json").read_text())["status"] == "failed"
    assert row["cells"][4] == Path(bad["folder"]).relative_to(report_sweep).as_posix()
    assert "Incomplete: 7 of 8 tasks complete, 1 failed, 0 pending" in html
    assert "The annual KPIs of beta at dso are left blank" in html
    assert 'href="#failed">Failed tasks (1)</a>' in html


def test_task_table_has_every_task_with_status_and_wall_time(report_sweep):
    sweep = pd.read_parquet(report_sweep / "sweep.parquet")
    rows = [r for r in table_rows((report_sweep / "report.html").read_text(), "task-table")
            if "data-key" in r["attrs"]]
    assert [r["attrs"]["data-key"] for r in rows] == sweep.key.tolist()
    for r, t in zip(rows, sweep.itertuples(), strict=True):
        assert r["cells"][:6] == [t.scenario, str(t.day), t.date, f"{t.weight:g}", t.level,
                                  t.status]
        assert float(r["attrs"]["data-wall"]) == t.wall_s
        assert r["cells"][6] == f"{t.wall_s:.1f}"
        assert r["cells"][7] == "not written"  # the sweep writes no task reports by default
    walls = build_page(report_sweep).figure("walltime").figure.data
    ran = {(tr.name, y) for tr in walls for y in tr.y}
    assert ran == {(f"{t.level} {t.status}", t.wall_s) for t in sweep.itertuples()}


def test_every_axis_is_labelled_with_its_unit(report_sweep):
    page = build_page(report_sweep)
    assert len(page.figures) == N_FIGURES
    for f in page.figures:
        assert UNIT.search(f.title) or f.key.startswith(("days-", "walltime")), f.key
        for axis in _axes(f.figure):
            title = axis.title.text
            assert title, f"{f.key}: an axis without a title"
            if axis.type != "category":  # scenario, control level, month: named categories
                assert UNIT.search(title), f"{f.key}: {title!r} has no [unit]"
        for trace in f.figure.data:
            if trace.type == "heatmap" and trace.showscale is not False:
                assert UNIT.search(trace.colorbar.title.text), f"{f.key}: colour bar"
    kinds = {a.title.text for f in page.figures for a in _axes(f.figure)
             if a.type == "category"}
    assert kinds == {"control level", "scenario", "month (2016)"}


def test_sweep_report_is_self_contained(report_sweep, capsys):
    html = (report_sweep / "report.html").read_text()
    assert html.count("* plotly.js v") == 1
    assert len(re.findall(r'<script type="application/json" id="data-', html)) == N_FIGURES
    assert not re.search(r'<(script|link|img)[^>]+(src|href)=', html)
    ours = html.replace(get_plotlyjs(), "")
    assert not re.search(r"https?://", ours)
    size = (report_sweep / "report.html").stat().st_size
    with capsys.disabled():
        print(f"\nsweep report (2 scenarios x 2 days x 2 levels): {size:,} bytes, "
              f"{len(ours):,} without plotly.js")
    assert size <= 5_000_000


def test_task_reports_are_linked_relatively_from_a_moved_sweep(report_sweep, tmp_path,
                                                               capsys):
    moved = tmp_path / "elsewhere" / "sweep"
    shutil.copytree(report_sweep, moved)
    assert main(["report", str(moved), "--task-reports"]) == 0
    printed = capsys.readouterr().out
    assert "task reports: 8 written" in printed and f"report: {moved / 'report.html'}" in printed
    html = (moved / "report.html").read_text()
    rows = [r for r in table_rows(html, "task-table") if "data-key" in r["attrs"]]
    hrefs = re.findall(r'<a href="(tasks/[^"]+/report\.html)">report</a>', html)
    assert len(hrefs) == len(rows) == 8
    for href in hrefs:  # inside the moved folder, relative, each a run report
        target = moved / href
        assert target.is_file() and "Run report" in target.read_text()
    failed = next(t for t in read_manifest(moved)["tasks"] if t["status"] == "failed")
    leaf = Path(failed["folder"]).name
    assert re.search(rf'<a href="tasks/beta/{leaf}/report.html">run report</a>', html)
    assert "kpis.json: missing (run status: failed: ValueError: AggregatorSim: AGR2" in (
        moved / "tasks" / "beta" / leaf / "report.html").read_text()
    assert main(["report", str(moved), "--task-reports"]) == 0  # written already: kept
    assert "task reports: 0 written (8 there already)" in capsys.readouterr().out


@pytest.mark.parametrize("tables", ["missing", "stale"])
def test_killed_sweep_is_reported_with_what_it_has(report_sweep, tmp_path, tables):
    """A sweep killed while one task ran: the manifest says pending, the task's folder was
    cut short (meta.json ``running``, no kpis.json); the tables were not written (a first
    sweep) or are those of an earlier end (a resumed sweep)."""
    killed = tmp_path / "killed"
    shutil.copytree(report_sweep, killed)
    (killed / "report.html").unlink()
    manifest = read_manifest(killed)
    cut = next(t for t in manifest["tasks"] if (t["scenario"], t["level"]) == ("alpha", "dso"))
    cut.update(status="pending", error="", wall_s=None)
    (killed / "manifest.json").write_text(json.dumps(manifest))
    folder = killed / Path(cut["folder"]).relative_to(report_sweep)
    (folder / "kpis.json").unlink()
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "status": "running"}))
    if tables == "missing":
        for name in ("sweep", "annual"):
            (killed / f"{name}.parquet").unlink()
    html = write_report(killed).read_text()
    assert "Incomplete: 6 of 8 tasks complete, 1 failed, 1 pending" in html
    assert "The annual KPIs of alpha at dso, beta at dso are left blank" in html
    assert ("sweep.parquet not written yet" if tables == "missing" else
            "sweep.parquet is older than manifest.json") in html
    (row,) = [r for r in table_rows(html, "pending-table") if "data-key" in r["attrs"]]
    assert row["attrs"]["data-key"] == cut["key"] and row["cells"][:3] == [
        "alpha", cut["date"], "dso"]
    statuses = Counter(r["attrs"]["data-status"] for r in table_rows(html, "task-table")
                       if "data-key" in r["attrs"])
    assert statuses == {"complete": 6, "failed": 1, "pending": 1}
    page = build_page(killed)
    t = _heat(page, "annual", "grid.max_trafo_loading_percent")
    annual = pd.read_parquet(report_sweep / "annual.parquet").set_index(["scenario", "level"])
    assert t.z[0][0] == annual.loc[("alpha", "none"), "grid.max_trafo_loading_percent"]
    assert t.z[0][1] is None and t.customdata[0][1].endswith("incomplete: 1 of 2 days")
    # the report reads a cut-short sweep: it writes nothing into the sweep folder but itself
    assert not (killed / "sweep.parquet").exists() or tables == "stale"


def test_a_resumed_sweep_rewrites_its_report(report_sweep, tmp_path, capsys):
    """``cosim sweep`` on the folder again runs the failed task (it passes without the
    test's fault) and writes report.html at the end; ``--no-report`` writes none."""
    scen = write_sweep_scenarios(tmp_path / "scenarios")
    out = tmp_path / "sweep"
    shutil.copytree(report_sweep, out)
    argv = ["sweep", "--scenarios", str(scen), "--n-days", "2", "--levels",
            ",".join(SWEEP_LEVELS), "--out", str(out), "--workers", "1", "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "7 complete already, 1 to run" in printed.err
    assert f"report: {out / 'report.html'}" in printed.out
    html = (out / "report.html").read_text()
    assert "Complete: all 8 tasks ran." in html and "Failed tasks (0)" in html
    (out / "report.html").unlink()
    assert main([*argv, "--no-report"]) == 0
    assert "report:" not in capsys.readouterr().out
    assert not (out / "report.html").exists()
    assert main([*argv, "--task-reports"]) == 0
    assert "task reports: 8 written (0 there already)" in capsys.readouterr().out
    assert len(re.findall(r'<a href="tasks/[^"]+/report\.html">report</a>',
                          (out / "report.html").read_text())) == 8


def test_district_report_shows_each_feeder_and_the_total(tmp_path, capsys):
    scen = write_sweep_scenarios(tmp_path / "scenarios")
    out = tmp_path / "district"
    assert main(["sweep", "--scenarios", str(scen / "beta.toml"), "--feeders", "2", "--n-days",
                 "2", "--levels", "none", "--out", str(out), "--quiet"]) == 0
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out  # written at the end
    page = build_page(out)
    annual = pd.read_parquet(out / "annual.parquet").set_index("feeder")
    district = pd.read_parquet(out / "district.parquet").iloc[0]
    assert district.feeders == 2
    for kpi in HEAT_KPIS:
        total = _heat(page, "annual", kpi.key)
        feeders = _heat(page, "feeder", kpi.key)
        assert list(total.y) == ["beta"] and list(feeders.y) == ["beta / feeder 1",
                                                                  "beta / feeder 2"]
        if kpi.key.startswith("flex."):
            assert [list(r) for r in (*total.z, *feeders.z)] == [[None]] * 3
            continue
        assert total.z[0][0] == district[kpi.key]
        assert [row[0] for row in feeders.z] == [annual.loc[1, kpi.key],
                                                 annual.loc[2, kpi.key]]
        assert total.customdata[0][0].endswith("over 2 feeders x 2 days")
    losses = _heat(page, "annual", "grid.losses_kwh").z[0][0]
    assert losses == pytest.approx(annual.loc[1, "grid.losses_kwh"]
                                   + annual.loc[2, "grid.losses_kwh"], rel=1e-12)
    html = (out / "report.html").read_text()
    assert '<a href="#feeders">Per feeder</a>' in html
    rows = [r for r in table_rows(html, "task-table") if "data-key" in r["attrs"]]
    assert sorted(r["cells"][1] for r in rows) == ["1", "1", "2", "2"]  # the feeder column
