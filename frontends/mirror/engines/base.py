"""What every engine gives the pipeline: its schema, its SQL dialect, a validator and a guarded runner.

The pipeline writes SQLite-dialect SQL (the grammar's); `translate` turns it into the engine's dialect.
SQL a user types is taken in the engine's own dialect and only checked, never rewritten.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid

from ..errors import MirrorError
from ..guard import Result
from ..schema import DISTINCT_VALUE_LIMIT, SAMPLE_VALUES, Column, Schema, values_query


class Engine:
    name = "engine"        # what the user sees: "SQLite", "PostgreSQL", "DuckDB"
    dialect = "sqlite"     # sqlglot's name for the SQL this engine speaks
    location = ""          # the database or files, for messages and cache keys

    def __init__(self, *, time_limit_s: float = 5.0, row_cap: int = 1000):
        self.time_limit_s = time_limit_s
        self.row_cap = row_cap
        self._schema: Schema | None = None

    # -- what each engine implements ---------------------------------------------------------------
    def introspect(self) -> Schema:
        raise NotImplementedError

    def explain(self, sql: str) -> str | None:
        """The engine's verdict on the query: None when it would run, else the error text."""
        raise NotImplementedError

    def run(self, sql: str) -> Result:
        """Run one SELECT (engine dialect) read-only, within the time limit, at most row_cap rows."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def text_values(self, table: str, column: str, limit: int, max_chars: int) -> list[str]:
        """Up to `limit` distinct values of a column as text, each at most `max_chars` long."""
        raise NotImplementedError

    def value_index(self, columns: list[tuple[str, str]]):
        """The index linking reads to find which column holds a value the question names (values.py),
        built from the same distinct values on every engine."""
        from ..values import MAX_CHARS, PER_COLUMN, TOTAL_LIMIT, ValueIndex

        index, total = ValueIndex(), 0
        for table, column in columns:
            if total >= TOTAL_LIMIT:
                break
            try:
                values = self.text_values(table, column, PER_COLUMN, MAX_CHARS)
            except MirrorError:
                continue  # an unreadable column is simply not indexed
            index.set_distinct(table, column, len(values))
            index.add_many(table, column, values)
            total += len(values)
        index.finish()
        return index

    # -- shared --------------------------------------------------------------------------------------
    @property
    def schema(self) -> Schema:
        if self._schema is None:
            self._schema = self.introspect()
        return self._schema

    def translate(self, sqlite_sql: str) -> str:
        """The pipeline's SQLite-dialect SQL in this engine's dialect."""
        from .translate import translate

        return translate(sqlite_sql, self.dialect, self.schema)

    def __repr__(self):
        return f"<{type(self).__name__} {self.location}>"


def statement_text(sql: str) -> str:
    """The SQL as written, without the trailing ';' (what reaches the engine once it has been checked)."""
    return sql.strip().rstrip(";").strip()


def canonical_type(declared: str) -> str:
    """One spelling per kind of column across engines (the prompt and the numeric test see the same)."""
    t = (declared or "").upper().strip()
    if re.search(r"INT", t) and "INTERVAL" not in t and "POINT" not in t:
        return "INTEGER"
    if re.search(r"DOUBLE|FLOAT|REAL", t):
        return "REAL"
    if re.search(r"NUMERIC|DECIMAL|NUMBER", t):
        return "NUMERIC"
    if re.search(r"CHAR|TEXT|CLOB|STRING|VARCHAR|UUID|JSON|ENUM", t) or not t:
        return "TEXT"
    if t.startswith("TIMESTAMP") or t == "DATETIME":
        return "TIMESTAMP"
    if t.startswith("TIME"):
        return "TIME"
    if t in ("DATE", "BOOLEAN", "BOOL", "BLOB", "BYTEA"):
        return {"BOOL": "BOOLEAN", "BYTEA": "BLOB"}.get(t, t)
    return t


def plain_value(v):
    """Driver types as the pipeline and the user expect them: numbers, text, None."""
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2 ** 63 else float(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return str(v)
    if isinstance(v, (memoryview, bytearray)):
        return bytes(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    return v


def plain_rows(rows) -> list[tuple]:
    return [tuple(plain_value(v) for v in r) for r in rows]


def fill_values(column: Column, values: list) -> None:
    """Samples and (when few) every distinct text value of a column, as the SQLite introspection keeps."""
    column.samples = values[:SAMPLE_VALUES]
    if len(values) <= DISTINCT_VALUE_LIMIT:
        column.values = [v for v in values if isinstance(v, str)]


def wants_values(column: Column) -> bool:
    """The columns the SQLite introspection reads values of: neither numbers nor integer keys."""
    return not column.is_numeric and not column.is_pk and column.type != "BLOB"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def text_values_sql(table_sql: str, column: str, limit: int, max_chars: int) -> str:
    c = f"CAST({sql_ident(column)} AS TEXT)"
    return f"SELECT DISTINCT {c} FROM {table_sql} WHERE {c} IS NOT NULL AND length({c}) <= {max_chars} LIMIT {limit}"


def distinct_values_sql(table: str, column: str, qualified_table: str | None = None) -> str:
    return values_query(qualified_table or sql_ident(table), sql_ident(column))
