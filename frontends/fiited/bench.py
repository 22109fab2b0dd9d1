"""Pooled-lookup throughput of the runtime against nn.EmbeddingBag at full dimension, side by side."""
from __future__ import annotations

import time

import numpy as np
import torch

from girflow.runtime.fiited import Table


def _best_of(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def lookup_throughput(rows: int = 1_000_000, dim: int = 32, chunk: int = 8, bags: int = 4096,
                      bag_size: int = 20, mode: str = "sum", repeats: int = 20, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ids = np.minimum(rng.zipf(1.1, bags * bag_size) - 1, rows - 1).astype(np.int64)
    offsets = np.arange(0, bags * bag_size, bag_size, dtype=np.int64)
    table = Table(rows, dim, chunk, optimizer="sgd")
    ref = torch.nn.EmbeddingBag(rows, dim, mode=mode)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(table.get_rows()))
    out = np.empty((bags, dim), np.float32)
    ids_t, off_t = torch.from_numpy(ids), torch.from_numpy(offsets)
    t_rt = _best_of(lambda: table.lookup(ids, offsets, mode, out=out), repeats)
    with torch.no_grad():
        t_torch = _best_of(lambda: ref(ids_t, off_t), repeats)
        same = np.allclose(out, ref(ids_t, off_t).numpy(), atol=1e-5)
    n = bags * bag_size
    return {"rows": rows, "dim": dim, "lookups": n, "runtime_Mlookups_s": n / t_rt / 1e6,
            "torch_Mlookups_s": n / t_torch / 1e6, "runtime_over_torch_time": t_rt / t_torch, "match": bool(same)}
