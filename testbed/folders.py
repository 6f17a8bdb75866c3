"""Output folders of runs and comparisons: refuse any that would mix new results with old ones.

Checked before anything runs, so that a bad ``--out`` costs nothing and leaves what is there
untouched.
"""

from __future__ import annotations

from pathlib import Path

from testbed.errors import OutputFolderError


def check_run_folder(path: Path) -> None:
    """Refuse a run folder that is a file or a folder holding anything.

    Raises
    ------
    OutputFolderError
        Naming the path.
    """
    if path.exists() and not path.is_dir():
        raise OutputFolderError(f"{path}: output folder is a file")
    if path.is_dir() and any(path.iterdir()):
        raise OutputFolderError(f"{path}: output folder exists and is not empty")


def check_compare_folder(path: Path, levels: list[str]) -> None:
    """Refuse a comparison folder that already holds a comparison or one of its level folders.

    Parameters
    ----------
    path
        The comparison folder (``out/<level>/`` per level, ``out/comparison.csv``).
    levels
        The control levels to run, each once.

    Raises
    ------
    OutputFolderError
        Naming the first path in the way, or if ``levels`` is empty or names a level twice.
    """
    if not levels:
        raise OutputFolderError("--levels: must name at least one control level (got none)")
    twice = sorted({lv for lv in levels if levels.count(lv) > 1})
    if twice:
        raise OutputFolderError(f"--levels: each level once (got {', '.join(twice)} twice)")
    if path.exists() and not path.is_dir():
        raise OutputFolderError(f"{path}: output folder is a file")
    if (path / "comparison.csv").exists():
        raise OutputFolderError(f"{path / 'comparison.csv'}: a comparison is already there; "
                              "choose a new --out")
    for level in levels:
        check_run_folder(path / level)
