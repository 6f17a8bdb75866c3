"""Shared fixtures: one default-day run per test session, small scenarios for fast checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.run import run_scenario
from testbed.scenario import DEFAULT_SCENARIO, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def default_scenario():
    return load_scenario(DEFAULT_SCENARIO)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory, default_scenario):
    """The shipped default scenario, one day, run once per session."""
    out = tmp_path_factory.mktemp("runs") / "default"
    return run_scenario(default_scenario, out, progress=False)


@pytest.fixture(scope="session")
def default_balanced_run(tmp_path_factory):
    """The shipped default scenario with ``grid.phases = "balanced"``, run once per session."""
    out = tmp_path_factory.mktemp("runs") / "default-balanced"
    text = with_phases(DEFAULT_SCENARIO.read_text(), "balanced")
    path = out.parent / "default-balanced.toml"
    path.write_text(text)
    return run_scenario(parse_scenario(text, source=path), out, progress=False)


def set_fields(text: str, **fields) -> str:
    """Scenario text with the first ``key = ...`` line of each field replaced by
    ``key = value`` (values as TOML text); a key without such a line is an error."""
    lines = text.splitlines()
    for key, value in fields.items():
        i = next((i for i, line in enumerate(lines) if line.startswith(f"{key} = ")), None)
        if i is None:
            raise AssertionError(f"scenario text has no `{key} = ` line to replace")
        lines[i] = f"{key} = {value}  # test"
    return "\n".join(lines) + "\n"


def with_phases(text: str, phases: str) -> str:
    """The scenario text with ``grid.phases`` set (the shipped files say ``phases = "auto"``)."""
    return set_fields(text, phases=f'"{phases}"')


def small_scenario_text(n_homes: int = 12, days: int = 1, extra: str = "") -> str:
    """The default scenario shrunk to a few homes (fast wiring and failure tests)."""
    text = DEFAULT_SCENARIO.read_text()
    text = text.replace("n_homes = 184", f"n_homes = {n_homes}").replace(
        "n_feeders = 5", "n_feeders = 2").replace("days = 1", f"days = {days}")
    return text + extra


@pytest.fixture
def small_scenario(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(small_scenario_text())
    return parse_scenario(path.read_text(), source=path)


def scenario_with(tmp_path: Path, name: str, *, n_homes: int = 20, **fields):
    """A small scenario file with some ``key = value`` lines replaced (first occurrence).

    Parameters
    ----------
    tmp_path
        Folder the file is written to.
    name
        File stem.
    n_homes
        Homes of the reference feeder.
    fields
        Keys of the scenario file (without their table) and the values to write.
    """
    path = tmp_path / f"{name}.toml"
    path.write_text(set_fields(small_scenario_text(n_homes=n_homes), **fields))
    return load_scenario(path)
