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
            for row in range(b):
                d = "\t".join("" if missing[row, k] else str(dense[row, k]) for k in range(NUM_DENSE))
                c = "\t".join(f"{codes[t][row]:08x}" for t in range(NUM_SPARSE))
                lines.append(f"{label[row]}\t{d}\t{c}\n")
            f.writelines(lines)
            if progress:
                progress(b)


class Dataset(tuple):
    """(dense float32 [N, F], sparse int64 [N, T], label float32 [N]) that unpacks like a tuple, plus
    what the loader saw: `bad_lines` (the first malformed line numbers with the reason) and
    `bad_count`. The arrays are memory-mapped from girflow's cache folder, so a data set larger
    than memory is paged in as training reads it."""

    bad_lines: list
    bad_count: int


FORMATS = ("criteo", "avazu")
AVAZU_SKIP = ("id", "click", "hour")     # Avazu columns that are not categorical features
MAX_REPORTED = 20


def detect_format(path: str) -> str:
    """'avazu' for a CSV whose header has a `click` column, else 'criteo' (TSV, no header)."""
    with _open_text(path) as f:
        first = f.readline()
    return "avazu" if "," in first and "click" in first.split(",") else "criteo"


def _open_text(path: str):
    import gzip

    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, "r", encoding="utf-8", errors="replace", newline="")


def _hex_value(text: str) -> int:
    """A category as Criteo writes it: at most 8 hex digits (empty: 0); -1 for anything else."""
    if not text:
        return 0
    if len(text) > 8 or not (text.isascii() and text.isalnum()) or text[1:2] in ("x", "X"):
        return -1
    try:
        return int(text, 16)
    except ValueError:
        return -1


_hex_each = np.frompyfunc(_hex_value, 1, 1)


def _hex_values(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hex strings of at most 8 digits (empty -> 0) -> (uint32 values, ok mask). One int() per
    string: about 4x faster than splitting the strings into digit arrays in NumPy."""
    value = _hex_each(col).astype(np.int64) if col.size else np.zeros(0, np.int64)
    return (value & 0xFFFFFFFF).astype(np.uint32), value >= 0


def _string_ids(col: np.ndarray) -> np.ndarray:
    """A stable 32-bit id per string value (Avazu's categories are strings, not hashes)."""
    import pandas as pd

    return (pd.util.hash_array(col.astype(object), categorize=True) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _split_fields(lines: list[str], sep: str, width: int):
    """The lines with exactly `width` fields, parsed by pandas' C parser as strings -> (ok mask,
    object table [good lines, width])."""
    import io

    import pandas as pd

    arr = np.array(lines, dtype=str)
    width_ok = np.char.count(arr, sep) == width - 1
    good = "".join(l if l.endswith("\n") else l + "\n" for l in np.asarray(lines, dtype=object)[width_ok])
    if not good:
        return width_ok, np.empty((0, width), dtype=object)
    df = pd.read_csv(io.StringIO(good), sep=sep, header=None, dtype=str, keep_default_na=False, quoting=3,
                     engine="c", names=list(range(width)))
    return width_ok, df.to_numpy(dtype=object)


def _parse_criteo(lines: list[str]):
    """One chunk of Criteo lines -> (label, dense, raw ids, ok mask, reason per line)."""
    import pandas as pd

    n, width = len(lines), 1 + NUM_DENSE + NUM_SPARSE
    width_ok, table = _split_fields(lines, "\t", width)
    m = len(table)
    label_s = table[:, 0].astype(str)
    label_ok = (label_s == "0") | (label_s == "1")
    dense_s = table[:, 1:1 + NUM_DENSE]
    dense_v = pd.DataFrame(dense_s).apply(pd.to_numeric, errors="coerce").to_numpy(np.float64) if m else np.zeros((0, NUM_DENSE))
    dense_ok = ~(np.isnan(dense_v) & (dense_s != "")).any(axis=1)
    ids, hex_ok = _hex_values(table[:, 1 + NUM_DENSE:].ravel())
    row_hex_ok = hex_ok.reshape(m, NUM_SPARSE).all(axis=1)
    ok_good = label_ok & dense_ok & row_hex_ok
    why_good = np.where(~label_ok, "label is not 0 or 1",
                        np.where(~dense_ok, "an integer feature is not a number", "a category is not hex of at most 8 digits"))
    ok = np.zeros(n, bool)
    ok[width_ok] = ok_good
    reasons = np.full(n, f"expected {width} tab-separated fields", dtype=object)
    reasons[width_ok] = why_good
    at = np.cumsum(width_ok) - 1                                   # line -> row of the parsed table
    rows = np.where(width_ok, at, 0)
    dense = np.log1p(np.maximum(np.nan_to_num(dense_v, nan=0.0), 0)).astype(np.float32)
    ids = ids.reshape(m, NUM_SPARSE)
    label = label_s == "1"
    if m == 0:
        return np.zeros(n, bool), np.zeros((n, NUM_DENSE), np.float32), np.zeros((n, NUM_SPARSE), np.uint32), ok, reasons
    return label[rows], dense[rows], ids[rows], ok, reasons


def _parse_avazu(lines: list[str], columns: list[str]):
    """One chunk of Avazu CSV lines -> (label, dense [hour of day, weekday] scaled to [0, 1], raw
    32-bit ids of the categorical columns, ok mask, reasons)."""
    n, width = len(lines), len(columns)
    width_ok, parsed = _split_fields(lines, ",", width)
    table = np.full((n, width), "", dtype=object)
    table[width_ok] = parsed
    label_s = table[:, columns.index("click")].astype(str)
    label_ok = (label_s == "0") | (label_s == "1")
    hour = table[:, columns.index("hour")].astype(str)                 # YYMMDDHH
    hour_ok = (np.char.str_len(hour) == 8) & np.char.isdigit(hour)
    safe = np.where(hour_ok, hour, "14102100")
    import pandas as pd

    stamp = pd.to_datetime(pd.Series(safe), format="%y%m%d%H", errors="coerce")
    hour_ok &= ~stamp.isna().to_numpy()
    dense = np.stack([stamp.dt.hour.fillna(0).to_numpy() / 23.0, stamp.dt.day_of_week.fillna(0).to_numpy() / 6.0],
                     axis=1).astype(np.float32)
    feats = [i for i, c in enumerate(columns) if c not in AVAZU_SKIP]
    ids = np.stack([_string_ids(table[:, i]) ^ np.uint32(i * 0x9E3779B1 & 0xFFFFFFFF) for i in feats], axis=1)
    ok = width_ok & label_ok & hour_ok
    reasons = np.where(~width_ok, f"expected {width} comma-separated fields",
                       np.where(~label_ok, "click is not 0 or 1", "hour is not YYMMDDHH"))
    return label_s == "1", dense, ids, ok, reasons


def _stream_parse(path: str, fmt: str, max_rows: int | None, chunk_lines: int, folder, progress: bool) -> dict:
    """Parse `path` chunk by chunk, appending the good rows to flat files in `folder`."""
    from itertools import islice

    from tqdm import tqdm

    size = os.path.getsize(path)
    bad: list[tuple[int, str]] = []  # (line number, reason) of the first malformed lines
    bad_count, rows, lineno = 0, 0, 0
    files = {k: open(folder / f"{k}.part", "wb") for k in ("dense", "ids", "label")}
    with _open_text(path) as f, tqdm(total=size, unit="B", unit_scale=True, desc=f"load {os.path.basename(path)}",
                                     disable=not progress) as bar:
        columns: list[str] = []  # Avazu's header
        if fmt == "avazu":
            columns = f.readline().rstrip("\r\n").split(",")
            lineno = 1
            missing = {"click", "hour"} - set(columns)
            if missing:
                raise ValueError(f"{path}: Avazu CSV header lacks {sorted(missing)}")
        raw_file = getattr(f, "buffer", None)
        while max_rows is None or rows < max_rows:
            want = chunk_lines if max_rows is None else min(chunk_lines, max_rows - rows + MAX_REPORTED)
            lines = list(islice(f, want))
            if not lines:
                break
            label, dense, ids, ok, reasons = _parse_criteo(lines) if fmt == "criteo" else _parse_avazu(lines, columns)
            for i in np.nonzero(~ok)[0]:
                if len(bad) < MAX_REPORTED:
                    bad.append((lineno + int(i) + 1, str(reasons[i])))
            bad_count += int((~ok).sum())
            keep = np.nonzero(ok)[0]
            if max_rows is not None:
                keep = keep[:max_rows - rows]
            files["dense"].write(np.ascontiguousarray(dense[keep]).tobytes())
            files["ids"].write(np.ascontiguousarray(ids[keep]).tobytes())
            files["label"].write(label[keep].astype(np.float32).tobytes())
            rows += len(keep)
            lineno += len(lines)
            pos = raw_file.tell() if raw_file is not None and hasattr(raw_file, "tell") else None
            bar.update((pos if pos is not None and pos <= size else min(size, bar.n + sum(map(len, lines)))) - bar.n)
    for fh in files.values():
        fh.close()
    width = {"criteo": NUM_SPARSE, "avazu": len(columns or []) - len([c for c in (columns or []) if c in AVAZU_SKIP])}[fmt]
    return {"rows": rows, "bad": bad, "bad_count": bad_count, "num_dense": NUM_DENSE if fmt == "criteo" else 2,
            "num_sparse": width, "format": fmt}


def load(path: str, table_sizes: list[int] | None = None, max_rows: int | None = None, cache: bool = True,
         raw_ids: bool = False, fmt: str = "auto", progress: bool = False, chunk_lines: int = 200_000) -> Dataset:
    """Read Criteo TSV (label, 13 integers, 26 hex categories; no header) or Avazu CSV (header with
    `click` and `hour`), plain or .gz, streamed in chunks of `chunk_lines` lines (with a progress bar
    over the file's bytes when `progress`). Malformed lines are skipped and reported (`bad_lines`:
    line numbers and reasons); a file with no good line is an error.

    Categories keep their raw 32-bit hashes (Criteo's hex, Avazu's strings hashed) as ids with
    `raw_ids` (for tables keyed by raw ids), or are reduced modulo `table_sizes`. Parsed columns live
    in girflow's cache folder (`girflow.runtime.cache_dir`), keyed by the file's path, size and
    modification time, and come back memory-mapped; nothing is written beside the user's data.
    """
    import json
    import shutil

    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown data format {fmt!r} (one of {FORMATS})")
    key = file_key(path, max_rows or "all", fmt, "v2")
    folder = cache_dir("fiited", key)
    meta_path = folder / "meta.json"
    if not (cache and meta_path.exists()):
        for old in folder.glob("*"):
            old.unlink()
        try:
            meta = _stream_parse(path, fmt, max_rows, chunk_lines, folder, progress)
        except UnicodeDecodeError as e:
            shutil.rmtree(folder, ignore_errors=True)
            raise ValueError(f"{path} is not a text file: {e}") from e
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if meta["rows"] == 0:
            shutil.rmtree(folder, ignore_errors=True)
            where = "; ".join(f"line {n}: {why}" for n, why in meta["bad"][:3])
            raise ValueError(f"{path} has no valid {fmt} line ({where or 'empty file'})")
        for k in ("dense", "ids", "label"):
            os.replace(folder / f"{k}.part", folder / f"{k}.bin")
        meta_path.write_text(json.dumps(meta))   # written last: a cache without it is rebuilt
    meta = json.loads(meta_path.read_text())
    n, f_dense, f_sparse = meta["rows"], meta["num_dense"], meta["num_sparse"]
    dense = np.memmap(folder / "dense.bin", np.float32, "r", shape=(n, f_dense))
    ids = np.memmap(folder / "ids.bin", np.uint32, "r", shape=(n, f_sparse))
    label = np.memmap(folder / "label.bin", np.float32, "r", shape=(n,))
    sparse = _ids(folder, ids, table_sizes, raw_ids, fmt)
    out = Dataset((dense, sparse, label))
    out.bad_lines, out.bad_count = [tuple(b) for b in meta["bad"]], meta["bad_count"]
    return out


def default_table_sizes(fmt: str, num_sparse: int) -> list[int]:
    return DEFAULT_TABLE_SIZES if fmt == "criteo" else [100_000] * num_sparse


def _ids(folder, ids: np.ndarray, table_sizes, raw_ids: bool, fmt: str) -> np.ndarray:
    """The int64 ids training reads, derived from the raw hashes chunk by chunk into the cache
    folder: the hashes themselves, or the hashes modulo the table sizes."""
    n, width = ids.shape
    if raw_ids:
        name = "sparse_raw.bin"
        sizes = None
    else:
        sizes = np.asarray(table_sizes or default_table_sizes(fmt, width), np.int64)
        if len(sizes) != width:
            raise ValueError(f"this {fmt} data has {width} categorical features, got {len(sizes)} table sizes")
        name = "sparse_" + "_".join(map(str, sizes))[:64] + f"_{hash(tuple(sizes)) & 0xFFFFFF:x}.bin"
    path = folder / name
    if not path.exists():
        part = folder / (name + ".part")
        out = np.memmap(part, np.int64, "w+", shape=(max(n, 1), width))
        for i in range(0, n, 1 << 20):
            block = ids[i:i + (1 << 20)].astype(np.int64)
            out[i:i + len(block)] = block if sizes is None else block % sizes[None, :]
        out.flush()
        del out
        os.replace(part, path)
    return np.memmap(path, np.int64, "r", shape=(n, width))
