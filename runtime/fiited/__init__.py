"""ctypes wrapper of the native FIITED runtime (VHPI tables with per-row dimensions).

The library is a plain C ABI (also called from MLIR-lowered code); this module checks dtypes and
shapes before every call so a wrong argument is a clear `FiitedError`, never a crash.
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

OPTIMIZERS = {"sgd": 0, "adagrad": 1}
POOLING = {"sum": 0, "mean": 1}


class FiitedError(ValueError):
    """A runtime call failed; the message is the runtime's own explanation."""


def library_path() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "_fiited_native*.so")))
    if not found:
        raise FiitedError("native FIITED runtime not built; run `pip install -e .` in the repository root")
    return found[0]


_lib = None


def lib() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        L = ctypes.CDLL(library_path())
        P, I, D = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
        sig = {
            "fiited_table_create": (P, [I, I, I, I, I, D, D, D, I]),
            "fiited_table_destroy": (None, [P]),
            "fiited_lookup": (ctypes.c_int, [P, P, I, P, I, I, P]),
            "fiited_apply_gradients": (ctypes.c_int, [P, P, I, P, I, I, P]),
            "fiited_decay_importance": (ctypes.c_int, [P, D]),
            "fiited_read_stats": (ctypes.c_int, [P, P, P, P]),
            "fiited_chunk_scores": (ctypes.c_int, [P, D, D, I, P, P]),
            "fiited_resize": (ctypes.c_int, [P, P, P, I, I, D]),
            "fiited_compact": (ctypes.c_int, [P]),
            "fiited_get_rows": (ctypes.c_int, [P, P, I, P, P]),
            "fiited_set_rows": (ctypes.c_int, [P, P, I, P]),
            "fiited_counters": (ctypes.c_int, [P, P]),
            "fiited_save": (ctypes.c_int, [P, ctypes.c_char_p]),
            "fiited_load": (P, [ctypes.c_char_p]),
            "fiited_last_error": (ctypes.c_char_p, []),
        }
        for name, (res, args) in sig.items():
            fn = getattr(L, name)
            fn.restype, fn.argtypes = res, args
        _lib = L
    return _lib


def _check(rc: int) -> None:
    if rc != 0:
        raise FiitedError(lib().fiited_last_error().decode())


def _arr(x, dtype, name: str, ndim: int | None = None) -> np.ndarray:
    """A C-contiguous array of exactly `dtype`; anything else (e.g. float64 ids) is refused."""
    if hasattr(x, "detach"):  # torch tensor on CPU
        x = x.detach().numpy()
    x = np.asarray(x)
    if x.dtype != dtype:
        raise FiitedError(f"{name} must have dtype {np.dtype(dtype).name}, got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise FiitedError(f"{name} must be {ndim}-D, got shape {x.shape}")
    return np.ascontiguousarray(x)


def _p(a: np.ndarray) -> int:
    """The array's address (an int: cheaper than `ctypes.data_as`, which matters for small batches)."""
    return a.ctypes.data


class Table:
    """One VHPI embedding table: rows of varying dimension (multiples of `chunk_size`) up to `max_dim`."""

    def __init__(self, num_rows: int, max_dim: int, chunk_size: int = 8, init_dim: int | None = None,
                 optimizer: str = "adagrad", lr: float = 0.01, eps: float = 1e-10,
                 init_scale: float | None = None, seed: int = 0, _handle=None):
        if _handle is not None:
            self._h = _handle
        else:
            if optimizer not in OPTIMIZERS:
                raise FiitedError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
            init_dim = max_dim if init_dim is None else init_dim
            scale = (1.0 / max(num_rows, 1)) ** 0.5 if init_scale is None else init_scale
            self._h = lib().fiited_table_create(int(num_rows), int(max_dim), int(chunk_size), int(init_dim),
                                                OPTIMIZERS[optimizer], float(lr), float(eps), float(scale), int(seed))
            if not self._h:
                raise FiitedError(lib().fiited_last_error().decode())
        c = self.counters()
        self.num_rows, self.max_dim, self.chunk_size = c["num_rows"], c["max_dim"], c["chunk_size"]

    def __del__(self):
        if getattr(self, "_h", None) and _lib is not None:
            _lib.fiited_table_destroy(self._h)
            self._h = None

    @property
    def handle(self) -> int:
        return self._h

    def lookup(self, ids, offsets, mode: str = "sum", out: np.ndarray | None = None) -> np.ndarray:
        ids, offsets = _arr(ids, np.int64, "ids", 1), _arr(offsets, np.int64, "offsets", 1)
        if mode not in POOLING:
            raise FiitedError(f"mode must be 'sum' or 'mean', got {mode!r}")
        if out is None:
            out = np.empty((len(offsets), self.max_dim), np.float32)
        elif out.dtype != np.float32 or out.shape != (len(offsets), self.max_dim) or not out.flags.c_contiguous:
            raise FiitedError(f"out must be float32 C-contiguous of shape {(len(offsets), self.max_dim)}")
        _check(lib().fiited_lookup(self._h, _p(ids), len(ids), _p(offsets), len(offsets), POOLING[mode], _p(out)))
        return out

    def apply_gradients(self, ids, offsets, grad, mode: str = "sum") -> None:
        ids, offsets = _arr(ids, np.int64, "ids", 1), _arr(offsets, np.int64, "offsets", 1)
        grad = _arr(grad, np.float32, "grad", 2)
        if grad.shape != (len(offsets), self.max_dim):
            raise FiitedError(f"grad must have shape {(len(offsets), self.max_dim)}, got {grad.shape}")
        if mode not in POOLING:
            raise FiitedError(f"mode must be 'sum' or 'mean', got {mode!r}")
        _check(lib().fiited_apply_gradients(self._h, _p(ids), len(ids), _p(offsets), len(offsets), POOLING[mode], _p(grad)))

    def decay_importance(self, factor: float) -> None:
        _check(lib().fiited_decay_importance(self._h, float(factor)))

    def stats(self):
        """(dims[num_rows], chunk importance[num_rows, max_chunks], access frequency[num_rows])."""
        dims = np.zeros(self.num_rows, np.int64)
        imp = np.zeros((self.num_rows, self.max_dim // self.chunk_size), np.float32)
        freq = np.zeros(self.num_rows, np.float32)
        _check(lib().fiited_read_stats(self._h, _p(dims), _p(imp), _p(freq)))
        return dims, imp, freq

    def chunk_scores(self, freq_weight: float = 1.0, floor: float = 1e-3, max_growth: int = 2, out=None):
        """(dims[num_rows], scores[max_chunks, num_rows]) for dimension adjustment: per chunk position,
        sqrt(importance) normalised to a table mean of 1, plus `floor`, times (frequency / mean)^
        `freq_weight`; missing positions borrow the row's last score (pruned rows: 1), scores are
        non-increasing along a row and 0 beyond `max_growth` new chunks. `out`: a previous result
        to write into (fresh pages for millions of rows cost more than the scoring)."""
        shape = (self.max_dim // self.chunk_size, self.num_rows)
        if out is not None and out[0].shape == (self.num_rows,) and out[1].shape == shape:
            dims, scores = out
        else:
            dims, scores = np.empty(self.num_rows, np.int64), np.empty(shape, np.float32)
        _check(lib().fiited_chunk_scores(self._h, float(freq_weight), float(floor), int(max_growth), _p(scores), _p(dims)))
        return dims, scores

    def dims(self) -> np.ndarray:
        return self.stats()[0]

    def resize(self, ids, dims, zero_init: bool = True, compact_fraction: float = 0.25) -> None:
        ids, dims = _arr(ids, np.int64, "ids", 1), _arr(dims, np.int64, "dims", 1)
        if ids.shape != dims.shape:
            raise FiitedError("ids and dims must have the same length")
        _check(lib().fiited_resize(self._h, _p(ids), _p(dims), len(ids), int(zero_init), float(compact_fraction)))

    def compact(self) -> None:
        _check(lib().fiited_compact(self._h))

    def get_rows(self, ids=None, with_state: bool = False):
        ids = np.arange(self.num_rows, dtype=np.int64) if ids is None else _arr(ids, np.int64, "ids", 1)
        out = np.empty((len(ids), self.max_dim), np.float32)
        state = np.empty_like(out) if with_state else None
        _check(lib().fiited_get_rows(self._h, _p(ids), len(ids), _p(out), _p(state) if with_state else None))
        return (out, state) if with_state else out

    def set_rows(self, ids, values) -> None:
        ids = _arr(ids, np.int64, "ids", 1)
        values = _arr(values, np.float32, "values", 2)
        if values.shape != (len(ids), self.max_dim):
            raise FiitedError(f"values must have shape {(len(ids), self.max_dim)}, got {values.shape}")
        _check(lib().fiited_set_rows(self._h, _p(ids), len(ids), _p(values)))

    def counters(self) -> dict:
        out = np.zeros(9, np.int64)
        _check(lib().fiited_counters(self._h, _p(out)))
        keys = ["live_chunks", "value_bytes", "chunk_bytes", "mapped_bytes", "index_bytes", "free_chunks",
                "num_rows", "max_dim", "chunk_size"]
        return dict(zip(keys, (int(v) for v in out)))

    def save(self, path: str) -> None:
        _check(lib().fiited_save(self._h, os.fsencode(path)))

    @classmethod
    def load(cls, path: str) -> "Table":
        h = lib().fiited_load(os.fsencode(path))
        if not h:
            raise FiitedError(lib().fiited_last_error().decode())
        return cls(0, 0, _handle=h)


def resident_bytes() -> int:
    """The process's resident set size from /proc/self/statm."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def take_status() -> None:
    """Raise the first error recorded by MLIR-lowered runtime calls since the last check, and clear it."""
    L = lib()
    L.fiited_take_status.restype, L.fiited_take_status.argtypes = ctypes.c_int32, [ctypes.c_char_p, ctypes.c_int64]
    buf = ctypes.create_string_buffer(512)
    if L.fiited_take_status(buf, 512):
        raise FiitedError(buf.value.decode())
