"""Stage 5: the guard runs reads exactly like SQLite and refuses everything else, changing nothing."""
import pytest
from mirror_helpers import SQLITE_ATTACKS as ATTACKS
from mirror_helpers import db_fingerprint, sqlite_rows

from girflow.frontends.mirror.errors import MirrorError
from girflow.frontends.mirror.guard import Guard


@pytest.mark.parametrize("sql", ATTACKS)
def test_destructive_sql_is_refused_and_nothing_changes(demo_db, sql):
    before = db_fingerprint(demo_db)
    with pytest.raises(MirrorError):
        Guard(demo_db).run(sql)
    assert db_fingerprint(demo_db) == before


@pytest.mark.parametrize("sql", [
    "SELECT country, COUNT(*) FROM customers GROUP BY country ORDER BY 2 DESC",
    "SELECT name FROM products WHERE price > (SELECT AVG(price) FROM products) ORDER BY name",
    "SELECT c.name, SUM(o.amount) FROM orders o JOIN customers c ON o.customer_id = c.id GROUP BY c.id ORDER BY 2 DESC LIMIT 3;",
    "SELECT 'a;b' AS text_with_semicolon",
])
def test_reads_return_what_sqlite_returns(demo_db, sql):
    assert Guard(demo_db).run(sql).rows == sqlite_rows(demo_db, sql)


def test_row_cap_and_time_limit(demo_db):
    result = Guard(demo_db, row_cap=50).run("SELECT * FROM orders")
    assert len(result.rows) == 50 and result.truncated
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"
    with pytest.raises(MirrorError, match="longer than"):
        Guard(demo_db, time_limit_s=0.3).run(slow)


def test_errors_are_plain(demo_db):
    with pytest.raises(MirrorError, match="no such column"):
        Guard(demo_db).run("SELECT nope FROM orders")
    with pytest.raises(MirrorError, match="empty SQL"):
        Guard(demo_db).run("  ;  ")
    assert Guard(demo_db).explain("SELECT id FROM orders") is None
    assert "no such table" in Guard(demo_db).explain("SELECT id FROM missing_table")
