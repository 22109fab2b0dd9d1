"""General English read into the plan, checked on a database written for the tests (library_db): which
measure a superlative ranks by, which column a number belongs to, counts per group that the question spells
out, comparisons written in words; plus the gold SQL of the two test databases (library, store)."""
import sqlite3

import pytest
from library_db import QUESTIONS as LIBRARY_QUESTIONS
from library_db import build_library_db
from store_db import QUESTIONS as STORE_QUESTIONS
from store_db import build_store_db

from girflow.frontends.mirror.engines import open_engine
from girflow.frontends.mirror.pipeline import allowed_queries, linkable_schema
from girflow.frontends.mirror.shape import numbers_as_digits, read_shape


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    path = build_library_db(tmp_path_factory.mktemp("library") / "library.sqlite")
    engine = open_engine(str(path), tmp_path_factory.mktemp("library_cache"))
    schema = linkable_schema(engine)
    return path, schema


def allowed(schema, question):
    return allowed_queries(schema, question, limit=60)


def rows(path, sql):
    con = sqlite3.connect(path)
    try:
        return sorted(con.execute(sql).fetchall(), key=repr)
    finally:
        con.close()


@pytest.mark.parametrize("builder,questions", [(build_library_db, LIBRARY_QUESTIONS), (build_store_db, STORE_QUESTIONS)])
def test_test_databases_answer_their_gold_questions(tmp_path, builder, questions):
    path = builder(tmp_path / "db.sqlite")
    for question, sql in questions:
        assert rows(path, sql), f"gold SQL returns nothing: {question}"


def test_number_words_after_comparisons_become_digits():
    assert numbers_as_digits("Which cities have more than one employee?") == "Which cities have more than 1 employee?"
    assert numbers_as_digits("used in more than a single document") == "used in more than 1 document"
    assert numbers_as_digits("codes with less than three templates") == "codes with less than 3 templates"
    assert numbers_as_digits("the one with the most pets") == "the one with the most pets"


def test_at_most_and_at_least_compare_rather_than_rank():
    s = read_shape("What are the names of courses having at most 2 sections?")
    assert s.comparisons == {"2": " <= "} and not s.limit and not s.superlative


def test_superlative_adjective_ranks_by_the_measure_it_implies(library):
    path, schema = library
    # "youngest" is the latest birth year; one row because "the youngest member" is one member
    assert allowed(schema, "What are the first and last names of the youngest member?") == [
        "SELECT FirstName, LastName FROM Member ORDER BY BirthYear DESC LIMIT 1"]
    (sql,) = allowed(schema, "Show the title of the book with the most pages.")
    assert sql.endswith("ORDER BY PageCount DESC LIMIT 1")
    assert rows(path, sql) == [("1Q84",)]


def test_number_belongs_to_the_column_named_beside_it(library):
    _, schema = library
    for sql in allowed(schema, "How many books have a page count greater than 400?"):
        assert "PageCount > 400" in sql
    for sql in allowed(schema, "How many books published after 1980 are there?"):
        assert "PublishedYear > 1980" in sql


def test_counts_per_group_follow_the_question_head(library):
    path, schema = library
    (sql,) = allowed(schema, "What are the names of the authors and the number of books for each author?")
    assert rows(path, sql) == rows(path, "SELECT FullName, COUNT(*) FROM Author JOIN Book USING (AuthorId) "
                                         "GROUP BY AuthorId")
    (sql,) = allowed(schema, "Which branches have at least three staff?")
    assert rows(path, sql) == [("Central Library",), ("Oak Hill",)]


def test_a_column_linked_only_through_a_synonym_adds_no_join(library):
    _, schema = library
    # "titles" resembles Staff.Name (title ~ name), but the question is about books alone
    assert allowed(schema, "List the titles of books in the genre 'Fantasy'.") == [
        "SELECT Title FROM Book WHERE Genre = 'Fantasy'"]


def test_repeated_select_items_are_dropped():
    from girflow.frontends.mirror.tidy import without_repeated_items

    assert without_repeated_items("SELECT a, a, b, a FROM t") == "SELECT a, b FROM t"
    assert without_repeated_items("SELECT a, a FROM t INTERSECT SELECT a, b FROM u") == (
        "SELECT a, a FROM t INTERSECT SELECT a, b FROM u")  # set operations keep their widths


def test_the_same_noun_with_two_conditions_is_an_intersection():
    from girflow.frontends.mirror.setops import split_set_question

    split = split_set_question("Which cities have a branch opened before 1990 and a branch opened after 2010?")
    assert (split.operator, split.first, split.second) == (
        "INTERSECT", "Which cities have a branch opened before 1990?", "Which cities have a branch opened after 2010?")
    split = split_set_question("Show countries where a singer above age 40 and a singer below 30 are from.")
    assert split.second == "Show countries where a singer below 30 are from."
    assert split_set_question("Show the name of a singer and a song.") is None


def test_a_table_named_only_inside_another_tables_name_is_not_joined(tmp_path):
    path = tmp_path / "shop.sqlite"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE Order_Statuses (Order_Status_Code TEXT PRIMARY KEY, Order_Status_Description TEXT);
        CREATE TABLE Orders (Order_ID INTEGER PRIMARY KEY, Order_Status_Code TEXT REFERENCES Order_Statuses, Amount REAL);
        INSERT INTO Order_Statuses VALUES ('S', 'Shipped'), ('P', 'Pending');
        INSERT INTO Orders VALUES (1, 'S', 10), (2, 'S', 20), (3, 'P', 5);""")
    con.commit()
    con.close()
    engine = open_engine(str(path), tmp_path / "cache")
    schema = linkable_schema(engine)
    # "order status" names Order_Statuses; Orders is not asked about, and joining it would repeat the code
    assert allowed(schema, "What is the order status code for order status description 'Shipped'?") == [
        "SELECT Order_Status_Code FROM Order_Statuses WHERE Order_Status_Description = 'Shipped'"]
    # "how many orders" names Orders outside the status table's name: it stays
    assert all("Orders" in sql for sql in allowed(schema, "How many orders have order status description 'Shipped'?"))
