"""Criteo Display Advertising TSV: a loader (hashed ids) and a synthetic generator of the same format.

Format per line: label, 13 integer features, 26 categorical features as 8-digit hex (empty = missing).
The generator draws ids with power-law frequencies, plants a label signal that depends on hidden
per-id vectors of a few feature pairs (so it can only be learnt through embeddings), and halfway
through shifts which ids are popular (drift).
"""
from __future__ import annotations

import os

import numpy as np

from girflow.runtime.cache_dir import build_lock, cache_dir, file_key

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
    with open(path, "wb") as f:
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
            codes = np.stack([_hex_ids(t, ids[:, t]) for t in range(NUM_SPARSE)], axis=1)
            missing = rng.random((b, NUM_DENSE)) < 0.05
            f.write(_tsv_lines(label, np.where(missing, -1, dense), codes))
            if progress:
                progress(b)


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def _digits(values: np.ndarray) -> np.ndarray:
    """Non-negative ints [N, K] -> their decimal digits as bytes [N, K, W] (W: the widest), left
    positions past a number's length 0; -1 (missing) -> all 0 (an empty field)."""
    width = len(str(max(int(values.max(initial=0)), 0)))
    v = np.maximum(values, 0)[..., None] // (10 ** np.arange(width - 1, -1, -1, dtype=np.int64))
    length = np.maximum(1, np.floor(np.log10(np.maximum(values, 1))).astype(np.int64) + 1)
    keep = (np.arange(width) >= width - length[..., None]) & (values[..., None] >= 0)
    return np.where(keep, (v % 10) + ord("0"), 0).astype(np.uint8)


def _tsv_lines(label: np.ndarray, dense: np.ndarray, codes: np.ndarray) -> bytes:
    """Criteo lines (label, dense ints with -1 = missing, 8-digit hex codes) as bytes: every field
    laid out at its widest in one byte matrix, padding (0 bytes) then dropped, so millions of lines
    format without a Python loop per line."""
    n = len(label)
    tab, newline = np.full((n, 1), ord("\t"), np.uint8), np.full((n, 1), ord("\n"), np.uint8)
    parts = [(label[:, None] + ord("0")).astype(np.uint8)]
    for k in range(dense.shape[1]):
        parts += [tab, _digits(dense[:, k:k + 1])[:, 0]]
    nibbles = (codes[..., None] >> np.arange(28, -1, -4, dtype=np.uint64)) & np.uint64(0xF)   # [N, T, 8]
    for t in range(codes.shape[1]):
        parts += [tab, _HEX[nibbles[:, t].astype(np.intp)]]
    parts.append(newline)
    table = np.concatenate(parts, axis=1).ravel()
    return table[table != 0].tobytes()


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


class _RowWriter:
    """Appends the good rows of each parsed chunk to flat files in the cache folder and keeps the
    first malformed lines (line number, reason) and their count."""

    def __init__(self, folder, max_rows: int | None):
        self.files = {k: open(folder / f"{k}.part", "wb") for k in ("dense", "ids", "label")}
        self.max_rows, self.rows, self.bad_count = max_rows, 0, 0
        self.bad: list[tuple[int, str]] = []

    def full(self) -> bool:
        return self.max_rows is not None and self.rows >= self.max_rows

    def add(self, first_line: int, label, dense, ids, ok, reason_of) -> None:
        """Rows of lines first_line, first_line + 1, ...; reason_of(i): why line i is malformed."""
        for i in np.nonzero(~ok)[0][:max(0, MAX_REPORTED - len(self.bad))]:
            self.bad.append((first_line + int(i), str(reason_of(i))))
        self.bad_count += int((~ok).sum())
        keep = np.nonzero(ok)[0]
        if self.max_rows is not None:
            keep = keep[:self.max_rows - self.rows]
        self.files["dense"].write(np.ascontiguousarray(dense[keep]).tobytes())
        self.files["ids"].write(np.ascontiguousarray(ids[keep]).tobytes())
        self.files["label"].write(np.asarray(label[keep], np.float32).tobytes())
        self.rows += len(keep)

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


def _open_bytes(path: str):
    """(raw file, byte stream): the stream decompresses a gzip file, the raw file's position is how
    far through the file on disk the stream has read (for the progress bar)."""
    import gzip

    raw = open(path, "rb")
    magic = raw.read(2)
    raw.seek(0)
    return raw, (gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw)


BLOCK_BYTES = 1 << 24   # bytes read (after decompression) per block of Criteo text


def _stream_criteo(path: str, out: _RowWriter, chunk_lines: int, bar) -> None:
    """Criteo TSV read in blocks of bytes and parsed natively (`parse_criteo`), at most
    `chunk_lines` lines per call; a line cut by a block's end waits for the next block."""
    from girflow.runtime.fiited import CRITEO_LINE_STATUS, parse_criteo

    raw, stream = _open_bytes(path)
    lineno, rest = 0, b""
    with raw, stream:
        while not out.full():
            block = stream.read(BLOCK_BYTES)
            at_eof = not block
            buf, at = rest + block, 0
            while not out.full():
                label, dense, ids, status, used = parse_criteo(buf, at, chunk_lines, at_eof)
                if not len(status):
                    break
                out.add(lineno + 1, label, dense, ids, status == 0, lambda i: CRITEO_LINE_STATUS[int(status[i])])
                lineno, at = lineno + len(status), at + used
            rest = buf[at:]
            bar.update(min(raw.tell(), bar.total) - bar.n)
            if at_eof:
                break


def _stream_avazu(path: str, out: _RowWriter, chunk_lines: int, bar) -> list[str]:
    """Avazu CSV read as text in chunks of lines; returns the header's columns."""
    from itertools import islice

    with _open_text(path) as f:
        columns = f.readline().rstrip("\r\n").split(",")
        missing = {"click", "hour"} - set(columns)
        if missing:
            raise ValueError(f"{path}: Avazu CSV header lacks {sorted(missing)}")
        raw_file, lineno = getattr(f, "buffer", None), 1
        while not out.full():
            want = chunk_lines if out.max_rows is None else min(chunk_lines, out.max_rows - out.rows + MAX_REPORTED)
            lines = list(islice(f, want))
            if not lines:
                break
            label, dense, ids, ok, reasons = _parse_avazu(lines, columns)
            out.add(lineno + 1, label, dense, ids, ok, lambda i: reasons[i])
            lineno += len(lines)
            pos = raw_file.tell() if raw_file is not None and hasattr(raw_file, "tell") else None
            bar.update((pos if pos is not None and pos <= bar.total else min(bar.total, bar.n + sum(map(len, lines)))) - bar.n)
    return columns


def _stream_parse(path: str, fmt: str, max_rows: int | None, chunk_lines: int, folder, progress: bool) -> dict:
    """Parse `path` chunk by chunk, appending the good rows to flat files in `folder`."""
    from tqdm import tqdm

    out = _RowWriter(folder, max_rows)
    columns: list[str] = []
    try:
        with tqdm(total=os.path.getsize(path), unit="B", unit_scale=True, desc=f"load {os.path.basename(path)}",
                  disable=not progress) as bar:
            if fmt == "criteo":
                _stream_criteo(path, out, chunk_lines, bar)
            else:
                columns = _stream_avazu(path, out, chunk_lines, bar)
    finally:
        out.close()
    width = NUM_SPARSE if fmt == "criteo" else len(columns) - len([c for c in columns if c in AVAZU_SKIP])
    return {"rows": out.rows, "bad": out.bad, "bad_count": out.bad_count,
            "num_dense": NUM_DENSE if fmt == "criteo" else 2, "num_sparse": width, "format": fmt}


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

    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown data format {fmt!r} (one of {FORMATS})")
    key = file_key(path, max_rows or "all", fmt, "v3")
    folder = cache_dir("fiited", key)
    meta_path = folder / "meta.json"
    with build_lock(folder):   # another process loading the same file waits here, then reads its copy
        if not (cache and meta_path.exists()):
            _build_cache(path, fmt, max_rows, chunk_lines, folder, progress)
        meta = json.loads(meta_path.read_text())
        n, f_dense, f_sparse = meta["rows"], meta["num_dense"], meta["num_sparse"]
        dense = np.memmap(folder / "dense.bin", np.float32, "r", shape=(n, f_dense))
        ids = np.memmap(folder / "ids.bin", np.uint32, "r", shape=(n, f_sparse))
        label = np.memmap(folder / "label.bin", np.float32, "r", shape=(n,))
        sparse = _ids(folder, ids, table_sizes, raw_ids, fmt)
    out = Dataset((dense, sparse, label))
    out.bad_lines, out.bad_count = [tuple(b) for b in meta["bad"]], meta["bad_count"]
    return out


def _build_cache(path: str, fmt: str, max_rows: int | None, chunk_lines: int, folder, progress: bool) -> None:
    """Parse `path` into flat files in `folder`; meta.json is written last (a folder without it is
    rebuilt). A failed parse removes the folder (a process that waited on its lock makes it again)."""
    import json
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        if old.name != ".lock":
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
    (folder / "meta.json").write_text(json.dumps(meta))


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
