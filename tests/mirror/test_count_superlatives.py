"""Superlatives over counts ("which X has the most Y", through a bridge table, with a filter, "the fewest"),
and the superlatives that are not counts ("the highest salary", "spent the most"). Model-free: the grammar's
queries are run on SQLite and compared with a query written by hand. Schemas in three styles: snake_case
with declared keys, CamelCase with an association table, lower-case without declared keys."""
import re
import sqlite3

import pytest

from girflow.frontends.mirror.candidates import enumerate_language
from girflow.frontends.mirror.grammar import build_grammar
from girflow.frontends.mirror.linking import link
from girflow.frontends.mirror.schema import introspect
from girflow.frontends.mirror.superlative import count_rank, mentions

COMPANY = """
CREATE TABLE departments (dept_id INTEGER PRIMARY KEY, dept_name TEXT, city TEXT);
CREATE TABLE employees (emp_id INTEGER PRIMARY KEY, full_name TEXT, salary REAL, hired_year INTEGER,
                        dept_id INTEGER REFERENCES departments(dept_id));
CREATE TABLE projects (project_id INTEGER PRIMARY KEY, title TEXT, budget REAL);
CREATE TABLE assignments (emp_id INTEGER REFERENCES employees(emp_id),
                          project_id INTEGER REFERENCES projects(project_id), hours INTEGER);
INSERT INTO departments VALUES (1, 'Sales', 'Boston'), (2, 'Research', 'Austin'), (3, 'Legal', 'Boston');
INSERT INTO employees VALUES (1, 'Ana Diaz', 5200, 2015, 1), (2, 'Ben Khan', 6100, 2018, 2),
  (3, 'Cy Ito', 4800, 2020, 2), (4, 'Dee Park', 7000, 2012, 2), (5, 'Eli Roth', 3900, 2021, 3),
  (6, 'Fay Lum', 5600, 2019, 1);
INSERT INTO projects VALUES (1, 'Atlas', 90000), (2, 'Beacon', 40000), (3, 'Comet', 65000);
INSERT INTO assignments VALUES (1, 1, 10), (2, 1, 5), (3, 1, 8), (4, 2, 12), (2, 3, 7), (5, 3, 3), (6, 1, 9);
"""

LIBRARY = """
CREATE TABLE Author (AuthorId INTEGER PRIMARY KEY, AuthorName TEXT, Country TEXT);
CREATE TABLE Book (BookId INTEGER PRIMARY KEY, Title TEXT, Pages INTEGER,
                   AuthorId INTEGER REFERENCES Author(AuthorId));
CREATE TABLE Member (MemberId INTEGER PRIMARY KEY, MemberName TEXT);
CREATE TABLE Loan (LoanId INTEGER PRIMARY KEY, BookId INTEGER REFERENCES Book(BookId),
                   MemberId INTEGER REFERENCES Member(MemberId), LoanDate TEXT);
INSERT INTO Author VALUES (1, 'Le Guin', 'USA'), (2, 'Lem', 'Poland'), (3, 'Tokarczuk', 'Poland');
INSERT INTO Book VALUES (1, 'Earthsea', 200, 1), (2, 'Solaris', 220, 2), (3, 'Eden', 260, 2), (4, 'Flights', 400, 3),
  (5, 'Lathe', 180, 1), (6, 'Fiasco', 320, 2);
INSERT INTO Member VALUES (1, 'Kim'), (2, 'Lou'), (3, 'Max');
INSERT INTO Loan VALUES (1, 2, 1, '2024-01-05'), (2, 2, 2, '2024-02-01'), (3, 4, 1, '2024-02-11'),
  (4, 2, 3, '2024-03-02'), (5, 1, 1, '2024-03-09'), (6, 4, 2, '2024-04-01');
"""

SHOP = """
CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT, country TEXT);
CREATE TABLE purchase (id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL, status TEXT);
INSERT INTO customer VALUES (1, 'Acme', 'France'), (2, 'Bolt', 'Spain'), (3, 'Crux', 'France');
INSERT INTO purchase VALUES (1, 1, 10.0, 'paid'), (2, 1, 15.0, 'paid'), (3, 2, 900.0, 'paid'), (4, 3, 5.0, 'open'),
  (5, 1, 20.0, 'open'), (6, 3, 7.0, 'paid');
"""


def _schema(tmp_path, name, script):
    path = tmp_path / f"{name}.sqlite"
    con = sqlite3.connect(path)
    con.executescript(script)
    con.commit()
    return introspect(path), con


def queries(question, schema):
    return enumerate_language(build_grammar(schema, link(question, schema)), re.findall(r"\d+", question), limit=50)


def only_query_gives(con, question, schema, gold):
    got = queries(question, schema)
    assert len(got) == 1, got
    assert con.execute(got[0]).fetchall() == con.execute(gold).fetchall(), got[0]
    return got[0]


@pytest.mark.parametrize("question, gold", [
    ("Which department has the most employees?",
     "SELECT d.dept_name FROM departments d JOIN employees e ON e.dept_id = d.dept_id GROUP BY d.dept_id "
     "ORDER BY COUNT(*) DESC LIMIT 1"),
    ("What is the name of the department with the fewest employees?",
     "SELECT d.dept_name FROM departments d JOIN employees e ON e.dept_id = d.dept_id GROUP BY d.dept_id "
     "ORDER BY COUNT(*) ASC LIMIT 1"),
    ("Which project has the largest number of employees assigned?",  # through the association table
     "SELECT p.title FROM projects p JOIN assignments a ON a.project_id = p.project_id GROUP BY p.project_id "
     "ORDER BY COUNT(*) DESC LIMIT 1"),
    ("Which department has the most employees hired after 2015?",  # a filter on the rows counted
     "SELECT d.dept_name FROM departments d JOIN employees e ON e.dept_id = d.dept_id WHERE e.hired_year > 2015 "
     "GROUP BY d.dept_id ORDER BY COUNT(*) DESC LIMIT 1"),
    ("List the name and city of the department with the most employees.",
     "SELECT d.dept_name, d.city FROM departments d JOIN employees e ON e.dept_id = d.dept_id GROUP BY d.dept_id "
     "ORDER BY COUNT(*) DESC LIMIT 1"),
    ("Which employee works on the most projects?",
     "SELECT e.full_name FROM employees e JOIN assignments a ON a.emp_id = e.emp_id GROUP BY e.emp_id "
     "ORDER BY COUNT(*) DESC LIMIT 1"),
])
def test_count_superlative_snake_case(tmp_path, question, gold):
    schema, con = _schema(tmp_path, "company", COMPANY)
    sql = only_query_gives(con, question, schema, gold)
    assert "GROUP BY" in sql and "COUNT(*)" in sql


@pytest.mark.parametrize("question, gold", [
    ("Which author wrote the most books?",
     "SELECT a.AuthorName FROM Author a JOIN Book b ON b.AuthorId = a.AuthorId GROUP BY a.AuthorId "
     "ORDER BY COUNT(*) DESC LIMIT 1"),
    ("What is the title of the book with the most loans?",
     "SELECT b.Title FROM Book b JOIN Loan l ON l.BookId = b.BookId GROUP BY b.BookId ORDER BY COUNT(*) DESC LIMIT 1"),
    ("Which member borrowed the greatest number of books?",  # Loan is the key path from Member to Book
     "SELECT m.MemberName FROM Member m JOIN Loan l ON l.MemberId = m.MemberId GROUP BY m.MemberId "
     "ORDER BY COUNT(*) DESC LIMIT 1"),
    ("What is the name of the author whose books were loaned the most times?",  # two hops: Author-Book-Loan
     "SELECT a.AuthorName FROM Author a JOIN Book b ON b.AuthorId = a.AuthorId JOIN Loan l ON l.BookId = b.BookId "
     "GROUP BY a.AuthorId ORDER BY COUNT(*) DESC LIMIT 1"),
])
def test_count_superlative_camel_case(tmp_path, question, gold):
    schema, con = _schema(tmp_path, "library", LIBRARY)
    only_query_gives(con, question, schema, gold)


def test_count_superlative_without_declared_keys_and_with_a_filter(tmp_path):
    schema, con = _schema(tmp_path, "shop", SHOP)
    only_query_gives(con, "Which customer has the most purchases?",
                     schema, "SELECT c.name FROM customer c JOIN purchase p ON p.customer_id = c.id GROUP BY c.id "
                             "ORDER BY COUNT(*) DESC LIMIT 1")
    sql = only_query_gives(con, "Which customer has the most purchases with status 'open'?", schema,
                           "SELECT c.name FROM customer c JOIN purchase p ON p.customer_id = c.id "
                           "WHERE p.status = 'open' GROUP BY c.id ORDER BY COUNT(*) DESC LIMIT 1")
    assert "'open'" in sql


def test_superlatives_that_are_not_counts(tmp_path):
    schema, con = _schema(tmp_path, "company", COMPANY)
    assert count_rank("Which employee has the highest salary?", schema) is None
    assert count_rank("Which employee earns the most?", schema, measure_linked=True) is None
    assert count_rank("Which project has the largest budget?", schema) is None
    assert count_rank("What is the most expensive project?", schema) is None
    schema, con = _schema(tmp_path, "shop", SHOP)
    got = queries("Which customer spent the most?", schema)
    assert all("COUNT(*)" not in q for q in got), got


def test_mentions_prefer_the_name_covered_most(tmp_path):
    schema, _ = _schema(tmp_path, "library", LIBRARY)
    found = [t for _, _, t in mentions("which member borrowed the most books by an author", schema)]
    assert found == ["Member", "Book", "Author"]


@pytest.mark.parametrize("question, gold", [
    ("How many employees does each department have? List the department name and the number of employees.",
     "SELECT d.dept_name, COUNT(*) FROM departments d JOIN employees e ON e.dept_id = d.dept_id GROUP BY d.dept_id"),
    ("How many books does each author have? List the author name and the count.",  # Loan would repeat books
     "SELECT a.AuthorName, COUNT(*) FROM Author a JOIN Book b ON b.AuthorId = a.AuthorId GROUP BY a.AuthorId"),
])
def test_counts_per_group_join_only_the_key_path(tmp_path, question, gold):
    schema, con = _schema(tmp_path, "x", COMPANY if "department" in question else LIBRARY)
    got = queries(question, schema)
    want = sorted(con.execute(gold).fetchall())
    assert any(sorted(con.execute(q).fetchall()) == want for q in got), got
    assert all("Loan" not in q and "assignments" not in q for q in got), got


def test_a_table_named_column_is_its_rows_name(tmp_path):
    """"the continent name" where `continents` has no name column: `Continent` names its rows."""
    schema, con = _schema(tmp_path, "geo", """
    CREATE TABLE continents (ContId INTEGER PRIMARY KEY, Continent TEXT);
    CREATE TABLE countries (CountryId INTEGER PRIMARY KEY, CountryName TEXT, Continent INTEGER REFERENCES continents(ContId));
    INSERT INTO continents VALUES (1, 'europe'), (2, 'asia');
    INSERT INTO countries VALUES (1, 'france', 1), (2, 'japan', 2), (3, 'spain', 1);
    """)
    got = queries("How many countries does each continent have? List the continent id, continent name and the number "
                  "of countries.", schema)
    assert got == ["SELECT continents.ContId, continents.Continent, COUNT(*) FROM continents JOIN countries ON "
                   "countries.Continent = continents.ContId GROUP BY continents.ContId"], got
