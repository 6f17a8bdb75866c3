"""A grid the load-flow engine cannot model: the grid simulator falls back to pandapower's
runpp (recorded in meta.json, one warning line), the DSO's view refuses it with one line."""

from __future__ import annotations

import json

import pandapower as pp
import pytest

from grids.errors import GridError
from grids.networks.feeder import build_reference_feeder
from testbed.prepared import prepare
from testbed.run import run_scenario
from testbed.scenario import parse_scenario

from ..conftest import small_scenario_text, with_phases


@pytest.fixture(scope="module")
def motor_net_file(tmp_path_factory):
    """8 reference homes and an in-service motor (a table the engine does not model)."""
    f = build_reference_feeder(n_homes=8, n_feeders=2, seed=2)
    pp.create_motor(f.net, bus=int(f.homes.bus.iloc[0]), pn_mech_mw=0.002, cos_phi=0.9,
                    name="pump")
    path = tmp_path_factory.mktemp("motor") / "motor.json"
    pp.to_json(f.net, str(path))
    return path


def _scenario(path, control: str, phases: str | None = None):
    text = small_scenario_text(n_homes=8).replace('source = "reference"',
                                                  f'source = "{path.name}"')
    text = text.replace('control = "none"', f'control = "{control}"')
    if control == "none":
        # runpp is slow: 24 steps (hourly steps need no smart appliances)
        text = text.replace("step_s = 900", "step_s = 3600").replace(
            "smart_appliances = 0.5", "smart_appliances = 0.0")
    if phases:
        text = with_phases(text, phases)
    src = path.parent / f"{control}-{phases}.toml"
    src.write_text(text)
    return parse_scenario(text, source=src)


@pytest.mark.parametrize("phases", [None, "unbalanced"])
def test_runpp_fallback_is_recorded_and_warned(motor_net_file, phases, capsys, tmp_path):
    sc = _scenario(motor_net_file, "none", phases)
    res = run_scenario(sc, tmp_path / "run", progress=False)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning:")]
    assert len(err) == 1 and "motor" in err[0] and "runpp" in err[0]
    meta = json.loads((res.out_dir / "meta.json").read_text())["grid_model"]
    assert meta["engine"] == "runpp" and "motor" in meta["reason"]
    assert meta["phases"] == ("unbalanced" if phases else "balanced")  # a file: balanced
    assert res.kpis["grid.nonconverged_steps"] == 0
    assert 0.9 < res.kpis["grid.vm_min_pu"] < 1.1
    assert ("grid.vuf_max_percent" in res.kpis) == (phases == "unbalanced")


@pytest.mark.parametrize("control", ["market", "dso"])
def test_dso_view_refuses_the_grid_in_one_line(motor_net_file, control):
    sc = _scenario(motor_net_file, control)
    with pytest.raises(GridError) as exc:
        prepare(sc)
    msg = str(exc.value)
    assert "\n" not in msg and "motor" in msg and "market and dso" in msg
