"""Sweeps: many (scenario, day, control level) runs on Dask, resumable, with annual KPIs.

One task is one (scenario, feeder, day, level): it runs that day exactly as ``cosim run``
would (:func:`testbed.run.run_scenario`, one day, the scenario's text with the day and the
level written in, and ``cems.workers = 1`` so that a task uses one core) and writes its own
run folder (the results contract, unchanged). Tasks share nothing but read-only inputs.

The sweep folder is the sweep's state (``cosim sweep --out DIR``)::

    DIR/
      manifest.json     every task: key, scenario, feeder, day, date, weight, level, folder,
                        status (pending | complete | failed), error (one line), wall_s;
                        rewritten atomically after every finished task
      days.csv          the days of every scenario (testbed.typical_days table, plus
                        ``days_key``); typical days are computed once and reused on resume
      tasks/<scenario>/[feeder-<k>/]<date>-<level>-<key12>/
                        one run folder per task (scenario.toml, homes.parquet, kpis.json,
                        meta.json, ...: see the README's results contract)
      sweep.parquet     one row per task: scenario, feeder, day, date, weight, level,
                        status, wall_s, error, key, folder, and every KPI of its kpis.json
                        (columns named like the keys, e.g. ``grid.losses_kwh``)
      annual.parquet    one row per scenario, feeder and level: status (complete when every
                        day is), days, weight, and the annual KPIs (testbed.annual)
      district.parquet  with --feeders K: one row per scenario and level, the K feeders'
                        annual KPIs in total (testbed.annual.district_kpis)
      report.html       the sweep report (cosim sweep writes it at the end, cosim report
                        DIR any time: testbed.report.sweep_report)

Task key: the first 16 hex digits of SHA-256 over the project's version, the date, the level,
the feeder and the task's scenario text as run (which holds everything else). A task whose
folder's ``meta.json`` says ``complete`` (with its ``kpis.json``) is never run again; any other
folder under that key (a run cut short by a kill) is removed and run anew. Changing the
scenario file or the version gives new keys, hence new folders.

Modules: :mod:`~testbed.sweep.tasks` (tasks, keys, folders), :mod:`~testbed.sweep.worker`
(``run_task`` and the per-process memo), :mod:`~testbed.sweep.manifest`,
:mod:`~testbed.sweep.collect` (sweep, annual and district tables),
:mod:`~testbed.sweep.placement` (which worker runs which task: a feeder's tasks on one worker),
:mod:`~testbed.sweep.driver` (the Dask cluster, progress, resume). ``read_sweep(folder)``
reads a sweep folder back.
"""

from testbed.sweep.collect import read_sweep
from testbed.sweep.driver import SweepSummary, run_sweep

__all__ = ["SweepSummary", "read_sweep", "run_sweep"]
