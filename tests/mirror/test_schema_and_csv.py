"""Stage 1: introspection agrees with SQLite's own catalogue; CSV import detects types; bad input is refused."""
import sqlite3

import pytest
from mirror_helpers import sqlite_rows

from girflow.frontends.mirror.errors import MirrorError
from girflow.frontends.mirror.schema import introspect, open_source


def test_introspection_matches_sqlite_catalogue(demo_db):
    schema = introspect(demo_db)
    names = {r[0] for r in sqlite_rows(demo_db, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {t.name for t in schema.tables} == names
    for t in schema.tables:
        assert t.row_count == sqlite_rows(demo_db, f"SELECT COUNT(*) FROM {t.name}")[0][0]
        pragma = sqlite_rows(demo_db, f"PRAGMA table_info({t.name})")
        assert [c.name for c in t.columns] == [r[1] for r in pragma]
    fks = {(f.table, f.column, f.other_table) for f in schema.foreign_keys}
    assert ("orders", "customer_id", "customers") in fks and ("orders", "product_id", "products") in fks
    city = schema.table("customers").column("city")
    assert set(city.values) == {r[0] for r in sqlite_rows(demo_db, "SELECT DISTINCT city FROM customers")}


def test_csv_folder_import_detects_types(tmp_path):
    folder = tmp_path / "csvs"
    folder.mkdir()
    (folder / "Sales 2024.csv").write_text("region,units,price,day\nNorth,3,2.5,2024-01-02\nSouth,10,1.25,2024-01-03\n")
    db = open_source(folder, tmp_path / "out")
    schema = introspect(db)
    t = schema.table("sales_2024")
    assert {c.name: c.type for c in t.columns} == {"region": "TEXT", "units": "INTEGER", "price": "REAL", "day": "TEXT"}
    assert sqlite_rows(db, "SELECT SUM(units), SUM(price) FROM sales_2024") == [(13, 3.75)]


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,2,3\n", "line 2 has 3 fields"),
    ("a,a\n1,2\n", "unique"),
    ("", "empty"),
    ("a,b\n", "no data rows"),
    ("\x00\x01binary", "binary"),
])
def test_malformed_csv_is_refused_plainly(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(MirrorError, match=message):
        open_source(f, tmp_path / "out")


def test_empty_database_and_non_database_are_refused(tmp_path):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(MirrorError, match="no tables"):
        introspect(empty)
    junk = tmp_path / "junk.db"
    junk.write_text("hello, not a database")
    with pytest.raises(MirrorError, match="not a SQLite database"):
        open_source(junk, tmp_path)
    with pytest.raises(MirrorError, match="no such file"):
        open_source(tmp_path / "missing.db", tmp_path)
