"""Which campaign scenarios congest the feeder without control: their extreme days at ``none``.

Usage: ``python bench/campaign_extremes.py [--scenarios scenarios/campaign] [--out DIR]
[--workers 2]``

For every scenario: its 15 typical days (:mod:`testbed.typical_days`), then one-day runs at
control ``none`` of its two extreme days (the day of the highest net import peak, the day of
the largest PV export), as sweep tasks on a local Dask cluster. Prints, per scenario and day,
the peak transformer loading, minutes above rating (transformer or line), the voltage
extremes and violations, and whether the day is congested (any rating or voltage limit
violated).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from testbed.campaign_cli import scenario_files
from testbed.run import scenario_feeder
from testbed.scenario import load_scenario
from testbed.sweep.driver import dask_client
from testbed.sweep.tasks import make_tasks
from testbed.sweep.worker import run_task
from testbed.typical_days import typical_days

COLUMNS = {"grid.max_trafo_loading_percent": "peak trafo [%]",
           "grid.max_line_loading_percent": "peak line [%]",
           "grid.overload_minutes": "above rating [min]",
           "grid.vm_min_pu": "V min [pu]", "grid.vm_max_pu": "V max [pu]",
           "grid.voltage_violations": "V viol. [bus-steps]"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", type=Path, nargs="+", default=[Path("scenarios/campaign")])
    p.add_argument("--out", type=Path, help="folder of the runs (default: a temporary one)")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    scenarios = [load_scenario(f) for f in scenario_files(args.scenarios)]
    out = args.out or Path(tempfile.mkdtemp(prefix="campaign-extremes-"))
    tasks = []
    for sc in scenarios:
        days = typical_days(sc, scenario_feeder(sc), 15)
        ext = days[days.extreme != ""]
        tasks += [(t, ext.set_index("date").loc[t.date, "extreme"])
                  for t in make_tasks([sc], {sc.name: ext}, ["none"], out)]
    with dask_client(args.workers) as client:
        results = client.gather(client.map(run_task, [t for t, _ in tasks], pure=False))
    rows = []
    for (t, kind), res in zip(tasks, results, strict=True):
        k = res["kpis"]
        row = {"scenario": t.scenario, "extreme": kind, "date": t.date, "weight": t.weight,
               "status": res["status"], **{v: k.get(c) for c, v in COLUMNS.items()}}
        row["congested"] = bool(k) and (k["grid.overload_minutes"] > 0
                                        or k["grid.voltage_violations"] > 0)
        rows.append(row)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.float_format", "{:,.3f}".format):
        print(table.to_string(index=False))
    per = table.groupby("scenario", sort=False).congested.any()
    print(f"\ncongested without control: {int(per.sum())} of {len(per)} scenarios "
          f"({', '.join(per[per].index)}); runs in {out}")


if __name__ == "__main__":
    main()
