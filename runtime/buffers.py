"""Output buffers for compiled kernels, recycled once nobody holds them.

Large fresh allocations are mmap'd by the C allocator and every first touch of a page faults,
which for memory-bound kernels can cost more than the kernel. Outputs are therefore NumPy arrays
kept in a small pool; a pooled array is handed out again only when the pool's reference is the
last one (no array, view or torch tensor made from it is alive), so reuse is never observable.
"""
from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict

import numpy as np

POOL_MIN_BYTES = 1 << 20
POOL_MAX_BYTES = int(os.environ.get("GIRFLOW_POOL_BYTES", 1 << 30))


ALIGNMENT = 64   # a cache line: full-width vector stores never straddle two lines


def aligned_empty(shape: tuple, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(owner, view): a `dtype` array of `shape` starting on an ALIGNMENT boundary, and its owner."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    offset = (-raw.ctypes.data) % ALIGNMENT
    return raw, raw[offset:offset + nbytes].view(dtype).reshape(shape)


class OutputPool:
    def __init__(self, max_bytes: int = POOL_MAX_BYTES):
        self.max_bytes = max_bytes
        # id -> (owner, view, refcounts of both when only the pool holds them)
        self._items: OrderedDict[int, tuple] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _refs(entry) -> tuple[int, int]:
        return sys.getrefcount(entry[0]), sys.getrefcount(entry[1])

    def empty(self, shape: tuple, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes < POOL_MIN_BYTES or self.max_bytes <= 0:
            return aligned_empty(shape, dtype)[1]
        with self._lock:
            for key in list(self._items):
                entry = self._items[key]
                if entry[1].shape == tuple(shape) and entry[1].dtype == dtype and self._refs(entry) == entry[2]:
                    self._items.move_to_end(key)
                    return entry[1]
            owner, view = aligned_empty(shape, dtype)
            key = id(owner)
            self._items[key] = (owner, view)
            del owner, view
            entry = self._items[key]
            # only the pool holds them now: these are the counts that mean "idle" (measured the
            # same way as in the check above, through one tuple bound to `entry`)
            idle = self._refs(entry)
            self._items[key] = entry = (entry[0], entry[1], idle)
            self._evict()
            return entry[1]

    def _evict(self) -> None:
        total = sum(e[1].nbytes for e in self._items.values())
        for key in list(self._items):
            if total <= self.max_bytes:
                break
            total -= self._items.pop(key)[1].nbytes


POOL = OutputPool()
