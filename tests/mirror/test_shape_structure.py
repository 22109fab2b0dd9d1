"""The shape of the query (grammar.py): negated questions ("teams with no player over 30") become NOT IN
subqueries whose restriction is the part of the question said after the negation, while what is said
before it restricts the rows asked for; checked against SQLite itself, no model: the queries the grammar
allows for each question must all return the gold rows."""
import sqlite3

import pytest
import spider_folder

from girflow.frontends.mirror.engines import open_engine
from girflow.frontends.mirror.linking import link
from girflow.frontends.mirror.pipeline import allowed_queries, linkable_schema
from girflow.frontends.mirror.shape import negation_start
from girflow.frontends.mirror.spider_eval import same_rows

SCHEMA = """
CREATE TABLE team (team_id INTEGER PRIMARY KEY, team_name TEXT, country TEXT);
CREATE TABLE player (player_id INTEGER PRIMARY KEY, full_name TEXT, age INTEGER,
                     team_id INTEGER REFERENCES team(team_id));
CREATE TABLE customer (customer_id INTEGER PRIMARY KEY, customer_name TEXT, city TEXT);
CREATE TABLE product (product_id INTEGER PRIMARY KEY, title TEXT, price REAL);
CREATE TABLE purchase (purchase_id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer(customer_id),
                       product_id INTEGER REFERENCES product(product_id), quantity INTEGER);
CREATE TABLE staff (staff_id INTEGER PRIMARY KEY, staff_name TEXT, manager_id INTEGER REFERENCES staff(staff_id));
CREATE TABLE depot (depot_id INTEGER PRIMARY KEY, depot_city TEXT);
CREATE TABLE pet (pet_id INTEGER PRIMARY KEY, pet_name TEXT, species TEXT, weight REAL, adopted_year INTEGER,
                  customer_id INTEGER REFERENCES customer(customer_id));
"""

TEAMS = [("Lions", "Spain"), ("Hawks", "Spain"), ("Otters", "Italy"), ("Wolves", "Italy"), ("Foxes", "Spain")]
PLAYERS = [("Ana Ruiz", 24, 1), ("Ben Cole", 33, 1), ("Carla Dias", 29, 2), ("Dan Poe", 22, 2), ("Eva Lind", 35, 3),
           ("Femi Ade", 27, 4), ("Gus Moro", 31, 4), ("Hal Tan", 26, 4)]  # the Foxes have no player at all
CUSTOMERS = [("Ada", "Leeds"), ("Bo", "York"), ("Cy", "Leeds"), ("Di", "Hull"), ("Ed", "Leeds"), ("Flo", "York")]
PRODUCTS = [("Kettle", 30.0), ("Lamp", 45.0), ("Mug", 8.0), ("Rug", 120.0), ("Vase", 60.0)]
PURCHASES = [(1, 1, 2), (1, 3, 1), (2, 2, 1), (3, 3, 4), (4, 4, 1), (2, 3, 2), (5, 1, 1), (4, 2, 3)]
# Di and Flo never buy; the Vase is never bought; Leeds customers (Ada, Cy, Ed) never buy the Lamp or the Rug
DEPOTS = ["Leeds ", "York ", "Hull ", "Leeds "]  # stored with a trailing space, as exported data often is
STAFF = [("Ann", None), ("Bob", 1), ("Cat", 1), ("Dan", None), ("Eve", 4)]
PETS = [("Rex", "dog", 30.0, 2021, 1), ("Fido", "dog", 12.0, 2022, 2), ("Max", "dog", 25.0, 2022, 3),
        ("Tom", "cat", 4.0, 2021, 1), ("Kit", "cat", 5.5, 2022, 4), ("Bun", "rabbit", 2.0, 2023, 5),
        ("Ace", "dog", 40.0, 2023, 6), ("Mog", "cat", 6.0, 2023, 2)]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("shape") / "shape.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    spider_folder.insert_numbered(con, "team", TEAMS)
    spider_folder.insert_numbered(con, "player", PLAYERS)
    spider_folder.insert_numbered(con, "customer", CUSTOMERS)
    spider_folder.insert_numbered(con, "product", PRODUCTS)
    spider_folder.insert_numbered(con, "purchase", PURCHASES)
    spider_folder.insert_numbered(con, "pet", PETS)
    spider_folder.insert_numbered(con, "staff", STAFF)
    spider_folder.insert_numbered(con, "depot", DEPOTS)
    con.commit()
    engine = open_engine(path, tmp_path_factory.mktemp("shape_cache"))
    linkable_schema(engine)
    return engine.schema, con


NEGATED = [
    ("Which teams have no player over 30?",
     "SELECT team_name FROM team WHERE team_id NOT IN (SELECT team_id FROM player WHERE age > 30)"),
    ("Which teams have no players older than 30?",
     "SELECT team_name FROM team WHERE team_id NOT IN (SELECT team_id FROM player WHERE age > 30)"),
    ("Which Spanish teams have no players?", None),  # no value "Spanish": not asserted, see below
    ("Which teams from Spain have no player over 30?",
     "SELECT team_name FROM team WHERE country = 'Spain' AND team_id NOT IN (SELECT team_id FROM player WHERE age > 30)"),
    ("Which customers never made a purchase?",
     "SELECT customer_name FROM customer WHERE customer_id NOT IN (SELECT customer_id FROM purchase)"),
    ("Which customers from Leeds have never made a purchase?",
     "SELECT customer_name FROM customer WHERE city = 'Leeds' AND customer_id NOT IN (SELECT customer_id FROM purchase)"),
    ("Which products were never purchased by a customer from Leeds?",
     "SELECT title FROM product WHERE product_id NOT IN (SELECT p.product_id FROM purchase p "
     "JOIN customer c ON c.customer_id = p.customer_id WHERE c.city = 'Leeds')"),
    ("List the products not in any purchase.",
     "SELECT title FROM product WHERE product_id NOT IN (SELECT product_id FROM purchase)"),
    ("Show customers without purchases.",
     "SELECT customer_name FROM customer WHERE customer_id NOT IN (SELECT customer_id FROM purchase)"),
    ("Which customers have zero purchases?",
     "SELECT customer_name FROM customer WHERE customer_id NOT IN (SELECT customer_id FROM purchase)"),
    ("How many teams have no player over 30?",
     "SELECT COUNT(*) FROM team WHERE team_id NOT IN (SELECT team_id FROM player WHERE age > 30)"),
]


@pytest.mark.parametrize("question,gold", [q for q in NEGATED if q[1]])
def test_negation_restricts_the_rows_said_after_it(db, question, gold):
    schema, con = db
    want = con.execute(gold).fetchall()
    queries = allowed_queries(schema, question, limit=13)
    assert queries
    for q in queries:
        assert same_rows(len(con.execute(q).description), con.execute(q).fetchall(), want, False), (q, want)


def test_what_is_said_before_the_negation_stays_outside(db):
    schema, _ = db
    for q in allowed_queries(schema, "Which customers from Leeds have never made a purchase?", limit=13):
        outer, _, inner = q.partition("NOT IN")
        assert "Leeds" in outer and "Leeds" not in inner, q


def test_negation_start():
    assert negation_start("which teams have no player over 30") == len("which teams have ")
    assert negation_start("customers who haven't bought anything") == len("customers who ")
    assert negation_start("customers who did not buy") == len("customers who ")
    assert negation_start("which teams won the cup") == -1
    assert negation_start("the london team") == -1  # "don" inside a word is no negation
    assert negation_start("products not in any order") == len("products ")
    assert negation_start("customers with zero orders") == len("customers with ")
    assert negation_start("products that are not cheap") == len("products that ")  # "are not": conditions.py


NESTED = [  # (question, gold, text every allowed query's subquery must hold)
    ("Which dogs are heavier than the average dog?",
     "SELECT pet_name FROM pet WHERE species = 'dog' AND weight > (SELECT AVG(weight) FROM pet WHERE species = 'dog')",
     "species = 'dog'"),
    ("Which cats weigh more than the average cat?",
     "SELECT pet_name FROM pet WHERE species = 'cat' AND weight > (SELECT AVG(weight) FROM pet WHERE species = 'cat')",
     "species = 'cat'"),
    ("Which pets weigh more than the average for pets adopted in 2022?",
     "SELECT pet_name FROM pet WHERE weight > (SELECT AVG(weight) FROM pet WHERE adopted_year = 2022)",
     "2022"),
    ("Which customers from Leeds made a purchase with a quantity above the average quantity of Leeds purchases?",
     "SELECT c.customer_name FROM purchase p JOIN customer c ON c.customer_id = p.customer_id WHERE c.city = 'Leeds' "
     "AND p.quantity > (SELECT AVG(p2.quantity) FROM purchase p2 JOIN customer c2 ON c2.customer_id = p2.customer_id "
     "WHERE c2.city = 'Leeds')", "Leeds"),
]


@pytest.mark.parametrize("question,gold,inside", NESTED)
def test_a_nested_average_keeps_the_restriction_said_again(db, question, gold, inside):
    schema, con = db
    want = con.execute(gold).fetchall()
    queries = allowed_queries(schema, question, limit=13)
    assert any(same_rows(len(con.execute(q).description), con.execute(q).fetchall(), want, False)
               for q in queries), queries
    for q in queries:
        assert inside in q[q.index("(SELECT"):], q


def test_a_restriction_said_only_after_than_stays_inside(db):
    schema, _ = db
    for q in allowed_queries(schema, "Which pets weigh more than the average for pets adopted in 2022?", limit=13):
        assert "2022" not in q[:q.index("(SELECT")], q


def test_the_plain_average_is_over_every_row(db):
    schema, con = db
    want = con.execute("SELECT pet_name FROM pet WHERE weight > (SELECT AVG(weight) FROM pet)").fetchall()
    for q in allowed_queries(schema, "Which pets weigh more than the average pet?", limit=13):
        assert "WHERE" not in q[q.index("(SELECT"):], q
        assert same_rows(len(con.execute(q).description), con.execute(q).fetchall(), want, False), q


def test_a_value_said_twice_is_one_condition(db):
    schema, _ = db
    question = "Which Leeds customers made a purchase with a quantity above the average quantity of Leeds customers?"
    queries = allowed_queries(schema, question, limit=13)
    assert queries
    for q in queries:
        outer = q[:q.index("(SELECT")]
        assert outer.count("'Leeds'") == 1 and "'Leeds'" in q[q.index("(SELECT"):], q


COUNTED = [  # counting entities through a join counts each once; counting the many side counts its rows
    ("How many customers from Leeds made a purchase?",
     "SELECT COUNT(DISTINCT c.customer_id) FROM customer c JOIN purchase p ON p.customer_id = c.customer_id "
     "WHERE c.city = 'Leeds'"),
    ("How many purchases were made by customers from Leeds?",
     "SELECT COUNT(*) FROM purchase p JOIN customer c ON p.customer_id = c.customer_id WHERE c.city = 'Leeds'"),
    ("How many customers are there?", "SELECT COUNT(*) FROM customer"),
]


@pytest.mark.parametrize("question,gold", COUNTED)
def test_counting_through_a_join_counts_each_entity_once(db, question, gold):
    schema, con = db
    want = con.execute(gold).fetchall()
    queries = allowed_queries(schema, question, limit=13)
    assert queries
    for q in queries:
        assert con.execute(q).fetchall() == want, q


@pytest.mark.parametrize("question,gold", [
    ("Which staff do not have a manager?", "SELECT staff_name FROM staff WHERE manager_id IS NULL"),
    ("Which staff members don't have a manager?", "SELECT staff_name FROM staff WHERE manager_id IS NULL"),
    ("How many staff have a manager?", "SELECT COUNT(*) FROM staff WHERE manager_id IS NOT NULL"),
])
def test_a_negated_have_reaches_the_role_key(db, question, gold):
    """"do not have a manager": the negated verb is no clause boundary; the self-referencing key is NULL."""
    schema, con = db
    want = con.execute(gold).fetchall()
    queries = allowed_queries(schema, question, limit=13)
    assert queries
    for q in queries:
        assert same_rows(len(con.execute(q).description), con.execute(q).fetchall(), want, False), q


def test_values_stored_with_spaces_are_placed_where_the_question_says_them(db):
    """"in Leeds or York": one OR condition, though the stored values are 'Leeds ' and 'York '."""
    schema, con = db
    queries = allowed_queries(schema, "How many depots are in Leeds or York?", limit=13)
    assert queries
    for q in queries:
        assert con.execute(q).fetchall() == [(3,)], q


def test_the_summary_reads_no_prompt_tail_the_model_never_read(db, tmp_path, monkeypatch):
    """A question whose grammar allows one query calls no model for its SQL; its summary sentence then
    continues the cached head and the question, not the linked tables a large schema puts in the tail."""
    from girflow import Mirror
    from girflow.frontends.mirror import prompt as prompt_module

    class Recorder:
        def __init__(self):
            self.prompts = []

        def sql(self, prompt, grammar):
            raise AssertionError("no decoding was needed")

        def text(self, prompt, max_tokens=0):
            self.prompts.append(prompt)
            return "Here are the players."

    schema, con = db
    monkeypatch.setattr(prompt_module, "STATIC_SCHEMA_CHARS", 10)  # a large schema: tables go in the tail
    path = con.execute("PRAGMA database_list").fetchone()[2]
    model = Recorder()
    m = Mirror(path, model=model, out_dir=tmp_path, charts=False)
    answer = m.ask("List the full names of the players.")
    assert len(answer.rows) == len(PLAYERS) and len(model.prompts) == 1
    question = "List the full names of the players."
    tables = prompt_module.prompt_tail(question, link(question, m.schema), m.schema).split("Question:")[0].strip()
    assert tables and tables not in model.prompts[0]
    assert "List the full names of the players." in model.prompts[0]


def test_which_x_through_a_join_lists_each_x_once(db):
    """"which customers from Leeds made a purchase": Ada bought twice but is one customer."""
    schema, con = db
    want = con.execute("SELECT customer_name FROM customer WHERE city = 'Leeds' AND customer_id IN "
                       "(SELECT customer_id FROM purchase)").fetchall()
    queries = allowed_queries(schema, "Which customers from Leeds made a purchase?", limit=13)
    assert queries
    for q in queries:
        assert same_rows(len(con.execute(q).description), con.execute(q).fetchall(), want, False), q
