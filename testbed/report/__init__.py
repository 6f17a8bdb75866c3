"""HTML reports: one self-contained file per run, comparison or sweep folder.

``write_report(folder)`` tells what the folder is (:func:`~testbed.report.folders.folder_kind`),
builds its page (:mod:`~testbed.report.run_report`, :mod:`~testbed.report.compare_report`,
:mod:`~testbed.report.sweep_report`) and renders it (:mod:`~testbed.report.render`: jinja2
templates, plotly figures, plotly.js embedded once). A new kind of folder is one more module
with a ``*_page`` function, one template, and one entry in :data:`BUILDERS` and in
``folder_kind``. ``write_task_reports(sweep)`` writes the run report of every task of a sweep
(a sweep does not by default: about 0.5 s each).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from testbed.errors import ReportError
from testbed.report.folders import folder_kind, read_compare_folder, read_run_folder
from testbed.report.page import Page

REPORT_NAME = "report.html"


def _run(folder: Path, out: Path) -> Page:
    from testbed.report.run_report import run_page

    return run_page(read_run_folder(folder))


def _compare(folder: Path, out: Path) -> Page:
    from testbed.report.compare_report import compare_page

    return compare_page(read_compare_folder(folder), out_dir=out.parent)


def _sweep(folder: Path, out: Path) -> Page:
    from testbed.report.sweep_folder import read_sweep_folder
    from testbed.report.sweep_report import sweep_page

    return sweep_page(read_sweep_folder(folder), out_dir=out.parent)


# kind of folder -> builder of its page (folder, output file) -> Page
BUILDERS: dict[str, Callable[[Path, Path], Page]] = {"run": _run, "compare": _compare,
                                                     "sweep": _sweep}


def build_page(folder: str | Path, out: str | Path | None = None) -> Page:
    """The report page of a run, comparison or sweep folder (not yet rendered).

    Raises
    ------
    ReportError
        If the folder is neither (the message names it).
    """
    folder = Path(folder)
    out = Path(out) if out is not None else folder / REPORT_NAME
    return BUILDERS[folder_kind(folder)](folder, out)


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the HTML report of a run, comparison or sweep folder.

    Parameters
    ----------
    folder
        A folder written by ``cosim run``, ``cosim compare`` or ``cosim sweep``.
    out
        The HTML file (default: ``report.html`` in the folder; an existing folder: its
        ``report.html``).

    Returns
    -------
    Path
        The file written.
    """
    from testbed.report.render import write_page

    folder = Path(folder)
    out = Path(out) if out is not None else folder / REPORT_NAME
    if out.is_dir():
        out = out / REPORT_NAME
    return write_page(build_page(folder, out), out)


def write_task_reports(folder: str | Path, *, overwrite: bool = False
                       ) -> tuple[list[Path], int]:
    """Write the run report of every task of a sweep folder that has a run folder.

    A task folder whose ``report.html`` exists is left alone (unless ``overwrite``). Costs
    about 0.5 s per report, in this process.

    Parameters
    ----------
    folder
        A sweep folder (``cosim sweep``).
    overwrite
        Write every task's report again.

    Returns
    -------
    list of Path, int
        The reports written, and how many task folders had one already.

    Raises
    ------
    ReportError
        If the folder is not a sweep folder.
    """
    from testbed.report.sweep_folder import read_sweep_folder

    folder = Path(folder)
    if folder_kind(folder) != "sweep":
        raise ReportError(f"{folder}: --task-reports: not a sweep folder (no manifest.json)")
    written, there = [], 0
    for task in read_sweep_folder(folder).tasks.folder:
        task = Path(task)
        if not (task / "meta.json").is_file():
            continue
        if (task / REPORT_NAME).is_file() and not overwrite:
            there += 1
            continue
        written.append(write_report(task))
    return written, there
