"""Grid files are untrusted: nothing a file names is ever imported, whatever its content.

Each crafted file names a module that exists beside the run (a file in a folder on
``sys.path``) and writes a marker file when imported; the test proves the loader refuses the
file with one line, that the marker was not written and that no module was imported.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pandas as pd
import pytest
import simbench

from grids.networks.feeder import build_reference_feeder
from grids.networks.loaders import load_json_feeder
from grids.networks.safe_json import ALLOWED_OBJECTS, decode_network
from testbed.errors import GridError

REFUSED = ("_module/_class: not an object of a pandapower network; nothing is imported from a "
           "grid file (got {!r}/{!r})")
# Names sharing a prefix with what a pandapower file legitimately names.
PREFIXED = ("pandas_evil", "numpyx", "pandapower_evil", "builtins_evil", "geojson_evil",
            "shapely_evil")


@pytest.fixture(scope="module")
def net_text():
    return pp.to_json(build_reference_feeder(n_homes=6, n_feeders=2, seed=3).net)


@pytest.fixture(scope="module")
def warm(tmp_path_factory, net_text):
    """Load a clean file once, so that lazy imports of a clean load are done."""
    load_json_feeder(_write(tmp_path_factory.mktemp("warm") / "warm.json", net_text))


@pytest.fixture
def trap(tmp_path, monkeypatch, warm):
    """A folder on sys.path holding modules that write a marker when imported."""
    mods = tmp_path / "mods"
    mods.mkdir()
    marker = tmp_path / "MARKER"
    for name in (*PREFIXED, "fx_evil"):
        (mods / f"{name}.py").write_text(
            f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\nclass X:\n    pass\n")
    monkeypatch.syspath_prepend(str(mods))
    monkeypatch.chdir(tmp_path)  # and beside the run, as the issue found it
    return marker


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def _evil(module: str = "fx_evil") -> dict:
    return {"_module": module, "_class": "X", "_object": "{}"}


def _table(doc: dict, name: str) -> dict:
    return json.loads(doc["_object"][name]["_object"])


def _set_table(doc: dict, name: str, table: dict, text: str | None = None) -> None:
    doc["_object"][name]["_object"] = text if text is not None else json.dumps(table)


def _refused(path, marker, module: str, cls: str = "X") -> None:
    before = set(sys.modules)
    with pytest.raises(GridError) as err:
        load_json_feeder(path)
    assert str(err.value) == f"{path}: " + REFUSED.format(module, cls)
    assert not marker.exists(), marker.read_text()
    assert set(sys.modules) - before == set()
    assert module not in sys.modules


@pytest.mark.parametrize("module", PREFIXED)
def test_a_module_sharing_a_prefix_with_an_allowed_one_is_never_imported(
        tmp_path, trap, net_text, module):
    doc = json.loads(net_text)
    doc["_object"]["evil"] = _evil(module)
    _refused(_write(tmp_path / "prefix.json", json.dumps(doc)), trap, module)


@pytest.mark.parametrize("module", ["pandas.io.clipboard", "pandapower.test",
                                    "pandapower.auxiliary.x"])
def test_submodules_of_allowed_packages_are_not_imported(tmp_path, trap, net_text, module):
    assert module not in sys.modules
    doc = json.loads(net_text)
    doc["_object"]["evil"] = _evil(module)
    _refused(_write(tmp_path / "sub.json", json.dumps(doc)), trap, module)


def test_raw_tab_in_a_nested_table_hides_nothing(tmp_path, trap, net_text):
    """Python's json rejects a raw TAB inside a string, pandas' reader accepts it: the old check
    skipped the table, pandapower then imported the module a cell named."""
    doc = json.loads(net_text)
    bus = _table(doc, "bus")
    bus["data"][0][bus["columns"].index("zone")] = _evil()
    text = json.dumps(bus).replace('"MV"', '"M\tV"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)  # what the old check did with the table
    _set_table(doc, "bus", bus, text)
    _refused(_write(tmp_path / "tab.json", json.dumps(doc)), trap, "fx_evil")


@pytest.mark.parametrize("where", ["document", "net key", "table cell", "array element",
                                   "tuple in a cell", "dict in a cell", "geo cell",
                                   "table of a table"])
def test_a_foreign_object_is_refused_wherever_it_is_nested(tmp_path, trap, net_text, where):
    doc = json.loads(net_text)
    if where == "document":
        doc["_module"] = "fx_evil"
        cls = "pandapowerNet"
    else:
        cls = "X"
        if where == "net key":
            doc["_object"]["std_types"]["line"]["x"] = _evil()
        else:
            bus = _table(doc, "bus")
            col = "geo" if where == "geo cell" else "zone"
            cell = {
                "table cell": _evil(),
                "array element": {"_module": "numpy", "_class": "array",
                                  "_object": [1.0, _evil()]},
                "tuple in a cell": {"_module": "builtins", "_class": "tuple",
                                    "_object": [_evil()]},
                "dict in a cell": {"a": {"b": [_evil()]}},
                "geo cell": {"type": "Point", "coordinates": [0, 0], "x": _evil()},
                "table of a table": {"_module": "pandas.core.frame", "_class": "DataFrame",
                                     "_object": json.dumps({"columns": ["a"], "index": [0],
                                                            "data": [[_evil()]]}),
                                     "orient": "split"},
            }[where]
            bus["data"][1][bus["columns"].index(col)] = cell
            _set_table(doc, "bus", bus)
    _refused(_write(tmp_path / "nested.json", json.dumps(doc)), trap, "fx_evil", cls)


@pytest.mark.parametrize("text, module", [
    # escapes that decode to a foreign name
    ('"_module": "pandas\\u005fevil"', "pandas_evil"),
    ('"_module": "fx_evil\\u0000"', "fx_evil\x00"),
    # duplicate keys: the parser keeps the last one, and so does the check (it is the parser)
    ('"_module": "pandapower.auxiliary", "_module": "fx_evil"', "fx_evil"),
])
def test_escaped_and_duplicated_names(tmp_path, trap, net_text, text, module):
    doc = json.loads(net_text)
    doc["_object"]["evil"] = {"_class": "X", "_object": "{}", "KEY": 1}
    raw = json.dumps(doc).replace('"KEY": 1', text)
    _refused(_write(tmp_path / "esc.json", raw), trap, module)


def test_duplicated_names_inside_a_table_as_pandas_reads_them(tmp_path, trap, net_text):
    doc = json.loads(net_text)
    bus = _table(doc, "bus")
    bus["data"][0][bus["columns"].index("zone")] = {"_class": "X", "_object": "{}", "KEY": 1}
    _set_table(doc, "bus", bus, json.dumps(bus).replace(
        '"KEY": 1', '"_module": "pandapower.auxiliary", "_module": "fx_evil"'))
    _refused(_write(tmp_path / "dup.json", json.dumps(doc)), trap, "fx_evil")


def test_a_safe_duplicate_loads_and_imports_nothing(tmp_path, trap, net_text):
    raw = net_text.replace('"_module": "pandapower.auxiliary"',
                           '"_module": "fx_evil", "_module": "pandapower.auxiliary"', 1)
    assert raw != net_text
    before = set(sys.modules)
    assert len(load_json_feeder(_write(tmp_path / "dup_ok.json", raw)).homes) == 6
    assert not trap.exists() and set(sys.modules) - before == set()


def test_controllers_and_other_pandapower_objects_are_refused(tmp_path, trap):
    net = build_reference_feeder(n_homes=6, n_feeders=2, seed=3).net
    import pandapower.control as control

    control.ConstControl(net, "load", "p_mw", element_index=[0])
    path = tmp_path / "ctrl.json"
    pp.to_json(net, str(path))
    with pytest.raises(GridError) as err:
        load_json_feeder(path)
    assert str(err.value) == f"{path}: " + REFUSED.format(
        "pandapower.control.controller.const_control", "ConstControl")


@pytest.mark.parametrize("field, value, message", [
    ("dtype", "pandas_evil", "DataFrame: dtype: column 'vn_kv': not a plain dtype "
                             "(got 'pandas_evil')"),
    ("orient", "records", "DataFrame: orient must be 'split' or 'columns' (got 'records')"),
    ("engine", "pyarrow", "DataFrame: unexpected key 'engine'"),
    ("_object", {"a": 1}, "DataFrame: _object must be a string (got dict)"),
])
def test_table_options_are_checked_before_pandas_reads_the_table(
        tmp_path, trap, net_text, field, value, message):
    doc = json.loads(net_text)
    if field == "dtype":
        doc["_object"]["bus"]["dtype"]["vn_kv"] = value
    else:
        doc["_object"]["bus"][field] = value
    path = _write(tmp_path / "opt.json", json.dumps(doc))
    with pytest.raises(GridError) as err:
        load_json_feeder(path)
    assert str(err.value) == f"{path}: {message}"
    assert not trap.exists()


def test_a_table_given_as_a_path_is_not_read(tmp_path, trap, net_text):
    """pandapower reads a DataFrame ``_object`` that is an absolute .json path as a file."""
    other = _write(tmp_path / "other.json", json.dumps(
        {"columns": ["name", "vn_kv"], "index": [0], "data": [["x", 0.4]]}))
    doc = json.loads(net_text)
    doc["_object"]["bus"]["_object"] = str(other.resolve())
    path = _write(tmp_path / "abs.json", json.dumps(doc))
    with pytest.raises(GridError, match=r"abs.json: not a pandapower network \("):
        load_json_feeder(path)


@pytest.mark.parametrize("text, got", [
    ("{}", "a JSON object that names no pandapowerNet"),
    ("[1, 2]", "a JSON list"),
    ("42", "a JSON number"),
    ("NaN", "a JSON number"),
    ("-Infinity", "a JSON number"),
    ("null", "a JSON constant"),
    ("true", "a JSON constant"),
    ('"net"', "a JSON string"),
    ('{"bus": {}}', "a JSON object that names no pandapowerNet"),
])
def test_valid_json_that_is_not_a_network_is_one_line(tmp_path, text, got):
    path = _write(tmp_path / "notnet.json", text)
    with pytest.raises(GridError) as err:
        load_json_feeder(path)
    assert str(err.value) == (f"{path}: not a pandapower network, expected the object "
                              f"pandapower.to_json writes (got {got})")


@pytest.mark.parametrize("prefix, message", [
    ("// a comment\n", "not a JSON file (Expecting value at line 1)"),
    ("\ufeff", "not a JSON file (Unexpected UTF-8 BOM (decode using utf-8-sig) at line 1)"),
    ("\f", "not a JSON file (Expecting value at line 1)"),
    ("\x00", "not a JSON file (Expecting value at line 1)"),
])
def test_non_standard_json_and_control_characters(tmp_path, net_text, prefix, message):
    path = _write(tmp_path / "odd.json", prefix + net_text)
    with pytest.raises(GridError) as err:
        load_json_feeder(path)
    assert str(err.value) == f"{path}: {message}"


def test_odd_whitespace_that_json_allows_still_loads(tmp_path, net_text):
    spread = json.dumps(json.loads(net_text), indent="\t", separators=(",\r\n ", " :\t"))
    path = _write(tmp_path / "ws.json", " \r\n\t" + spread + "\n\t ")
    assert load_json_feeder(path).homes.index.tolist() == [f"H{i:03d}" for i in range(1, 7)]


def test_deeply_nested_json_is_one_line(tmp_path):
    path = _write(tmp_path / "deep.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(GridError, match=r"deep.json: not a pandapower network \(maximum "
                       r"recursion depth exceeded"):
        load_json_feeder(path)


def test_undecodable_bytes_are_one_line(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(GridError) as err:
        load_json_feeder(path)
    assert str(err.value) == (f"{path}: cannot read the grid file ('utf-8' codec can't decode "
                              "byte 0xff in position 0: invalid start byte)")


def test_private_keys_of_a_network_are_refused(tmp_path, net_text):
    doc = json.loads(net_text)
    doc["_object"]["_ppc"] = {"bus": 1}
    path = _write(tmp_path / "priv.json", json.dumps(doc))
    with pytest.raises(GridError) as err:
        load_json_feeder(path)
    assert str(err.value) == (f"{path}: pandapowerNet: key '_ppc': private keys are not part of "
                              "a network file")


def _same(a, b) -> None:
    """Deep equality of two decoded values, tables with their dtypes."""
    assert type(a) is type(b)
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def _reference_net():
    net = build_reference_feeder(n_homes=20, n_feeders=2, seed=3).net
    pp.runpp(net, lightsim2grid=False, numba=False)  # result tables too
    net["extra"] = {"tuple": (1, 2), "f": np.float64(2.5), "i": np.int32(3),
                    "arr": np.array([1.0, 2.0]), "set": {1, 2}}
    return net


NETS = {"reference": _reference_net,
        "simbench": lambda: simbench.get_simbench_net("1-LV-rural1--0-sw"),
        "ieee": lambda: pn.ieee_european_lv_asymmetric("on_peak_566")}


@pytest.mark.parametrize("name", sorted(NETS))
def test_decoding_equals_pandapowers_on_real_networks(name):
    """Same parsers, same result: every table with its dtypes, every other value."""
    text = pp.to_json(NETS[name]())
    ours, theirs = decode_network(text), pp.from_json_string(text)
    assert set(ours.keys()) == set(theirs.keys())
    for key in theirs.keys():
        _same(theirs[key], ours[key])


def test_the_allow_list_is_exact_pairs():
    modules = {m for m, _ in ALLOWED_OBJECTS}
    assert modules == {"pandapower.auxiliary", "pandas.core.frame", "pandas", "numpy",
                       "builtins"}
    assert ("builtins", "eval") not in ALLOWED_OBJECTS
    assert all(isinstance(m, str) and isinstance(c, str) for m, c in ALLOWED_OBJECTS)


@pytest.mark.parametrize("text", ["{}", "[1, 2]", "42"])
def test_the_command_line_says_one_line_and_runs_nothing(tmp_path, capsys, text):
    """Before: an AttributeError traceback ('dict' object has no attribute 'load')."""
    import cosim
    from tests.conftest import small_scenario_text

    _write(tmp_path / "grid.json", text)
    scenario = tmp_path / "s.toml"
    scenario.write_text(small_scenario_text().replace('source = "reference"',
                                                      'source = "grid.json"'))
    code = cosim.main(["run", "--scenario", str(scenario), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith(f"cosim: error: {tmp_path / 'grid.json'}: not a "
                                        "pandapower network") and "\n" not in err
    assert not (tmp_path / "r").exists()
