"""Stage 1, schema introspection: what tables, columns, keys and values the database holds (via sqlite-utils).

CSV folders are imported into a fresh SQLite file first, with column types detected, so every later stage
only ever sees SQLite.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MirrorError


def _import_sqlite_utils():
    """sqlite-utils without pandas: it imports pandas (a second or more of a one-shot `ask`) only to accept
    pandas values when writing rows, and Mirror writes none (it reads databases and imports CSV text). If
    pandas is already loaded, nothing changes."""
    import sys

    if "sqlite_utils" in sys.modules or "pandas" in sys.modules:
        import sqlite_utils
        return sqlite_utils
    sys.modules["pandas"] = None  # type: ignore[assignment]  # `import pandas` raises ImportError
    try:
        import sqlite_utils
    finally:
        if sys.modules.get("pandas", 0) is None:
            del sys.modules["pandas"]
    return sqlite_utils


sqlite_utils = _import_sqlite_utils()
from sqlite_utils.utils import TypeTracker  # noqa: E402

DISTINCT_VALUE_LIMIT = 200  # text columns with at most this many values get all of them indexed for linking
SAMPLE_VALUES = 3


@dataclass
class Column:
    name: str
    type: str
    is_pk: bool = False
    samples: list = field(default_factory=list)
    values: list = field(default_factory=list)  # all distinct text values when there are few of them
    comment: str = ""  # the database's own description of the column (PostgreSQL COMMENT ON), if any
    in_key: bool = False  # part of the primary key, whatever its type (joins follow it)

    @property
    def is_numeric(self) -> bool:
        """SQLite's type affinity rules (INT, REAL/FLOA/DOUB, NUMERIC/DECIMAL), dates and booleans aside."""
        t = self.type.upper()
        if re.search(r"DATE|TIME|BOOL|CHAR|CLOB|TEXT|BLOB", t):
            return False
        return bool(re.search(r"INT|REAL|FLOA|DOUB|NUM|DEC", t))

    @property
    def numeric_text(self) -> bool:
        """A text column whose values are numbers ("150" in a TEXT column, as exports often store them): a
        measure to compare, rank and aggregate like a numeric column. The SQL names it as it is (no CAST):
        SQLite then compares it as text, which is what queries written for such databases do."""
        if self.is_numeric or self.is_pk or re.search(r"DATE|TIME|BOOL|BLOB", self.type.upper()) or len(self.samples) < 2:
            return False
        return all(isinstance(v, (int, float)) or isinstance(v, str) and _NUMBER.fullmatch(v.strip())
                   for v in self.samples) and any(isinstance(v, str) for v in self.samples)


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass
class ForeignKey:
    table: str
    column: str
    other_table: str
    other_column: str


@dataclass
class Table:
    name: str
    columns: list[Column]
    row_count: int
    comment: str = ""

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class Schema:
    tables: list[Table]
    foreign_keys: list[ForeignKey]
    value_index: object = None  # values.ValueIndex over the data, set by the pipeline
    column_facts: object = None  # column_facts.ColumnFacts: NULLs and yes/no values, read when asked

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def columns_of(self, name: str) -> list[Column]:
        """The columns of a table named by this schema (a linked or joined name, so it exists)."""
        table = self.table(name)
        if table is None:
            raise KeyError(f"no table {name!r} in this schema")
        return table.columns

    def describe(self, names=None, columns: dict | None = None, samples: bool = True) -> str:
        """Compact text for the prompt and for `--print-stages`: one line per table. With `columns`
        (table -> names) only those columns and the keys are listed; `samples=False` drops example values."""
        lines = []
        for t in self.tables:
            if names is not None and t.name not in names:
                continue
            cols = []
            fk_cols = {f.column for f in self.foreign_keys if f.table == t.name}
            for c in t.columns:
                if columns is not None and c.name not in columns.get(t.name, ()) and not c.in_key \
                        and c.name not in fk_cols:
                    continue
                extra = " PK" if c.is_pk else ""
                fk = next((f for f in self.foreign_keys if f.table == t.name and f.column == c.name), None)
                if fk:
                    extra += f" -> {fk.other_table}.{fk.other_column}"
                if c.samples and samples:
                    extra += " e.g. " + ", ".join(_quote_sample(s) for s in c.samples)
                if c.comment:
                    extra += " about: " + _quote_sample(c.comment, 60)
                cols.append(f"{c.name} {c.type}{extra}")
            about = f"; {_quote_sample(t.comment, 80)}" if t.comment else ""
            lines.append(f"{t.name}({'; '.join(cols)})  -- {t.row_count} rows{about}")
        return "\n".join(lines)


def values_query(table_sql: str, column_sql: str) -> str:
    """A column's distinct values, most frequent first (ties by value): the samples shown in the prompt are
    its typical values, and every engine (SQLite, PostgreSQL, DuckDB) picks the same ones."""
    return (f"SELECT {column_sql} FROM {table_sql} WHERE {column_sql} IS NOT NULL GROUP BY {column_sql} "
            f"ORDER BY COUNT(*) DESC, {column_sql} LIMIT {DISTINCT_VALUE_LIMIT + 1}")


def _quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_sample(value, length: int = 24) -> str:
    # Data is untrusted: short, single-line and quoted so it reads as a value, never as an instruction.
    text = re.sub(r"\s+", " ", str(value))[:length]
    return "'" + text.replace("'", "''") + "'"


def introspect(db_path: str | os.PathLike) -> Schema:
    """Read the schema through a read-only connection; refuse empty databases plainly."""
    import sqlite3

    con = sqlite3.connect(f"file:{Path(db_path).resolve()}?mode=ro", uri=True)
    con.text_factory = lambda b: b.decode(errors="replace")  # text that is not UTF-8 is still readable
    try:
        db = sqlite_utils.Database(con)
        tables, fks = [], []
        for tbl in db.tables:
            if tbl.name.startswith("sqlite_"):
                continue
            cols = []
            pks = set(tbl.pks)
            for col in tbl.columns:
                ctype = (col.type or "TEXT").upper() or "TEXT"
                c = Column(col.name, ctype, is_pk=col.name in pks and ctype.startswith("INT"), in_key=col.name in pks)
                if not c.is_numeric and not c.is_pk:
                    q = values_query(_quote_name(tbl.name), _quote_name(col.name))
                    vals = [r[0] for r in con.execute(q)]
                    c.samples = vals[:SAMPLE_VALUES]
                    if len(vals) <= DISTINCT_VALUE_LIMIT:
                        c.values = [v for v in vals if isinstance(v, str)]
                cols.append(c)
            tables.append(Table(tbl.name, cols, tbl.count))
            for fk in tbl.foreign_keys:  # a compound key contributes each of its column pairs
                fks += [ForeignKey(fk.table, col, fk.other_table, other)
                        for col, other in zip(fk.columns, fk.other_columns)]
    except sqlite3.DatabaseError as e:
        raise MirrorError(f"cannot read {db_path} as a SQLite database: {e}") from None
    finally:
        con.close()
    if not tables:
        raise MirrorError(f"the database {db_path} has no tables: nothing to ask questions about")
    return Schema(tables, resolve_foreign_keys(tables, fks))


def resolve_foreign_keys(tables: list[Table], fks: list[ForeignKey]) -> list[ForeignKey]:
    """Foreign keys as SQLite resolves them: names case-insensitively, a missing target column meaning the
    target's primary key; keys naming a table or column that does not exist are dropped (SQLite accepts
    them at CREATE time, and real databases have them)."""
    by_name = {t.name.lower(): t for t in tables}
    out = []
    for f in fks:
        src, dst = by_name.get(str(f.table).lower()), by_name.get(str(f.other_table).lower())
        if src is None or dst is None:
            continue
        col = next((c.name for c in src.columns if c.name.lower() == str(f.column).lower()), None)
        if f.other_column:
            other = next((c.name for c in dst.columns if c.name.lower() == str(f.other_column).lower()), None)
        else:
            pk = [c.name for c in dst.columns if c.is_pk]
            other = pk[0] if len(pk) == 1 else None
        if col and other:
            fk = ForeignKey(src.name, col, dst.name, other)
            if fk not in out:
                out.append(fk)
    return out


def _table_name(csv_path: Path) -> str:
    name = re.sub(r"\W+", "_", csv_path.stem).strip("_").lower() or "data"
    return ("t_" + name) if name[0].isdigit() else name


def import_csv_files(paths: list[Path], db_path: Path) -> Path:
    """Import CSV files into a new SQLite database, one table each, detecting column types."""
    if db_path.exists():
        db_path.unlink()
    db = sqlite_utils.Database(db_path)
    try:
        for p in paths:
            rows = read_csv_rows(p.read_bytes(), p.name)
            tracker = TypeTracker()
            table = db.table(_table_name(p))
            table.insert_all(tracker.wrap(rows))
            table.transform(types=tracker.types)
    except Exception:
        db.close()
        db_path.unlink(missing_ok=True)
        raise
    db.close()
    return db_path


def read_csv_rows(data: bytes, name: str) -> list[dict]:
    """Parse CSV bytes into row dicts, refusing files that are not a proper table."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MirrorError(f"{name}: not UTF-8 text, so not a CSV file Mirror can read") from None
    if "\x00" in text:
        raise MirrorError(f"{name}: contains NUL bytes; this looks like a binary file, not CSV")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        lines = [r for r in reader if r]
    except csv.Error as e:
        raise MirrorError(f"{name}: malformed CSV ({e})") from None
    if not lines:
        raise MirrorError(f"{name}: empty CSV file")
    header = [h.strip() for h in lines[0]]
    if any(not h for h in header) or len(set(header)) != len(header):
        raise MirrorError(f"{name}: the header row needs unique, non-empty column names; got {header}")
    rows = []
    for i, r in enumerate(lines[1:], start=2):
        if len(r) != len(header):
            raise MirrorError(f"{name}: line {i} has {len(r)} fields but the header has {len(header)}")
        rows.append(dict(zip(header, r)))
    if not rows:
        raise MirrorError(f"{name}: the CSV has a header but no data rows")
    return rows


def open_source(source: str | os.PathLike, cache_dir: Path) -> Path:
    """Turn the user's source (SQLite file, CSV file or folder of CSVs) into a SQLite file path."""
    src = Path(source)
    if not src.exists():
        raise MirrorError(f"{source}: no such file or folder")
    if src.is_dir() or src.suffix.lower() == ".csv":
        csvs = sorted(src.glob("*.csv")) if src.is_dir() else [src]
        if not csvs:
            raise MirrorError(f"{source}: the folder holds no .csv files")
        digest = hashlib.sha1()
        for p in csvs:
            digest.update(p.name.encode() + p.read_bytes())
        cache_dir.mkdir(parents=True, exist_ok=True)
        return import_csv_files(csvs, cache_dir / f"csv_{digest.hexdigest()[:16]}.db")
    with open(src, "rb") as f:
        head = f.read(16)
    if head and not head.startswith(b"SQLite format 3"):
        raise MirrorError(f"{source}: not a SQLite database (nor a CSV file or folder)")
    return src
