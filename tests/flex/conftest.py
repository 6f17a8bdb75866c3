"""A hand-made three-home LV network whose congestion can be computed by hand.

::

    MV (10 kV, ext_grid 1.02 p.u.)
     |  T1 100 kVA 10/0.4 kV, vk 4 %, vkr 1 % (vx = sqrt(16 - 1) = 3.87 %), no losses at no load
    LV
     |-- line A: 0.03 km NAYY 4x150 SE (R = 0.006 Ohm, 270 A)        -> bus A: home H1
     |-- line B: 0.05 km, r 0.642 Ohm/km, x 0.083 Ohm/km, 100 A      -> bus B: home H2
     |   (R = 0.032 Ohm; rating sqrt(3) 0.4 kV 100 A = 69 kVA)
     `-- line C: 0.5 km NAYY 4x50 SE (R = 0.321 Ohm, X = 0.042 Ohm, 142 A) -> bus C: home H3

Homes import at power factor 0.95 (Q = 0.329 P) and export at unity.
Hand rules used in the tests' comments (per unit on 0.4 kV, 100 kVA):
* transformer loading ~ S / (Sn v_LV) with S = P / 0.95 at the homes;
* voltage drop of a branch ~ (R P + X Q) / V^2, of the transformer ~ (vkr P + vx Q) / Sn.
"""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from grids.networks.feeder import Feeder
from sims.dso.grid_view import DsoGrid, GridLimits


def tiny_feeder() -> Feeder:
    """The network of the module docstring."""
    net = pp.create_empty_network()
    mv = pp.create_bus(net, 10.0, name="MV")
    lv = pp.create_bus(net, 0.4, name="LV")
    buses = [pp.create_bus(net, 0.4, name=n) for n in ("A", "B", "C")]
    pp.create_ext_grid(net, mv, vm_pu=1.02)
    pp.create_transformer_from_parameters(net, mv, lv, sn_mva=0.1, vn_hv_kv=10.0, vn_lv_kv=0.4,
                                          vk_percent=4.0, vkr_percent=1.0, pfe_kw=0.0,
                                          i0_percent=0.0, name="T1")
    pp.create_line(net, lv, buses[0], 0.03, "NAYY 4x150 SE", name="A")
    pp.create_line_from_parameters(net, lv, buses[1], 0.05, r_ohm_per_km=0.642,
                                   x_ohm_per_km=0.083, c_nf_per_km=0.0, max_i_ka=0.1, name="B")
    pp.create_line(net, lv, buses[2], 0.5, "NAYY 4x50 SE", name="C")
    loads = [pp.create_load(net, b, 0.0, name=h) for b, h in zip(buses, ("H1", "H2", "H3"),
                                                                   strict=True)]
    homes = pd.DataFrame({"bus": buses, "load": loads, "feeder": [1, 2, 3]},
                         index=pd.Index(["H1", "H2", "H3"], name="home_id"))
    return Feeder(net, homes, "tiny")


# Home powers per step [kW] (H1, H2, H3) and what the hand rules give (the load flow gives,
# for the record: trafo 128.8 % at step 1, line B 115.5 % at step 2, V_C 0.919 at step 3 and
# 1.123 at step 4; every other value at least 4 % or 0.02 p.u. inside its limit):
TINY_DAY = np.array([
    [5.0, 5.0, 5.0],      # 0: 15 kW, trafo ~16 %: green
    [70.0, 30.0, 20.0],   # 1: 120 kW, S 126 kVA: trafo ~125 %; V_C ~ 1.02-0.027-0.040 = 0.953
    [0.0, 75.0, 0.0],     # 2: line B: S 79 kVA / (sqrt(3) 0.39 kV) = 117 A > 100 A; trafo ~80 %
    [0.0, 0.0, 40.0],     # 3: V_C ~ 1.02 - 0.009 - (0.321*40e3 + 0.042*13.2e3)/0.16e6 = 0.927
    [0.0, 0.0, -55.0],    # 4: V_C ~ 1.02 + 0.005 + 0.321*55e3/(0.44^2*1e6) = 1.116 > 1.10
    [40.0, 40.0, 0.0],    # 5: 80 kW, trafo ~85 %; line B 42 kVA ~ 61 A: green
    [0.0, 0.0, 25.0],     # 6: V_C ~ 1.02 - 0.006 - 0.052 = 0.962: green
    [60.0, 10.0, -20.0],  # 7: 50 kW net, trafo ~55 %; V_C ~ 1.02 + 0.04: green
])
TINY_CONGESTED = {1: "transformer", 2: "line", 3: "undervoltage", 4: "overvoltage"}


@pytest.fixture(scope="session")
def tiny() -> Feeder:
    return tiny_feeder()


@pytest.fixture(scope="session")
def tiny_grid(tiny) -> DsoGrid:
    return DsoGrid(tiny.net, tiny.homes, GridLimits(0.94, 1.10, 100.0))
