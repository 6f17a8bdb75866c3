"""What the reports show: the right figures with titles and units, the data the run wrote, the
KPIs of kpis.json, the scenario's differences from the shipped default."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
from plotly.offline import get_plotlyjs

from grids.networks.feeder import element_ids
from grids.networks.loaders import read_network_json
from testbed.report import build_page, write_report
from testbed.report.render import render_page
from testbed.report.tables import format_number, kpi_unit

from .conftest import CHANGED_FIELDS, table_rows

RUN_FIGURES = {  # key -> title, for a run at control dso
    "loading": "Transformer loading",
    "voltage": "Voltage envelope of the LV buses per phase",
    "unbalance": "Voltage unbalance factor of the LV buses",  # the feeder runs unbalanced
    "map": "Feeder map: lowest voltage per bus, peak loading per line",
    "homes": "Homes: total power by device",
    "plans": "CEMS plans by status",
    "lights": "Traffic light per interval",
    "flex": "Flexibility per interval",
}
UNIT = re.compile(r"\[[^\]]+\]")


def _axes(fig):
    return [fig.layout[name] for name in fig.layout if name.startswith(("xaxis", "yaxis"))]


def _lv_ids(run_dir):
    net = read_network_json(run_dir / "network.json")
    ids = pd.Series(element_ids(net.bus), index=net.bus.index)
    return set(ids[net.bus.vn_kv < 1.0])


def test_run_report_has_every_figure_with_units(report_cmp):
    page = build_page(report_cmp / "dso")
    assert [f.key for f in page.figures] == list(RUN_FIGURES)
    assert {f.key: f.title for f in page.figures} == RUN_FIGURES
    for f in page.figures:
        for axis in _axes(f.figure):
            title = axis.title.text
            assert title, f"{f.key}: an axis without a title"
            if f.key != "lights" or axis.plotly_name == "xaxis":  # the lights' rows: stages
                assert UNIT.search(title), f"{f.key}: {title!r} has no [unit]"
    # a level without a CEMS or flexibility has the grid and homes figures only
    assert [f.key for f in build_page(report_cmp / "none").figures] == [
        "loading", "voltage", "unbalance", "map", "homes"]


def test_report_file_is_self_contained(report_cmp):
    html = (report_cmp / "dso" / "report.html").read_text()
    assert html.count("* plotly.js v") == 1  # the library's header: embedded once
    assert len(re.findall(r'<script type="application/json" id="data-', html)) == len(
        RUN_FIGURES)
    assert not re.search(r'<(script|link|img)[^>]+(src|href)=', html)  # nothing to fetch
    ours = html.replace(get_plotlyjs(), "")
    assert len(ours) < len(html) - 4_000_000
    assert not re.search(r"https?://", ours)  # no address outside plotly.js itself
    for key in RUN_FIGURES:
        assert html.count(f'id="plot-{key}"') == 1
        assert html.count(f'href="#fig-{key}"') == 1  # in the navigation bar


def test_kpi_table_shows_kpis_json(report_cmp):
    kpis = json.loads((report_cmp / "dso" / "kpis.json").read_text())
    rows = [r for r in table_rows((report_cmp / "dso" / "report.html").read_text(), "kpi-table")
            if "data-key" in r["attrs"]]
    assert [r["attrs"]["data-key"] for r in rows] == sorted(
        kpis, key=lambda k: ("grid", "homes", "flex").index(k.split(".")[0]))
    for r in rows:
        key, value = r["attrs"]["data-key"], kpis[r["attrs"]["data-key"]]
        if value is None:
            assert r["attrs"]["data-value"] == "" and r["cells"][2] == "\u2014"
        else:
            assert float(r["attrs"]["data-value"]) == value  # exact: repr round-trips
            assert r["cells"][2] == format_number(value, kpi_unit(key))
        assert r["cells"][1] == key and r["cells"][3] == kpi_unit(key)
    shown = {r["attrs"]["data-key"]: r["cells"][2] for r in rows}
    peak = kpis["grid.max_trafo_loading_percent"]
    assert shown["grid.max_trafo_loading_percent"] == f"{peak:.1f}"
    assert shown["grid.vm_min_pu"] == f"{kpis['grid.vm_min_pu']:.4f}"
    assert shown["homes.total_bill_eur"] == f"{kpis['homes.total_bill_eur']:,.2f}"
    assert shown["flex.orange_intervals"] == f"{kpis['flex.orange_intervals']:.0f}"


def test_scenario_table_marks_fields_that_differ_from_default(report_cmp):
    rows = table_rows((report_cmp / "dso" / "report.html").read_text(), "scenario-table")
    fields = {r["attrs"]["data-field"]: r for r in rows if "data-field" in r["attrs"]}
    marked = {f for f, r in fields.items() if r["attrs"].get("class") == "differs"}
    assert marked == CHANGED_FIELDS
    assert fields["grid.n_homes"]["cells"][1:] == ["grid.n_homes", "16", "184"]
    assert fields["limits.max_loading_percent"]["cells"][2:] == ["6.0", "100.0"]
    assert fields["control"]["cells"][2:] == ["dso", "none"]
    assert fields["seed"]["cells"][2:] == ["42", ""]  # same as the default: no mark, no default
    assert fields["control"]["cells"][0] == "\u2260" and fields["seed"]["cells"][0] == ""


def test_loading_and_voltage_figures_show_the_run(report_cmp):
    run = report_cmp / "dso"
    page = build_page(run)
    trafo = pd.read_parquet(run / "transformer.parquet").sort_values("time")
    (curve,) = page.figure("loading").figure.data
    assert curve.name == "T1 11/0.433 kV 500 kVA"
    assert np.array_equal(curve.y, trafo.loading_percent.to_numpy(np.float32))
    assert curve.dx == 900_000 and curve.x0 == "2016-01-20 00:00:00"
    lines = {s.y0 for s in page.figure("loading").figure.layout.shapes}
    assert lines == {100.0, 6.0}  # the rating and the scenario's limit

    buses = pd.read_parquet(run / "buses.parquet")
    lv_ids = _lv_ids(run)
    lv = buses[buses.bus_id.astype(str).isin(lv_ids)]
    # unbalanced run: one row per bus, phase and step; one envelope (highest, lowest) per phase
    assert len(lv) == 96 * 3 * len(lv_ids) and buses.bus_id.nunique() == len(lv_ids) + 1
    traces = page.figure("voltage").figure.data
    assert [t.name for t in traces] == [f"phase {p} {w}" for p in "abc"
                                        for w in ("highest", "lowest")]
    for k, phase in enumerate("abc"):
        hi, lo = traces[2 * k], traces[2 * k + 1]
        ph = lv[lv.phase == phase]
        by_step = ph.groupby("time").vm_pu
        assert np.array_equal(lo.y, by_step.min().to_numpy(np.float32))
        assert np.array_equal(hi.y, by_step.max().to_numpy(np.float32))
        worst = ph.loc[ph.vm_pu.idxmin()]
        step = int((worst.time - ph.time.min()) / pd.Timedelta(minutes=15))
        assert lo.customdata[step] == worst.bus_id  # the hover names the bus
    assert {s.y0 for s in page.figure("voltage").figure.layout.shapes} == {0.94, 1.10}


def test_feeder_map_colours_buses_and_lines(report_cmp):
    run = report_cmp / "dso"
    fig = build_page(run).figure("map").figure
    traces = {t.name: t for t in fig.data if t.name}
    buses = pd.read_parquet(run / "buses.parquet")
    vm_min = buses.groupby("bus_id", observed=True).vm_pu.min()
    bus_trace = traces["bus (lowest voltage)"]
    assert sorted(bus_trace.text) == sorted(_lv_ids(run))
    assert np.array_equal(bus_trace.marker.color,
                          vm_min.loc[list(bus_trace.text)].to_numpy(np.float32))
    lines = pd.read_parquet(run / "lines.parquet")
    peak = lines.groupby("line_id", observed=True).loading_percent.max()
    line_trace = traces["line (peak loading)"]
    assert sorted(line_trace.text) == sorted(peak.index.astype(str))
    assert np.array_equal(line_trace.marker.color,
                          peak.loc[list(line_trace.text)].to_numpy(np.float32))
    assert traces["transformer"].text[0].endswith(
        f"peak loading {pd.read_parquet(run / 'transformer.parquet').loading_percent.max():.1f} %")
    homes = pd.read_parquet(run / "home_kpis.parquet")
    first = homes.iloc[0]
    i = list(bus_trace.text).index(first.bus_id)
    assert first.home_id in bus_trace.hovertext[i]
    assert fig.layout.xaxis.title.text == "x [m]" and fig.layout.yaxis.scaleanchor == "x"


def test_homes_figure_adds_up_to_the_homes_net_power(report_cmp):
    run = report_cmp / "dso"
    fig = build_page(run).figure("homes").figure
    homes = pd.read_parquet(run / "homes.parquet")
    total = homes.groupby("time").p_kw.sum().to_numpy()
    traces = {t.name: np.asarray(t.y, dtype=float) for t in fig.data}
    assert np.array_equal(traces.pop("net, all homes"), total.astype(np.float32))
    assert np.allclose(sum(traces.values()), total, atol=1e-3)  # float32 parts
    assert np.allclose(traces["PV"], -homes.groupby("time").pv_kw.sum().to_numpy(), atol=1e-4)


def test_plans_and_flexibility_figures_match_kpis(report_cmp):
    run = report_cmp / "dso"
    kpis = json.loads((run / "kpis.json").read_text())
    page = build_page(run)
    (bars,) = page.figure("plans").figure.data
    assert bars.name == "optimal" and list(bars.x) == ["2016-01-20"]
    assert list(bars.y) == [kpis["homes.cems_homes"]] == [13]
    (lights,) = page.figure("lights").figure.data
    before, after, operation = lights.text
    assert before.count("yellow") == kpis["flex.congested_intervals_dayahead"] > 0
    assert after.count("orange") == kpis["flex.orange_intervals"]
    assert operation.count("red") == kpis["flex.operation_violation_intervals"]
    names = [t.name for t in page.figure("flex").figure.data]
    assert names == [f"{what} ({kpis[f'flex.{what}_kwh']:,.1f} kWh)"
                     for what in ("requested", "offered", "ordered", "delivered")]


def test_compare_report_puts_levels_side_by_side(report_cmp):
    table = pd.read_csv(report_cmp / "comparison.csv", index_col="kpi")
    html = (report_cmp / "report.html").read_text()
    rows = {r["attrs"]["data-key"]: r for r in table_rows(html, "kpi-table")
            if "data-key" in r["attrs"]}
    assert set(rows) == set(table.index)
    for key, r in rows.items():
        values = [a.get("data-value") for a in r["cell_attrs"] if "data-level" in a]
        for level, v in zip(("none", "dso"), values, strict=True):
            expected = table.loc[key, level]
            assert (v == "") if pd.isna(expected) else (float(v) == expected)
    r = rows["grid.max_trafo_loading_percent"]["cells"]
    d = table.loc["grid.max_trafo_loading_percent", "dso"] - table.loc[
        "grid.max_trafo_loading_percent", "none"]
    assert r[-1] == ("+" if d > 0 else "") + f"{d:.1f}"
    assert 'href="none/report.html"' in html and 'href="dso/report.html"' in html
    page = build_page(report_cmp)
    assert [f.key for f in page.figures] == ["loading", "voltage", "homes"]
    loading = page.figure("loading").figure
    assert [t.name for t in loading.data] == ["none", "dso"]
    for t, level in zip(loading.data, ("none", "dso"), strict=True):
        trafo = pd.read_parquet(report_cmp / level / "transformer.parquet")
        assert np.array_equal(t.y, trafo.groupby("time").loading_percent.max()
                              .to_numpy(np.float32))
    assert [t.name for t in page.figure("voltage").figure.data] == [
        "none highest", "none lowest", "dso highest", "dso lowest"]
    for f in page.figures:
        assert all(UNIT.search(a.title.text) for a in _axes(f.figure))


def _three_phase_copy(src, dst):
    """A run folder as an unbalanced run would write it: buses and lines per phase (a, b, c
    offset from the balanced values by -0.01, 0, +0.01 p.u. and x1, x1.2, x0.8 loading) and
    per-phase voltage KPIs."""
    shutil.copytree(src, dst)
    (dst / "report.html").unlink()
    buses = pd.read_parquet(src / "buses.parquet")
    lines = pd.read_parquet(src / "lines.parquet")
    pd.concat([buses.assign(phase=p, vm_pu=buses.vm_pu + dv)
               for p, dv in (("a", -0.01), ("b", 0.0), ("c", 0.01))]).to_parquet(
        dst / "buses.parquet", index=False)
    pd.concat([lines.assign(phase=p, loading_percent=lines.loading_percent * f)
               for p, f in (("a", 1.0), ("b", 1.2), ("c", 0.8))]).to_parquet(
        dst / "lines.parquet", index=False)
    kpis = json.loads((src / "kpis.json").read_text())
    kpis.update({"grid.vm_min_pu_a": kpis["grid.vm_min_pu"] - 0.01,
                 "grid.vm_min_pu_b": kpis["grid.vm_min_pu"],
                 "grid.vm_min_pu_c": kpis["grid.vm_min_pu"] + 0.01})
    (dst / "kpis.json").write_text(json.dumps(kpis))
    return buses, lines


def test_unbalanced_run_shows_the_voltage_envelope_per_phase(report_cmp, tmp_path):
    run = tmp_path / "unbalanced"
    buses, lines = _three_phase_copy(report_cmp / "none", run)
    page = build_page(run)
    fig = page.figure("voltage").figure
    assert fig.layout.title.text == "Voltage envelope of the LV buses per phase"
    assert [t.name for t in fig.data] == [f"phase {p} {w}" for p in "abc"
                                          for w in ("highest", "lowest")]
    lv = buses[buses.bus_id.astype(str).isin(_lv_ids(run))].groupby("time").vm_pu
    for i, dv in enumerate((-0.01, 0.0, 0.01)):
        hi, lo = fig.data[2 * i], fig.data[2 * i + 1]
        assert np.array_equal(lo.y, (lv.min() + dv).to_numpy(np.float32))
        assert np.array_equal(hi.y, (lv.max() + dv).to_numpy(np.float32))
    assert fig.data[0].line.color != fig.data[2].line.color  # a colour per phase
    traces = {t.name: t for t in page.figure("map").figure.data if t.name}
    bus_trace = traces["bus (lowest voltage)"]
    vm_min = buses.groupby("bus_id", observed=True).vm_pu.min() - 0.01  # phase a is lowest
    assert np.array_equal(bus_trace.marker.color,
                          vm_min.loc[list(bus_trace.text)].to_numpy(np.float32))
    peak = lines.groupby("line_id", observed=True).loading_percent.max() * 1.2  # phase b
    line_trace = traces["line (peak loading)"]
    assert np.allclose(line_trace.marker.color, peak.loc[list(line_trace.text)], rtol=1e-6)
    html = render_page(page)
    assert 'data-key="grid.vm_min_pu_b"' in html
    rows = {r["attrs"]["data-key"]: r["cells"] for r in table_rows(html, "kpi-table")
            if "data-key" in r["attrs"]}
    assert rows["grid.vm_min_pu_a"][3] == "p.u."


def test_incomplete_run_is_reported_with_what_it_has(report_cmp, tmp_path):
    run = tmp_path / "failed"
    shutil.copytree(report_cmp / "none", run)
    (run / "kpis.json").unlink()
    meta = json.loads((run / "meta.json").read_text())
    meta.update(status="failed", error="KeyboardInterrupt: ")
    (run / "meta.json").write_text(json.dumps(meta))
    html = write_report(run).read_text()
    assert "kpis.json: missing (run status: failed: KeyboardInterrupt: )" in html
    assert "No KPIs: the run did not complete." in html
    assert html.count('<script type="application/json" id="data-') == 5


def test_default_day_report_is_at_most_5_mb(default_run, capsys):
    path = write_report(default_run.out_dir)
    size = path.stat().st_size
    with capsys.disabled():
        print(f"\nreport of the default day: {path} {size:,} bytes")
    assert size <= 5_000_000
