"""Decode an untrusted pandapower JSON network without importing anything the file names.

pandapower's ``from_json`` hands every ``{"_module": ..., "_class": ..., "_object": ...}`` it
meets to ``importlib.import_module`` and only then looks at the class, so a grid file can make
Python import (and so run) any module on the path. We never call it on a user's file. Instead
:func:`decode_network` parses the file the way pandapower does (the standard ``json`` parser for
the document, pandas' ``read_json`` for each table, the cells of object columns decoded again)
but with our own object hook: a typed object is built only when its exact ``(module, class)``
pair is in :data:`ALLOWED_OBJECTS`, by our constructor for it; any other pair stops the
decoding. No module is ever imported from a string in the file, so there is nothing a parser
mismatch could smuggle past a check: the decoding *is* the check.

What is allowed is what ``pandapower.to_json`` writes for a network: the network itself, its
tables (DataFrames) and the few plain values pandapower wraps (numpy scalars and arrays,
tuples, sets, complex numbers). Controllers, characteristics, graphs and geometry objects are
refused: a testbed run never uses them.
"""

from __future__ import annotations

import io
import json
import re
from ast import literal_eval
from collections.abc import Callable
from typing import Any

import geojson
import numpy as np
import pandapower as pp
import pandas as pd

from grids.errors import GridError


class UnsafeGridFile(GridError):
    """A grid file names an object outside :data:`ALLOWED_OBJECTS` (or a malformed one)."""


_NUMPY_SCALARS = ("float16", "float32", "float64", "int8", "int16", "int32", "int64",
                  "uint8", "uint16", "uint32", "uint64", "complex64", "complex128")
_DTYPE = re.compile(r"(object|bool|boolean|string|str|category|u?int(8|16|32|64)"
                    r"|U?Int(8|16|32|64)|float(16|32|64)|Float(32|64)|complex(64|128)"
                    r"|(datetime|timedelta)64\[(s|ms|us|ns)\])")
_GEOJSON_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                  "MultiPolygon", "GeometryCollection", "Feature", "FeatureCollection")
# Keys pandapower writes beside _module/_class/_object for a table.
_FRAME_KEYS = {"orient", "dtype", "is_multiindex", "is_multicolumn", "index_name",
               "index_names", "column_name", "column_names"}


def _fail(what: str) -> UnsafeGridFile:
    return UnsafeGridFile(what)


def _plain_keys(d: dict, allowed: set[str], pair: str) -> None:
    extra = sorted(set(d) - allowed - {"_module", "_class", "_object"})
    if extra:
        raise _fail(f"{pair}: unexpected key {extra[0]!r}")


def _net(d: dict) -> pp.pandapowerNet:
    obj = d["_object"]
    if not isinstance(obj, dict):
        raise _fail(f"pandapowerNet: _object must be a JSON object (got {type(obj).__name__})")
    _plain_keys(d, set(), "pandapowerNet")
    private = sorted(k for k in obj if not isinstance(k, str) or k.startswith("_"))
    if private:  # pandapower.to_json never writes them; they would replace internal state
        raise _fail(f"pandapowerNet: key {private[0]!r}: private keys are not part of a "
                    "network file")
    net = pp.create_empty_network()
    net.update(obj)
    return net


def _names(value: Any, key: str) -> Any:
    items = value if isinstance(value, list) else [value]
    if not all(v is None or isinstance(v, str | int) and not isinstance(v, bool) for v in items):
        raise _fail(f"DataFrame: {key} must be names (got {value!r})")
    return value


def _labels_to_multi(labels: pd.Index, names: Any) -> pd.MultiIndex:
    if len(labels) == 0:
        return pd.MultiIndex.from_frame(pd.DataFrame(columns=names, dtype=np.int64))
    return pd.MultiIndex.from_tuples([literal_eval(x) if isinstance(x, str) else x
                                      for x in labels], names=names)


def _geo(cell: Any) -> Any:
    """A ``geo`` cell: GeoJSON text stays text (as pandapower keeps it); a parsed GeoJSON object
    is rebuilt by the geojson library, only for the GeoJSON geometry and feature types."""
    if not isinstance(cell, dict):
        return cell
    if cell.get("type") not in _GEOJSON_TYPES:
        raise _fail(f"geo: not a GeoJSON geometry (type {cell.get('type')!r})")
    return geojson.loads(json.dumps(cell))


def _frame(d: dict) -> pd.DataFrame:
    """A table as pandapower writes it: ``df.to_json(orient=...)`` text plus its dtypes."""
    obj = d["_object"]
    if not isinstance(obj, str):
        raise _fail(f"DataFrame: _object must be a string (got {type(obj).__name__})")
    _plain_keys(d, _FRAME_KEYS, "DataFrame")
    orient = d.get("orient", "columns")
    if orient not in ("split", "columns"):
        raise _fail(f"DataFrame: orient must be 'split' or 'columns' (got {orient!r})")
    dtype = d.get("dtype")
    if dtype is not None and not isinstance(dtype, dict):
        raise _fail(f"DataFrame: dtype must map columns to dtypes (got {dtype!r})")
    for col, kind in (dtype or {}).items():
        if not isinstance(kind, str) or not _DTYPE.fullmatch(kind):
            raise _fail(f"DataFrame: dtype: column {col!r}: not a plain dtype (got {kind!r})")
    flags = {k: d.get(k, False) for k in ("is_multiindex", "is_multicolumn")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise _fail(f"DataFrame: {key} must be true or false (got {value!r})")
    names = {k: _names(d[k], k) for k in ("index_name", "index_names", "column_name",
                                            "column_names") if k in d}
    # The same reader and options as pandapower, always on the text (never a path).
    df = pd.read_json(io.StringIO(obj), orient=orient, dtype=dtype, precise_float=True,
                      convert_axes=False)
    if orient == "columns" or not len(df):
        try:
            df.index = df.index.astype(np.int64)
        except (ValueError, TypeError):
            pass
    if orient == "columns":
        try:
            df.columns = df.columns.astype(np.int64)
        except (ValueError, TypeError):
            pass
    if "index_name" in names:
        df.index.name = names["index_name"]
    if "column_name" in names:
        df.columns.name = names["column_name"]
    if flags["is_multiindex"]:
        df.index = _labels_to_multi(df.index, names.get("index_names"))
    if flags["is_multicolumn"]:
        df.columns = _labels_to_multi(df.columns, names.get("column_names"))
    for col in df.select_dtypes(include="object").columns:
        df[col] = df[col].map(decode_tree).astype(object)
        df.loc[df[col].isna(), col] = None
    if "geo" in df.columns:
        df["geo"] = df["geo"].map(_geo, na_action="ignore")
    return df


def _array(d: dict) -> np.ndarray:
    obj = d["_object"]
    if not isinstance(obj, list):
        raise _fail(f"numpy.array: _object must be a list (got {type(obj).__name__})")
    _plain_keys(d, {"dtype"}, "numpy.array")
    return np.array([decode_tree(x) for x in obj])


def _scalar(cls: type) -> Callable[[dict], Any]:
    def build(d: dict) -> Any:
        obj = d["_object"]
        if isinstance(obj, bool) or not isinstance(obj, int | float | str):
            raise _fail(f"numpy.{cls.__name__}: _object must be a number "
                        f"(got {type(obj).__name__})")
        _plain_keys(d, set(), f"numpy.{cls.__name__}")
        return cls(obj)
    return build


def _np_bool(d: dict) -> np.bool_:
    obj = d["_object"]
    if obj not in ("true", "false", True, False):
        raise _fail(f"numpy.bool: _object must be true or false (got {obj!r})")
    _plain_keys(d, set(), "numpy.bool")
    return np.bool_(obj in ("true", True))


def _collection(cls: type) -> Callable[[dict], Any]:
    def build(d: dict) -> Any:
        obj = d["_object"]
        if not isinstance(obj, list):
            raise _fail(f"{cls.__name__}: _object must be a list (got {type(obj).__name__})")
        _plain_keys(d, set(), cls.__name__)
        return cls(decode_tree(x) for x in obj)
    return build


def _complex(d: dict) -> complex:
    obj = d["_object"]
    if not isinstance(obj, str | int | float) or isinstance(obj, bool):
        raise _fail(f"complex: _object must be a string (got {type(obj).__name__})")
    _plain_keys(d, set(), "complex")
    return complex(obj)


#: Every (module, class) a grid file may name, and the function that builds it. Nothing else
#: is ever built, and no module is imported from a name in the file.
ALLOWED_OBJECTS: dict[tuple[str, str], Callable[[dict], Any]] = {
    ("pandapower.auxiliary", "pandapowerNet"): _net,
    ("pandas.core.frame", "DataFrame"): _frame,
    ("pandas", "DataFrame"): _frame,
    ("numpy", "array"): _array,
    ("numpy", "bool"): _np_bool,
    ("numpy", "bool_"): _np_bool,
    **{("numpy", name): _scalar(getattr(np, name)) for name in _NUMPY_SCALARS},
    ("builtins", "tuple"): _collection(tuple),
    ("builtins", "set"): _collection(set),
    ("builtins", "frozenset"): _collection(frozenset),
    ("builtins", "complex"): _complex,
}


def object_hook(d: dict) -> Any:
    """Build the object a JSON object names, if its ``(module, class)`` pair is allowed.

    A dict without ``_module`` and ``_class`` is returned as it is. Called by the JSON parser for
    every object of the document, bottom-up, and by :func:`decode_tree` for table cells.

    Raises
    ------
    UnsafeGridFile
        If the dict names a pair outside :data:`ALLOWED_OBJECTS`, or an allowed pair with a
        malformed payload.
    """
    if "_module" not in d and "_class" not in d:
        return d
    module, cls = d.get("_module"), d.get("_class")
    try:
        build = ALLOWED_OBJECTS.get((module, cls))
    except TypeError:  # an unhashable name (a list, a table)
        build = None
    if build is None:
        raise _fail(f"_module/_class: not an object of a pandapower network; nothing is "
                    f"imported from a grid file (got {module!r}/{cls!r})")
    if "_object" not in d:
        raise _fail(f"{module}.{cls}: _object is missing")
    return build(d)


def decode_tree(value: Any) -> Any:
    """Decode a value parsed by pandas (a table cell): every nested object through the hook."""
    if isinstance(value, dict):
        return object_hook({k: decode_tree(v) for k, v in value.items()})
    if isinstance(value, list):
        return [decode_tree(v) for v in value]
    return value


def decode_network(text: str) -> pp.pandapowerNet:
    """Decode the text of a ``pandapower.to_json`` file into a network, refusing foreign objects.

    Parameters
    ----------
    text
        The file's content.

    Returns
    -------
    pandapowerNet

    Raises
    ------
    json.JSONDecodeError
        If the text is not JSON (as Python's parser reads it, the parser pandapower uses).
    UnsafeGridFile
        If any object names a ``(module, class)`` pair outside :data:`ALLOWED_OBJECTS` or is
        malformed.
    GridError
        If the document is JSON but not a pandapower network.
    ValueError
        If pandas cannot read a table of the file.
    """
    doc = json.loads(text, object_hook=object_hook)
    if not isinstance(doc, pp.pandapowerNet):
        kind = ("a JSON constant" if isinstance(doc, bool) or doc is None else
                {dict: "a JSON object that names no pandapowerNet", list: "a JSON list",
                 str: "a JSON string"}.get(type(doc), "a JSON number"))
        raise GridError(f"not a pandapower network, expected the object pandapower.to_json "
                        f"writes (got {kind})")
    return doc
