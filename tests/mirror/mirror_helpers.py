"""Helpers the Mirror tests share: an independent look at the database through plain sqlite3."""
import hashlib
import sqlite3


def db_fingerprint(path) -> str:
    """Hash of every row of every table: proves that nothing in the database changed."""
    con = sqlite3.connect(path)
    h = hashlib.sha256()
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
        h.update(name.encode())
        for row in con.execute(f'SELECT * FROM "{name}" ORDER BY rowid'):
            h.update(repr(row).encode())
    con.close()
    return h.hexdigest()


def sqlite_rows(path, sql):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# Statements the SQLite guard must refuse without changing anything (every engine's tests reuse them).
SQLITE_ATTACKS = [
    "DELETE FROM orders",
    "DROP TABLE customers",
    "UPDATE products SET price = 0",
    "INSERT INTO products VALUES (999, 'x', 'y', 1)",
    "SELECT 1; DROP TABLE orders",
    "SELECT * FROM orders; DELETE FROM orders;",
    "ATTACH DATABASE ':memory:' AS other",
    "PRAGMA writable_schema = 1",
    "CREATE TABLE t (x)",
    "VACUUM",
    "WITH x AS (SELECT 1) DELETE FROM orders",
    "SELECT load_extension('/tmp/evil')",
]


def answered_share(spider, items, tmp_path, **mirror_options) -> float:
    """Asks each Spider item on its database: every question gets an answer whose SQL ran, or a MirrorError
    with a message; any other exception escapes. Returns the share answered."""
    from girflow import Mirror
    from girflow.frontends.mirror.errors import MirrorError

    mirrors, answered = {}, 0
    for item in items:
        db = item["db_id"]
        if db not in mirrors:
            mirrors[db] = Mirror(spider / "database" / f"{db}.sqlite", out_dir=tmp_path, model_summary=False,
                                 charts=False, **mirror_options)
        try:
            answer = mirrors[db].ask(item["question"])
        except MirrorError as e:
            assert str(e), item["question"]
            continue
        assert answer.sql and answer.columns, item["question"]
        answered += 1
    return answered / len(items)
