"""Largest differences of the numba load flow to pandapower's runpp on every test grid.

Random draws from light load to heavy reverse flow (``tests.loadflow_cases.draws``), four
steps per grid, against runpp (NR) at ``tolerance_mva`` 1e-10 (the issue's reference) and at
1e-12 (tighter; 1e-11 where runpp cannot reach 1e-12). Prints one line per grid and the
overall maxima.

Usage: ``python bench/loadflow_exactness.py [--quick]``
"""

from __future__ import annotations

import sys
import warnings
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grids.balanced.loadflow import LoadFlow  # noqa: E402
from tests.loadflow_cases import (  # noqa: E402
    SIMBENCH_CODES,
    draws,
    feeder_net,
    ieee_european_balanced,
    max_differences,
    meshed_feeder_net,
    runpp_step,
    simbench_net,
    small_net,
)


def main() -> int:
    quick = "--quick" in sys.argv
    grids = {"small": small_net, "feeder": feeder_net, "meshed_feeder": meshed_feeder_net,
             "ieee_european": ieee_european_balanced}
    codes = SIMBENCH_CODES[:2] if quick else SIMBENCH_CODES
    for code in codes:
        grids[code] = lambda code=code: simbench_net(code)
    overall: dict[str, dict[str, float]] = {"1e-10": {}, "1e-12": {}}
    for name, make in grids.items():
        net = make()
        load_p, load_q, sgen_p = draws(net, 4, seed=zlib.crc32(name.encode()))
        res = LoadFlow(net).run(load_p, load_q, sgen_p)
        for tol_name, tol in (("1e-10", 1e-10), ("1e-12", 1e-12)):
            worst: dict[str, float] = {}
            for step in range(4):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ref = runpp_step(net, load_p[step], load_q[step], sgen_p[step], tol)
                for k, v in max_differences(res, step, ref).items():
                    worst[k] = max(worst.get(k, 0.0), v)
                    overall[tol_name][k] = max(overall[tol_name].get(k, 0.0), v)
            print(f"{name:<22} runpp tol {tol_name}: "
                  + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()), flush=True)
    for tol_name, worst in overall.items():
        print(f"\nlargest over all grids, runpp tol {tol_name}: "
              + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
