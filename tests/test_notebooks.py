"""The notebooks execute from top to bottom on a real run."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from .conftest import ROOT


def test_explore_run_notebook_executes(default_run, monkeypatch):
    monkeypatch.setenv("LVFLEX_RUN", str(default_run.out_dir))
    nb = nbformat.read(ROOT / "notebooks" / "01_explore_run.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # loading, voltage envelope, map
    text = "".join(o.get("text", "") for o in outputs)
    assert str(default_run.out_dir) in text
