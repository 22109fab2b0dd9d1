"""Answers a person can read: aliased headers, model sentences that only state numbers of the result, and the
prompt head's KV cache kept on disk for the next process."""
import sqlite3

from girflow.frontends.mirror.aliases import readable_aliases
from girflow.frontends.mirror.guard import Result
from girflow.frontends.mirror.summary import numbers_supported, rows_agree


def test_aggregates_get_readable_aliases(demo_db):
    cases = {
        "SELECT SUM(amount) FROM orders": "SELECT SUM(amount) AS total_amount FROM orders",
        "SELECT country, COUNT(*) FROM customers GROUP BY country ORDER BY COUNT(*) DESC":
            "SELECT country, COUNT(*) AS count FROM customers GROUP BY country ORDER BY COUNT(*) DESC",
        "SELECT strftime('%Y-%m', order_date), ROUND(AVG(amount), 2) FROM orders GROUP BY 1":
            "SELECT strftime('%Y-%m', order_date) AS month, ROUND(AVG(amount), 2) AS average_amount FROM orders GROUP BY 1",
        # a date in another storage (date_encoding.py) is bucketed by the same name
        "SELECT strftime('%Y', substr(CAST(order_date AS TEXT), 1, 4) || '-01-01'), COUNT(*) FROM orders GROUP BY 1":
            "SELECT strftime('%Y', substr(CAST(order_date AS TEXT), 1, 4) || '-01-01') AS year, COUNT(*) AS count "
            "FROM orders GROUP BY 1",
        "SELECT MIN(price), MIN(price) FROM products": "SELECT MIN(price) AS min_price, MIN(price) AS min_price_2 FROM products",
        "SELECT name FROM products WHERE name = 'a, FROM b'": "SELECT name FROM products WHERE name = 'a, FROM b'",
        "SELECT SUM(amount) AS s FROM orders": "SELECT SUM(amount) AS s FROM orders",
    }
    con = sqlite3.connect(demo_db)
    for sql, want in cases.items():
        assert readable_aliases(sql) == want
        assert con.execute(sql).fetchall() == con.execute(want).fetchall()  # same rows, better names
    assert readable_aliases("SELECT MAX(price) FROM products", {"max_price"}) == \
        "SELECT MAX(price) AS max_price_2 FROM products"  # never shadows a real column


def test_model_sentence_must_state_numbers_of_the_result():
    monthly = Result(["month", "total"], [("2024-01", 172.5), ("2024-02", 1891.53)], False, 0.0)
    assert not numbers_supported("The total amount of orders per month in 2024 is 2064.", monthly)
    assert numbers_supported("February had the most, 1,891.53.", monthly)
    assert numbers_supported("February had about 1892 in orders.", monthly)  # rounded for reading
    assert numbers_supported("There are 2 months in the result.", monthly)


def test_model_sentence_must_pair_numbers_with_their_rows():
    freight = Result(["ShipCountry", "average_freight"],
                     [("France", 132.914), ("Germany", 145.2217), ("Poland", 158.39), ("UK", 129.915)], False, 0.0)
    assert not rows_agree("Germany has the highest average freight, with 158.", freight)  # 158 is Poland's
    assert rows_agree("Poland has the highest average freight, with 158.", freight)
    assert rows_agree("Poland leads with 158.39 and the UK trails with 129.92.", freight)
    assert rows_agree("The highest average freight is 158.39.", freight)   # names no row: nothing to pair
    assert rows_agree("There are 4 countries, Germany among them.", freight)  # a row count, not a value


def test_prompt_head_state_is_saved_and_reused(demo_db, tmp_path, monkeypatch):
    from girflow import Mirror
    from girflow.frontends.mirror.models import load_prompt_state

    monkeypatch.setenv("GIRFLOW_CACHE_DIR", str(tmp_path / "cache"))
    m = Mirror(demo_db, out_dir=tmp_path, charts=False, model_summary=False)
    m.warm_up()
    files = list((tmp_path / "cache" / "mirror" / "prompt_state").glob("*.llstate"))
    assert len(files) == 1
    before = m.compile("How many orders were cancelled?")
    engine = m.model.lm._interpreter.engine
    assert load_prompt_state(engine, files[0])  # what a new process does in warm_up
    assert 0 < len(engine._cached_token_ids) < len(m.prefix)
    assert m.compile("How many orders were cancelled?") == before
    files[0].write_bytes(b"not a state file")
    assert not load_prompt_state(engine, files[0]) and engine._cached_token_ids == []
    assert m.compile("How many orders were cancelled?") == before
