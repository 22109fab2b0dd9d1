"""Refuse anything but one read-only SELECT before it reaches a server: parsed by sqlglot in the engine's
own dialect, so a comment, a string holding ';' or a data-modifying CTE cannot hide a second statement.

This is the first of the guard's locks, not the only one: the server side (a READ ONLY transaction, a
read-only DuckDB connection, a SELECT-only role) refuses writes even if something slipped through here.
"""
from __future__ import annotations

from ..errors import MirrorError

# Functions that act outside the query (other sessions, files, settings, sequences, remote servers).
SIDE_EFFECT_FUNCTIONS = {
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "set_config",
    "pg_advisory_lock", "pg_advisory_xact_lock", "pg_try_advisory_lock", "pg_notify", "nextval", "setval",
    "lo_import", "lo_export", "lo_unlink", "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file",
    "dblink", "dblink_exec", "dblink_connect", "pg_sleep", "pg_file_write", "query_to_xml",
    "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer",
    "read_csv", "read_csv_auto", "read_parquet", "read_json", "read_json_auto", "read_text", "read_blob",
    "glob", "sqlite_scan", "postgres_scan", "install", "load",
}
REFUSED = "refused: Mirror only runs a single read-only SELECT query"


def parse_select(sql: str, dialect: str):
    """The one SELECT in `sql` as a sqlglot tree; MirrorError for anything else."""
    import sqlglot
    from sqlglot import exp

    text = (sql or "").strip().rstrip(";").strip()
    if not text:
        raise MirrorError("empty SQL: nothing to run")
    try:
        trees = [t for t in sqlglot.parse(text, read=dialect) if t is not None]
    except sqlglot.errors.ParseError as e:
        first = e.errors[0]["description"] if e.errors else str(e).splitlines()[0]
        raise MirrorError(f"the SQL does not parse ({dialect}): {first}") from None
    except sqlglot.errors.SqlglotError as e:
        raise MirrorError(f"the SQL does not parse ({dialect}): {str(e).splitlines()[0]}") from None
    if len(trees) != 1:
        raise MirrorError("only one SQL statement can run at a time; remove everything after the first ';'")
    tree = trees[0]
    if not isinstance(tree, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery, exp.Values)):
        raise MirrorError(f"{REFUSED} (this is a {tree.key.upper()} statement)")
    for node in tree.walk():
        if isinstance(node, (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
                             exp.Command, exp.Copy, exp.Into, exp.Lock, exp.TruncateTable, exp.Set)):
            raise MirrorError(f"{REFUSED} (it contains {node.key.upper()})")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in SIDE_EFFECT_FUNCTIONS:
                raise MirrorError(f"{REFUSED} (the function {name} is not allowed)")
        if isinstance(node, exp.Table) and isinstance(node.this, (exp.Func, exp.Literal)):
            raise MirrorError(f"{REFUSED} (it reads from a file or function, not from the database's tables)")
    return tree

from .base import statement_text  # noqa: E402,F401  (re-exported: the engines import both from here)
