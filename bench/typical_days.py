"""How well 15 typical days give the year: annual KPIs against all 366 days of 2016.

Usage: ``python bench/typical_days.py [--scenario FILE] [--n-days 15] [--out DIR]
[--workers 2] [--all-kpis FILE]``

Both sides are sweeps at control ``none`` (:func:`testbed.sweep.run_sweep`): the scenario's
``n`` typical days with their weights, and every day of 2016 with weight 1 (366 one-day runs,
each exactly a ``cosim run`` of that date, so the comparison measures the choice of days and
nothing else; the 366-day sweep takes a while, and resumes if interrupted). Annual KPIs come
from :func:`testbed.annual.annual_kpis` on both sides.

Printed: import energy, bills and losses (target: within 3 %), peak transformer loading
(within 5 %), and side by side the minutes above rating and the violation counts (few days
of a year carry them: reported, not tuned). The 366-day annual KPIs are saved as JSON
(``bench/results/typical_days_all366_<scenario>.json``) and reused with ``--all-kpis``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from testbed.scenario import DEFAULT_SCENARIO, load_scenario
from testbed.sweep import run_sweep

RESULTS = Path(__file__).resolve().parent / "results"
ROWS = [  # key, label, target (relative error) or None (side by side)
    ("homes.import_kwh", "import energy [kWh]", 0.03),
    ("homes.total_bill_eur", "bills, all homes [EUR]", 0.03),
    ("grid.losses_kwh", "losses [kWh]", 0.03),
    ("grid.max_trafo_loading_percent", "peak transformer loading [%]", 0.05),
    ("homes.export_kwh", "export energy [kWh]", None),
    ("homes.self_consumption", "self-consumption [-]", None),
    ("homes.peak_import_kw", "peak import [kW]", None),
    ("grid.vm_min_pu", "lowest voltage [p.u.]", None),
    ("grid.vm_max_pu", "highest voltage [p.u.]", None),
    ("grid.overload_minutes", "minutes above rating", None),
    ("grid.trafo_overload_minutes", "minutes above rating, transformer", None),
    ("grid.voltage_violation_minutes", "minutes with a voltage violation", None),
    ("grid.voltage_violations", "voltage violations [bus-steps]", None),
]


def annual_of(out: Path) -> dict:
    """The single complete row of a sweep's annual.parquet as a dict."""
    a = pd.read_parquet(out / "annual.parquet")
    row = a[a.status == "complete"]
    if len(row) != 1:
        raise SystemExit(f"{out}: expected one complete annual row, found {len(row)}")
    return {k: v for k, v in row.iloc[0].items() if k not in ("scenario", "level", "status")}


def table(typical: dict, every: dict) -> pd.DataFrame:
    """The comparison: both values, the relative error and the target where there is one."""
    rows = []
    for key, label, target in ROWS:
        t, a = float(typical[key]), float(every[key])
        err = (t - a) / a if a else float("nan")
        rows.append({"KPI": label, "15 typical days": t, "366 days": a,
                     "error": f"{100 * err:+.2f} %" if a else "-",
                     "target": f"+-{100 * target:.0f} %" if target else "",
                     "met": ("yes" if abs(err) <= target else "no") if target else ""})
    return pd.DataFrame(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    p.add_argument("--n-days", type=int, default=15)
    p.add_argument("--out", type=Path, default=Path("runs/bench-typical"))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--all-kpis", type=Path, help="annual KPIs of the 366-day sweep (JSON) "
                   "instead of running it")
    args = p.parse_args()
    sc = load_scenario(args.scenario)
    typ = run_sweep([sc], ["none"], args.out / "typical", n_days=args.n_days,
                    workers=args.workers)
    typical = annual_of(typ.out_dir)
    if args.all_kpis:
        every = json.loads(args.all_kpis.read_text())
    else:
        run_sweep([sc], ["none"], args.out / "all", days="all", workers=args.workers)
        every = annual_of(args.out / "all")
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"typical_days_all366_{sc.name}.json"
        path.write_text(json.dumps(every, indent=1, sort_keys=True, default=float) + "\n")
        print(f"366-day annual KPIs: {path}")
    days = pd.read_csv(typ.out_dir / "days.csv")
    print(days[["date", "weight", "extreme"]].fillna("").to_string(index=False))
    with pd.option_context("display.float_format", "{:,.3f}".format, "display.width", 140):
        print(table(typical, every).to_string(index=False))


if __name__ == "__main__":
    main()
