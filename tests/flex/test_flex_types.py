"""Messages are immutable and their derived numbers are right."""

from __future__ import annotations

import numpy as np
import pytest

from sims.usef import Direction, FlexOffer, FlexOrder, FlexRequest, Prognosis


def test_offer_energy_and_cost():
    o = FlexOffer("R/H1", "R", "A", "H1", Direction.DOWN, (3, 4), [10.0, 20.0],
                  np.zeros(8), 0.2, 0.25)
    # (10 + 20) kW * 0.25 h = 7.5 kWh; * 0.2 EUR/kWh = 1.5 EUR
    assert o.energy_kwh == pytest.approx(7.5)
    assert o.cost_eur == pytest.approx(1.5)
    order = FlexOrder.of(o, round=2)
    assert order.order_id == "O-R/H1" and order.cost_eur == pytest.approx(1.5)
    assert order.home_id == "H1" and order.aggregator_id == "A" and order.round == 2


def test_messages_are_read_only():
    r = FlexRequest("R", "transformer", Direction.UP, (1, 2), [1.0, 2.0], [3.0, 6.0], 0.5)
    with pytest.raises(ValueError):
        r.min_kw[0] = 9.0
    p = Prognosis("A", 0.25, {"H1": np.ones(4)})
    with pytest.raises((ValueError, TypeError)):
        p.home_kw["H1"][0] = 9.0
    with pytest.raises(TypeError):
        p.home_kw["H2"] = np.ones(4)  # type: ignore[index]
    assert p.n_steps == 4


def test_request_shapes_checked():
    with pytest.raises(ValueError):
        FlexRequest("R", "transformer", Direction.UP, (1, 2), [1.0], [3.0, 6.0], 0.5)


def test_direction_sign():
    assert Direction.UP.sign == 1.0 and Direction.DOWN.sign == -1.0


def test_messages_survive_a_json_round_trip():
    import json

    from sims.usef import from_dict, to_dict

    p = Prognosis("A", 0.25, {"H1": [1.0, -2.0]}, {"transformer": [1.0, -2.0]})
    r = FlexRequest("R", "feeder-2", Direction.DOWN, (1,), [3.0], [np.inf], 0.5, "line",
                    guard_steps=(0, 1))
    o = FlexOffer("R/H1", "R", "A", "H1", Direction.UP, (1,), [2.0], [0.0, 2.0], 0.1, 0.25)
    for msg in (p, r, o, FlexOrder.of(o, 3)):
        back = from_dict(json.loads(json.dumps(to_dict(msg))))
        assert type(back) is type(msg)
        assert json.dumps(to_dict(back)) == json.dumps(to_dict(msg))
    assert r.guard_steps == (0,)  # a requested step is never also a guard step
    with pytest.raises(ValueError):
        from_dict({"type": "Nope"})
    with pytest.raises(TypeError):
        to_dict("nope")  # type: ignore[arg-type]
