"""Criteo Display Advertising TSV: a loader (hashed ids) and a synthetic generator of the same format.

Format per line: label, 13 integer features, 26 categorical features as 8-digit hex (empty = missing).
The generator draws ids with power-law frequencies, plants a label signal that depends on hidden
per-id vectors of a few feature pairs (so it can only be learnt through embeddings), and halfway
through shifts which ids are popular (drift).
"""
from __future__ import annotations

import os

import numpy as np

from girflow.runtime.cache_dir import cache_dir, file_key

NUM_DENSE, NUM_SPARSE = 13, 26
DEFAULT_TABLE_SIZES = [1_000_000, 500_000, 200_000, 200_000, 200_000] + [100_000] * 6 + [10_000] * 5 + \
    [1_000] * 5 + [100] * 5


def _hex_ids(table: int, ids: np.ndarray) -> np.ndarray:
    """A stable 32-bit code per (table, id), written as hex like Criteo's hashed categories."""
    x = (ids.astype(np.uint64) * np.uint64(0x9E3779B1) + np.uint64(table * 0x85EBCA77 + 1)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x2C1B3C6D)) & np.uint64(0xFFFFFFFF)
    return x ^ (x >> np.uint64(12))


def generate(path: str, samples: int, table_sizes: list[int] | None = None, seed: int = 0,
             zipf_a: float = 1.1, drift_at: float = 0.5, latent_dim: int = 4, progress=None) -> None:
    """Write `samples` synthetic Criteo-format lines to `path`."""
    sizes = table_sizes or DEFAULT_TABLE_SIZES
    if len(sizes) != NUM_SPARSE:
        raise ValueError(f"need {NUM_SPARSE} table sizes, got {len(sizes)}")
    rng = np.random.default_rng(seed)
    latents = [rng.normal(0, 1, (n, latent_dim)).astype(np.float32) for n in sizes]
    ranks_before = [rng.permutation(n) for n in sizes]
    # drift: half of each table's popularity ranking is reshuffled
    ranks_after = []
    for n, r in zip(sizes, ranks_before):
        r2 = r.copy()
        sel = rng.choice(n, n // 2, replace=False)
        r2[sel] = r2[rng.permutation(sel)]
        ranks_after.append(r2)
    pairs = [(0, 1), (2, 3), (4, 5), (6, 11), (11, 16), (16, 21), (1, 6)]
    dense_w = rng.normal(0, 0.3, NUM_DENSE)
    chunk = 100_000
    with open(path, "w") as f:
        for start in range(0, samples, chunk):
            b = min(chunk, samples - start)
            drifted = start + np.arange(b) >= drift_at * samples
            ids = np.empty((b, NUM_SPARSE), np.int64)
            for t, n in enumerate(sizes):
                rank = np.minimum(rng.zipf(zipf_a, b) - 1, n - 1)
                ids[:, t] = np.where(drifted, ranks_after[t][rank], ranks_before[t][rank])
            dense = rng.poisson(3.0, (b, NUM_DENSE)).astype(np.int64)
            logit = (np.log1p(dense) - np.log1p(3.0)) @ dense_w - 1.0
            for i, j in pairs:
                logit += 0.8 * np.sum(latents[i][ids[:, i]] * latents[j][ids[:, j]], axis=1)
            label = (rng.random(b) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
            codes = [_hex_ids(t, ids[:, t]) for t in range(NUM_SPARSE)]
            missing = rng.random((b, NUM_DENSE)) < 0.05
            lines = []
            for r in range(b):
                d = "\t".join("" if missing[r, k] else str(dense[r, k]) for k in range(NUM_DENSE))
                c = "\t".join(f"{codes[t][r]:08x}" for t in range(NUM_SPARSE))
                lines.append(f"{label[r]}\t{d}\t{c}\n")
            f.writelines(lines)
            if progress:
                progress(b)


def _hex_column(col: np.ndarray) -> np.ndarray:
    """Vectorised hex-string -> integer (empty -> 0) for an array of strings up to 8 digits."""
    s = np.char.rjust(col.astype("U8"), 8, "0").astype("S8")
    raw = np.frombuffer(s.tobytes(), np.uint8).reshape(-1, 8).astype(np.int64)
    digit = np.where(raw >= ord("a"), raw - ord("a") + 10, np.where(raw >= ord("A"), raw - ord("A") + 10, raw - ord("0")))
    if ((digit < 0) | (digit > 15)).any():
        raise ValueError("categorical features must be hex strings of at most 8 digits")
    return (digit * (16 ** np.arange(7, -1, -1))).sum(axis=1)


def load(path: str, table_sizes: list[int] | None = None, max_rows: int | None = None, cache: bool = True):
    """Read a Criteo TSV into (dense float32 [N,13] log1p-scaled, sparse int64 [N,26], label float32 [N]).

    Categorical values are hashed into each table's size. The parsed columns are cached in girflow's
    cache folder (`girflow.runtime.cache_dir`), keyed by the file's path, size and modification time,
    so a read-only data folder works and nothing is written beside the user's data.
    """
    import pandas as pd

    sizes = table_sizes or DEFAULT_TABLE_SIZES
    cache_path = cache_dir("fiited") / f"{file_key(path, max_rows or 'all')}.npz"
    if cache and cache_path.exists():
        z = np.load(cache_path)
        raw, dense, label = z["raw"], z["dense"], z["label"]
    else:
        names = ["label"] + [f"I{i}" for i in range(NUM_DENSE)] + [f"C{i}" for i in range(NUM_SPARSE)]
        try:
            df = pd.read_csv(path, sep="\t", header=None, names=names, nrows=max_rows,
                             dtype={**{f"C{i}": str for i in range(NUM_SPARSE)}}, keep_default_na=False,
                             na_values={f"I{i}": [""] for i in range(NUM_DENSE)})
        except (ValueError, pd.errors.ParserError) as e:
            raise ValueError(f"{path} is not Criteo TSV (label, 13 integers, 26 hex categories): {e}") from e
        if df.shape[1] != 1 + NUM_DENSE + NUM_SPARSE or df.isna()["label"].any():
            raise ValueError(f"{path}: expected 40 tab-separated columns with a label on every line")
        label = df["label"].to_numpy(np.float32)
        dense_raw = df[[f"I{i}" for i in range(NUM_DENSE)]].to_numpy(np.float64)
        dense = np.log1p(np.maximum(np.nan_to_num(dense_raw, nan=0.0), 0)).astype(np.float32)
        raw = np.stack([_hex_column(df[f"C{i}"].to_numpy()) for i in range(NUM_SPARSE)], axis=1)
        if cache:
            partial = cache_path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(partial, raw=raw, dense=dense, label=label)
            os.replace(partial, cache_path)   # readers never see a half-written cache
    sparse = raw % np.asarray(sizes, np.int64)[None, :]
    return dense, sparse.astype(np.int64), label
