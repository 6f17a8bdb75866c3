"""HTML reports: one self-contained file per run folder or comparison folder.

``write_report(folder)`` tells what the folder is (:func:`~testbed.report.folders.folder_kind`),
builds its page (:mod:`~testbed.report.run_report`, :mod:`~testbed.report.compare_report`) and
renders it (:mod:`~testbed.report.render`: jinja2 templates, plotly figures, plotly.js embedded
once). A new kind of folder (the sweep) is one more module with a ``*_page`` function, one
template, and one entry in :data:`BUILDERS` and in ``folder_kind``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from testbed.report.folders import folder_kind, read_compare_folder, read_run_folder
from testbed.report.page import Page

REPORT_NAME = "report.html"


def _run(folder: Path, out: Path) -> Page:
    from testbed.report.run_report import run_page

    return run_page(read_run_folder(folder))


def _compare(folder: Path, out: Path) -> Page:
    from testbed.report.compare_report import compare_page

    return compare_page(read_compare_folder(folder), out_dir=out.parent)


# kind of folder -> builder of its page (folder, output file) -> Page
BUILDERS: dict[str, Callable[[Path, Path], Page]] = {"run": _run, "compare": _compare}


def build_page(folder: str | Path, out: str | Path | None = None) -> Page:
    """The report page of a run or comparison folder (not yet rendered).

    Raises
    ------
    ReportError
        If the folder is neither (the message names it).
    """
    folder = Path(folder)
    out = Path(out) if out is not None else folder / REPORT_NAME
    return BUILDERS[folder_kind(folder)](folder, out)


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the HTML report of a run or comparison folder.

    Parameters
    ----------
    folder
        A folder written by ``cosim run`` or ``cosim compare``.
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
