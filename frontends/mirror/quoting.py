"""Identifiers in the SQL Mirror writes: quoted whenever they would not read as a name unquoted.

A table called `Order`, `Group`, `Case` or `Transaction` is a keyword to SQLite, so `FROM Order` does not
parse. Rather than keep a keyword list that drifts from the engine, the two parsers that read Mirror's SQL
are asked: SQLite itself (the dialect the pipeline writes) and sqlglot (the guard and the translation to
other engines). A name either of them does not take as a plain identifier is written `"Order"`.
"""
from __future__ import annotations

import functools
import re
import sqlite3
import threading

PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.lru_cache(maxsize=4096)
def needs_quotes(name: str) -> bool:
    """Whether `name` must be quoted to be read as a table or column name."""
    if not PLAIN.fullmatch(name):
        return True
    return not (_sqlite_reads_as_name(name) and _sqlglot_reads_as_name(name))


def ident(name: str) -> str:
    """`name` as it must be written in SQL: bare when it reads as a name, else double-quoted."""
    return '"' + name.replace('"', '""') + '"' if needs_quotes(name) else name


_PROBE = sqlite3.connect(":memory:", check_same_thread=False)  # an empty database, only ever asked to EXPLAIN
_PROBE_LOCK = threading.Lock()


def _sqlite_reads_as_name(name: str) -> bool:
    try:  # as a column, as a table and as a qualifier, the three places Mirror writes names
        with _PROBE_LOCK:
            _PROBE.execute(f'EXPLAIN SELECT {name}, {name}.{name} FROM (SELECT 1 AS "{name}") AS {name} '
                           f"WHERE {name} = 1 GROUP BY {name} ORDER BY {name}")
        return True
    except sqlite3.Error:
        return False


def _sqlglot_reads_as_name(name: str) -> bool:
    import sqlglot
    from sqlglot import exp
    from sqlglot.dialects.sqlite import SQLite
    from sqlglot.tokens import TokenType

    try:
        tokens = SQLite().tokenize(name)
        if len(tokens) == 1 and tokens[0].token_type == TokenType.VAR:
            return True  # a plain word to sqlglot's tokenizer: no need to parse (the common, fast case)
    except Exception:  # sqlglot's TokenError
        return False
    try:
        tree = sqlglot.parse_one(f"SELECT {name}.{name}, {name} FROM {name} JOIN t ON {name}.{name} = t.x "
                                 f"WHERE {name} = 1 ORDER BY {name}", read="sqlite")
    except Exception:  # sqlglot raises ParseError/TokenError, and on odd input sometimes others
        return False
    tables = [t.name for t in tree.find_all(exp.Table)]
    columns = [c.name for c in tree.find_all(exp.Column)]
    return tables.count(name) == 1 and columns.count(name) >= 4
