"""An index of the database's short text values, so a question's 'Brazil' or 'AC/DC' finds its column.

Every text column contributes its distinct values up to `PER_COLUMN` of them (each at most `MAX_CHARS`
long); a value is keyed by its words in lower case ('AC/DC' -> 'ac dc'), so spelling, case and
punctuation do not matter. A question is looked up by its quoted strings and by every run of up to
`MAX_WORDS` consecutive words, longest first; a span found is not looked up again inside. The index is
an SQLite table with an FTS5 trigram index over the keys, persisted in girflow's cache per database file.
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Set as AbstractSet
from pathlib import Path

from .names import STOPWORDS, stem, words

PER_COLUMN = 5000
MAX_CHARS = 60
MAX_WORDS = 6
TOTAL_LIMIT = 300_000


def key(text: str) -> str:
    return " ".join(words(text))


def is_season(value: str) -> bool:
    """'2023-24', '2023/2024': a period over two consecutive years (a season, a fiscal or school year), kept as
    text to match as it is written, never read as the year 2023."""
    m = re.fullmatch(r"((?:19|20)\d\d)[-/](\d\d|\d{4})", value.strip())
    return m is not None and int(m.group(2)) % 100 == (int(m.group(1)) + 1) % 100


class ValueIndex:
    """Distinct short text values in an SQLite table keyed by their words, with an FTS5 trigram index over
    the keys: exact word runs are found by key, and a quoted or capitalised name that is only part of a
    value ('Ford' in 'Ford Motor Company') through the trigram index. Kept in memory, or in a file of
    girflow's cache when built for a database file (see `build_index`)."""

    def __init__(self, path: str | Path | None = None):
        self.con = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self.con.executescript(SCHEMA)
        self.distinct: dict[tuple[str, str], int] = {(t, c): n for t, c, n in
                                                     self.con.execute("SELECT tbl, col, n FROM distinct_counts")}

    def add(self, table: str, column: str, value: str) -> None:
        self.add_many(table, column, [value])

    def add_many(self, table: str, column: str, values: list[str]) -> None:
        rows = [(k, table, column, v) for v in values for k in [key(v)]
                if k and (not k.replace(" ", "").isdigit() or is_season(v))]
        with self.con:  # numbers are compared as numbers (see shape.py), not looked up as names; a season is a name
            self.con.executemany("INSERT OR IGNORE INTO vals(k, tbl, col, value) VALUES (?, ?, ?, ?)", rows)

    def set_distinct(self, table: str, column: str, n: int) -> None:
        self.distinct[(table, column)] = n
        with self.con:
            self.con.execute("INSERT OR REPLACE INTO distinct_counts VALUES (?, ?, ?)", (table, column, n))

    def finish(self) -> None:
        """Fill the trigram index once all values are in (one pass instead of one per insert)."""
        with self.con:
            self.con.execute("INSERT INTO keys_fts(keys_fts) VALUES ('rebuild')")

    @property
    def entries(self) -> dict[str, list[tuple[str, str, str]]]:
        out: dict[str, list] = {}
        for k, t, c, v in self.con.execute("SELECT k, tbl, col, value FROM vals ORDER BY rowid"):
            out.setdefault(k, []).append((t, c, v))
        return out

    def lookup(self, k: str) -> list[tuple[str, str, str]]:
        return self.con.execute("SELECT tbl, col, value FROM vals WHERE k = ? ORDER BY rowid LIMIT ?",
                                (k, PLACES)).fetchall()

    def containing(self, k: str) -> list[tuple[str, str, str]]:
        """Values whose words include `k`'s words in a row ('ford' -> 'ford motor company')."""
        if len(k) < 3:
            return []
        phrase = '"' + k.replace('"', '""') + '"'
        rows = self.con.execute("SELECT vals.k, tbl, col, value FROM keys_fts JOIN vals ON vals.rowid = keys_fts.rowid "
                                "WHERE keys_fts MATCH ? LIMIT 200", (phrase,)).fetchall()
        return [(t, c, v) for vk, t, c, v in rows if f" {k} " in f" {vk} "][:PLACES]

    def find(self, question: str, schema_words: AbstractSet[str] = frozenset()) -> list[tuple[int, int, list]]:
        """(start, end, places) for each value the question names; spans are word positions. A single
        word that also names a table or column counts as a value only when quoted or capitalised; a quoted
        or capitalised name may be part of a longer value."""
        toks = words(question)
        capitalised = {w.lower() for w in re.findall(r"(?<!^)(?<![.?!] )\b[A-Z][\w]*", question.strip())}
        quoted = [key(q) for q in re.findall(r"'([^']+)'|\"([^\"]+)\"", question) for q in q if q]
        found: list[tuple[int, int, list]] = []
        used: set[int] = set()
        for n in range(min(MAX_WORDS, len(toks)), 0, -1):
            for i in range(len(toks) - n + 1):
                span = set(range(i, i + n))
                if span & used:
                    continue
                k = " ".join(toks[i:i + n])
                if n == 1 and k not in quoted and (k in STOPWORDS or len(k) < 2 or (
                        k in schema_words or stem(k) in schema_words) and k not in capitalised):
                    continue
                places = self.lookup(k)
                if not places and (n > 1 or k not in schema_words and stem(k) not in schema_words):
                    places = self.lookup(" ".join(stem(t) for t in toks[i:i + n]))  # "no-shows": 'No-Show'
                if not places and (k in quoted or n > 1 and all(t in capitalised for t in toks[i:i + n])):
                    places = self.containing(k)  # a name quoted, or of capitalised words, inside a longer value
                if places:
                    found.append((i, i + n, places))
                    used |= span
        return sorted(found)


PLACES = 16  # columns a single value may be reported in
SCHEMA = """
CREATE TABLE IF NOT EXISTS vals(k TEXT NOT NULL, tbl TEXT NOT NULL, col TEXT NOT NULL, value TEXT NOT NULL,
                                UNIQUE(k, tbl, col));
CREATE TABLE IF NOT EXISTS distinct_counts(tbl TEXT, col TEXT, n INTEGER, PRIMARY KEY(tbl, col));
CREATE VIRTUAL TABLE IF NOT EXISTS keys_fts USING fts5(k, content='vals', content_rowid='rowid', tokenize='trigram');
"""
INDEX_VERSION = 3  # bump when the stored layout or the key function changes


def build_index(db_path: str | Path, text_columns: list[tuple[str, str]]) -> tuple[ValueIndex, dict]:
    """The value index of a database file, kept in girflow's cache keyed by the file (path, size, mtime)
    and the columns indexed: built once by scanning each text column's distinct short values (read-only),
    then opened from the cache by every later session."""
    import hashlib
    import os

    from girflow.runtime.cache_dir import cache_dir, file_key

    cols = hashlib.sha256(repr(sorted(text_columns)).encode()).hexdigest()[:12]
    path = cache_dir("mirror", "values") / f"{file_key(db_path, INDEX_VERSION, cols)}.sqlite"
    if path.exists():
        try:
            index = ValueIndex(path)
            return index, index.distinct
        except sqlite3.DatabaseError:
            path.unlink(missing_ok=True)  # a damaged cache file is rebuilt
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    index = ValueIndex(tmp)
    scan_columns(index, db_path, text_columns)
    index.con.close()
    os.replace(tmp, path)
    index = ValueIndex(path)
    return index, index.distinct


def scan_columns(index: ValueIndex, db_path: str | Path, text_columns: list[tuple[str, str]]) -> None:
    """Each text column's distinct short values into `index` (read-only connection)."""
    total = 0
    con = sqlite3.connect(f"file:{Path(db_path).resolve()}?mode=ro", uri=True)
    con.text_factory = lambda b: b.decode(errors="replace")
    try:
        for table, column in text_columns:
            if total >= TOTAL_LIMIT:
                break
            qt, qc = '"' + table.replace('"', '""') + '"', '"' + column.replace('"', '""') + '"'
            try:
                rows = con.execute(f"SELECT DISTINCT {qc} FROM {qt} WHERE typeof({qc}) = 'text' "
                                   f"AND length({qc}) <= {MAX_CHARS} LIMIT {PER_COLUMN}").fetchall()
            except sqlite3.DatabaseError:
                continue  # an unreadable column is simply not indexed
            index.set_distinct(table, column, len(rows))
            index.add_many(table, column, [v for (v,) in rows])
            total += len(rows)
    finally:
        con.close()
    index.finish()
