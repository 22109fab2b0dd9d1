"""The PostgreSQL engine (psycopg 3): schema from the catalog, EXPLAIN to validate, and the guard:

- the SQL must parse (sqlglot, PostgreSQL dialect) as one SELECT, or it never reaches the server;
- every statement runs in a READ ONLY transaction with SET LOCAL statement_timeout, rolled back after;
- rows are read through a server-side cursor, at most row_cap + 1 of them, so a huge result never
  crosses the network;
- connect with a role that may only SELECT (README): the server then refuses writes a fourth time.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from ..errors import MirrorError
from ..guard import Result
from ..schema import Column, ForeignKey, Schema, Table
from .base import Engine, canonical_type, distinct_values_sql, fill_values, plain_rows, sql_ident, text_values_sql, wants_values
from .sqlcheck import parse_select, statement_text

EXACT_COUNT_BELOW = 1_000_000  # larger tables show the planner's estimate (an exact count scans them)
INTROSPECT_TIMEOUT_MS = 3000

TABLES_SQL = """
SELECT n.nspname, c.relname, c.oid, obj_description(c.oid, 'pg_class'), c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
  AND n.nspname = ANY (current_schemas(false)) AND has_table_privilege(c.oid, 'SELECT')
ORDER BY array_position(current_schemas(false), n.nspname), c.oid  -- creation order, as SQLite lists them
"""
COLUMNS_SQL = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), col_description(a.attrelid, a.attnum)
FROM pg_attribute a
WHERE a.attrelid = ANY (%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
KEYS_SQL = """
SELECT con.contype, con.conrelid, con.conkey, con.confrelid, con.confkey
FROM pg_constraint con
WHERE con.contype IN ('p', 'f') AND con.conrelid = ANY (%s)
ORDER BY con.conrelid, con.conname
"""


def redact(url: str) -> str:
    """The URL without its password, for messages and traces."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


class PostgresEngine(Engine):
    name = "PostgreSQL"
    dialect = "postgres"

    def __init__(self, url: str, *, time_limit_s: float = 5.0, row_cap: int = 1000):
        super().__init__(time_limit_s=time_limit_s, row_cap=row_cap)
        self.url = url
        self.location = redact(url)
        self._con = None
        self._qualified: dict[str, str] = {}  # table -> "schema"."table"
        self._lock = threading.Lock()
        self._connect()

    # -- connection ----------------------------------------------------------------------------------
    def _connect(self):
        import psycopg

        try:
            con = psycopg.connect(self.url, autocommit=False, connect_timeout=10, application_name="girflow-mirror")
        except psycopg.Error as e:
            raise MirrorError(f"cannot connect to {self.location}: {_message(e)}") from None
        con.read_only = True  # every transaction starts with BEGIN READ ONLY
        self._con = con
        return con

    def _connection(self):
        if self._con is None or self._con.closed or self._con.broken:
            return self._connect()
        return self._con

    def close(self) -> None:
        if self._con is not None and not self._con.closed:
            self._con.close()

    @contextmanager
    def _guarded(self, timeout_ms: int):
        """A READ ONLY transaction with a statement timeout; always rolled back (nothing to keep)."""
        con = self._connection()
        with con.transaction(force_rollback=True):
            con.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            yield con

    # -- schema --------------------------------------------------------------------------------------
    def introspect(self) -> Schema:
        import psycopg

        with self._lock, self._guarded(INTROSPECT_TIMEOUT_MS * 10) as con:
            try:
                rels = con.execute(TABLES_SQL).fetchall()
                seen, chosen = set(), []
                for nsp, rel, oid, comment, estimate in rels:
                    if rel not in seen:  # the first schema on the search path shadows the others
                        seen.add(rel)
                        chosen.append((nsp, rel, oid, comment or "", estimate))
                oids = [r[2] for r in chosen]
                cols: dict[int, list] = {}
                for oid, name, ctype, comment in con.execute(COLUMNS_SQL, (oids,)).fetchall():
                    cols.setdefault(oid, []).append((name, ctype, comment or ""))
                keys = con.execute(KEYS_SQL, (oids,)).fetchall()
            except psycopg.Error as e:
                raise MirrorError(f"cannot read the catalog of {self.location}: {_message(e)}") from None
        by_oid = {oid: (nsp, rel) for nsp, rel, oid, _, _ in chosen}
        attnames = {oid: [c[0] for c in cs] for oid, cs in cols.items()}
        pks = {rel: {attnames[rel][i - 1] for i in conkey} for kind, rel, conkey, _, _ in keys if kind == "p"}
        fks = []
        for kind, rel, conkey, frel, fkey in keys:
            if kind == "f" and frel in by_oid and len(conkey) == 1:
                fks.append(ForeignKey(by_oid[rel][1], attnames[rel][conkey[0] - 1],
                                      by_oid[frel][1], attnames[frel][fkey[0] - 1]))
        tables = []
        for nsp, rel, oid, comment, estimate in chosen:
            qualified = f"{sql_ident(nsp)}.{sql_ident(rel)}"
            self._qualified[rel] = qualified
            columns = []
            for name, ctype, ccomment in cols.get(oid, []):
                canon = canonical_type(ctype)
                c = Column(name, canon, is_pk=name in pks.get(oid, set()) and canon == "INTEGER")
                if ccomment:
                    c.comment = ccomment
                if wants_values(c):
                    fill_values(c, self._introspect_rows(distinct_values_sql(rel, name, qualified)) or [])
                columns.append(c)
            count = estimate if estimate >= EXACT_COUNT_BELOW else None
            if count is None:
                got = self._introspect_rows(f"SELECT COUNT(*) FROM {qualified}")
                count = got[0] if got else max(estimate, 0)
            t = Table(rel, columns, count)
            if comment:
                t.comment = comment
            tables.append(t)
        if not tables:
            raise MirrorError(f"{self.location} has no tables this role may read on its search path "
                              f"(schemas: see `SHOW search_path`)")
        return Schema(tables, fks)

    def text_values(self, table: str, column: str, limit: int, max_chars: int) -> list[str]:
        t = next((t for t in self.schema.tables if t.name == table), None)
        qualified = self._qualified.get(table, sql_ident(table))
        col = t.column(column) if t is not None else None
        if t is None or col is None or col.type == "BLOB":
            return []
        got = self._introspect_rows(text_values_sql(qualified, column, limit, max_chars))
        if got is None:
            raise MirrorError(f"cannot read the values of {table}.{column}")
        return got

    def _introspect_rows(self, sql: str) -> list | None:
        """First column of a catalog/sample query, or None when it fails or takes too long."""
        import psycopg

        try:
            with self._lock, self._guarded(INTROSPECT_TIMEOUT_MS) as con:
                return [plain_rows([r])[0][0] for r in con.execute(sql).fetchall()]
        except psycopg.Error:
            return None

    # -- guarded statements ----------------------------------------------------------------------------
    def explain(self, sql: str) -> str | None:
        import psycopg

        parse_select(sql, self.dialect)
        text = statement_text(sql)
        try:
            with self._lock, self._guarded(int(self.time_limit_s * 1000)) as con:
                con.execute("EXPLAIN " + text)
            return None
        except psycopg.Error as e:
            return f"PostgreSQL error: {_message(e)}"

    def run(self, sql: str) -> Result:
        import time

        import psycopg

        parse_select(sql, self.dialect)
        text = statement_text(sql)
        start = time.monotonic()
        try:
            with self._lock, self._guarded(int(self.time_limit_s * 1000)) as con:
                with con.cursor(name="mirror_result", scrollable=False, withhold=False) as cur:
                    cur.itersize = min(self.row_cap + 1, 2000)
                    cur.execute(text)
                    if cur.description is None:
                        raise MirrorError("this statement returns no rows; Mirror only runs queries that read data")
                    columns = [d.name for d in cur.description]
                    rows = cur.fetchmany(self.row_cap + 1)
        except psycopg.errors.QueryCanceled:
            raise MirrorError(f"the query ran longer than {self.time_limit_s:g} s and was stopped") from None
        except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege) as e:
            raise MirrorError(f"refused by the server: {_message(e)}") from None
        except psycopg.Error as e:
            raise MirrorError(f"PostgreSQL error: {_message(e)}") from None
        truncated = len(rows) > self.row_cap
        return Result(columns, plain_rows(rows[: self.row_cap]), truncated, time.monotonic() - start)


def _message(e) -> str:
    diag = getattr(e, "diag", None)
    primary = diag.message_primary if diag is not None and diag.message_primary else str(e).strip().splitlines()[0]
    return primary
