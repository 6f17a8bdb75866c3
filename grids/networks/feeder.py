"""The reference feeder: a representative UK LV network built in code, reproducible from a seed.

The study's real network (Pontypool, 184 homes on one 500 kVA transformer) is not public, so we
build a representative one with the features that matter for congestion studies:

- an 11/0.433 kV, 500 kVA, Dyn11 ground-mounted transformer (UK practice: 433 V open-circuit
  secondary, off-load taps of +-2.5 % and +-5 %). We set tap +1 (-2.5 % on the secondary), so the
  busbar sits near 1.055 p.u. at no load: high in the band, as on real UK feeders, which makes
  summer PV over-voltage realistic;
- ``n_feeders`` radial underground feeders leaving the LV board. Each is a trunk of joints 25-45 m
  apart; its first 250 m are NAYY 4x150 SE, the rest tapers to NAYY 4x120 SE (pandapower standard
  types, close to the UK 185/95 mm2 Waveform cables in impedance and rating). A trunk joint starts
  a lateral of 2-4 joints 25-40 m apart (NAYY 4x120 SE) with probability 0.2;
- about 1.5 homes per joint, at least one (houses on both sides of the street), each on its own
  bus at the end of an 8-25 m service cable (NAYY 4x50 SE, 142 A, close to a 35 mm2 Cu service);
- geodata for every bus, so a feeder map can be drawn;
- zero-sequence data for the three-phase load flow (pandapower's ``runpp_3ph`` and
  :class:`grids.UnbalancedLoadFlow` run on the net as built): every cable has ``r0 = 4 r``,
  ``x0 = 4 x``, ``c0 = c`` (NAYY 4x... SE are four equal sector cores, the fourth the neutral;
  with the whole zero-sequence current returning in it, ``Z0 = 4 Z1``, see
  :mod:`grids.unbalanced.defaults`), the transformer is ``Dyn`` (pandapower's name; the clock
  number 11 is in ``shift_degree``) with ``vk0 = vk``, ``vkr0 = vkr``, ``mag0_percent = 100``,
  ``mag0_rx = 0``, ``si0_hv_partial = 0.9``, the 11 kV grid 200 MVA with ``R/X = 0.1``,
  ``X0/X = 1``, ``R0/X0 = 0.1``. These columns do not enter a balanced load flow;
- a phase for every home (the ``phase`` column of ``Feeder.homes``): a, b, c in rotation
  along each feeder with one home in five off the pattern, drawn from the layout seed
  (:func:`grids.networks.phases.rotating_phases`; its own child of the seed, so the layout
  does not depend on it).

Every home has a stable id ``H001``...``H184`` (the name of its bus and of its load), ordered along
the feeders; every bus has a stable name (``MV``, ``LV``, ``F1-J03``, ``F1-J03-L2``, ``H001``).
The same ``(n_homes, seed)`` gives the same network, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd

from grids.networks.phases import phase_names, rotating_phases

TRUNK_TYPE = "NAYY 4x150 SE"
TAPER_TYPE = "NAYY 4x120 SE"
LATERAL_TYPE = "NAYY 4x120 SE"
SERVICE_TYPE = "NAYY 4x50 SE"
#: ``r0 / r`` and ``x0 / x`` of the cables (four equal cores, see the module docstring).
CABLE_Z0_RATIO = 4.0


@dataclass(frozen=True)
class Feeder:
    """A pandapower network with its homes mapped to buses.

    Attributes
    ----------
    net
        The pandapower network. One load per home, named by the home id, at the home's bus;
        ``p_mw``/``q_mvar`` of the loads are zero until a simulator writes them.
    homes
        One row per home, indexed by ``home_id``: ``bus`` (index in ``net.bus``), ``load``
        (index in ``net.load``), ``feeder`` (1-based feeder number, 0 where unknown) and, for
        the reference feeder, ``phase`` (``"a"``, ``"b"``, ``"c"``: the phase it is
        connected to).
    name
        Human-readable name of the network (``"reference feeder (seed 1)"``, a file name...).
    """

    net: pp.pandapowerNet
    homes: pd.DataFrame
    name: str


def _uk_500kva_transformer(net: pp.pandapowerNet, hv_bus: int, lv_bus: int) -> int:
    """Create the 11/0.433 kV 500 kVA Dyn11 transformer (typical UK ground-mounted unit).

    Parameters are typical nameplate values for a 500 kVA distribution transformer:
    impedance 4.75 %, load losses 5.1 kW (vkr 1.02 %), no-load losses 0.73 kW, magnetising
    current 0.25 %.
    """
    return pp.create_transformer_from_parameters(
        net,
        hv_bus=hv_bus,
        lv_bus=lv_bus,
        sn_mva=0.5,
        vn_hv_kv=11.0,
        vn_lv_kv=0.433,
        vk_percent=4.75,
        vkr_percent=1.02,
        pfe_kw=0.73,
        i0_percent=0.25,
        shift_degree=330.0,  # Dyn11: LV lags HV by -30 deg = +330 deg
        vector_group="Dyn",  # Dyn11: the clock is in shift_degree (pandapower's naming)
        tap_side="hv",
        tap_neutral=0,
        tap_min=-2,
        tap_max=2,
        tap_step_percent=2.5,
        tap_pos=1,
        tap_changer_type="Ratio",
        name="T1 11/0.433 kV 500 kVA",
        vk0_percent=4.75,
        vkr0_percent=1.02,
        mag0_percent=100.0,
        mag0_rx=0.0,
        si0_hv_partial=0.9,
    )


def build_reference_feeder(n_homes: int = 184, seed: int = 1, n_feeders: int = 5) -> Feeder:
    """Build the reference UK LV feeder.

    Parameters
    ----------
    n_homes
        Number of homes [-], at least ``n_feeders``.
    seed
        Seed of the layout (lengths, homes per joint, laterals). Same seed, same network.
    n_feeders
        Number of radial feeders leaving the LV board [-].

    Returns
    -------
    Feeder
        The network and its home-to-bus table.

    Raises
    ------
    ValueError
        If ``n_homes < n_feeders`` or ``n_feeders < 1``.
    """
    if n_feeders < 1:
        raise ValueError(f"n_feeders must be at least 1, got {n_feeders}")
    if n_homes < n_feeders:
        raise ValueError(f"n_homes ({n_homes}) must be at least n_feeders ({n_feeders})")
    layout_seed, phase_seed = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(layout_seed)
    net = pp.create_empty_network(name=f"reference UK LV feeder ({n_homes} homes, seed {seed})")
    # Records first, elements in bulk at the end: pandapower's one-by-one create_* calls cost
    # ~5 ms each, which made a 300-bus feeder take seconds to build.
    buses: list[tuple[str, float, str, tuple[float, float]]] = []  # name, vn_kv, type, xy
    lines: list[tuple[int, int, float, str, str]] = []  # from, to, length_km, std_type, name

    def bus(name: str, xy: np.ndarray, vn_kv: float = 0.4, kind: str = "n") -> int:
        buses.append((name, vn_kv, kind, (float(xy[0]), float(xy[1]))))
        return len(buses) - 1

    def line(a: int, b: int, length_m: float, std: str, name: str) -> None:
        lines.append((a, b, length_m / 1000.0, std, name))

    mv = bus("MV", np.array([0.0, -20.0]), vn_kv=11.0, kind="b")
    lv = bus("LV", np.zeros(2), kind="b")

    # Split the homes over the feeders: near-equal shares, perturbed by the seed.
    weights = rng.uniform(0.7, 1.3, n_feeders)
    shares = np.floor(weights / weights.sum() * (n_homes - n_feeders)).astype(int) + 1
    shares[: n_homes - shares.sum()] += 1

    rows = []
    home_no = 0
    for f in range(n_feeders):
        angle = 2 * np.pi * f / n_feeders
        direction = np.array([np.cos(angle), np.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        # Joints ("slots" that serve homes) along the trunk, with laterals: about 1.5 homes per
        # joint (houses on both sides of the street). The trunk tapers after 250 m.
        n_slots = max(1, round(int(shares[f]) / 1.5))
        slots: list[tuple[int, np.ndarray, np.ndarray]] = []  # (bus, xy, side direction)
        prev, prev_xy, trunk_m, j, lateral_no = lv, np.zeros(2), 0.0, 0, 0
        while len(slots) < n_slots:
            j += 1
            length_m = float(rng.uniform(25.0, 45.0))
            xy = prev_xy + direction * length_m
            b = bus(f"F{f + 1}-J{j:02d}", xy)
            line(prev, b, length_m, TRUNK_TYPE if trunk_m < 250.0 else TAPER_TYPE,
                 f"F{f + 1} trunk {j}")
            trunk_m += length_m
            slots.append((b, xy, normal))
            prev, prev_xy = b, xy
            room = n_slots - len(slots)
            if j > 1 and room >= 2 and rng.random() < 0.2:
                lateral_no += 1
                lat_dir = normal if lateral_no % 2 else -normal
                lprev, lxy = b, xy
                for k in range(min(int(rng.integers(2, 5)), room)):
                    seg_m = float(rng.uniform(25.0, 40.0))
                    lxy = lxy + lat_dir * seg_m
                    lb = bus(f"F{f + 1}-J{j:02d}-L{k + 1}", lxy)
                    line(lprev, lb, seg_m, LATERAL_TYPE,
                         f"F{f + 1} lateral {lateral_no} seg {k + 1}")
                    slots.append((lb, lxy, direction))
                    lprev = lb

        # Every joint serves at least one home; the rest go to joints drawn at random.
        counts = np.ones(len(slots), dtype=int)
        extra = int(shares[f]) - len(slots)
        if extra > 0:
            picks = rng.choice(len(slots), size=extra, replace=extra > len(slots))
            np.add.at(counts, picks, 1)
        for (jbus, jxy, side), k in zip(slots, counts, strict=True):
            for s in range(k):
                home_no += 1
                hid = f"H{home_no:03d}"
                length_m = float(rng.uniform(8.0, 25.0))
                sign = 1.0 if s % 2 == 0 else -1.0
                hb = bus(hid, jxy + sign * side * (length_m + 3.0 * (s // 2)))
                line(jbus, hb, length_m, SERVICE_TYPE, f"{hid} service")
                rows.append((hid, hb, home_no - 1, f + 1))

    names, vn, kinds, xys = zip(*buses, strict=True)
    pp.create_buses(net, len(buses), vn_kv=list(vn), index=np.arange(len(buses)),
                    name=list(names), type=list(kinds), geodata=list(xys))
    pp.create_ext_grid(net, mv, vm_pu=1.0, va_degree=0.0, name="11 kV grid",
                       s_sc_max_mva=200.0, rx_max=0.1, x0x_max=1.0, r0x0_max=0.1)
    _uk_500kva_transformer(net, mv, lv)
    fb, tb, lengths, stds, lnames = zip(*lines, strict=True)
    pp.create_lines(net, list(fb), list(tb), length_km=list(lengths), std_type=list(stds),
                    name=list(lnames), index=np.arange(len(lines)))
    for col, base, ratio in (("r0_ohm_per_km", "r_ohm_per_km", CABLE_Z0_RATIO),
                             ("x0_ohm_per_km", "x_ohm_per_km", CABLE_Z0_RATIO),
                             ("c0_nf_per_km", "c_nf_per_km", 1.0)):
        net.line[col] = net.line[base].to_numpy(float) * ratio
    pp.create_loads(net, [r[1] for r in rows], p_mw=0.0, q_mvar=0.0,
                    name=[r[0] for r in rows], index=np.arange(len(rows)))

    homes = pd.DataFrame(rows, columns=["home_id", "bus", "load", "feeder"]).set_index("home_id")
    homes["phase"] = phase_names(rotating_phases(net, homes["load"].to_numpy(),
                                                 seed=phase_seed))
    return Feeder(net=net, homes=homes, name=f"reference feeder (seed {seed})")


def element_ids(table: pd.DataFrame) -> list[str]:
    """Stable string ids of a network table's rows: their names where unique and set, else
    their indices (as strings).

    Parameters
    ----------
    table
        A pandapower element table (``net.bus``, ``net.line``, ``net.trafo``...).
    """
    names = table["name"] if "name" in table else pd.Series(index=table.index, dtype=object)
    if names.notna().all() and names.astype(str).is_unique and (names.astype(str) != "").all():
        return names.astype(str).tolist()
    return [str(i) for i in table.index]
