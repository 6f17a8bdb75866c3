"""Zero-sequence and short-circuit data a three-phase load flow needs, with documented defaults.

pandapower's ``runpp_3ph`` (and this engine, which uses pandapower's own conversion) needs:

* lines: ``r0_ohm_per_km``, ``x0_ohm_per_km``, ``c0_nf_per_km``;
* transformers: ``vector_group`` (``Dyn``, ``YNyn`` or ``Yzn``: the groups ``runpp_3ph``
  models), ``vk0_percent``, ``vkr0_percent``, ``mag0_percent``, ``mag0_rx``,
  ``si0_hv_partial``;
* ext_grids: ``s_sc_max_mva``, ``rx_max``, ``x0x_max``, ``r0x0_max``.

Most shipped grids carry none of it (SimBench, a user's balanced net). :func:`with_sequence_data`
fills what is missing, on a copy, with the defaults below and one :class:`SequenceDataDefault`
warning per table naming the rows and the values used. Data the net has is never changed.

Defaults (decisions)
--------------------
* **Lines**: ``r0 = 4 r``, ``x0 = 4 x`` (:data:`LINE_Z0_RATIO`), ``c0 = c``. A four-core LV cable
  whose fourth core (the neutral, of the phase cores' section) carries the whole zero-sequence
  return has ``Z0 = Zaa + 2 Zab - 6 Zan + 3 Znn = 4 (Zaa - Zab) = 4 Z1`` for a symmetric core
  arrangement (self impedances equal, mutual ones equal). Where part of the current returns
  through the earth or a sheath (PME earthing), ``Z0`` is smaller: the default is the
  pessimistic end for voltage unbalance. (The IEEE European LV feeder's four-core cables, as
  pandapower ships them, have ``r0/r`` of 3.4-3.6 and ``x0/x`` of 1.1-1.2.) The zero-sequence
  capacitance matters little at LV (``omega C V`` is 19 mA per km of NAYY 4x150 SE at 230 V), so
  ``c0 = c``.
* **Transformers**: the vector group from ``shift_degree``: an odd multiple of 30 degrees is
  ``Dyn`` (Dyn1, Dyn5, Dyn11: the usual distribution transformers), 0 is ``YNyn``; any other
  shift has no default (:class:`grids.errors.UnsupportedElement`). ``vk0 = vk``,
  ``vkr0 = vkr`` (core-type transformers), ``mag0_percent = 100``, ``mag0_rx = 0``,
  ``si0_hv_partial = 0.9``: the values pandapower ships for the IEEE European LV feeder's
  transformer.
* **ext_grid**: 200 MVA short-circuit power, ``R/X = 0.1``, ``X0/X = 1``, ``R0/X0 = 0.1``
  (:data:`EXT_GRID_DEFAULTS`; a typical 11 kV UK fault level, as the reference feeder uses).
  ``runpp_3ph`` keeps the positive-sequence source ideal; these data shape the negative- and
  zero-sequence source impedances only.

A vector group with a clock number (``Dyn11``) is written as pandapower's ``Dyn`` when the
number agrees with ``shift_degree`` (the clock is in ``shift_degree``); one that disagrees is an
error.

Connection types (a pandapower trap)
------------------------------------
``runpp_3ph`` counts a load or sgen only if its ``type`` column is exactly ``"wye"`` (or
``"delta"``); any other value drops it silently. ``create_sgen`` leaves ``type`` at ``None``,
SimBench loads have ``NaN`` and SimBench sgens ``"PV"`` (a technology): ``runpp_3ph`` ignores
them all. The engine counts every in-service load and sgen that is not ``"delta"`` as a wye
(balanced) element, and :func:`with_sequence_data` writes ``"wye"`` into those ``type`` cells
(with a warning), so that ``runpp_3ph`` on its result sees the same net.
"""

from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pandas as pd

from grids.errors import UnsupportedElement

#: ``r0 / r`` and ``x0 / x`` of lines without zero-sequence data (see the module docstring).
LINE_Z0_RATIO = 4.0
#: ``c0 / c`` of lines without zero-sequence data.
LINE_C0_RATIO = 1.0
#: Vector groups ``runpp_3ph`` models (pandapower/pd2ppc_zero.py), lower case.
SUPPORTED_VECTOR_GROUPS = ("dyn", "ynyn", "yzn")
#: Transformer zero-sequence defaults (besides ``vk0 = vk``, ``vkr0 = vkr``).
TRAFO_DEFAULTS = {"mag0_percent": 100.0, "mag0_rx": 0.0, "si0_hv_partial": 0.9}
#: ext_grid short-circuit defaults.
EXT_GRID_DEFAULTS = {"s_sc_max_mva": 200.0, "rx_max": 0.1, "x0x_max": 1.0, "r0x0_max": 0.1}


class SequenceDataDefault(UserWarning):
    """A table lacked zero-sequence or short-circuit data; documented defaults were used."""


def _missing(df: pd.DataFrame, col: str) -> np.ndarray:
    """Rows of ``df`` (in service or not) whose ``col`` is absent or not finite."""
    if col not in df:
        return np.ones(len(df), dtype=bool)
    vals = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
    return ~np.isfinite(vals)


def _warn(table: str, rows, what: str) -> None:
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:8]) + (" ..." if len(rows) > 8 else "")
    warnings.warn(f"{table} rows [{shown}] ({len(rows)} in all) have no {what}; "
                  "defaults used (grids.unbalanced.defaults)", SequenceDataDefault, stacklevel=3)


def _vector_group(group, shift_degree: float, row) -> str:
    """pandapower's name of a trafo's vector group (``Dyn``...), from its name or its shift."""
    shift = float(shift_degree) % 360.0 if np.isfinite(shift_degree) else 0.0
    if group is None or (isinstance(group, float) and np.isnan(group)) or str(group) == "":
        clock = shift / 30.0
        if abs(clock - round(clock)) < 1e-9 and int(round(clock)) % 2 == 1:
            return "Dyn"
        if abs(shift) < 1e-9:
            return "YNyn"
        raise UnsupportedElement(f"trafo {row}: no vector_group and shift_degree {shift_degree} "
                                 "suggests none of Dyn, YNyn, Yzn (the groups runpp_3ph models)")
    m = re.fullmatch(r"([A-Za-z]+?)(\d{1,2})?", str(group).strip())
    if m is None:
        raise UnsupportedElement(f"trafo {row}: vector_group {group!r} is not understood")
    name, clock = m.group(1), m.group(2)
    if name.lower() not in SUPPORTED_VECTOR_GROUPS:
        raise UnsupportedElement(f"trafo {row}: vector_group {group!r} is not supported by the "
                                 "three-phase load flow (Dyn, YNyn, Yzn, as runpp_3ph)")
    if clock is not None and abs((int(clock) * 30.0 - shift + 180.0) % 360.0 - 180.0) > 1e-6:
        raise UnsupportedElement(f"trafo {row}: vector_group {group!r} disagrees with "
                                 f"shift_degree {shift_degree}")
    return {"dyn": "Dyn", "ynyn": "YNyn", "yzn": "Yzn"}[name.lower()]


def with_sequence_data(net, *, warn: bool = True):
    """A copy of ``net`` with every element's zero-sequence data set.

    Missing values are filled with the defaults of this module (one
    :class:`SequenceDataDefault` warning per table and kind of value, if ``warn``); values the
    net has are kept. Vector groups are written as pandapower names them (``Dyn11`` ->
    ``Dyn``, see the module docstring).

    Parameters
    ----------
    net
        pandapower network (not modified).
    warn
        Emit the warnings.

    Returns
    -------
    pandapowerNet
        The completed copy; ``runpp_3ph`` runs on it.

    Raises
    ------
    grids.errors.UnsupportedElement
        A transformer's vector group is not one ``runpp_3ph`` models, or disagrees with its
        ``shift_degree``.
    """
    out = copy.deepcopy(net)
    line = out.line
    if len(line):
        pairs = (("r0_ohm_per_km", "r_ohm_per_km", LINE_Z0_RATIO),
                 ("x0_ohm_per_km", "x_ohm_per_km", LINE_Z0_RATIO),
                 ("c0_nf_per_km", "c_nf_per_km", LINE_C0_RATIO))
        bad_any = np.zeros(len(line), bool)
        for col, base, ratio in pairs:
            bad = _missing(line, col)
            if col not in line:
                line[col] = np.nan
            line[col] = pd.to_numeric(line[col], errors="coerce").astype(float)
            line.loc[bad, col] = line.loc[bad, base].to_numpy(float) * ratio
            bad_any |= bad
        if bad_any.any() and warn:
            _warn("line", line.index[bad_any], "r0/x0/c0 data (r0 = 4 r, x0 = 4 x, c0 = c)")
    tr = out.trafo
    if len(tr):
        groups = tr["vector_group"] if "vector_group" in tr else pd.Series(None, index=tr.index)
        active = tr["in_service"].to_numpy(bool)
        named = []
        for g, s, i, a in zip(groups, tr["shift_degree"], tr.index, active, strict=True):
            try:
                named.append(_vector_group(g, s, i))
            except UnsupportedElement:
                if a:
                    raise
                named.append("Dyn")  # out of service: any group runpp_3ph accepts
        unnamed = [i for g, i, a in zip(groups, tr.index, active, strict=True)
                   if a and not (isinstance(g, str) and g)]
        tr["vector_group"] = named
        if unnamed and warn:
            _warn("trafo", unnamed, "vector_group (Dyn from an odd multiple of 30 degrees)")
        filled = []
        for col, base in (("vk0_percent", "vk_percent"), ("vkr0_percent", "vkr_percent")):
            bad = _missing(tr, col)
            if col not in tr:
                tr[col] = np.nan
            tr[col] = pd.to_numeric(tr[col], errors="coerce").astype(float)
            tr.loc[bad, col] = tr.loc[bad, base].to_numpy(float)
            filled += list(tr.index[bad])
        for col, value in TRAFO_DEFAULTS.items():
            bad = _missing(tr, col)
            if col not in tr:
                tr[col] = np.nan
            tr[col] = pd.to_numeric(tr[col], errors="coerce").astype(float)
            tr.loc[bad, col] = value
            filled += list(tr.index[bad])
        if filled and warn:
            _warn("trafo", sorted(set(filled)), "zero-sequence data (vk0 = vk, vkr0 = vkr, "
                  "mag0_percent 100, mag0_rx 0, si0_hv_partial 0.9)")
    for table in ("load", "sgen", "asymmetric_load", "asymmetric_sgen"):
        df = out.get(table)
        if df is None or not len(df):
            continue
        kind = df["type"] if "type" in df else pd.Series(None, index=df.index, dtype=object)
        lower = kind.astype(object).where(kind.notna(), "").astype(str).str.lower()
        change = ~lower.isin(["wye", "delta"])
        if change.any():
            df["type"] = np.where(change, "wye", kind.astype(object))
            if warn:
                _warn(table, df.index[change], "connection type runpp_3ph counts ('wye' or "
                      "'delta': runpp_3ph drops any other silently); taken as wye")
    eg = out.ext_grid
    if len(eg):
        filled = []
        for col, value in EXT_GRID_DEFAULTS.items():
            bad = _missing(eg, col)
            if col not in eg:
                eg[col] = np.nan
            eg[col] = pd.to_numeric(eg[col], errors="coerce").astype(float)
            eg.loc[bad, col] = value
            filled += list(eg.index[bad])
        if filled and warn:
            _warn("ext_grid", sorted(set(filled)), "short-circuit data (200 MVA, R/X 0.1, "
                  "X0/X 1, R0/X0 0.1)")
    return out
