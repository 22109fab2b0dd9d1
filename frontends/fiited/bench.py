"""The runtime against nn.EmbeddingBag at full dimension, side by side: pooled-lookup throughput
(skewed and uniform ids; evaluation-mode lookups, and training-mode ones that may create rows),
sparse Adagrad apply and a whole lookup + apply step, and the bytes the index and the row records
cost per live row. Runtime and torch calls alternate and each keeps its best time, so a busy machine
slows both alike."""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from girflow.runtime.fiited import Table

ID_KINDS = ("zipf", "uniform")


def _race(fns: list, repeats: int, setup=None) -> list[float]:
    """Best time of each function over `repeats` interleaved rounds (after one untimed round);
    `setup(i)`, if given, runs untimed before function i each round."""
    best = [float("inf")] * len(fns)
    for r in range(repeats + 1):
        for i, fn in enumerate(fns):
            if setup:
                setup(i)
            t0 = time.perf_counter()
            fn()
            if r:
                best[i] = min(best[i], time.perf_counter() - t0)
    return best


def make_ids(kind: str, rows: int, n: int, seed: int = 0) -> np.ndarray:
    """`zipf`: skewed like real categorical features (Zipf 1.1, clipped); `uniform`: every id
    equally likely, so almost every lookup misses the cache."""
    rng = np.random.default_rng(seed)
    if kind == "zipf":
        return np.minimum(rng.zipf(1.1, n) - 1, rows - 1).astype(np.int64)
    if kind == "uniform":
        return rng.integers(0, rows, n, dtype=np.int64)
    raise ValueError(f"ids must be one of {ID_KINDS}, got {kind!r}")


def _pair(rows: int, dim: int, chunk: int, mode: str, optimizer: str, sparse: bool = False, lr: float = 0.01):
    """A runtime table with every row created and an nn.EmbeddingBag holding the same values."""
    table = Table(rows, dim, chunk, optimizer=optimizer, lr=lr)
    table.touch(np.arange(rows, dtype=np.int64))
    ref = torch.nn.EmbeddingBag(rows, dim, mode=mode, sparse=sparse)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(table.get_rows()))
    return table, ref


def lookup_throughput(rows: int = 1_000_000, dim: int = 32, chunk: int = 8, bags: int = 4096,
                      bag_size: int = 20, mode: str = "sum", repeats: int = 20, seed: int = 0,
                      ids: str = "zipf") -> dict:
    """Pooled lookups per second of the runtime (evaluation mode: read-only; training mode: under the
    write lock, marking rows touched) and of nn.EmbeddingBag (both with their default threads), and
    whether the results match."""
    idx = make_ids(ids, rows, bags * bag_size, seed)
    offsets = np.arange(0, bags * bag_size, bag_size, dtype=np.int64)
    table, ref = _pair(rows, dim, chunk, mode, "sgd")
    out = np.empty((bags, dim), np.float32)
    ids_t, off_t = torch.from_numpy(idx), torch.from_numpy(offsets)
    def train_lookup():
        table.train(True)
        table.lookup(idx, offsets, mode, out=out)
        table.train(False)

    table.train(False)
    with torch.no_grad():
        t_rt, t_train, t_torch = _race([lambda: table.lookup(idx, offsets, mode, out=out), train_lookup,
                                        lambda: ref(ids_t, off_t)], repeats)
        same = np.allclose(table.lookup(idx, offsets, mode), ref(ids_t, off_t).numpy(), atol=1e-5)
    n = bags * bag_size
    return {"rows": rows, "dim": dim, "ids": ids, "mode": mode, "lookups": n, "runtime_Mlookups_s": n / t_rt / 1e6,
            "runtime_train_Mlookups_s": n / t_train / 1e6, "torch_Mlookups_s": n / t_torch / 1e6,
            "runtime_over_torch_time": t_rt / t_torch, "match": bool(same)}


def apply_throughput(rows: int = 1_000_000, dim: int = 32, chunk: int = 8, bags: int = 4096, bag_size: int = 20,
                     mode: str = "sum", repeats: int = 10, seed: int = 0, ids: str = "zipf", lr: float = 0.01) -> dict:
    """Sparse Adagrad: the runtime's apply_gradients against nn.EmbeddingBag(sparse=True) backward +
    torch.optim.Adagrad.step (the gradient scatter and the update, forward untimed), and a whole
    training step (lookup + apply against forward + backward + step). `match`: one step from the
    same values gives the same rows."""
    idx = make_ids(ids, rows, bags * bag_size, seed)
    offsets = np.arange(0, bags * bag_size, bag_size, dtype=np.int64)
    grad = np.random.default_rng(seed + 1).normal(size=(bags, dim)).astype(np.float32)
    table, ref = _pair(rows, dim, chunk, mode, "adagrad", sparse=True, lr=lr)
    opt = torch.optim.Adagrad(ref.parameters(), lr=lr)
    ids_t, off_t, grad_t = torch.from_numpy(idx), torch.from_numpy(offsets), torch.from_numpy(grad)
    pending = {}

    def torch_forward():
        opt.zero_grad(set_to_none=True)
        pending["out"] = ref(ids_t, off_t)

    def torch_apply():
        pending.pop("out").backward(grad_t)
        opt.step()

    def torch_step():
        torch_forward()
        torch_apply()

    out = np.empty((bags, dim), np.float32)
    touched = np.unique(idx)
    table.apply_gradients(idx, offsets, grad, mode)
    torch_step()
    same = np.allclose(table.get_rows(touched), ref.weight.detach().numpy()[touched], rtol=1e-4, atol=1e-5)
    t_rt, t_torch = _race([lambda: table.apply_gradients(idx, offsets, grad, mode), torch_apply], repeats,
                          setup=lambda i: torch_forward() if i == 1 else None)
    s_rt, s_torch = _race([lambda: (table.lookup(idx, offsets, mode, out=out), table.apply_gradients(idx, offsets, grad, mode)),
                           torch_step], repeats)
    n = bags * bag_size
    return {"rows": rows, "dim": dim, "ids": ids, "mode": mode, "lookups": n,
            "runtime_apply_Mids_s": n / t_rt / 1e6, "torch_apply_Mids_s": n / t_torch / 1e6,
            "apply_runtime_over_torch_time": t_rt / t_torch,
            "runtime_step_ms": 1e3 * s_rt, "torch_step_ms": 1e3 * s_torch, "step_runtime_over_torch_time": s_rt / s_torch,
            "match": bool(same)}


def index_bytes(rows: int = 1_000_000, dim: int = 32, chunk: int = 8, prune: float = 0.9) -> dict:
    """Bytes per live row of the index (hash slots), of the row records (id, run, frequency, last
    touch), of the live values, and of all mapped chunk memory (values + Adagrad state + per-chunk
    importance), at full dimension and after pruning a `prune` fraction of the rows (scattered) to
    dimension 0. Rows are created by ids spread over the whole 63-bit space (no pre-sizing)."""
    table = Table(0, dim, chunk, optimizer="adagrad")
    ids = np.random.default_rng(0).choice(2**62, rows, replace=False).astype(np.int64)
    table.touch(ids)
    full = table.counters()
    keep = max(1, int(round(1 / (1 - prune)))) if prune < 1 else rows + 1
    table.resize(ids, np.where(np.arange(rows) % keep == 0, dim, 0).astype(np.int64))
    pruned = table.counters()

    def per_row(c):
        return {k: c[k] / c["live_rows"] for k in ("index_bytes", "row_bytes", "value_bytes", "chunk_bytes", "mapped_bytes")}
    return {"rows": rows, "dim": dim, "prune": prune, "full": per_row(full), "pruned": per_row(pruned)}


def loader_throughput(lines: int = 200_000, repeats: int = 3, gz: bool = False) -> dict:
    """The streaming Criteo loader (`data.load`, nothing cached: parse, checks, columns written to
    disk) against pandas' `read_csv` of the same synthetic file (C parser, no checks, hex left as
    strings), alternating, best of `repeats`."""
    import gzip
    import shutil
    import tempfile

    import pandas as pd

    from .data import generate, load

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/bench.tsv"
        generate(path, lines)
        if gz:
            with open(path, "rb") as f, gzip.open(path + ".gz", "wb", compresslevel=1) as g:
                shutil.copyfileobj(f, g)
            path += ".gz"
        size = os.path.getsize(path)

        def ours():
            load(path, cache=False)

        def pandas():
            pd.read_csv(path, sep="\t", header=None)

        t_ours, t_pandas = _race([ours, pandas], repeats)
    return {"lines": lines, "bytes": size, "loader_s": t_ours, "pandas_s": t_pandas,
            "loader_Mlines_s": lines / t_ours / 1e6, "loader_over_pandas_time": t_ours / t_pandas}


def report(rows: int = 1_000_000, dim: int = 32, chunk: int = 8, bags: int = 4096, bag_size: int = 20,
           loader_lines: int = 0) -> str:
    """Every comparison above as text (the loader's when `loader_lines`)."""
    lines = [f"{rows} rows x {dim}, chunk {chunk}, {bags} bags x {bag_size} ids"]
    for gz in (False, True) if loader_lines else ():
        r = loader_throughput(loader_lines, gz=gz)
        lines.append(f"load {r['lines']} Criteo lines{' (.gz)' if gz else ''}, {r['bytes'] / 2**20:.0f} MiB: loader "
                     f"{r['loader_s']:.2f} s ({r['loader_Mlines_s']:.2f} M lines/s)  pandas read_csv "
                     f"{r['pandas_s']:.2f} s  time ratio {r['loader_over_pandas_time']:.2f}")
    for kind in ID_KINDS:
        for mode in ("sum", "mean"):
            r = lookup_throughput(rows, dim, chunk, bags, bag_size, mode, ids=kind)
            lines.append(f"lookup {kind:7s} {mode:4s}: runtime {r['runtime_Mlookups_s']:7.1f} M/s (training mode "
                         f"{r['runtime_train_Mlookups_s']:6.1f})  torch {r['torch_Mlookups_s']:7.1f} M/s  time ratio "
                         f"{r['runtime_over_torch_time']:.2f}  match {r['match']}")
    for kind in ID_KINDS:
        r = apply_throughput(rows, dim, chunk, bags, bag_size, ids=kind)
        lines.append(f"adagrad {kind:7s}: apply runtime {r['runtime_apply_Mids_s']:6.1f} M ids/s  torch "
                     f"{r['torch_apply_Mids_s']:6.1f} M ids/s  ratio {r['apply_runtime_over_torch_time']:.2f} | step "
                     f"{r['runtime_step_ms']:.2f} ms vs {r['torch_step_ms']:.2f} ms  ratio "
                     f"{r['step_runtime_over_torch_time']:.2f}  match {r['match']}")
    ib = index_bytes(rows, dim, chunk)
    for state in ("full", "pruned"):
        b = ib[state]
        lines.append(f"bytes/row {state:6s}: index {b['index_bytes']:.1f}  row records {b['row_bytes']:.1f}  values {b['value_bytes']:.1f}  "
                     f"values+state+importance {b['chunk_bytes']:.1f}  mapped {b['mapped_bytes']:.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
