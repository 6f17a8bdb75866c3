"""Networks and load-flow engines: the lowest layer (knows nothing of actors or scenarios).

- :mod:`grids.networks`: the reference feeder, loaders of every accepted grid, checks;
- :mod:`grids.balanced`: the balanced (positive-sequence) load-flow engine;
- :mod:`grids.unbalanced`: the unbalanced (three-phase, sequence-frame) load-flow engine;
- :mod:`grids.errors`: this layer's typed errors.
"""

from grids.balanced.loadflow import LoadFlow, LoadFlowResult
from grids.errors import (
    GridError,
    GridsError,
    LoadflowInputError,
    LoadflowNotConverged,
    UnsupportedElement,
)
from grids.unbalanced.loadflow import (
    PhaseConnections,
    UnbalancedLoadFlow,
    UnbalancedLoadFlowResult,
)

__all__ = ["GridError", "GridsError", "LoadFlow", "LoadFlowResult", "LoadflowInputError",
           "LoadflowNotConverged", "PhaseConnections", "UnbalancedLoadFlow",
           "UnbalancedLoadFlowResult", "UnsupportedElement"]
