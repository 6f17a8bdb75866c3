"""``cosim report FOLDER [--out FILE]``, and the reports ``cosim run`` and ``cosim compare``
write at the end (``--no-report`` skips them); ``cosim sweep``'s in test_sweep_report.py."""

from __future__ import annotations

import pytest

from cosim import main

from ..conftest import small_scenario_text


def test_compare_writes_its_report_and_each_levels(report_cmp, capsys):
    for folder in (report_cmp, report_cmp / "none", report_cmp / "dso"):
        html = (folder / "report.html").read_text()
        assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "Comparison report" in (report_cmp / "report.html").read_text()
    assert "Run report" in (report_cmp / "dso" / "report.html").read_text()


def test_report_of_a_folder_to_another_file(report_cmp, tmp_path, capsys):
    out = tmp_path / "elsewhere" / "dso.html"
    assert main(["report", str(report_cmp / "dso"), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"report: {out}  (4.")  # MB
    html = out.read_text()
    assert "Run report" in html and "default, control dso" in html
    assert main(["report", str(report_cmp), "--out", str(tmp_path)]) == 0  # a folder: inside
    assert "Comparison report" in (tmp_path / "report.html").read_text()


def test_report_of_a_broken_sweep_folder_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text('{"tasks": [')
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"cosim: error: {tmp_path / 'manifest.json'}: not JSON "
                                       f"(Expecting value)\n")
    (tmp_path / "manifest.json").write_text('{"levels": ["none"], "tasks": []}')
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"cosim: error: {tmp_path / 'manifest.json'}: tasks: "
                                       f"the sweep has no task\n")
    assert main(["report", str(tmp_path / "nothing"), "--task-reports"]) == 2
    assert capsys.readouterr().err.endswith("folder not found\n")
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize(("make", "why"), [
    (lambda p: p, "not a run folder (meta.json, scenario.toml), a comparison folder "
                  "(comparison.csv) nor a sweep folder (manifest.json)"),
    (lambda p: p / "missing", "folder not found"),
])
def test_report_of_anything_else_is_a_one_line_error(tmp_path, capsys, make, why):
    (tmp_path / "notes.txt").write_text("not a run\n")
    folder = make(tmp_path)
    assert main(["report", str(folder)]) == 2
    assert capsys.readouterr().err == f"cosim: error: {folder}: {why}\n"
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("no_report", [False, True])
def test_run_writes_its_report_unless_told_not_to(tmp_path, capsys, no_report):
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(small_scenario_text(n_homes=6))
    out = tmp_path / "run"
    argv = ["run", "--scenario", str(scenario), "--out", str(out), "--quiet"]
    assert main(argv + (["--no-report"] if no_report else [])) == 0
    printed = capsys.readouterr().out
    assert (out / "kpis.json").is_file()
    assert (out / "report.html").exists() is not no_report
    assert (f"report: {out / 'report.html'}" in printed) is not no_report
