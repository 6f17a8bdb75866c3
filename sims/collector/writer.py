"""Writes a run's time-series tables as Parquet part files while the run goes.

While a run goes, and after an interrupted run, each table is a *folder* of part files
(``homes.parquet/part-00000.parquet``...), flushed every ``flush_every`` steps; pandas and
pyarrow read the folder exactly like a file. :meth:`ResultsWriter.close` replaces each folder
by a single file. The tables and their columns are the results contract of
:mod:`testbed.results`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

TABLES = ("homes", "buses", "lines", "transformer", "grid")


class ResultsWriter:
    """Buffers rows per table and writes them as Parquet part files every ``flush_every`` steps.

    Parameters
    ----------
    out_dir
        The run folder (created if missing).
    flush_every
        Steps buffered before a flush [-].
    """

    def __init__(self, out_dir: str | Path, flush_every: int = 16):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.flush_every = flush_every
        self.buffers: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
        self.parts: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.steps_buffered = 0

    def add_step(self, frames: dict[str, pd.DataFrame]) -> None:
        """Add one step's rows (one DataFrame per table) and flush when due."""
        for table, df in frames.items():
            self.buffers[table].append(df)
        self.steps_buffered += 1
        if self.steps_buffered >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write every buffered row to a new part file per table."""
        for table, frames in self.buffers.items():
            if not frames:
                continue
            folder = self.out_dir / f"{table}.parquet"
            folder.mkdir(exist_ok=True)
            df = pd.concat(frames, ignore_index=True)
            part = folder / f"part-{self.parts[table]:05d}.parquet"
            pq.write_table(pa.Table.from_pandas(df, preserve_index=False), part)
            self.parts[table] += 1
            frames.clear()
        self.steps_buffered = 0

    def close(self) -> None:
        """Flush, then turn each table's folder of parts into one Parquet file."""
        self.flush()
        for table in TABLES:
            consolidate(self.out_dir / f"{table}.parquet")


def consolidate(path: Path) -> None:
    """Replace a folder of Parquet part files by one file with the same name (no-op for a file)."""
    if not path.is_dir():
        return
    parts = sorted(path.glob("part-*.parquet"))
    tmp = path.with_suffix(".parquet.tmp")
    if parts:
        table = pa.concat_tables(pq.read_table(p) for p in parts)
        pq.write_table(table, tmp)
    shutil.rmtree(path)
    if parts:
        tmp.rename(path)
