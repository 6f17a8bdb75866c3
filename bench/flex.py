"""Time the UC2/UC3 models on the reference feeder: plan, local market, validate, negotiate.

Synthetic homes (:mod:`sims.homes.cems.synthetic`), not the scenario's profiles: a measure of the
models' speed and behaviour at full size, not a study result.

    python bench/flex.py [--homes 184] [--aggregators 2] [--workers 2] [--trafo-kva 500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from grids.networks.feeder import build_reference_feeder
from sims.aggregator.aggregator import Aggregator
from sims.aggregator.local_market import pool_replanner
from sims.dso.congestion import DsoConfig, validate
from sims.dso.grid_view import DsoGrid
from sims.dso.negotiation import negotiate
from sims.homes.cems import CemsPool
from sims.homes.cems.synthetic import random_homes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--homes", type=int, default=184)
    ap.add_argument("--aggregators", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--trafo-kva", type=float, default=500.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-offers", type=int, default=40,
                    help="homes re-planned per request and aggregator")
    a = ap.parse_args()
    t = {}
    t0 = time.perf_counter()
    f = build_reference_feeder(n_homes=a.homes)
    f.net.trafo.loc[0, "sn_mva"] = a.trafo_kva / 1000.0
    grid = DsoGrid(f.net, f.homes)
    t["grid"] = time.perf_counter() - t0
    inputs = random_homes(a.homes, seed=a.seed)
    with CemsPool(a.workers) as pool:
        t0 = time.perf_counter()
        plans = pool.plan_days(inputs)
        t["plan"] = time.perf_counter() - t0
        cps = grid.congestion_points_of_homes()
        parts = np.array_split(np.arange(a.homes), a.aggregators)
        aggs = [Aggregator(f"A{k + 1}", [inputs[i] for i in p], [plans[i] for i in p], cps,
                           replan=pool_replanner(pool), max_offers_per_request=a.max_offers)
                for k, p in enumerate(parts)]
        t0 = time.perf_counter()
        markets = [agg.clear_market() for agg in aggs]
        t["market"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        val = validate(grid, [agg.prognosis() for agg in aggs])
        t["validate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = negotiate(grid, aggs, DsoConfig())
        t["negotiate"] = time.perf_counter() - t0
    print(f"{a.homes} homes, {a.aggregators} aggregator(s), transformer {a.trafo_kva:.0f} kVA")
    for k, v in t.items():
        print(f"  {k:<10} {v:7.2f} s")
    gains = [m.gain_eur(h) for m in markets for h in m.cost_eur]
    print(f"  market: {sum(len(m.replanned) for m in markets)} re-planned, gains "
          f"{sum(gains):.2f} EUR in all, min {min(gains):.4f} EUR")
    print(f"  validation: {val.congested_steps.size} congested steps, "
          f"max trafo loading {np.nanmax(val.result.trafo_loading_percent):.1f} %")
    print(f"  negotiation: {res.status}, {len(res.rounds)} round(s), {len(res.orders)} orders, "
          f"{res.cost_eur:.2f} EUR, resolved {res.resolved_steps.size}, "
          f"orange {res.orange_steps.size}, new congestion {len(res.new_congestion_steps)}; "
          f"max trafo loading after {np.nanmax(res.final.result.trafo_loading_percent):.1f} %")


if __name__ == "__main__":
    main()
