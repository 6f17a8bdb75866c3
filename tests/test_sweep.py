"""Sweeps on Dask: the same KPIs as ``cosim run`` bit for bit, resume, failures, the notebook."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

import cosim
from testbed.scenario import load_scenario
from testbed.sweep import run_sweep
from testbed.sweep.manifest import read_manifest
from testbed.sweep.tasks import folder_complete, set_table_field
from testbed.typical_days import read_days

from .conftest import ROOT, small_scenario_text

N_HOMES = 8
LEVELS = ["none", "cems"]


def _write_scenarios(folder, extra: dict[str, str] | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    texts = {"alpha": small_scenario_text(n_homes=N_HOMES),
             "beta": small_scenario_text(n_homes=N_HOMES).replace("seed = 42", "seed = 7")
             .replace("pv = 0.4", "pv = 0.8")}
    texts.update(extra or {})
    for name, text in texts.items():
        (folder / f"{name}.toml").write_text(text.replace('name = "default"',
                                                          f'name = "{name}"'))
    return folder


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """2 scenarios x 2 typical days x 2 levels on a LocalCluster of 2 workers."""
    root = tmp_path_factory.mktemp("sweep")
    scen = _write_scenarios(root / "scenarios")
    scenarios = [load_scenario(p) for p in sorted(scen.glob("*.toml"))]
    numba_env = os.environ.get("NUMBA_NUM_THREADS")
    results = []
    summary = run_sweep(scenarios, LEVELS, root / "out", n_days=2, workers=2, progress=False,
                        on_result=lambda t, r: results.append(r))
    # numba's setting stays in the workers (changing it here would break this process's numba)
    assert os.environ.get("NUMBA_NUM_THREADS") == numba_env
    return summary, scen, results


def _kpis(folder) -> dict:
    return json.loads((folder / "kpis.json").read_text())


def test_sweep_folder_holds_every_table(sweep):
    summary, _, results = sweep
    assert len({r["pid"] for r in results}) == 2  # both workers ran tasks
    assert {r["numba_threads"][0] for r in results} == {1}  # one numba thread per task
    assert (summary.total, summary.complete, summary.failed, summary.ran) == (8, 8, 0, 8)
    out = summary.out_dir
    table = pd.read_parquet(out / "sweep.parquet")
    assert len(table) == 8 and (table.status == "complete").all()
    assert set(table.level) == set(LEVELS) and set(table.scenario) == {"alpha", "beta"}
    days = read_days(out / "days.csv")
    for (name, date), w in table.groupby(["scenario", "date"]).weight.first().items():
        assert days[(days.scenario == name) & (days.date == date)].weight.item() == w
    assert table.groupby(["scenario", "level"]).weight.sum().eq(366).all()
    manifest = read_manifest(out)
    assert len(manifest["tasks"]) == 8
    assert {t["status"] for t in manifest["tasks"]} == {"complete"}
    for t in manifest["tasks"]:
        assert folder_complete(t["folder"])
        # one task is one day exactly as cosim run runs it, with one CEMS worker
        text = (out / t["folder"] / "scenario.toml").read_text()
        assert f"start = {t['date']}" in text and f'control = "{t["level"]}"' in text
        assert "workers = 1  # set by the sweep" in text
    annual = pd.read_parquet(out / "annual.parquet")
    assert len(annual) == 4 and (annual.status == "complete").all()


def test_annual_kpis_are_the_weighted_days(sweep):
    out = sweep[0].out_dir
    table = pd.read_parquet(out / "sweep.parquet")
    annual = pd.read_parquet(out / "annual.parquet").set_index(["scenario", "level"])
    for (name, level), g in table.groupby(["scenario", "level"]):
        a = annual.loc[(name, level)]
        assert a["homes.import_kwh"] == pytest.approx((g.weight * g["homes.import_kwh"]).sum(),
                                                      rel=1e-12)
        assert a["grid.losses_kwh"] == pytest.approx((g.weight * g["grid.losses_kwh"]).sum(),
                                                     rel=1e-12)
        assert a["grid.max_trafo_loading_percent"] == g["grid.max_trafo_loading_percent"].max()
        assert a["grid.vm_min_pu"] == g["grid.vm_min_pu"].min()


def test_sweep_gives_the_kpis_of_cosim_run_bit_for_bit(sweep, tmp_path):
    summary, scen, _ = sweep
    table = pd.read_parquet(summary.out_dir / "sweep.parquet")
    for r in table.itertuples():
        out = tmp_path / f"{r.scenario}-{r.date}-{r.level}"
        assert cosim.main(["run", "--scenario", str(scen / f"{r.scenario}.toml"), "--start",
                           r.date, "--control", r.level, "--out", str(out), "--quiet"]) == 0
        assert _kpis(out) == _kpis(summary.out_dir / r.folder)


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster on loopback started by the test (its workers with numba's pool of two
    threads, like workers someone else started): sweeps reach it by its address."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, env={"NUMBA_NUM_THREADS": "2"}) as c:
        yield c


def test_sweep_through_a_scheduler_address_gives_the_same_kpis(sweep, cluster, tmp_path):
    summary, scen, _ = sweep
    scenarios = [load_scenario(p) for p in sorted(scen.glob("*.toml"))]
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    results = []
    other = run_sweep(scenarios, LEVELS, tmp_path / "remote", n_days=2,
                      scheduler=cluster.scheduler_address, progress=False,
                      on_result=lambda t, r: results.append(r))
    assert (other.complete, other.failed) == (8, 0)
    assert {r["numba_threads"] for r in results} == {(1, 2)}  # capped at run time
    a = pd.read_parquet(summary.out_dir / "sweep.parquet")
    b = pd.read_parquet(other.out_dir / "sweep.parquet")
    assert a.key.tolist() == b.key.tolist()
    for fa, fb in zip(a.folder, b.folder, strict=True):
        assert _kpis(summary.out_dir / fa) == _kpis(other.out_dir / fb)


def _subprocess_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def test_a_killed_sweep_resumes_with_only_the_unfinished_tasks(tmp_path):
    scen = _write_scenarios(tmp_path / "scenarios")
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "cosim.py"), "sweep", "--scenarios", str(scen / "beta.toml"),
           "--n-days", "2", "--levels", ",".join(LEVELS), "--out", str(out), "--workers", "1",
           "--quiet"]
    proc = subprocess.Popen(cmd, env=_subprocess_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    done: list = []
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            folders = list((out / "tasks").glob("*/*")) if (out / "tasks").exists() else []
            done = [f for f in folders if folder_complete(f)]
            if done:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, like kill -9
        proc.wait()
    assert 1 <= len(done) < 4, "the sweep was not killed midway"
    stamps = {f: (f / "meta.json").stat().st_mtime_ns for f in done}
    result = subprocess.run(cmd, env=_subprocess_env(), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"{len(done)} complete already, {4 - len(done)} to run" in result.stderr
    assert f"({4 - len(done)} run now, {len(done)} complete before)" in result.stdout
    assert {f: (f / "meta.json").stat().st_mtime_ns for f in done} == stamps
    table = pd.read_parquet(out / "sweep.parquet")
    assert (table.status == "complete").all() and len(table) == 4
    assert len(list((out / "tasks").glob("*/*"))) == 4


def test_a_failing_task_is_recorded_and_the_others_finish(cluster, tmp_path, capsys):
    # one CEMS home for two aggregators: at control market the second aggregator has no
    # home, which the aggregator simulator finds at the first step of the run
    bad = set_table_field(small_scenario_text(n_homes=N_HOMES), "penetration", "cems", 0.125)
    bad = set_table_field(bad, "flex", "aggregators", 2)
    scen = tmp_path / "scenarios"
    scen.mkdir()
    (scen / "gamma.toml").write_text(bad.replace('name = "default"', 'name = "gamma"'))
    out = tmp_path / "out"
    code = cosim.main(["sweep", "--scenarios", str(scen), "--n-days", "2", "--levels",
                       "none,market", "--out", str(out), "--quiet",
                       "--scheduler", cluster.scheduler_address])
    assert code == 1
    table = pd.read_parquet(out / "sweep.parquet")
    failed = table[table.status == "failed"]
    assert len(failed) == 2 and set(failed.level) == {"market"}
    assert (table[table.level == "none"].status == "complete").all()
    for err in failed.error:
        assert re.match(r"ValueError: AggregatorSim: AGR[12] has no CEMS home", err)
        assert "\n" not in err
    for t in read_manifest(out)["tasks"]:
        if t["level"] == "market":
            assert t["status"] == "failed" and t["error"].startswith("ValueError: ")
            assert json.loads((out / t["folder"] / "meta.json").read_text())["status"] \
                == "failed"
    annual = pd.read_parquet(out / "annual.parquet").set_index("level")
    assert annual.loc["none", "status"] == "complete"
    assert annual.loc["market", "status"] == "incomplete"
    assert np.isnan(annual.loc["market", "homes.import_kwh"])
    err = capsys.readouterr().err
    assert "failed: gamma" in err and "has no CEMS home" in err


def test_sweep_bad_input_is_one_line_before_anything_runs(tmp_path, capsys):
    scen = _write_scenarios(tmp_path / "scenarios")
    out = tmp_path / "out"
    assert cosim.main(["sweep", "--scenarios", str(scen), "--levels", "none,turbo",
                       "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("cosim: error: --levels: must be a comma-separated list "
                                       "of none, cems, market, dso (got 'none,turbo')\n")
    assert not out.exists()
    assert cosim.main(["sweep", "--scenarios", str(scen), "--out", str(out), "--tls-cert",
                       "c.pem"]) == 2
    err = capsys.readouterr().err
    assert "--tls-ca-file, --tls-cert, --tls-key: give all three" in err
    assert "--scheduler: TLS files need a tls:// address (got None)" in err


def test_campaign_notebook_executes_on_the_sweep(sweep, monkeypatch):
    out = sweep[0].out_dir
    monkeypatch.setenv("LVFLEX_SWEEP", str(out))
    nb = nbformat.read(ROOT / "notebooks" / "03_campaign.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # heat maps, calendar, effect of each level
    text = "".join(o.get("text", "") for o in outputs)
    assert str(out) in text and "alpha" in text and "beta" in text


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for a certificate")
def test_sweep_through_a_tls_scheduler(tmp_path):
    from distributed import LocalCluster, Security

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=dask-internal"],
                   check=True, capture_output=True)
    c, k = str(cert), str(key)
    sec = Security(tls_ca_file=c, tls_scheduler_cert=c, tls_scheduler_key=k, tls_worker_cert=c,
                   tls_worker_key=k, tls_client_cert=c, tls_client_key=k,
                   require_encryption=True)
    scen = _write_scenarios(tmp_path / "scenarios")
    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", protocol="tls",
                      security=sec, dashboard_address=None) as cl:
        assert cl.scheduler_address.startswith("tls://127.0.0.1:")
        code = cosim.main(["sweep", "--scenarios", str(scen / "alpha.toml"), "--n-days", "2",
                           "--levels", "none", "--out", str(tmp_path / "out"), "--quiet",
                           "--scheduler", cl.scheduler_address, "--tls-ca-file", c,
                           "--tls-cert", c, "--tls-key", k])
    assert code == 0
    assert (pd.read_parquet(tmp_path / "out" / "sweep.parquet").status == "complete").all()


def test_a_district_runs_each_feeder_as_tasks_and_adds_them_up(cluster, tmp_path):
    scen = _write_scenarios(tmp_path / "scenarios")
    out = tmp_path / "out"
    ran = []
    s = run_sweep([load_scenario(scen / "alpha.toml")], ["none"], out, n_days=2, feeders=2,
                  scheduler=cluster.scheduler_address, progress=False,
                  on_result=lambda t, r: ran.append((t.feeder, r["pid"])))
    assert (s.total, s.complete) == (4, 4)
    # the tasks of a feeder go to one worker (Dask may move one to a worker left idle)
    pids = {f: {p for g, p in ran if g == f} for f in (1, 2)}
    assert min(len(p) for p in pids.values()) == 1 and len(set.union(*pids.values())) == 2
    table = pd.read_parquet(out / "sweep.parquet")
    assert sorted(table.feeder.unique()) == [1, 2]
    for t in read_manifest(out)["tasks"]:
        text = (out / t["folder"] / "scenario.toml").read_text()
        assert f"layout_seed = {t['feeder']}  # set by the sweep" in text
        assert f"/feeder-{t['feeder']}/" in t["folder"]
    annual = pd.read_parquet(out / "annual.parquet").set_index("feeder")
    district = pd.read_parquet(out / "district.parquet").iloc[0]
    assert district.feeders == 2 and district.status == "complete"
    for key in ("grid.losses_kwh", "homes.import_kwh", "homes.total_bill_eur"):
        assert district[key] == pytest.approx(annual.loc[1, key] + annual.loc[2, key],
                                              rel=1e-12)
    assert district["grid.max_trafo_loading_percent"] == max(
        annual["grid.max_trafo_loading_percent"])
    # other layouts, other losses; the same homes
    assert annual.loc[1, "grid.losses_kwh"] != annual.loc[2, "grid.losses_kwh"]
    assert annual.loc[1, "homes.pv_kwh"] == annual.loc[2, "homes.pv_kwh"]
