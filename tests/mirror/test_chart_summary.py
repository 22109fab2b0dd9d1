"""Stages 6-7: chart kind follows the result's shape, files are real PNG/SVG; facts in the summary are right."""
import pytest

from girflow.frontends.mirror.chart import chart_kind, draw_chart
from girflow.frontends.mirror.guard import Guard, Result
from girflow.frontends.mirror.summary import facts


@pytest.mark.parametrize("sql, kind", [
    ("SELECT category, COUNT(*) FROM products GROUP BY category", "bar"),
    ("SELECT strftime('%Y-%m', order_date), SUM(amount) FROM orders GROUP BY 1", "line"),
    ("SELECT quantity, amount FROM orders LIMIT 200", "scatter"),
    ("SELECT price FROM products", "hist"),
    ("SELECT COUNT(*) FROM orders", None),
    ("SELECT name FROM products", None),
])
def test_chart_kind_follows_shape(demo_db, sql, kind):
    assert chart_kind(Guard(demo_db).run(sql)) == kind


def test_chart_files(demo_db, tmp_path):
    result = Guard(demo_db).run("SELECT category, AVG(price) FROM products GROUP BY category")
    png = draw_chart(result, tmp_path / "c.png", "avg price")
    svg = draw_chart(result, tmp_path / "c.svg", "avg price")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in svg.read_bytes()[:500]
    assert draw_chart(Result(["n"], [(1,)], False, 0), tmp_path / "none.png") is None


def test_facts(demo_db):
    g = Guard(demo_db)
    assert facts(g.run("SELECT COUNT(*) FROM products")) == "The answer is 75 (COUNT(*))."
    text = facts(g.run("SELECT category, COUNT(*) FROM products GROUP BY category"))
    assert "5 rows" in text and "Highest COUNT(*): 15" in text
    assert facts(g.run("SELECT * FROM products WHERE price < 0")) == "The query returned no rows."
    small = g.run("SELECT name FROM products ORDER BY price DESC LIMIT 3")
    assert facts(small).endswith("Rows: " + "; ".join(r[0] for r in small.rows) + ".")  # every value stated


def test_a_result_the_facts_state_whole_needs_no_model_sentence():
    from girflow.frontends.mirror.guard import Result
    from girflow.frontends.mirror.summary import summarise

    class NoModel:
        def text(self, prompt, max_tokens=0):
            raise AssertionError("the model was asked for a sentence the facts already state")

    two = Result(["name"], [("Iris Moreau",), ("Jonah Pike",)], False, 0.0)
    assert summarise(NoModel(), "Which patrons never bought a ticket?", two) == \
        "The query returned 2 rows with column name. Rows: Iris Moreau; Jonah Pike."
