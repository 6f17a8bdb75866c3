"""USEF-style messages between the aggregator (UC2) and the DSO (UC3), as frozen dataclasses.

Conventions
-----------
* Time: integer steps of the day (``0 .. n_steps - 1``), each ``step_h`` hours long.
* Power at a home in kW, load convention (> 0 is consumption) as everywhere in the testbed.
* Direction of flexibility, seen from the grid: :attr:`Direction.DOWN` lowers the net power of
  the homes (consume less or export more: relieves an overload by import and an under-voltage),
  :attr:`Direction.UP` raises it (consume more or export less: relieves reverse-flow overloads
  and over-voltage).
* A congestion point is a string: ``"transformer"`` (all homes behind the MV/LV transformer;
  ``"transformer-<idx>"`` if the net has several) or ``"feeder-<k>"`` (the homes of the k-th
  feeder leaving the LV board, numbered from 1); see :class:`sims.dso.congestion.DsoGrid`.
  In unbalanced grids a feeder also has one point per phase, ``"feeder-<k>/a"`` (``b``,
  ``c``): the homes of the feeder connected to that phase, where a voltage violation of one
  phase is relieved (:func:`phase_point`).

Arrays stored in the messages are made read-only, so a message cannot change after it is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import numpy as np

__all__ = [
    "Direction",
    "FlexOffer",
    "FlexOrder",
    "FlexRequest",
    "Prognosis",
    "TrafficLight",
    "TRANSFORMER",
    "feeder_point",
    "from_dict",
    "phase_point",
    "to_dict",
]

TRANSFORMER = "transformer"
"""Name of the congestion point of a net's (single) MV/LV transformer."""


def feeder_point(k: int) -> str:
    """Name of the congestion point of the ``k``-th feeder (1-based)."""
    return f"feeder-{k}"


def phase_point(point: str, phase: int) -> str:
    """Name of the congestion point of one phase (0, 1, 2 for a, b, c) of a feeder's point."""
    return f"{point}/{'abc'[phase]}"


def _frozen(a, n: int | None = None) -> np.ndarray:
    """A read-only float copy of ``a`` (checked to have ``n`` values if given)."""
    arr = np.array(a, dtype=float)
    if n is not None and arr.shape != (n,):
        raise ValueError(f"expected {n} values, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


class TrafficLight(StrEnum):
    """USEF grid state of one interval.

    GREEN
        No limit is exceeded.
    YELLOW
        A limit is exceeded in the prognosis and flexibility may clear it (the DSO buys it).
    ORANGE
        A limit is exceeded and the flexibility on offer cannot clear it: the DSO must limit
        the homes (emergency limitation) or accept the violation.
    """

    GREEN = "green"
    YELLOW = "yellow"
    ORANGE = "orange"


class Direction(StrEnum):
    """Direction of a flexibility activation on the homes' net power (see module docstring)."""

    UP = "up"
    DOWN = "down"

    @property
    def sign(self) -> float:
        """+1 for UP, -1 for DOWN: the sign of the change of the net power [-]."""
        return 1.0 if self is Direction.UP else -1.0


@dataclass(frozen=True)
class Prognosis:
    """An aggregator's D-prognosis: its portfolio's planned power per interval.

    Parameters
    ----------
    aggregator_id
        Who sends it.
    step_h
        Interval length [h].
    home_kw
        Planned net power per home [kW], ``home_id -> [n_steps]``. The DSO needs the power per
        connection to place it on the buses of its load flow (a USEF D-prognosis per
        connection, which the DSO aggregates itself).
    point_kw
        The same summed per congestion point [kW], ``point -> [n_steps]`` (what USEF calls the
        D-prognosis per congestion point; for reports and requests).
    home_kvar
        Planned reactive power per home [kvar], ``home_id -> [n_steps]`` (what the home will
        draw: its base load and heat pump at its power factor), so that the DSO's load flow
        uses the homes' own reactive power; a home missing here gets the DSO's power-factor
        rule (:mod:`sims.dso.grid_view`).
    """

    aggregator_id: str
    step_h: float
    home_kw: Mapping[str, np.ndarray]
    point_kw: Mapping[str, np.ndarray] = field(default_factory=dict)
    home_kvar: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        homes = {h: _frozen(v) for h, v in self.home_kw.items()}
        lengths = {v.size for v in homes.values()}
        if len(lengths) > 1:
            raise ValueError(f"prognosis {self.aggregator_id}: homes differ in length {lengths}")
        object.__setattr__(self, "home_kw", MappingProxyType(homes))
        pts = {p: _frozen(v) for p, v in self.point_kw.items()}
        object.__setattr__(self, "point_kw", MappingProxyType(pts))
        unknown = set(self.home_kvar) - set(homes)
        if unknown:
            raise ValueError(f"prognosis {self.aggregator_id}: reactive power of homes without "
                             f"active power {sorted(unknown)[:5]}")
        kvar = {h: _frozen(v) for h, v in self.home_kvar.items()}
        object.__setattr__(self, "home_kvar", MappingProxyType(kvar))

    @property
    def n_steps(self) -> int:
        """Number of intervals."""
        return next(iter(self.home_kw.values())).size if self.home_kw else 0


@dataclass(frozen=True)
class FlexRequest:
    """A DSO's request for flexibility at one congestion point, in one direction.

    Parameters
    ----------
    request_id
        Unique id (``"R<round>-<point>-<direction>"``).
    congestion_point
        Where the congestion is (see the module docstring).
    direction
        Which way the net power of the point's homes must move.
    steps
        The congested intervals (sorted step numbers).
    min_kw, max_kw
        Power band of the requested change per listed step [kW] (magnitudes, >= 0): at least
        ``min_kw`` is needed by the DSO's estimate (sensitivity), more than ``max_kw`` is of no
        use. The load flow, not this estimate, decides which offers are ordered.
    price_cap_eur_per_kwh
        The highest price the DSO pays [EUR/kWh].
    reason
        Which limit is exceeded, for people and logs.
    guard_steps
        Steps (not requested) close to the same limit: there the homes' power must not move
        against ``direction``, so that the rebound of an activation lands elsewhere.
    """

    request_id: str
    congestion_point: str
    direction: Direction
    steps: tuple[int, ...]
    min_kw: np.ndarray
    max_kw: np.ndarray
    price_cap_eur_per_kwh: float
    reason: str = ""
    guard_steps: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.steps)
        object.__setattr__(self, "steps", tuple(int(s) for s in self.steps))
        object.__setattr__(self, "guard_steps",
                           tuple(sorted(int(s) for s in set(self.guard_steps) - set(self.steps))))
        object.__setattr__(self, "min_kw", _frozen(self.min_kw, n))
        object.__setattr__(self, "max_kw", _frozen(self.max_kw, n))


@dataclass(frozen=True)
class FlexOffer:
    """An aggregator's offer from one home in answer to a request.

    One home per offer: the DSO's load flow needs to know where the power moves, and a home
    can then be ordered or not on its own.

    Parameters
    ----------
    offer_id
        Unique id (``"<request_id>/<home_id>"``).
    request_id
        The request it answers.
    aggregator_id, home_id
        Who offers, and whose power moves.
    direction
        As the request.
    steps
        The requested steps the offer covers.
    power_kw
        Relief per listed step [kW] (>= 0, in the request's direction).
    delta_kw
        Change of the home's net power over the whole day if ordered [kW], ``[n_steps]``
        (signed, load convention): the relief at the requested steps and the rebound
        elsewhere, from the home's re-plan under the order's band. The DSO's what-if load flows
        use it.
    price_eur_per_kwh
        Price per kWh of relief [EUR/kWh].
    step_h
        Interval length [h].
    """

    offer_id: str
    request_id: str
    aggregator_id: str
    home_id: str
    direction: Direction
    steps: tuple[int, ...]
    power_kw: np.ndarray
    delta_kw: np.ndarray
    price_eur_per_kwh: float
    step_h: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(int(s) for s in self.steps))
        object.__setattr__(self, "power_kw", _frozen(self.power_kw, len(self.steps)))
        object.__setattr__(self, "delta_kw", _frozen(self.delta_kw))

    @property
    def energy_kwh(self) -> float:
        """Energy of relief at the requested steps [kWh]."""
        return float(np.sum(self.power_kw) * self.step_h)

    @property
    def cost_eur(self) -> float:
        """What the DSO pays if it orders the offer [EUR]."""
        return self.energy_kwh * self.price_eur_per_kwh


@dataclass(frozen=True)
class FlexOrder:
    """A DSO's order of one offer (the aggregator must dispatch it to the home).

    Parameters
    ----------
    order_id
        Unique id (``"O-<offer_id>"``).
    offer
        The ordered offer (price, power, home).
    round
        Negotiation round the order was placed in (0-based).
    """

    order_id: str
    offer: FlexOffer
    round: int = 0

    @classmethod
    def of(cls, offer: FlexOffer, round: int = 0) -> FlexOrder:
        """Order an offer."""
        return cls(f"O-{offer.offer_id}", offer, round)

    @property
    def aggregator_id(self) -> str:
        """The aggregator that must dispatch it."""
        return self.offer.aggregator_id

    @property
    def home_id(self) -> str:
        """The home whose power moves."""
        return self.offer.home_id

    @property
    def cost_eur(self) -> float:
        """Remuneration owed to the aggregator [EUR]."""
        return self.offer.cost_eur


# ------------------------------------------------------------------ JSON-friendly forms
def _floats(a) -> list[float]:
    return [float(x) for x in np.asarray(a, dtype=float).ravel()]


def to_dict(msg: Prognosis | FlexRequest | FlexOffer | FlexOrder) -> dict:
    """A message as plain JSON-friendly data (lists, str, float), with its ``type``.

    For simulators in other processes (mosaik ``cmd:``/``connect:``), whose messages travel
    as JSON. ``inf`` values stay floats (JSON writers emit ``Infinity``); :func:`from_dict`
    reverses it.
    """
    if isinstance(msg, Prognosis):
        return {"type": "Prognosis", "aggregator_id": msg.aggregator_id, "step_h": msg.step_h,
                "home_kw": {h: _floats(v) for h, v in msg.home_kw.items()},
                "point_kw": {p: _floats(v) for p, v in msg.point_kw.items()},
                "home_kvar": {h: _floats(v) for h, v in msg.home_kvar.items()}}
    if isinstance(msg, FlexRequest):
        return {"type": "FlexRequest", "request_id": msg.request_id,
                "congestion_point": msg.congestion_point, "direction": msg.direction.value,
                "steps": list(msg.steps), "min_kw": _floats(msg.min_kw),
                "max_kw": _floats(msg.max_kw),
                "price_cap_eur_per_kwh": float(msg.price_cap_eur_per_kwh),
                "reason": msg.reason, "guard_steps": list(msg.guard_steps)}
    if isinstance(msg, FlexOffer):
        return {"type": "FlexOffer", "offer_id": msg.offer_id, "request_id": msg.request_id,
                "aggregator_id": msg.aggregator_id, "home_id": msg.home_id,
                "direction": msg.direction.value, "steps": list(msg.steps),
                "power_kw": _floats(msg.power_kw), "delta_kw": _floats(msg.delta_kw),
                "price_eur_per_kwh": float(msg.price_eur_per_kwh), "step_h": msg.step_h}
    if isinstance(msg, FlexOrder):
        return {"type": "FlexOrder", "order_id": msg.order_id, "offer": to_dict(msg.offer),
                "round": msg.round}
    raise TypeError(f"not a flexibility message: {type(msg).__name__}")


def from_dict(data: Mapping) -> Prognosis | FlexRequest | FlexOffer | FlexOrder:
    """The message :func:`to_dict` made (raises ``ValueError`` for an unknown ``type``)."""
    d = dict(data)
    kind = d.pop("type", None)
    if kind == "Prognosis":
        return Prognosis(d["aggregator_id"], float(d["step_h"]), d["home_kw"],
                         d.get("point_kw", {}), d.get("home_kvar", {}))
    if kind == "FlexRequest":
        d["direction"] = Direction(d["direction"])
        d["steps"], d["guard_steps"] = tuple(d["steps"]), tuple(d.get("guard_steps", ()))
        return FlexRequest(**d)
    if kind == "FlexOffer":
        d["direction"] = Direction(d["direction"])
        d["steps"] = tuple(d["steps"])
        return FlexOffer(**d)
    if kind == "FlexOrder":
        offer = from_dict(d["offer"])
        if not isinstance(offer, FlexOffer):
            raise ValueError(f"order {d.get('order_id')!r}: its offer is a {type(offer).__name__}")
        return FlexOrder(d["order_id"], offer, int(d["round"]))
    raise ValueError(f"unknown message type {kind!r}")
