"""The question's shape is read in Python and fixed in the grammar; the prompt keeps a static head for the
KV cache. (No model calls.)"""
import pytest

from girflow.frontends.mirror.grammar import build_grammar
from girflow.frontends.mirror.linking import link
from girflow.frontends.mirror.prompt import prompt_prefix, prompt_tail
from girflow.frontends.mirror.schema import introspect
from girflow.frontends.mirror.shape import read_shape


@pytest.fixture(scope="module")
def schema(demo_db):
    return introspect(demo_db)


@pytest.mark.parametrize("question, expected", [
    ("Show the 3 cheapest products.", {"direction": " ASC", "limit": "3"}),
    ("Which 5 customers spent the most?", {"direction": " DESC", "limit": "5"}),
    ("Which country has the most customers?", {"direction": " DESC", "limit": "1"}),
    ("What is the highest product price?", {"direction": " DESC", "extreme": "MAX"}),
    ("Which products cost less than 10?", {"comparisons": {"10": " < "}}),
    ("How many orders have a quantity of 5?", {"comparisons": {"5": " = "}}),
    ("Which products cost more than the average product price?", {"subquery_agg": "AVG", "subquery_op": " > "}),
    ("How many products are cheaper than the cheapest Electronics product?", {"subquery_agg": "MIN", "subquery_op": " < "}),
    ("Which customers have never placed an order?", {"membership": " NOT IN ("}),
])
def test_read_shape(question, expected):
    shape = vars(read_shape(question))
    assert {k: v for k, v in shape.items() if v and k not in ("head", "aggregates", "superlative", "rank_words")} == expected


def test_grammar_fixes_direction_limit_and_operator(schema):
    g = build_grammar(schema, link("Show the 3 cheapest products.", schema))
    assert '" ORDER BY " "price" " ASC" " LIMIT 3"' in g and '"3"' not in g.split("number:")[1].split("\n")[0]
    g = build_grammar(schema, link("Which products cost more than 100?", schema))
    assert '" > 100"' in g


def test_grammar_templates_for_nested_questions(schema):
    g = build_grammar(schema, link("Which customers have never placed an order?", schema))
    assert '"id NOT IN (SELECT customer_id FROM orders WHERE customer_id IS NOT NULL)"' in g
    g = build_grammar(schema, link("How many orders have an amount above the average order amount?", schema))
    assert '"amount > (SELECT AVG(amount) FROM orders)"' in g
    g = build_grammar(schema, link("How many customers placed an order that was returned?", schema))
    assert "\"id IN (SELECT customer_id FROM orders WHERE status = 'returned')\"" in g


def test_group_ranking_by_entity_groups_by_its_key(schema):
    g = build_grammar(schema, link("Which 5 customers spent the most?", schema))
    assert '"customers.name"' in g and '" GROUP BY " "customers.id"' in g and '" DESC" " LIMIT 5"' in g


def test_prompt_head_is_static_and_the_tail_is_short(schema):
    head = prompt_prefix(schema)
    assert head == prompt_prefix(schema) and "orders(" in head and "Question:" in head
    tail = prompt_tail("How many customers live in Paris?", link("How many customers live in Paris?", schema), schema)
    assert tail.endswith("Question: How many customers live in Paris?\nSQL: ") and len(tail) < 200


def _wide_schema(tmp_path, tables: int, columns: int):
    """A schema of `tables` tables in a chain of keys, each with `columns` columns and a few rows."""
    import sqlite3

    path = tmp_path / f"wide{tables}.sqlite"
    con = sqlite3.connect(path)
    for i in range(tables):
        cols = ", ".join(f"attribute_{j}_of_t{i} TEXT" for j in range(columns))
        ref = f", t{i - 1}_id INTEGER REFERENCES table_{i - 1}(id)" if i else ""
        con.execute(f"CREATE TABLE table_{i} (id INTEGER PRIMARY KEY, {cols}{ref})")
        con.executemany(f"INSERT INTO table_{i} (id, attribute_0_of_t{i}) VALUES (?, ?)", [(1, "a"), (2, "b")])
    con.commit()
    con.close()
    return introspect(path)


def test_a_25_table_schema_sits_in_the_static_head(tmp_path):
    """A question pays only for its own tokens: the whole 25-table schema is in the cached head (the tail
    held the linked tables, ~2x the median latency on 18-25 tables), and the prompt fits the context."""
    from girflow.frontends.mirror.prompt import STATIC_SCHEMA_CHARS

    schema = _wide_schema(tmp_path, 25, 6)
    head = prompt_prefix(schema)
    assert all(f"table_{i}(" in head for i in range(25))
    question = "How many table_7 rows have attribute_0_of_t7 'a'?"
    tail = prompt_tail(question, link(question, schema), schema)
    assert "Tables:" not in tail and len(tail) < 300
    huge = _wide_schema(tmp_path, 60, 12)  # too large for the head: the linked tables go into the tail
    assert len(huge.describe(samples=False)) > STATIC_SCHEMA_CHARS
    head = prompt_prefix(huge)
    tail = prompt_tail(question, link(question, huge), huge)
    assert "table_59(" not in head and "Tables:" in tail
    assert len(head) + len(tail) < 8192 * 2  # at ~2+ characters a token this fits SmolLM2's 8k context
