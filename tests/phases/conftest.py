"""The small unbalanced feeder the DSO's per-phase tests share."""

from __future__ import annotations

import pytest

from sims.grid.network import GridConfig, shared_grid

#: 30 homes on 2 feeders of the reference layout 3.
BASE = dict(grid_source="reference", n_homes=30, n_feeders=2, layout_seed=3)


@pytest.fixture(scope="module")
def unb():
    """The feeder of :data:`BASE`, unbalanced."""
    return shared_grid(GridConfig(**BASE, phases="unbalanced"))
