"""ctypes wrapper of the native FIITED runtime: embedding tables keyed by raw 64-bit ids whose rows
exist only once touched in training, each row with its own dimension.

The library is a plain C ABI (also called from MLIR-lowered code); this module checks dtypes and
shapes before every call so a wrong argument is a clear `FiitedError`, never a crash.
"""
from __future__ import annotations

import ctypes
import os

import numpy as np

from girflow.runtime.native import native_library

# chunk_adagrad: one Adagrad accumulator per chunk (the mean of its squared gradients), as FBGEMM's
# row-wise Adagrad with a chunk as the row: optimiser state 4 bytes per chunk instead of per value.
OPTIMIZERS = {"sgd": 0, "adagrad": 1, "chunk_adagrad": 2}
POOLING = {"sum": 0, "mean": 1}


class FiitedError(ValueError):
    """A runtime call failed; the message is the runtime's own explanation."""


def library_path() -> str:
    path = native_library(os.path.dirname(os.path.abspath(__file__)), "_fiited_native")
    if path is None:
        raise FiitedError("native FIITED runtime not built; run `pip install -e .` in the repository root")
    return path


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
            "fiited_read_stats": (ctypes.c_int, [P, I, P, P, P, P, P]),
            "fiited_chunk_scores": (ctypes.c_int, [P, D, D, I, I, P, P, P, P, P, D, I]),
            "fiited_score_totals": (ctypes.c_int, [P, P, I]),
            "fiited_live_rows": (I, [P]),
            "fiited_touch": (ctypes.c_int, [P, P, I]),
            "fiited_set_training": (ctypes.c_int, [P, I]),
            "fiited_set_eviction": (ctypes.c_int, [P, I, I]),
            "fiited_init_rows": (None, [I, D, P, I, I, P]),
            "fiited_resize": (ctypes.c_int, [P, P, P, I, I, D]),
            "fiited_compact": (ctypes.c_int, [P]),
            "fiited_get_rows": (ctypes.c_int, [P, P, I, P, P]),
            "fiited_set_rows": (ctypes.c_int, [P, P, I, P]),
            "fiited_counters": (ctypes.c_int, [P, P]),
            "fiited_save": (ctypes.c_int, [P, ctypes.c_char_p]),
            "fiited_load": (P, [ctypes.c_char_p]),
            "fiited_last_error": (ctypes.c_char_p, []),
            "fiited_parse_criteo": (I, [P, I, I, ctypes.c_int32, P, P, P, P, P]),
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


COUNTER_KEYS = ["live_chunks", "value_bytes", "chunk_bytes", "mapped_bytes", "index_bytes", "free_chunks",
                "id_limit", "max_dim", "chunk_size", "live_rows", "row_bytes", "state_bytes", "importance_bytes",
                "adjustments", "rehash_pending_slots", "peak_bytes"]


def init_rows(ids, dim: int, seed: int = 0, scale: float = 0.01) -> np.ndarray:
    """The initial values [len(ids), dim] a table with this seed and scale gives rows `ids` when it
    creates them: a function of (seed, id, column) only, so a baseline, a shard or a resumed run
    can start from exactly the same values."""
    ids = _arr(ids, np.int64, "ids", 1)
    out = np.empty((len(ids), dim), np.float32)
    lib().fiited_init_rows(int(seed), float(scale), _p(ids), len(ids), int(dim), _p(out))
    return out


CRITEO_LINE_STATUS = {1: "expected 40 tab-separated fields", 2: "label is not 0 or 1",
                      3: "an integer feature is not a number", 4: "a category is not hex of at most 8 digits"}


def parse_criteo(buf, start: int = 0, max_lines: int = 1 << 62, at_eof: bool = False):
    """Parse the complete Criteo TSV lines of the bytes `buf[start:]` (with `at_eof`, a last line
    without a newline too), at most `max_lines`, in one native scan -> (label float32 [n], dense
    float32 [n, 13] as log1p(max(v, 0)) with empty = 0, ids uint32 [n, 26] from the hex
    categories, status uint8 [n] (0: good, else a key of CRITEO_LINE_STATUS), bytes consumed).
    The caller keeps the unconsumed tail for the next call."""
    if not isinstance(buf, (bytes, bytearray)):
        raise FiitedError(f"buf must be bytes or bytearray, got {type(buf).__name__}")
    view = np.frombuffer(buf, np.uint8)
    left = len(view) - start
    if start < 0 or left < 0:
        raise FiitedError(f"start {start} is outside the buffer of {len(view)} bytes")
    cap = max(0, min(max_lines, buf.count(b"\n", start) + 1))
    label, dense = np.empty(cap, np.float32), np.empty((cap, 13), np.float32)
    ids, status = np.empty((cap, 26), np.uint32), np.empty(cap, np.uint8)
    used = ctypes.c_int64()
    n = lib().fiited_parse_criteo(_p(view) + start if len(view) else None, left, cap, int(bool(at_eof)), _p(label),
                                  _p(dense), _p(ids), _p(status), ctypes.byref(used))
    return label[:n], dense[:n], ids[:n], status[:n], used.value


class Table:
    """One embedding table keyed by raw non-negative int64 ids, rows of varying dimension (multiples
    of `chunk_size`) up to `max_dim`.

    Nothing is allocated per id up front: a row is created (at `init_dim`, with values from
    `init_rows`) the first time a training lookup, gradient apply, `touch`, `resize` or `set_rows`
    meets its id. In evaluation mode (`train(False)`) ids without a row read as zeros and create
    nothing. `num_rows` > 0 only bounds the ids (an id >= num_rows is an error); 0 accepts any id
    in [0, 2^63). Rows untouched for more than `evict_after` adjustments (`decay_importance` calls)
    are evicted; 0 keeps every row. Rows touched in one batch only (most ids of a long tail: they
    hold one sample's worth of learning) are evicted after `evict_single_after` adjustments instead
    (0: `evict_after`), so rows seen repeatedly can live longer in the same memory.
    """

    def __init__(self, num_rows: int, max_dim: int, chunk_size: int = 8, init_dim: int | None = None,
                 optimizer: str = "adagrad", lr: float = 0.01, eps: float = 1e-10,
                 init_scale: float | None = None, seed: int = 0, evict_after: int = 0, evict_single_after: int = 0,
                 _handle=None):
        if _handle is not None:
            self._h = _handle
        else:
            if optimizer not in OPTIMIZERS:
                raise FiitedError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
            init_dim = max_dim if init_dim is None else init_dim
            if init_scale is None:
                init_scale = (1.0 / num_rows) ** 0.5 if num_rows > 0 else 0.01
            self._h = lib().fiited_table_create(int(num_rows), int(max_dim), int(chunk_size), int(init_dim),
                                                OPTIMIZERS[optimizer], float(lr), float(eps), float(init_scale), int(seed))
            if not self._h:
                raise FiitedError(lib().fiited_last_error().decode())
            if evict_after or evict_single_after:
                self.set_eviction(evict_after, evict_single_after)
        c = self.counters()
        self.num_rows, self.max_dim, self.chunk_size = c["id_limit"], c["max_dim"], c["chunk_size"]
        self.max_chunks = self.max_dim // self.chunk_size
        self.training = True

    def __del__(self):
        if getattr(self, "_h", None) and _lib is not None:
            _lib.fiited_table_destroy(self._h)
            self._h = None

    @property
    def handle(self) -> int:
        return self._h

    @property
    def live_rows(self) -> int:
        return int(lib().fiited_live_rows(self._h))

    def train(self, mode: bool = True) -> "Table":
        """Training mode creates rows for new ids on lookup; evaluation mode reads them as zeros."""
        _check(lib().fiited_set_training(self._h, int(bool(mode))))
        self.training = bool(mode)
        return self

    def set_eviction(self, evict_after: int, evict_single_after: int = 0) -> None:
        """Evict rows idle for more than `evict_after` adjustments (0: never), rows touched in one
        batch only after `evict_single_after` (0: `evict_after`; at most `evict_after`)."""
        _check(lib().fiited_set_eviction(self._h, int(evict_after), int(evict_single_after)))

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

    def touch(self, ids) -> None:
        """Create the rows of `ids` that have none (as a training lookup would) and mark all touched."""
        ids = _arr(ids, np.int64, "ids", 1)
        _check(lib().fiited_touch(self._h, _p(ids), len(ids)))

    def decay_importance(self, factor: float) -> None:
        """One call per adjustment: decays importance and frequency, advances the table's clock and
        evicts rows idle for more than `evict_after` adjustments."""
        _check(lib().fiited_decay_importance(self._h, float(factor)))

    def _with_capacity(self, call):
        """Run call(capacity) with room for the live rows (retrying if rows were created meanwhile)."""
        cap = self.live_rows + 1024
        while True:
            count = ctypes.c_int64()
            res = call(cap, count)
            if res is not None:
                return res, count.value
            cap = count.value + count.value // 8 + 1024

    def stats(self):
        """(ids, dims, chunk importance[rows, max_chunks], access frequency) of the live rows, in the
        runtime's record order."""
        def call(cap, count):
            ids, dims = np.empty(cap, np.int64), np.empty(cap, np.int64)
            imp, freq = np.empty((cap, self.max_chunks), np.float32), np.empty(cap, np.float32)
            rc = lib().fiited_read_stats(self._h, cap, _p(ids), _p(dims), _p(imp), _p(freq), ctypes.byref(count))
            if rc == -2:
                return None
            _check(rc)
            return ids, dims, imp, freq
        (ids, dims, imp, freq), n = self._with_capacity(call)
        return ids[:n].copy(), dims[:n].copy(), imp[:n].copy(), freq[:n].copy()

    def row_stats(self, ids=None):
        """(dims, chunk importance, frequency) of rows `ids` (default: all ids of a bounded table);
        ids without a row read as zeros."""
        ids = self._ids(ids)
        live, dims, imp, freq = self.stats()
        order = np.argsort(live, kind="stable")
        at = np.searchsorted(live[order], ids)
        at = np.minimum(at, max(len(live) - 1, 0))
        found = (live[order][at] == ids) if len(live) else np.zeros(len(ids), bool)
        pick = order[at] if len(live) else np.zeros(len(ids), np.int64)
        out_dims = np.where(found, dims[pick] if len(live) else 0, 0).astype(np.int64)
        out_imp = np.where(found[:, None], imp[pick] if len(live) else 0, 0).astype(np.float32)
        out_freq = np.where(found, freq[pick] if len(live) else 0, 0).astype(np.float32)
        return out_dims, out_imp, out_freq

    def score_totals(self, saliency: bool = False) -> np.ndarray:
        """[live chunks, sum of their base scores (sqrt(importance), or with `saliency`
        sqrt(importance x mean squared value)), sum of row frequencies, live rows]: the sums
        `chunk_scores` takes its means from (summed over shards for a sharded table)."""
        out = np.empty(4, np.float64)
        _check(lib().fiited_score_totals(self._h, _p(out), int(bool(saliency))))
        return out

    def chunk_scores(self, freq_weight: float = 1.0, floor: float = 1e-3, max_growth: int = 2, out=None,
                     totals=None, pruned_fill: float = 0.0, saliency: bool = False):
        """(ids, dims, scores[max_chunks, rows]) of the live rows in record order for dimension
        adjustment: per chunk position, sqrt(importance) normalised to a table mean of 1, plus
        `floor`, times (frequency / mean)^`freq_weight`; missing positions borrow the row's last
        score (pruned rows: 1), scores are non-increasing along a row and 0 beyond `max_growth` new
        chunks. `out`: a previous result whose buffers to reuse (fresh pages for millions of rows
        cost more than the scoring). `totals`: `score_totals()` summed over the shards of a
        sharded table, so the means are the whole table's (default: this table's own), or summed
        over several tables scored on one scale; `pruned_fill`: the score a pruned row's positions
        borrow before the frequency weight (default, 0: the mean, 1). `saliency`: a chunk's base
        score is sqrt(importance x the mean square of its values), the second-order loss of zeroing
        it (optimal brain damage, squared gradients as the Fisher diagonal), and the frequency
        weight applies to pruned rows only (they hold no values to measure); `totals` must then
        come from `score_totals(saliency=True)`."""
        if totals is not None:
            totals = _arr(totals, np.float64, "totals", 1)
            if totals.shape != (4,):
                raise FiitedError(f"totals must have 4 values, got {totals.shape}")
        buffers = {}
        if out is not None and isinstance(out[2].base, np.ndarray) and isinstance(out[0].base, np.ndarray):
            buffers = {"cap": len(out[0].base), "scores": out[2].base, "ids": out[0].base, "dims": out[1].base}

        def call(cap, count):
            if buffers.get("cap", -1) < cap:
                buffers.update(cap=cap, scores=np.empty(self.max_chunks * cap, np.float32),
                               ids=np.empty(cap, np.int64), dims=np.empty(cap, np.int64))
            b = buffers
            rc = lib().fiited_chunk_scores(self._h, float(freq_weight), float(floor), int(max_growth), b["cap"],
                                           _p(b["scores"]), _p(b["dims"]), _p(b["ids"]), ctypes.byref(count),
                                           None if totals is None else _p(totals), float(pruned_fill),
                                           int(bool(saliency)))
            if rc == -2:
                return None
            _check(rc)
            return b
        b, n = self._with_capacity(call)
        return b["ids"][:n], b["dims"][:n], b["scores"][:self.max_chunks * n].reshape(self.max_chunks, n)

    def _ids(self, ids):
        if ids is None:
            if not self.num_rows:
                raise FiitedError("this table accepts any id: pass the ids to read")
            return np.arange(self.num_rows, dtype=np.int64)
        return _arr(ids, np.int64, "ids", 1)

    def dims(self, ids=None) -> np.ndarray:
        """Dimensions of rows `ids` (default: all ids of a bounded table); 0 for ids without a row."""
        return self.row_stats(ids)[0]

    def resize(self, ids, dims, zero_init: bool = True, compact_fraction: float = 0.0) -> None:
        ids, dims = _arr(ids, np.int64, "ids", 1), _arr(dims, np.int64, "dims", 1)
        if ids.shape != dims.shape:
            raise FiitedError("ids and dims must have the same length")
        _check(lib().fiited_resize(self._h, _p(ids), _p(dims), len(ids), int(zero_init), float(compact_fraction)))

    def compact(self) -> None:
        _check(lib().fiited_compact(self._h))

    def get_rows(self, ids=None, with_state: bool = False):
        """Dense copies [len(ids), max_dim] (zeros beyond each row's dimension and for ids without a
        row); default ids: all of a bounded table."""
        ids = self._ids(ids)
        out = np.empty((len(ids), self.max_dim), np.float32)
        state = np.empty_like(out) if with_state else None
        _check(lib().fiited_get_rows(self._h, _p(ids), len(ids), _p(out), _p(state) if state is not None else None))
        return (out, state) if with_state else out

    def set_rows(self, ids, values) -> None:
        """Write values into rows `ids` (created at the starting dimension if missing), within each
        row's dimension."""
        ids = _arr(ids, np.int64, "ids", 1)
        values = _arr(values, np.float32, "values", 2)
        if values.shape != (len(ids), self.max_dim):
            raise FiitedError(f"values must have shape {(len(ids), self.max_dim)}, got {values.shape}")
        _check(lib().fiited_set_rows(self._h, _p(ids), len(ids), _p(values)))

    def counters(self) -> dict:
        out = np.zeros(len(COUNTER_KEYS), np.int64)
        _check(lib().fiited_counters(self._h, _p(out)))
        return dict(zip(COUNTER_KEYS, (int(v) for v in out)))

    def memory(self) -> dict:
        """Training memory by kind, in bytes: values, optimiser state and importance of the live
        chunks, free chunks still mapped, the hash index and the row records (id, run, frequency,
        last touch), and their total (what the table holds in RAM)."""
        c = self.counters()
        free = c["mapped_bytes"] - c["chunk_bytes"]
        parts = {"values": c["value_bytes"], "optimizer_state": c["state_bytes"], "importance": c["importance_bytes"],
                 "free_chunks": free, "index": c["index_bytes"], "row_records": c["row_bytes"]}
        parts["total"] = sum(parts.values())
        parts["peak_total"] = c["peak_bytes"]  # the most held at the end of any call, free chunks included
        return parts

    def save(self, path: str) -> None:
        _check(lib().fiited_save(self._h, os.fsencode(path)))

    @classmethod
    def load(cls, path: str) -> "Table":
        h = lib().fiited_load(os.fsencode(path))
        if not h:
            raise FiitedError(lib().fiited_last_error().decode())
        return cls(0, 0, _handle=h)


def resident_bytes() -> int:
    """The process's anonymous resident memory (resident minus file-backed pages, from
    /proc/self/statm): what it allocated and holds, without the pages of memory-mapped files (a
    parsed data set read through a memory map), which the kernel may drop and which both sides of
    a comparison read alike."""
    with open("/proc/self/statm") as f:
        fields = f.read().split()
    return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE")


def take_status() -> None:
    """Raise the first error recorded by MLIR-lowered runtime calls since the last check, and clear it."""
    L = lib()
    L.fiited_take_status.restype, L.fiited_take_status.argtypes = ctypes.c_int32, [ctypes.c_char_p, ctypes.c_int64]
    buf = ctypes.create_string_buffer(512)
    if L.fiited_take_status(buf, 512):
        raise FiitedError(buf.value.decode())
