"""JSON-friendly form of the actors' dataclasses (configs, CEMS inputs, plans, messages).

Mosaik passes a simulator's parameters and its data between processes as JSON, so every
parameter and every message of our simulators must be made of dicts, lists, strings, numbers,
booleans and None. :func:`to_jsonable` turns a (nested) dataclass into that form;
:func:`from_jsonable` rebuilds it from the field types of the dataclass, so that adding a
field to a dataclass needs no change here.

Exactness: floats travel as Python floats (in-process) or as their shortest ``repr`` (JSON),
both of which give back the same double; ``NaN`` and ``inf`` travel as mosaik's JSON writes
them (``NaN``, ``Infinity``). Arrays become (nested) lists and come back as numpy arrays of
the dtype numpy infers from the values (float arrays stay float).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import types
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["from_jsonable", "to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """``obj`` as dicts, lists, strings, numbers, booleans and None.

    Dataclasses become dicts of their fields, numpy arrays lists, tuples lists, dates ISO
    strings, paths strings, enums their value, numpy scalars Python scalars.
    """
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"to_jsonable: cannot represent {type(obj).__name__} {obj!r}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_jsonable(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` from its :func:`to_jsonable` form.

    Parameters
    ----------
    tp
        The target type: a dataclass, ``np.ndarray``, ``tuple[X, ...]``, ``list[X]``,
        ``dict[str, X]``, ``X | None``, ``dt.date``, ``Path``, an enum or a scalar type.
    data
        The JSON-friendly value.
    """
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _from_union(typing.get_args(tp), data)
    if tp is Any or tp is object:
        return data
    if origin is not None:
        args = typing.get_args(tp)
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(from_jsonable(args[0], v) for v in data)
            if args:
                return tuple(from_jsonable(a, v) for a, v in zip(args, data, strict=True))
            return tuple(data)
        if origin is list:
            return [from_jsonable(args[0], v) for v in data] if args else list(data)
        if origin in (dict, Mapping) or origin is typing.get_origin(Mapping[str, int]):
            vt = args[1] if len(args) == 2 else Any
            return {k: from_jsonable(vt, v) for k, v in data.items()}
        return data
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            hints = _hints(tp)
            kwargs = {f.name: from_jsonable(hints[f.name], data[f.name])
                      for f in dataclasses.fields(tp) if f.init and f.name in data}
            return tp(**kwargs)
        if tp is np.ndarray:
            return np.asarray(data)
        if issubclass(tp, enum.Enum):
            return tp(data)
        if tp is dt.date:
            return data if isinstance(data, dt.date) else dt.date.fromisoformat(data)
        if tp is bool:
            return bool(data)
        if tp is float:
            return float(data)
        if tp is int:
            return int(data)
        if tp is Path:
            return Path(data)
    return data


def _from_union(args: tuple, data: Any) -> Any:
    """The member of a union that fits the data (``X | None``, ``np.ndarray | float``...)."""
    members = [a for a in args if a is not type(None)]
    if len(members) == 1:
        return from_jsonable(members[0], data)
    if isinstance(data, list):
        for a in members:
            if a is np.ndarray or typing.get_origin(a) in (tuple, list):
                return from_jsonable(a, data)
    if isinstance(data, dict):
        for a in members:
            if dataclasses.is_dataclass(a) or typing.get_origin(a) in (dict, Mapping):
                return from_jsonable(a, data)
    for a in members:
        if isinstance(a, type) and isinstance(data, a):
            return data
    for a in members:
        if a in (float, int) and isinstance(data, int | float):
            return a(data)
    return data
