"""Clauses coordinated on one entity become set operations, checked against SQLite without a model: "or" across
two join paths -> UNION (one WHERE with OR when both clauses use the same tables), "but never/not" -> EXCEPT,
"how many ... both/but not" -> COUNT(*) over the combination."""
import pytest
from test_returns_columns import allowed, permits  # noqa: F401  (the fixture's database)

from girflow.frontends.mirror.coordination import combined, either_where, split_coordinated
from girflow.frontends.mirror.spider_eval import same_rows


@pytest.mark.parametrize("question, operator, first, second, count", [
    ("Which jobs have a case or an order?", "UNION", "Which jobs have a case?", "Which jobs have an order?", False),
    ("List the names of the contractors who are insured or have a job with a budget above 10000.", "UNION",
     "List the names of the contractors who are insured.",
     "List the names of the contractors who have a job with a budget above 10000.", False),
    ("Which contractors had a case but never had an order?", "EXCEPT", "Which contractors had a case?",
     "Which contractors had an order?", False),
    ("How many jobs have both a case and an order?", "INTERSECT", "Which jobs have a case?",
     "Which jobs have an order?", True),
    ("How many contractors are in Leeds but not in York?", "EXCEPT", "Which contractors are in Leeds?",
     "Which contractors are in York?", True),
])
def test_coordinated_clauses_are_split(permits, question, operator, first, second, count):  # noqa: F811
    schema, _ = permits
    split = split_coordinated(question, schema)
    assert split is not None, question
    assert (split.operator, split.first, split.second, split.count) == (operator, first, second, count)


@pytest.mark.parametrize("question", [
    "Which contractors are in Leeds or York?",  # two values of one column: one condition
    "Which jobs had a budget of 5000 or 800?",
    "How many jobs except closed ones?",  # a filter on one table, not a difference of two sets
    "How many contractors have never had a case?",  # one negated clause: NOT IN
    "What is the total budget of all jobs?",
])
def test_other_questions_are_not_split(permits, question):  # noqa: F811
    schema, _ = permits
    assert split_coordinated(question, schema) is None


@pytest.mark.parametrize("question, gold", [
    ("Which jobs have a case or an order?",
     'SELECT headline FROM job WHERE job_id IN (SELECT job_id FROM "Case") OR job_id IN (SELECT job_id FROM "Order")'),
    ("Which jobs have a case but not an order?",
     'SELECT headline FROM job WHERE job_id IN (SELECT job_id FROM "Case") AND job_id NOT IN (SELECT job_id FROM "Order")'),
    ("How many jobs have both a case and an order?",
     'SELECT COUNT(*) FROM job WHERE job_id IN (SELECT job_id FROM "Case") AND job_id IN (SELECT job_id FROM "Order")'),
    ("Which contractors are insured or are in York?",
     "SELECT business FROM contractor WHERE is_insured = 1 OR city = 'York'"),
    ("How many contractors are insured or are in York?",  # one table: one WHERE with OR, still counted
     "SELECT COUNT(*) FROM contractor WHERE is_insured = 1 OR city = 'York'"),
])
def test_the_combined_halves_give_the_gold_rows(permits, question, gold):  # noqa: F811
    """The halves' queries (the first the grammar allows for each), combined as the pipeline combines them."""
    schema, con = permits
    split = split_coordinated(question, schema)
    sql = combined(split, allowed(split.first, schema)[0], allowed(split.second, schema)[0])
    cur = con.execute(sql)
    assert same_rows(len(cur.description), cur.fetchall(), con.execute(gold).fetchall(), False), sql


def test_either_where_only_merges_queries_that_differ_in_their_where():
    merged = either_where("SELECT a FROM t WHERE x = 1", "SELECT a FROM t WHERE y = 'b'")
    assert merged == "SELECT a FROM t WHERE (x = 1) OR (y = 'b')"
    assert either_where("SELECT a FROM t WHERE x = 1", "SELECT b FROM t WHERE y = 2") is None
    assert either_where("SELECT a FROM t", "SELECT a FROM t WHERE y = 2") is None
