"""The sweep's manifest: every task with its status, rewritten atomically as tasks finish.

``manifest.json``: ``{"version", "levels", "days", "n_days", "feeders", "tasks": [...]}``,
each task the fields of :meth:`testbed.sweep.tasks.Task.row` plus ``status`` (``pending``,
``complete`` or ``failed``), ``error`` (one line) and ``wall_s``. The run folders are the
truth: a task is complete when its folder is (:func:`testbed.sweep.tasks.folder_complete`);
the manifest says what the sweep holds and why a task failed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MANIFEST = "manifest.json"


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that a reader (or a kill) never sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_manifest(out_dir: Path, header: dict, rows: list[dict]) -> Path:
    """Write ``manifest.json`` (see the module docstring)."""
    path = Path(out_dir) / MANIFEST
    write_atomic(path, json.dumps({**header, "tasks": rows}, indent=1, allow_nan=False) + "\n")
    return path


def read_manifest(out_dir: str | Path) -> dict:
    """Read ``manifest.json`` of a sweep folder."""
    return json.loads((Path(out_dir) / MANIFEST).read_text())
