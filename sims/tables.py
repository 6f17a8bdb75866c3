"""Result tables written as the run goes: atomic Parquet part files, one file at the end.

While a run goes, a table is a *folder* of part files (``homes.parquet/part-00000.parquet``,
...) that pandas and pyarrow read exactly like one file. Each part is written under a hidden
temporary name (pyarrow and pandas skip names that start with ``.``), flushed to disk
(``fsync``) and renamed, so a part is either complete or absent whatever kills the process.
:func:`publish` renames the parts of several tables one after the other once all of them are
on disk, so the tables of one flush appear together (the renames take microseconds).
:func:`consolidate` replaces a folder by one file, again through a temporary name.

:class:`DayTable` is the small table an actor appends once a day (the homes' plans, the
aggregator's market, the DSO's negotiation and violations): one part per day instead of the
whole history rewritten every day.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["DayTable", "consolidate", "publish", "write_hidden"]


def write_hidden(table: pa.Table, final: Path) -> Path:
    """Write ``table`` under a hidden temporary name next to ``final``, on disk; return it.

    :func:`publish` then renames it to ``final``.
    """
    tmp = final.parent / f".{final.name}.tmp"
    with open(tmp, "wb") as f:
        pq.write_table(table, f)
        f.flush()
        os.fsync(f.fileno())
    return tmp


def publish(moves: list[tuple[Path, Path]]) -> None:
    """Rename each written temporary file (already on disk) to its final name.

    The renames are atomic; a kill of the process never leaves a half-written part. (The
    folders are not synced: a rename lost to a crash of the machine itself leaves the part
    missing, never truncated.)
    """
    for tmp, final in moves:
        os.replace(tmp, final)


def consolidate(path: Path, empty: pd.DataFrame | None = None,
                table: pa.Table | None = None) -> None:
    """Replace a folder of Parquet part files by one file with the same name.

    A file already consolidated is left alone. A folder without parts (or no folder) becomes
    ``empty`` when given (a table with its columns and no row), else disappears. ``table``,
    when given, is the whole table (the caller kept it): the parts are not read back.

    The folder is first renamed to a hidden name, so that at every moment the table reads
    (folder, or file) whatever kills the process.
    """
    if path.is_file():
        return
    if table is None:
        parts = sorted(path.glob("part-*.parquet")) if path.is_dir() else []
        if parts:
            table = pa.concat_tables([pq.read_table(p) for p in parts],
                                     promote_options="permissive")
        elif empty is not None:
            table = pa.Table.from_pandas(empty, preserve_index=False)
    tmp = write_hidden(table, path) if table is not None else None
    if path.is_dir():
        hidden = path.parent / f".{path.name}.parts"
        if hidden.exists():
            shutil.rmtree(hidden)
        os.replace(path, hidden)
    else:
        hidden = None
    if tmp is not None:
        publish([(tmp, path)])
    if hidden is not None:
        shutil.rmtree(hidden)


class DayTable:
    """A table an actor appends rows to, one part per call (see the module docstring).

    Parameters
    ----------
    out_dir
        The run folder.
    name
        Table name (``<name>.parquet``).
    columns
        Its columns (the empty table's, if no row is ever appended).
    """

    def __init__(self, out_dir: str | Path, name: str, columns: list[str]):
        self.path = Path(out_dir) / f"{name}.parquet"
        self.columns = list(columns)
        self.parts = 0

    def append(self, rows: pd.DataFrame) -> None:
        """Write the rows as the next part (nothing for no row)."""
        if rows.empty:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        final = self.path / f"part-{self.parts:05d}.parquet"
        table = pa.Table.from_pandas(rows[self.columns], preserve_index=False)
        publish([(write_hidden(table, final), final)])
        self.parts += 1

    def close(self) -> None:
        """Turn the parts into one file (an empty table with the columns if none)."""
        consolidate(self.path, pd.DataFrame(columns=self.columns))
