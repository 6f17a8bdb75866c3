"""Reuse of the memory of dropped batch results (:class:`BufferPool`).

Why: a year's batch on the reference feeder writes 260 MB of results. Memory fresh from
the operating system is zeroed page by page on its first write: 0.5 us per step on one
thread here, a tenth of the whole batch. On a virtual machine that hands freed memory back
to its host, the first write costs far more while the host maps the memory again: the
first year's batch of a process here took 13-18 us per step instead of 4-5 (measured).
A batch whose previous result has been dropped therefore writes into that result's
memory.
"""

from __future__ import annotations

import sys
import threading

import numpy as np


class BufferPool:
    """Float64 buffers of batch results, reused once nothing else refers to them.

    A buffer is free when only the pool refers to it: every numpy view of it (the result
    arrays, their slices and transposes, frames built on them without a copy) holds a
    reference to it, so CPython's reference count tells. A result that is still referred
    to in any way is never written to.

    Parameters
    ----------
    keep
        Buffers kept at most, most recent first. Two, so that ``res = lf.run(...)`` in a
        loop reuses memory: the previous result is still referred to by ``res`` while the
        next one is computed, the one before is not.
    min_bytes
        Smaller buffers are not kept: ``malloc`` already reuses memory of that size.
    """

    def __init__(self, keep: int = 2, min_bytes: int = 16 << 20):
        self.keep = keep
        self.min_bytes = min_bytes
        self._bufs: list[np.ndarray] = []  # oldest first
        self._lock = threading.Lock()

    def take(self, n: int) -> np.ndarray:
        """A float64 array of ``n`` elements (contents undefined): a kept buffer of that
        size that nothing else refers to, else a new one."""
        with self._lock:
            for i in range(len(self._bufs)):
                buf = self._bufs[i]
                # references: the list, ``buf`` and getrefcount's own argument
                if buf.shape[0] == n and sys.getrefcount(buf) == 3:
                    del self._bufs[i]
                    return buf
        return np.empty(n)

    def give(self, buf: np.ndarray) -> None:
        """Keep ``buf`` (which a result now refers to) for reuse after that result has
        been dropped; the oldest kept buffer is released beyond :attr:`keep`."""
        if buf.nbytes < self.min_bytes:
            return
        with self._lock:
            self._bufs.append(buf)
            excess = len(self._bufs) - self.keep
            if excess > 0:
                del self._bufs[:excess]

    def clear(self) -> None:
        """Release every kept buffer (memory of dropped results goes back to the system)."""
        with self._lock:
            self._bufs.clear()

    @property
    def nbytes(self) -> int:
        """Bytes held by the pool (including buffers that results still refer to)."""
        with self._lock:
            return sum(b.nbytes for b in self._bufs)
