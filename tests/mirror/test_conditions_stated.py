"""Conditions a question states in words (conditions.py, column_facts.py): yes/no columns in any encoding,
columns NULL where something was not given or has not happened yet, two columns of a row compared, amounts
written with currency signs and thousands separators; and no join the question does not ask for. Checked
against SQLite itself, no model: the grammar built for the question must allow the gold query's rows, and
(where the question fixes the whole query) only them."""
import sqlite3

import pytest

from girflow.frontends.mirror.candidates import enumerate_language
from girflow.frontends.mirror.conditions import flag_pair, plain_numbers, stated_conditions
from girflow.frontends.mirror.engines import open_engine
from girflow.frontends.mirror.linking import link
from girflow.frontends.mirror.pipeline import allowed_queries, linkable_schema
from girflow.frontends.mirror.spider_eval import same_rows

SCHEMA = """
CREATE TABLE region (region_id INTEGER PRIMARY KEY, region_name TEXT);
CREATE TABLE RecordType (Id TEXT PRIMARY KEY, Name TEXT);
CREATE TABLE shipment (shipment_id INTEGER PRIMARY KEY, origin_port TEXT, destination_port TEXT, weight REAL);
CREATE TABLE Donation (Id TEXT PRIMARY KEY, RecordTypeId TEXT, Amount REAL);
CREATE TABLE Campaign (Id TEXT PRIMARY KEY, RecordTypeId TEXT, Title TEXT);
CREATE TABLE member (member_id INTEGER PRIMARY KEY, member_name TEXT, region_id INTEGER REFERENCES region(region_id),
                     newsletter_opt_in INTEGER, IsConverted TEXT, Written_Off__c TEXT, phone TEXT,
                     joined_on TEXT, cancelled_on TEXT, dues REAL, ward INTEGER, DoNotCall TEXT,
                     email TEXT, HasOptedOutOfEmail INTEGER);
CREATE TABLE project (project_id INTEGER PRIMARY KEY, title TEXT, member_id INTEGER REFERENCES member(member_id),
                      budget_amount REAL, actual_amount REAL, closed_at TEXT, kind TEXT);
"""


@pytest.fixture(scope="module")
def club(tmp_path_factory):
    path = tmp_path_factory.mktemp("club") / "club.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    con.executemany("INSERT INTO region VALUES (?,?)", [(1, "North"), (2, "South"), (3, "Coast")])
    for i in range(1, 13):
        con.execute("INSERT INTO member VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (i, f"Member {i}", 1 + i % 3, i % 2, "true" if i % 3 == 0 else "false", "Y" if i % 4 == 0 else "N",
                     None if i % 5 == 0 else f"555-01{i:02d}", f"2023-0{1 + i % 9}-01",
                     "2024-05-01" if i in (2, 7) else None, 1000.0 + 2500 * i, 1 + i % 4, "true" if i % 6 == 1 else "false",
                     None if i % 3 == 2 else f"m{i}@club.test", int(i % 4 == 1)))
    for i in range(1, 21):
        con.execute("INSERT INTO project VALUES (?,?,?,?,?,?,?)",
                    (i, f"Project {i}", 1 + i % 12, 100.0 * (1 + i % 4), 90.0 * (1 + i % 5),
                     None if i % 3 == 0 else "2024-02-02", ["Roof Repair", "Garden", "Mural"][i % 3]))
    con.executemany("INSERT INTO shipment VALUES (?,?,?,?)", [(i, ["Oslo", "Bergen", "Tromso"][i % 3],
                                                               ["Bergen", "Tromso", "Oslo", "Oslo"][i % 4], 10.0 * i)
                                                              for i in range(1, 16)])
    con.executemany("INSERT INTO RecordType VALUES (?,?)", [("01A", "Grant"), ("01B", "Major Gift"), ("01C", "Pledge")])
    con.executemany("INSERT INTO Donation VALUES (?,?,?)", [(f"D{i}", ["01A", "01B", "01C"][i % 3], 100.0 * i)
                                                           for i in range(1, 11)])
    con.executemany("INSERT INTO Campaign VALUES (?,?,?)", [("C1", "01A", "Spring"), ("C2", "01C", "Autumn")])
    con.commit()
    engine = open_engine(path, tmp_path_factory.mktemp("club_cache"))
    linkable_schema(engine)
    return engine.schema, con


def allowed(question, schema):
    return allowed_queries(schema, question, limit=13)


def rows_of(con, sql):
    return con.execute(sql).fetchall()


QUESTIONS = [
    ("How many members opted out of the newsletter?", "SELECT COUNT(*) FROM member WHERE newsletter_opt_in = 0"),
    ("How many members signed up for the newsletter?", "SELECT COUNT(*) FROM member WHERE newsletter_opt_in = 1"),
    ("How many members have not converted yet?", "SELECT COUNT(*) FROM member WHERE IsConverted = 'false'"),
    ("How many members were written off?", "SELECT COUNT(*) FROM member WHERE Written_Off__c = 'Y'"),
    ("Which members have no phone number on file?", "SELECT member_name FROM member WHERE phone IS NULL"),
    ("How many projects are still open?", "SELECT COUNT(*) FROM project WHERE closed_at IS NULL"),
    ("How many members have cancelled?", "SELECT COUNT(*) FROM member WHERE cancelled_on IS NOT NULL"),
    ("How many projects went over budget?", "SELECT COUNT(*) FROM project WHERE actual_amount > budget_amount"),
    ("How many members pay dues of more than $20,000?", "SELECT COUNT(*) FROM member WHERE dues > 20000"),
    ("How many garden projects are still open?",
     "SELECT COUNT(*) FROM project WHERE kind = 'Garden' AND closed_at IS NULL"),
    ("How many members asked not to be called?", "SELECT COUNT(*) FROM member WHERE DoNotCall = 'true'"),
    ("How many members may be called?", "SELECT COUNT(*) FROM member WHERE DoNotCall = 'false'"),
    ("Which of the 4 ward members pays the highest dues?",
     "SELECT member_name FROM member WHERE ward = 4 ORDER BY dues DESC LIMIT 1"),
    ("Which regions had no member cancel in 2024?",
     "SELECT region_name FROM region WHERE region_id NOT IN (SELECT region_id FROM member "
     "WHERE cancelled_on LIKE '2024%')"),
    ("How many members opted out of email?", "SELECT COUNT(*) FROM member WHERE HasOptedOutOfEmail = 1"),
    ("How many members did not give an email?", "SELECT COUNT(*) FROM member WHERE email IS NULL"),
    ("How many members live in ward 3?", "SELECT COUNT(*) FROM member WHERE ward = 3"),
    ("Count the members who signed up for the newsletter and live in ward 1.",
     "SELECT COUNT(*) FROM member WHERE newsletter_opt_in = 1 AND ward = 1"),
    ("Which wards have more than 2 members?", "SELECT ward FROM member GROUP BY ward HAVING COUNT(*) > 2"),
    ("How many roof repairs are still open?",
     "SELECT COUNT(*) FROM project WHERE kind = 'Roof Repair' AND closed_at IS NULL"),
    ("Which projects have a budget above the overall average?",
     "SELECT title FROM project WHERE budget_amount > (SELECT AVG(budget_amount) FROM project)"),
    ("Which members have a total budget of more than 500?",
     "SELECT member_name FROM member m JOIN project p ON p.member_id = m.member_id GROUP BY m.member_id "
     "HAVING SUM(p.budget_amount) > 500"),
    ("What is the total amount of major gifts?",
     "SELECT SUM(Amount) FROM Donation d JOIN RecordType r ON d.RecordTypeId = r.Id WHERE r.Name = 'Major Gift'"),
    ("How many shipments went from Oslo?", "SELECT COUNT(*) FROM shipment WHERE origin_port = 'Oslo'"),
    ("How many shipments went to Oslo?", "SELECT COUNT(*) FROM shipment WHERE destination_port = 'Oslo'"),
    ("Which projects have a kind that is not 'Mural'?", "SELECT title FROM project WHERE kind != 'Mural'"),
    ("How many members are there?", "SELECT COUNT(*) FROM member"),
    ("What is the average dues of members?", "SELECT AVG(dues) FROM member"),
    ("Which regions have more than 3 members?",
     "SELECT region_name FROM region r JOIN member m ON m.region_id = r.region_id GROUP BY r.region_id "
     "HAVING COUNT(*) > 3"),
]


@pytest.mark.parametrize("question,gold", QUESTIONS)
def test_the_grammar_allows_the_stated_condition(club, question, gold):
    schema, con = club
    queries = allowed(question, schema)
    want = rows_of(con, gold)
    assert any(same_rows(len(con.execute(q).description), rows_of(con, q), want, False) for q in queries), queries


@pytest.mark.parametrize("question,gold", QUESTIONS[:9])
def test_a_restricting_phrase_is_never_dropped(club, question, gold):
    """Every query the grammar allows keeps the condition: none counts the whole table."""
    schema, con = club
    want = rows_of(con, gold)
    for q in allowed(question, schema):
        assert same_rows(len(con.execute(q).description), rows_of(con, q), want, False), q


def test_unrestricted_questions_get_no_condition_and_no_join(club):
    schema, _ = club
    for question in ("How many members are there?", "What is the average dues of members?",
                     "List the names of the members.", "List the emails of all members.",
                     "Show the phone number of each member."):
        for q in allowed(question, schema):
            assert " WHERE " not in q and " JOIN " not in q, (question, q)


def test_flag_encodings():
    assert flag_pair([0, 1]) == (1, 0)
    assert flag_pair(["true", "false"]) == ("true", "false")
    assert flag_pair(["Y", "N"]) == ("Y", "N")
    assert flag_pair(["No", "Yes"]) == ("Yes", "No")
    assert flag_pair(["N"]) == ("Y", "N")  # only "no" occurs: "yes" written in the column's style
    assert flag_pair([0]) == (1, 0)
    assert flag_pair(["red", "blue"]) is None
    assert flag_pair([0, 1, 2]) is None


def test_amounts_as_numbers():
    assert plain_numbers("donors who gave more than $50,000 in total") == "donors who gave more than 50000 in total"
    assert plain_numbers("a price above €1,250.50") == "a price above 1250.50"
    assert plain_numbers("in 2014, 2015 and 2016") == "in 2014, 2015 and 2016"
    assert plain_numbers("ward 6") == "ward 6"


def test_negation_stays_in_its_clause(club):
    schema, _ = club
    cols = [(c.name, "member", c) for c in schema.columns_of("member")]
    found = {c.sql for c in stated_conditions("members who did not pay dues and have a phone number", schema, cols)}
    assert "phone IS NOT NULL" in found and "phone IS NULL" not in found
    found = {c.sql for c in stated_conditions("members without a phone number", schema, cols)}
    assert found == {"phone IS NULL"}


def test_a_query_leaving_a_restricting_word_unused_is_dropped():
    from girflow.frontends.mirror.accounting import most_accounted, used_words

    question = "How many members live in ward 3?"
    kept = most_accounted(question, ["SELECT COUNT(*) FROM member", "SELECT COUNT(*) FROM member WHERE ward = 3",
                                     "SELECT COUNT(DISTINCT ward) FROM member"])
    assert kept == ["SELECT COUNT(*) FROM member WHERE ward = 3"]
    # what is shown and which tables are joined do not count; table qualifiers say nothing of a condition
    assert used_words("How many members are in the North region?",
                      "SELECT COUNT(*) FROM member JOIN region ON a = b WHERE region.region_name = 'North'") == {
        "north", "region"}
    assert used_words("How many orders were there?", "SELECT COUNT(*) FROM t ORDER BY x") == frozenset()
    assert most_accounted(question, ["SELECT a FROM t WHERE x = 1", "SELECT b FROM t WHERE y = 2"]) == [
        "SELECT a FROM t WHERE x = 1", "SELECT b FROM t WHERE y = 2"]


class PrefersDonations:
    """A stand-in model that can score: it finds `SELECT * FROM Donation` likeliest, and has no other view."""

    def score(self, prompt, candidates):
        return [0.0 if "Donation" in c else -5.0 for c in candidates]

    def sql(self, prompt, grammar):
        return enumerate_language(grammar, [], limit=1)[0]


def test_a_lookup_value_counts_the_rows_the_model_reads_it_as(club, tmp_path):
    """Two tables point at `RecordType`; "how many grants" counts the rows of the one the model's likelihood
    picks, joined to the lookup table and filtered on 'Grant' (not the lookup table's one row)."""
    from girflow import Mirror
    from girflow.frontends.mirror.lookups import rows_pointing_at

    schema, con = club
    question = "How many grants are there?"
    assert rows_pointing_at(question, schema, link(question, schema)) == ["Campaign", "Donation"]
    path = con.execute("PRAGMA database_list").fetchone()[2]
    answer = Mirror(path, model=PrefersDonations(), out_dir=tmp_path, model_summary=False, charts=False).ask(question)
    assert answer.rows == con.execute("SELECT COUNT(*) FROM Donation d JOIN RecordType r ON d.RecordTypeId = r.Id "
                                      "WHERE r.Name = 'Grant'").fetchall() == [(3,)], answer.sql


def test_column_facts_read_the_data(club):
    from girflow.frontends.mirror.column_facts import facts_of

    schema, con = club
    phone = facts_of(schema, "member", "phone")
    assert (phone.rows, phone.nulls, phone.nullable) == (12, 2, True) and phone.values == []  # many values
    flag = facts_of(schema, "member", "newsletter_opt_in")
    assert flag.values == [0, 1] and not flag.nullable
    assert facts_of(schema, "no_such_table", "x") is None  # an error is no facts, never an exception
