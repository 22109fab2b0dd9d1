"""What a question gets back, checked against SQLite without a model: every identifier that needs quoting is
quoted (tables called `Case`, `Order`, `Group`), an entity is shown by its label column (found from the schema
and the data, not only from a column called `name`), a measure kept in many rows is totalled per entity, and a
"never" question reaches a table two keys away."""
import random
import sqlite3

import pytest

from girflow.frontends.mirror.engines import open_engine
from girflow.frontends.mirror.labels import label_columns
from girflow.frontends.mirror.pipeline import allowed_queries, linkable_schema
from girflow.frontends.mirror.quoting import ident, needs_quotes
from girflow.frontends.mirror.spider_eval import same_rows

SCHEMA = """
CREATE TABLE contractor (contractor_id INTEGER PRIMARY KEY, licence_no TEXT, is_insured INTEGER, business TEXT,
                         city TEXT);
CREATE TABLE job (job_id INTEGER PRIMARY KEY, headline TEXT, contractor_id INTEGER REFERENCES contractor(contractor_id),
                  budget REAL, status TEXT);
CREATE TABLE timesheet (ts_id INTEGER PRIMARY KEY, job_id INTEGER REFERENCES job(job_id), hours REAL, worked_on TEXT);
CREATE TABLE "Case" (case_id INTEGER PRIMARY KEY, job_id INTEGER REFERENCES job(job_id), opened TEXT, severity TEXT);
CREATE TABLE "Order" (order_id INTEGER PRIMARY KEY, job_id INTEGER REFERENCES job(job_id), "Group" TEXT, amount REAL);
CREATE TABLE product (product_id INTEGER PRIMARY KEY, is_discontinued BOOLEAN, title TEXT, price REAL);
CREATE TABLE inspector (inspector_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, badge TEXT);
CREATE TABLE inspection (inspection_id INTEGER PRIMARY KEY, job_id INTEGER REFERENCES job(job_id),
                         inspector_id INTEGER REFERENCES inspector(inspector_id), minutes REAL);
"""
CONTRACTORS = [("L-101", 1, "Acme Roofing", "Leeds"), ("L-102", 0, "Bright Electric", "York"),
               ("L-103", 1, "Castle Plumbing", "Hull"), ("L-104", 0, "Delta Paving", "Leeds")]
JOBS = [("Roof repair on Elm St", 1, 5000, "open"), ("Rewire school hall", 2, 12000, "closed"),
        ("Boiler swap", 3, 3000, "open"), ("Car park resurfacing", 4, 22000, "open"), ("Gutter cleaning", 1, 800, "closed")]


@pytest.fixture(scope="module")
def permits(tmp_path_factory):
    path = tmp_path_factory.mktemp("permits") / "permits.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    con.executemany("INSERT INTO contractor VALUES (?,?,?,?,?)", [(i, *c) for i, c in enumerate(CONTRACTORS, 1)])
    con.executemany("INSERT INTO job VALUES (?,?,?,?,?)", [(i, *j) for i, j in enumerate(JOBS, 1)])
    rng = random.Random(3)
    con.executemany("INSERT INTO timesheet VALUES (?,?,?,?)",
                    [(k, rng.randint(1, 5), rng.choice([2, 4, 8]), f"2024-0{rng.randint(1, 9)}-10") for k in range(1, 30)])
    con.executemany('INSERT INTO "Case" VALUES (?,?,?,?)', [(1, 1, "2024-03-01", "high"), (2, 4, "2024-03-02", "low"),
                                                          (3, 5, "2024-03-05", "low")])
    con.executemany('INSERT INTO "Order" VALUES (?,?,?,?)', [(1, 1, "roofing", 120.0), (2, 2, "electrical", 80.5),
                                                           (3, 2, "electrical", 33.0)])
    con.executemany("INSERT INTO product VALUES (?,?,?,?)", [(1, 0, "Hammer", 12.5), (2, 1, "Drill", 89.0),
                                                             (3, 0, "Saw", 25.0)])
    con.executemany("INSERT INTO inspector VALUES (?,?,?,?)", [(1, "Maya", "Osei", "B7"), (2, "Liam", "Osei", "B9"),
                                                               (3, "Maya", "Kowalski", "C2")])
    con.executemany("INSERT INTO inspection VALUES (?,?,?,?)", [(1, 1, 1, 30), (2, 2, 1, 45), (3, 3, 2, 120),
                                                               (4, 4, 3, 20), (5, 5, 3, 25), (6, 1, 3, 15)])
    con.commit()
    engine = open_engine(path, tmp_path_factory.mktemp("cache"))
    schema = linkable_schema(engine)
    return schema, con


def allowed(question, schema):
    return allowed_queries(schema, question, limit=13)


def test_reserved_words_are_quoted_and_plain_names_are_not():
    for word in ("Order", "Group", "Case", "Transaction", "Select", "Check", "Table", "Index", "where"):
        assert needs_quotes(word) and ident(word) == f'"{word}"'
    for word in ("name", "date", "year", "status", "count", "type", "customer_id", "Year"):
        assert not needs_quotes(word) and ident(word) == word
    assert ident('odd "name"') == '"odd ""name"""'


@pytest.mark.parametrize("question", [
    "How many cases are there?",
    "List the severity of all cases.",
    "How many orders are there?",
    "What is the total amount of all orders?",
    "How many cases does each job have?",
    "Which jobs have never had a case?",
    "What is the total amount of the orders of the job Rewire school hall?",
])
def test_questions_on_reserved_word_tables_give_sql_that_runs(permits, question):
    """Every query the grammar allows parses and runs in SQLite (before: `FROM Case` failed)."""
    schema, con = permits
    queries = allowed(question, schema)
    assert queries, question
    for sql in queries:
        con.execute(sql).fetchall()


def test_label_is_found_from_the_data(permits):
    """Not a code (`licence_no`), a flag or a key: the text column whose values name each row."""
    schema, _ = permits
    assert [c.name for c in label_columns(schema, "contractor")] == ["business"]
    assert [c.name for c in label_columns(schema, "job")] == ["headline"]
    assert [c.name for c in label_columns(schema, "Case")] == ["severity"]  # the only text: shown when nothing else


@pytest.mark.parametrize("question, gold", [
    ("List the contractors whose city is Leeds.", "SELECT business FROM contractor WHERE city = 'Leeds'"),
    ("Which contractors are insured?", "SELECT business FROM contractor WHERE is_insured = 1"),
    ("Which job has had the most hours?",
     "SELECT j.headline FROM job j JOIN timesheet t ON t.job_id = j.job_id GROUP BY j.job_id "
     "ORDER BY SUM(t.hours) DESC LIMIT 1"),
    ("Which 2 jobs have the fewest hours?",
     "SELECT j.headline FROM job j JOIN timesheet t ON t.job_id = j.job_id GROUP BY j.job_id "
     "ORDER BY SUM(t.hours) ASC LIMIT 2"),
    ("Who spent the most minutes on inspections?",
     "SELECT i.first_name, i.last_name FROM inspector i JOIN inspection n ON n.inspector_id = i.inspector_id "
     "GROUP BY i.inspector_id ORDER BY SUM(n.minutes) DESC LIMIT 1"),
    ("Who did the most inspections?",
     "SELECT i.first_name, i.last_name FROM inspector i JOIN inspection n ON n.inspector_id = i.inspector_id "
     "GROUP BY i.inspector_id ORDER BY COUNT(*) DESC LIMIT 1"),
    ("Which are the two jobs with the most minutes of inspection?",
     "SELECT j.headline FROM job j JOIN inspection n ON n.job_id = j.job_id GROUP BY j.job_id "
     "ORDER BY SUM(n.minutes) DESC LIMIT 2"),
    ("For each inspector, give their name and the number of inspections.",
     "SELECT i.first_name, i.last_name, COUNT(*) FROM inspector i JOIN inspection n ON n.inspector_id = i.inspector_id "
     "GROUP BY i.inspector_id"),
    ("List the names of all inspectors.", "SELECT first_name, last_name FROM inspector"),
    ("What is the first name of the inspector with badge B9?", "SELECT first_name FROM inspector WHERE badge = 'B9'"),
    ("In which month of 2024 were the most hours worked?",
     "SELECT strftime('%m', worked_on) FROM timesheet WHERE worked_on LIKE '2024-%' GROUP BY 1 "
     "ORDER BY SUM(hours) DESC LIMIT 1"),
    ("When was the latest case opened?", 'SELECT MAX(opened) FROM "Case"'),
    ("Find the contractor with the most jobs. List both the id and the name.",
     "SELECT c.contractor_id, c.business FROM contractor c JOIN job j ON j.contractor_id = c.contractor_id "
     "GROUP BY c.contractor_id ORDER BY COUNT(*) DESC LIMIT 1"),
    ("Which product is the most expensive?", "SELECT title FROM product ORDER BY price DESC LIMIT 1"),
    ("Which jobs are not closed?", "SELECT headline FROM job WHERE status <> 'closed'"),
    ("How many contractors are not in Leeds?", "SELECT COUNT(*) FROM contractor WHERE city <> 'Leeds'"),
    ("Which contractors have never had a case?",
     'SELECT business FROM contractor WHERE contractor_id NOT IN (SELECT j.contractor_id FROM job j JOIN "Case" c '
     "ON c.job_id = j.job_id)"),
])
def test_the_entity_asked_for_is_returned_by_its_label(permits, question, gold):
    schema, con = permits
    want = con.execute(gold).fetchall()
    queries = allowed(question, schema)
    assert queries, question
    cur = con.execute(queries[0])  # the first query allowed: the one the question's words fix
    rows = cur.fetchall()
    assert len(cur.description) >= len(want[0]), (question, queries[0])  # no column missing
    assert same_rows(len(cur.description), rows, want, "ORDER BY" in gold), (question, queries[0])
