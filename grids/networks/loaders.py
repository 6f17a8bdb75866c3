"""Load a feeder from a grid spec: the reference feeder, a shipped LV grid, or a user's file.

Grid specs (the scenario's ``grid.source`` field):

``reference``
    The built-in UK reference feeder (:func:`grids.networks.feeder.build_reference_feeder`).
``simbench:<code>``
    A SimBench grid shipped with the ``simbench`` wheel, e.g. ``simbench:1-LV-rural1--0-sw``.
``pandapower:ieee_european_lv``
    pandapower's IEEE European LV test feeder, made balanced: each asymmetric load becomes one
    three-phase load with the sum of its phase powers; the phase it was on is kept as the
    home's ``phase`` (for unbalanced runs).
``<path>.json``
    A pandapower network file of the user's.

For every grid but the reference feeder, each in-service load is a home (``H001``... in
``net.load`` order; the original load name is kept in the home table's ``load_name`` column).
Their ``p_mw``/``q_mvar`` are overwritten by the homes each step. Generators that come with a
shipped grid (SimBench PV, storage) are switched out of service: the scenario decides which home
has PV or a battery. A user's file is used as it is.

Grid files are untrusted input: pandapower's ``from_json`` imports the module a file names before
it checks anything, so a user's file is never given to it. :func:`load_json_feeder` decodes it
with :func:`grids.networks.safe_json.decode_network`, which builds only the exact
``(module, class)`` pairs a pandapower network is made of and imports nothing the file names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd

from grids.errors import GridError
from grids.networks.checks import check_feeder, check_tables
from grids.networks.feeder import Feeder, build_reference_feeder
from grids.networks.safe_json import decode_network

SHIPPED_PANDAPOWER_GRIDS = ("ieee_european_lv",)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + " ...") if len(text) > 200 else text or type(exc).__name__


def _homes_from_loads(net: pp.pandapowerNet) -> pd.DataFrame:
    loads = net.load[net.load.in_service]
    homes = pd.DataFrame(
        {
            "home_id": [f"H{i + 1:03d}" for i in range(len(loads))],
            "bus": loads.bus.to_numpy(),
            "load": loads.index.to_numpy(),
            "feeder": 0,
            "load_name": (loads["name"].astype(str).to_numpy() if "name" in loads
                          else loads.index.astype(str).to_numpy()),
        }
    )
    return homes.set_index("home_id")


def load_json_feeder(path: str | Path) -> Feeder:
    """Load a user's pandapower JSON network; every in-service load is a home.

    Parameters
    ----------
    path
        Path of a file written by ``pandapower.to_json``.

    Raises
    ------
    GridError
        If the file is missing, is not JSON, names a module outside the allow-list, or fails the
        checks of :func:`grids.networks.checks.check_feeder`.
    """
    path = Path(path)
    net = read_network_json(path)
    check_tables(net, path.name)
    return check_feeder(Feeder(net=net, homes=_homes_from_loads(net), name=path.name))


def read_network_json(path: str | Path) -> pp.pandapowerNet:
    """Read a pandapower JSON network file safely (decoded by our own allow-list hook).

    Parameters
    ----------
    path
        Path of a file written by ``pandapower.to_json`` (a user's grid, or a run folder's
        ``network.json``).

    Raises
    ------
    GridError
        If the file is missing, is not JSON, names an object outside the allow-list or is not a
        pandapower network. The network itself is not checked (see :func:`load_json_feeder`).
    """
    path = Path(path)
    if not path.is_file():
        raise GridError(f"{path}: grid file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GridError(f"{path}: cannot read the grid file ({_one_line(exc)})") from None
    try:
        net = decode_network(text)
    except json.JSONDecodeError as exc:
        raise GridError(f"{path}: not a JSON file ({exc.msg} at line {exc.lineno})") from None
    except GridError as exc:  # a foreign object (UnsafeGridFile) or not a network
        raise GridError(f"{path}: {exc}") from None
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        # pandas' reader of a malformed table, a table of the wrong shape
        raise GridError(f"{path}: not a pandapower network ({_one_line(exc)})") from None
    return net


def load_simbench_feeder(code: str) -> Feeder:
    """Load a SimBench grid shipped with the ``simbench`` wheel; its loads become homes.

    Parameters
    ----------
    code
        A SimBench code, e.g. ``"1-LV-rural1--0-sw"``.
    """
    import simbench

    try:
        net = simbench.get_simbench_net(code)
    except Exception as exc:
        raise GridError(f"simbench:{code}: not a SimBench grid code ({exc})") from None
    for table in ("sgen", "storage"):
        if table in net and len(net[table]):
            net[table]["in_service"] = False
    net.profiles = {}
    return check_feeder(Feeder(net=net, homes=_homes_from_loads(net), name=f"simbench:{code}"))


def ieee_european_lv_balanced(with_phase: bool = False) -> pp.pandapowerNet:
    """pandapower's IEEE European LV feeder with each asymmetric load made one balanced load.

    With ``with_phase``, ``net.load`` gets a ``phase`` column: the phase (``"a"``, ``"b"``,
    ``"c"``) the original single-phase load is on (the home's phase in unbalanced runs).

    Returns
    -------
    pandapowerNet
        906 LV buses, 55 three-phase loads carrying the sum of the phase powers of the
        original single-phase loads (on-peak case), no asymmetric loads.
    """
    import pandapower.networks as pn

    net = pn.ieee_european_lv_asymmetric("on_peak_566")
    phases = []
    for _, row in net.asymmetric_load.iterrows():
        # the phase the single-phase load is on (the largest of its phase powers)
        phases.append("abc"[int(np.argmax([row.p_a_mw, row.p_b_mw, row.p_c_mw]))])
        pp.create_load(
            net,
            bus=int(row.bus),
            p_mw=float(row.p_a_mw + row.p_b_mw + row.p_c_mw),
            q_mvar=float(row.q_a_mvar + row.q_b_mvar + row.q_c_mvar),
            name=str(row["name"]),
            in_service=bool(row.in_service),
        )
    net.asymmetric_load = net.asymmetric_load.iloc[0:0]
    if with_phase:
        net.load["phase"] = phases
    return net


def load_feeder(spec: str = "reference", *, n_homes: int = 184, seed: int = 1,
                n_feeders: int = 5, base_dir: Path | None = None) -> Feeder:
    """Load and check the feeder a grid spec names (see the module docstring).

    Parameters
    ----------
    spec
        ``"reference"``, ``"simbench:<code>"``, ``"pandapower:ieee_european_lv"`` or a JSON path.
    n_homes, seed, n_feeders
        Used by the reference feeder only.
    base_dir
        Directory a relative JSON path is resolved against (the scenario file's folder).

    Raises
    ------
    GridError
        If the spec names nothing known or the network fails its checks.
    """
    if spec == "reference":
        return check_feeder(build_reference_feeder(n_homes=n_homes, seed=seed,
                                                   n_feeders=n_feeders))
    if spec.startswith("simbench:"):
        return load_simbench_feeder(spec.split(":", 1)[1])
    if spec.startswith("pandapower:"):
        name = spec.split(":", 1)[1]
        if name != "ieee_european_lv":
            raise GridError(f"{spec}: unknown pandapower grid; shipped: "
                            + ", ".join(SHIPPED_PANDAPOWER_GRIDS))
        net = ieee_european_lv_balanced(with_phase=True)
        homes = _homes_from_loads(net)
        homes["phase"] = net.load.loc[homes["load"], "phase"].to_numpy()
        net.load = net.load.drop(columns="phase")
        return check_feeder(Feeder(net=net, homes=homes, name=spec))
    path = Path(spec)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    if path.suffix.lower() != ".json":
        raise GridError(f"{spec}: grid source must be 'reference', 'simbench:<code>', "
                        "'pandapower:ieee_european_lv' or a .json file")
    return load_json_feeder(path)
