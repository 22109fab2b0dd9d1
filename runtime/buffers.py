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


class OutputPool:
    def __init__(self, max_bytes: int = POOL_MAX_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def empty(self, shape: tuple, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes < POOL_MIN_BYTES or self.max_bytes <= 0:
            return np.empty(shape, dtype)
        with self._lock:
            for key in list(self._items):
                arr = self._items[key]
                # refs: the pool's dict entry, `arr`, and getrefcount's argument
                if arr.shape == tuple(shape) and arr.dtype == dtype and sys.getrefcount(arr) <= 3:
                    self._items.move_to_end(key)
                    return arr
                del arr
            arr = np.empty(shape, dtype)
            self._items[id(arr)] = arr
            self._evict()
            return arr

    def _evict(self) -> None:
        total = sum(a.nbytes for a in self._items.values())
        for key in list(self._items):
            if total <= self.max_bytes:
                break
            total -= self._items.pop(key).nbytes


POOL = OutputPool()
