"""The feeder of a run and its compiled load flow, built once per process and shared.

:class:`GridConfig` names a feeder the way a scenario does (``grid.source`` and the reference
feeder's layout parameters). :func:`shared_grid` loads and checks it and compiles the
load-flow engine once per process (:mod:`sims.registry`): the grid simulator, both roles of
the DSO and the study layer get the same :class:`SharedGrid`. A simulator in another process
rebuilds it from the same config.

A grid file is keyed by its content (SHA-256 of the file), so a file changed between two runs
of a warm process is loaded again. The compiled load flow is also kept on disk for the next
process (:mod:`sims.cache`, keyed by the network's JSON and the engine's source).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
import scipy

from grids.balanced import compile as compile_mod
from grids.balanced.compile import CompiledNet, compile_net
from grids.balanced.loadflow import LoadFlow
from grids.errors import UnsupportedElement
from grids.networks.feeder import Feeder, element_ids
from grids.networks.loaders import load_feeder
from sims import cache
from sims.config import Config
from sims.registry import content_key, shared

__all__ = ["GridConfig", "SharedGrid", "shared_grid"]

_NAMED_SOURCES = ("reference", "simbench:", "pandapower:")


@dataclass(frozen=True)
class GridConfig(Config):
    """Which feeder a run uses (the scenario's ``[grid]`` table).

    Attributes
    ----------
    grid_source
        ``"reference"``, ``"simbench:<code>"``, ``"pandapower:ieee_european_lv"`` or the path
        of a pandapower JSON file (see :mod:`grids.networks.loaders`).
    n_homes, n_feeders, layout_seed
        Homes, radial feeders and layout seed of the reference feeder (other grids ignore
        them).
    base_dir
        Folder a relative file path is resolved against (the scenario file's folder).
    """

    grid_source: str = "reference"
    n_homes: int = 184
    n_feeders: int = 5
    layout_seed: int = 1
    base_dir: str = "."

    @property
    def path(self) -> Path | None:
        """The grid file, for a file source (else None)."""
        if self.grid_source == "reference" or self.grid_source.startswith(_NAMED_SOURCES[1:]):
            return None
        p = Path(self.grid_source)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def key(self) -> str:
        """Content key of the feeder: the parameters, and the file's content for a file."""
        path = self.path
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() \
            else None
        params = self.to_dict()
        if path is not None:
            params = {"grid_source": str(path.resolve() if path.exists() else path)}
        elif self.grid_source != "reference":
            params = {"grid_source": self.grid_source}
        return content_key("grid", params, digest)

    def load(self) -> Feeder:
        """Load and check the feeder (no sharing; see :func:`shared_grid`)."""
        return load_feeder(self.grid_source, n_homes=self.n_homes, seed=self.layout_seed,
                           n_feeders=self.n_feeders, base_dir=Path(self.base_dir))


@dataclass(frozen=True, eq=False)
class SharedGrid:
    """A checked feeder and its compiled load flow (read-only, shared in the process).

    Attributes
    ----------
    key
        Content key (:meth:`GridConfig.key`).
    feeder
        The network and its homes (never modified by its users).
    loadflow
        The compiled engine, or None where it cannot represent the net (then
        ``unsupported`` says why and the grid model runs pandapower's ``runpp``).
    unsupported
        Why the engine cannot represent the net, or None.
    bus_ids, line_ids, trafo_ids
        Stable ids of the buses, lines and transformers (:func:`grids.networks.feeder.element_ids`).
    network_json
        The network as pandapower JSON (``network.json`` of a run folder).
    """

    key: str
    feeder: Feeder
    loadflow: LoadFlow | None
    unsupported: str | None
    bus_ids: tuple[str, ...]
    line_ids: tuple[str, ...]
    trafo_ids: tuple[str, ...]
    network_json: str

    @property
    def homes(self) -> pd.DataFrame:
        """The homes table of the feeder (index ``home_id``; ``bus``, ``load``, ``feeder``)."""
        return self.feeder.homes

    @property
    def home_ids(self) -> list[str]:
        """Home ids in feeder order (the element order of every array attribute)."""
        return self.feeder.homes.index.tolist()


@lru_cache(maxsize=1)
def _engine_digest() -> str:
    """What a compiled net depends on besides the net: the compiler's source and libraries."""
    return cache.digest(Path(compile_mod.__file__).read_bytes(), pp.__version__,
                        np.__version__, scipy.__version__)


def _compiled(net, network_json: str) -> CompiledNet:
    """The net compiled for the engine, from the disk cache when a process compiled it before."""
    path = cache.cache_path("loadflow", cache.digest(network_json, _engine_digest()))
    found = cache.load(path)
    if isinstance(found, CompiledNet):
        return found
    compiled = compile_net(net)
    cache.store(path, compiled)
    return compiled


def _build(key: str, feeder: Feeder) -> SharedGrid:
    net = feeder.net
    network_json = pp.to_json(net)
    try:
        lf, why = LoadFlow(compiled=_compiled(net, network_json)), None
    except UnsupportedElement as exc:
        lf, why = None, str(exc)
    return SharedGrid(key, feeder, lf, why, tuple(element_ids(net.bus)),
                      tuple(element_ids(net.line)), tuple(element_ids(net.trafo)),
                      network_json)


def shared_grid(cfg: GridConfig) -> SharedGrid:
    """The feeder ``cfg`` names with its compiled load flow, built once per process.

    Raises
    ------
    grids.errors.GridError
        The source names nothing known or the network fails its checks.
    """
    key = cfg.key()
    return shared("grid", key, lambda: _build(key, cfg.load()))
