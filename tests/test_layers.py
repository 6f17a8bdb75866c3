"""The layers of the house, as import-linter contracts (``[tool.importlinter]`` in
pyproject.toml): grids < sims < testbed < cosim, and mosaik only in the adapters."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import ROOT

LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def test_import_contracts_are_kept():
    """``lint-imports`` on this checkout: every contract kept."""
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    proc = subprocess.run([sys.executable, "-c", LINT], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 3 kept, 0 broken." in proc.stdout
