"""The feeder of a run and its compiled load flow, built once per process and shared.

:class:`GridConfig` names a feeder the way a scenario does (``grid.source`` and the reference
feeder's layout parameters). :func:`shared_grid` loads and checks it and compiles the
load-flow engine once per process (:mod:`sims.registry`): the grid simulator, both roles of
the DSO and the study layer get the same :class:`SharedGrid`. A simulator in another process
rebuilds it from the same config.

A grid file is keyed by its content (SHA-256 of the file), so a file changed between two runs
of a warm process is loaded again. The compiled load flow is also kept on disk for the next
process (:mod:`sims.cache`, keyed by the network's JSON and the engine's source).

Phases (``GridConfig.phases``, the scenario's ``grid.phases``)
--------------------------------------------------------------
``"unbalanced"``: every home is a single-phase connection on its phase (``Feeder.homes``
``phase``: the reference feeder's seeded rotation, the IEEE European LV feeder's original
phases, else :func:`grids.networks.phases.rotating_phases` with the layout seed) and the
three-phase load flow (:class:`grids.unbalanced.loadflow.UnbalancedLoadFlow`) runs; each home
has a second, three-phase connection for its three-phase devices (a third of their power on
each phase). ``"balanced"``: the positive-sequence load flow, every home a balanced load.
``"auto"`` (the default) resolves by the grid (:func:`resolve_phases`): unbalanced for the
reference feeder, the IEEE European LV feeder and a user's file that carries
``asymmetric_load`` rows; balanced for SimBench grids and other files (their zero-sequence
data are pandapower defaults or missing, and their homes' phases are not known).
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
from grids.errors import GridError, UnsupportedElement
from grids.networks.feeder import Feeder, element_ids
from grids.networks.loaders import load_feeder
from grids.networks.phases import PHASE_NAMES, rotating_phases, single_phase_net
from grids.unbalanced import compile as compile3_mod
from grids.unbalanced.compile import CompiledNet3
from grids.unbalanced.compile import compile_net as compile_net3
from grids.unbalanced.loadflow import PhaseConnections, UnbalancedLoadFlow
from sims import cache
from sims.config import Config
from sims.registry import content_key, shared

__all__ = ["PHASE_MODES", "GridConfig", "SharedGrid", "resolve_phases", "shared_grid"]

_NAMED_SOURCES = ("reference", "simbench:", "pandapower:")
#: Values of ``GridConfig.phases`` (``"auto"``: see :func:`resolve_phases`).
PHASE_MODES = ("auto", "unbalanced", "balanced")


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
        them, but the layout seed also seeds their homes' phases).
    phases
        ``"unbalanced"``, ``"balanced"`` or ``"auto"`` (module docstring).
    base_dir
        Folder a relative file path is resolved against (the scenario file's folder).
    """

    grid_source: str = "reference"
    n_homes: int = 184
    n_feeders: int = 5
    layout_seed: int = 1
    phases: str = "auto"
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
        if self.grid_source != "reference":
            params["layout_seed"] = self.layout_seed  # it seeds the homes' phases
        params["phases"] = self.phases
        params.pop("base_dir", None)
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
    phases
        ``"unbalanced"`` or ``"balanced"`` (resolved, :func:`resolve_phases`).
    phase_codes
        Phase of each home (0, 1, 2 for a, b, c), feeder order; None in balanced runs.
    loadflow3
        The three-phase engine (unbalanced runs), or None (balanced, or where it cannot
        represent the net: then ``unsupported`` says why and pandapower's ``runpp_3ph``
        runs).
    net3
        The net with the homes as asymmetric loads (unbalanced runs), else None.
    connections
        Two connections per home (unbalanced runs): ``[0, n)`` each home on its phase,
        ``[n, 2n)`` each home's three-phase devices (``"abc"``), on the same row of
        ``net3.asymmetric_load``.
    """

    key: str
    feeder: Feeder
    loadflow: LoadFlow | None
    unsupported: str | None
    bus_ids: tuple[str, ...]
    line_ids: tuple[str, ...]
    trafo_ids: tuple[str, ...]
    network_json: str
    phases: str = "balanced"
    phase_codes: np.ndarray | None = None
    loadflow3: UnbalancedLoadFlow | None = None
    net3: object | None = None
    connections: PhaseConnections | None = None

    @property
    def unbalanced(self) -> bool:
        """Whether runs on this grid use the three-phase load flow."""
        return self.phases == "unbalanced"

    @property
    def engine(self) -> str:
        """The grid simulator's engine: ``"numba"`` or ``"runpp"`` (pandapower, where our
        engine cannot represent the net; :attr:`unsupported` says why)."""
        return "runpp" if self.unsupported is not None else "numba"

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


def resolve_phases(phases: str, grid_source: str, net) -> str:
    """``"unbalanced"`` or ``"balanced"`` for a grid (``"auto"``: see the module docstring).

    Raises
    ------
    ValueError
        ``phases`` is not one of :data:`PHASE_MODES`.
    """
    if phases not in PHASE_MODES:
        raise ValueError(f"grid.phases: must be one of {', '.join(PHASE_MODES)} (got "
                         f"{phases!r})")
    if phases != "auto":
        return phases
    if grid_source in ("reference", "pandapower:ieee_european_lv"):
        return "unbalanced"
    if not grid_source.startswith(_NAMED_SOURCES[1:]) and len(
            getattr(net, "asymmetric_load", ())):
        return "unbalanced"
    return "balanced"


def home_phase_codes(feeder: Feeder, layout_seed: int) -> np.ndarray:
    """Phase code of each home: its ``phase`` column, else the installers' rotation."""
    homes = feeder.homes
    if "phase" in homes:
        return np.array([PHASE_NAMES.index(str(p)) for p in homes["phase"]], dtype=np.int64)
    return rotating_phases(feeder.net, homes["load"].to_numpy(), seed=layout_seed)


@lru_cache(maxsize=1)
def _engine3_digest() -> str:
    """What a compiled three-phase net depends on besides the net."""
    return cache.digest(Path(compile3_mod.__file__).read_bytes(), pp.__version__,
                        np.__version__, scipy.__version__, "phases-v1")


def _unbalanced(feeder: Feeder, codes: np.ndarray, network_json: str):
    """The homes' single-phase net, its connections and its compiled engine (or why not)."""
    n = len(codes)
    net3, one = single_phase_net(feeder.net, codes, feeder.homes["load"].to_numpy())
    conns = PhaseConnections(np.concatenate([one.asym_row, one.asym_row]),
                             np.concatenate([one.phase, np.full(n, 3, dtype=np.int64)]))
    for a in (conns.asym_row, conns.phase):
        a.setflags(write=False)
    path = cache.cache_path("loadflow3", cache.digest(network_json, codes.tobytes(),
                                                      _engine3_digest()))
    compiled = cache.load(path)
    if not isinstance(compiled, CompiledNet3):
        try:
            compiled = compile_net3(net3)
        except (UnsupportedElement, GridError) as exc:
            return net3, conns, None, str(exc)
        cache.store(path, compiled)
    return net3, conns, UnbalancedLoadFlow(compiled=compiled, connections=conns), None


def _build(key: str, feeder: Feeder, cfg: GridConfig) -> SharedGrid:
    net = feeder.net
    network_json = pp.to_json(net)
    ids = (tuple(element_ids(net.bus)), tuple(element_ids(net.line)),
           tuple(element_ids(net.trafo)))
    phases = resolve_phases(cfg.phases, cfg.grid_source, net)
    if phases == "unbalanced":
        codes = home_phase_codes(feeder, cfg.layout_seed)
        codes.setflags(write=False)
        net3, conns, lf3, why = _unbalanced(feeder, codes, network_json)
        return SharedGrid(key, feeder, None, why, *ids, network_json, phases, codes, lf3,
                          net3, conns)
    try:
        lf, why = LoadFlow(compiled=_compiled(net, network_json)), None
    except UnsupportedElement as exc:
        lf, why = None, str(exc)
    return SharedGrid(key, feeder, lf, why, *ids, network_json)


def shared_grid(cfg: GridConfig) -> SharedGrid:
    """The feeder ``cfg`` names with its compiled load flow, built once per process.

    Raises
    ------
    grids.errors.GridError
        The source names nothing known or the network fails its checks.
    """
    key = cfg.key()
    return shared("grid", key, lambda: _build(key, cfg.load(), cfg))
