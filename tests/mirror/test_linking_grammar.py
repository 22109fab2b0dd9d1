"""Stages 2-3: linking finds the right tables and values; the schema grammar names only real tables/columns."""
import re

import pytest

from girflow.frontends.mirror.errors import MirrorError
from girflow.frontends.mirror.fewshot import EXAMPLES, choose_examples
from girflow.frontends.mirror.grammar import build_grammar, join_plans
from girflow.frontends.mirror.guard import Guard
from girflow.frontends.mirror.linking import link
from girflow.frontends.mirror.schema import introspect


@pytest.fixture(scope="module")
def schema(demo_db):
    return introspect(demo_db)


@pytest.mark.parametrize("question, tables, value", [
    ("How many customers live in Paris?", {"customers"}, ("customers", "city", "Paris")),
    ("Average price of Toys", {"products"}, ("products", "category", "Toys")),
    ("How many orders were cancelled?", {"orders"}, ("orders", "status", "cancelled")),
    ("Total spent by clients from Spain on Electronics", {"customers", "products", "orders"}, ("customers", "country", "Spain")),
])
def test_linking(schema, question, tables, value):
    linked = link(question, schema)
    assert set(linked.tables) == tables
    assert value in linked.values


def test_unrelated_question_is_refused(schema):
    with pytest.raises(MirrorError, match="does not seem to be about this database"):
        link("What is the capital of Mongolia?", schema)


def test_join_plans_are_valid_sqlite(schema, demo_db):
    plans = join_plans(["customers", "products", "orders"], schema)
    assert len(plans) == 6  # 3 tables, 2 two-table joins, 1 three-table join
    for _, from_clause in plans:
        assert Guard(demo_db).explain(f"SELECT COUNT(*) FROM {from_clause}") is None


def test_grammar_branches_only_name_linked_tables(schema):
    linked = link("How many orders were cancelled?", schema)
    grammar = build_grammar(schema, linked)
    assert '"orders"' in grammar and "customers" not in grammar and "products" not in grammar
    assert "\"status = 'cancelled'\"" in grammar  # the linked value comes paired with its column
    assert re.search(r'q0_list: "COUNT\(\*\)"', grammar)  # "how many" -> a count


def test_fewshot_examples_are_similar_and_valid_sql():
    chosen = choose_examples("How many customers are there in each country?", k=3)
    assert any("GROUP BY" in sql for _, sql in chosen)
    import sqlite3

    con = sqlite3.connect(":memory:")
    con.executescript("CREATE TABLE departments(id INTEGER PRIMARY KEY, name TEXT, city TEXT);"
                      "CREATE TABLE employees(id INTEGER PRIMARY KEY, name TEXT, department_id INTEGER, salary REAL, hire_date TEXT);"
                      "CREATE TABLE sales(id INTEGER PRIMARY KEY, employee_id INTEGER, total REAL, sale_date TEXT, region TEXT);")
    for _, sql in EXAMPLES:
        con.execute("EXPLAIN " + sql)
