"""Copy a SQLite database to PostgreSQL or to Parquet files, keeping tables, types, keys and rows.

Used by the tests and the engine comparison (the same data on every engine), and by a user who wants
to try Mirror's PostgreSQL or DuckDB path on data they have as SQLite. Column types follow SQLite's
affinity rules, narrowed only when every stored value fits (SQLite lets a column hold anything).
"""
from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from .duckdb_files import KEYS_METADATA


def _affinity(declared: str) -> str:
    t = (declared or "").upper()
    if "INT" in t:
        return "INTEGER"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if any(k in t for k in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    if not t or "BLOB" in t:
        return "BLOB"
    return "NUMERIC"


def column_types(con: sqlite3.Connection, table: str) -> list[tuple[str, str, bool]]:
    """(name, portable type, is primary key) per column: INTEGER/REAL/NUMERIC only when every value is one."""
    out = []
    for _, name, declared, _, _, pk in con.execute(f'PRAGMA table_info("{table}")'):
        kinds = {k for (k,) in con.execute(f'SELECT DISTINCT typeof("{name}") FROM "{table}"')} - {"null"}
        aff = _affinity(declared)
        if aff == "INTEGER" and kinds <= {"integer"}:
            kind = "INTEGER"
        elif aff in ("REAL", "NUMERIC", "INTEGER") and kinds <= {"integer", "real"}:
            kind = "INTEGER" if kinds <= {"integer"} and aff != "REAL" else "REAL"
        else:
            kind = "TEXT"
        out.append((name, kind, bool(pk)))
    return out


def _tables(con) -> list[str]:
    return [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                      "AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]  # creation order


def _keys(con, table: str, types) -> dict:
    pk = [n for n, _, is_pk in sorted(types, key=lambda x: x[2]) if is_pk]
    fks = []
    for row in con.execute(f'PRAGMA foreign_key_list("{table}")'):
        other, col, other_col = row[2], row[3], row[4]
        if other_col is None:  # REFERENCES t without a column: t's primary key
            other_col = next((r[1] for r in con.execute(f'PRAGMA table_info("{other}")') if r[5]), None)
        if other_col:
            fks.append([col, other, other_col])
    return {"primary_key": pk, "foreign_keys": fks}


def _value(v, kind):
    if v is None:
        return None
    if kind == "TEXT" and not isinstance(v, str):
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    return v


def _resolve_names(con, table: str, keys: dict) -> dict:
    """Spell referenced tables and columns as the catalog does (SQLite compares names ignoring case)."""
    tables = {t.lower(): t for t in _tables(con)}
    fixed = []
    for col, other, other_col in keys["foreign_keys"]:
        real = tables.get(other.lower())
        if real is None:
            continue
        cols = {r[1].lower(): r[1] for r in con.execute(f'PRAGMA table_info("{real}")')}
        mine = {r[1].lower(): r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
        if other_col.lower() in cols and col.lower() in mine:
            fixed.append([mine[col.lower()], real, cols[other_col.lower()]])
    return {"primary_key": keys["primary_key"], "foreign_keys": fixed}


PG_TYPES = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text"}


def sqlite_to_postgres(sqlite_path, conninfo: str, schema: str = "public") -> list[str]:
    """Create every table of the SQLite file in `schema` (replacing same-named ones) with its rows, primary
    keys and foreign keys; return the table names."""
    import psycopg

    src = sqlite3.connect(f"file:{Path(sqlite_path).resolve()}?mode=ro", uri=True)
    src.text_factory = lambda b: b.decode("utf-8", "replace")
    q = lambda n: '"' + n.replace('"', '""') + '"'  # noqa: E731
    names = _tables(src)
    with psycopg.connect(conninfo, autocommit=False) as pg:
        pg.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
        for name in names:
            pg.execute(f"DROP TABLE IF EXISTS {q(schema)}.{q(name)} CASCADE")
        all_keys = {}
        for name in names:
            types = column_types(src, name)
            keys = _resolve_names(src, name, _keys(src, name, types))
            all_keys[name] = keys
            cols = ", ".join(f"{q(n)} {PG_TYPES[k]}" for n, k, _ in types)
            pg.execute(f"CREATE TABLE {q(schema)}.{q(name)} ({cols})")
            with pg.cursor().copy(f"COPY {q(schema)}.{q(name)} FROM STDIN") as copy:
                for row in src.execute(f"SELECT * FROM {q(name)}"):
                    copy.write_row([_value(v, k) for v, (_, k, _) in zip(row, types)])
        for name, keys in all_keys.items():  # keys after the rows: only those the data honours
            if keys["primary_key"]:
                try:
                    with pg.transaction():
                        pg.execute(f"ALTER TABLE {q(schema)}.{q(name)} ADD PRIMARY KEY "
                                   f"({', '.join(q(c) for c in keys['primary_key'])})")
                except psycopg.Error:
                    pass
        for name, keys in all_keys.items():
            for col, other, other_col in keys["foreign_keys"]:
                try:
                    with pg.transaction():
                        pg.execute(f"ALTER TABLE {q(schema)}.{q(name)} ADD FOREIGN KEY ({q(col)}) "
                                   f"REFERENCES {q(schema)}.{q(other)} ({q(other_col)}) NOT VALID")  # rows SQLite let dangle stay
                except psycopg.Error:
                    pass
        pg.commit()
    src.close()
    return names


DUCK_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE", "TEXT": "VARCHAR"}


def sqlite_to_parquet(sqlite_path, folder, *, row_group_size: int = 122_880) -> list[Path]:
    """One Parquet file per table, its keys in the file's key-value metadata (`girflow.keys`)."""
    import duckdb

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{Path(sqlite_path).resolve()}?mode=ro", uri=True)
    src.text_factory = lambda b: b.decode("utf-8", "replace")
    q = lambda n: '"' + n.replace('"', '""') + '"'  # noqa: E731
    out = []
    duck = duckdb.connect()
    for position, name in enumerate(_tables(src)):
        types = column_types(src, name)
        keys = _resolve_names(src, name, _keys(src, name, types))
        keys["position"] = position  # the database's table order, kept for whoever reads the folder
        duck.execute(f"CREATE TABLE {q(name)} ({', '.join(f'{q(n)} {DUCK_TYPES[k]}' for n, k, _ in types)})")
        rows = [[_value(v, k) for v, (_, k, _) in zip(row, types)] for row in src.execute(f"SELECT * FROM {q(name)}")]
        if rows:
            duck.executemany(f"INSERT INTO {q(name)} VALUES ({', '.join('?' * len(types))})", rows)
        path = folder / (re.sub(r"[^\w.-]", "_", name) + ".parquet")
        meta = json.dumps(keys).replace("'", "''")
        duck.execute(f"COPY {q(name)} TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet, "
                     f"ROW_GROUP_SIZE {row_group_size}, KV_METADATA {{'{KEYS_METADATA}': '{meta}'}})")
        out.append(path)
    duck.close()
    src.close()
    return out
