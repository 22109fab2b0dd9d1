"""An index of the database's short text values, so a question's 'Brazil' or 'AC/DC' finds its column.

Every text column contributes its distinct values up to `PER_COLUMN` of them (each at most `MAX_CHARS`
long); a value is keyed by its words in lower case ('AC/DC' -> 'ac dc'), so spelling, case and
punctuation do not matter. A question is looked up by its quoted strings and by every run of up to
`MAX_WORDS` consecutive words, longest first; a span found is not looked up again inside.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from .names import STOPWORDS, stem, words

PER_COLUMN = 5000
MAX_CHARS = 60
MAX_WORDS = 6
TOTAL_LIMIT = 300_000


def key(text: str) -> str:
    return " ".join(words(text))


@dataclass
class ValueIndex:
    entries: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # key -> (table, column, value)
    distinct: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, table: str, column: str, value: str) -> None:
        k = key(value)
        if not k or k.replace(" ", "").isdigit():
            return  # numbers are compared as numbers (see shape.py), not looked up as names
        spots = self.entries.setdefault(k, [])
        if len(spots) < 16 and all((t, c) != (table, column) for t, c, _ in spots):
            spots.append((table, column, value))

    def find(self, question: str, schema_words: set[str] = frozenset()) -> list[tuple[int, int, list]]:
        """(start, end, places) for each value the question names; spans are word positions. A single
        word that also names a table or column counts as a value only when quoted or capitalised."""
        toks = words(question)
        capitalised = {w.lower() for w in re.findall(r"(?<!^)(?<![.?!] )\b[A-Z][\w]*", question.strip())}
        quoted = [key(q) for q in re.findall(r"'([^']+)'|\"([^\"]+)\"", question) for q in q if q]
        found, used = [], set()
        for n in range(min(MAX_WORDS, len(toks)), 0, -1):
            for i in range(len(toks) - n + 1):
                span = set(range(i, i + n))
                if span & used:
                    continue
                k = " ".join(toks[i:i + n])
                if k not in self.entries:
                    continue
                if n == 1 and k not in quoted and (k in STOPWORDS or len(k) < 2 or (
                        k in schema_words or stem(k) in schema_words) and k not in capitalised):
                    continue
                found.append((i, i + n, self.entries[k]))
                used |= span
        return sorted(found)


def build_index(db_path: str | Path, text_columns: list[tuple[str, str]]) -> tuple[ValueIndex, dict]:
    """Scan each text column's distinct short values (read-only connection)."""
    index = ValueIndex()
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
            index.distinct[(table, column)] = len(rows)
            for (v,) in rows:
                index.add(table, column, v)
            total += len(rows)
    finally:
        con.close()
    return index, index.distinct
