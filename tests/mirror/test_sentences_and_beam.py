"""General English read into the plan (a later sentence that says what to show, "most"/"least" before an
adjective, a year against a date column named in any style) and the beam search that ranks the queries of
a grammar too large to score one by one, against exhaustive scoring."""
import itertools
import math
import random

import pytest
from spider_folder import fresh_database

from girflow.frontends.mirror.beam import beam_search
from girflow.frontends.mirror.engines import open_engine
from girflow.frontends.mirror.pipeline import allowed_queries, linkable_schema
from girflow.frontends.mirror.shape import read_shape

SCHEMA = """
CREATE TABLE Employees(EmployeeId INTEGER PRIMARY KEY, FirstName TEXT, LastName TEXT, Title TEXT, HireDate TEXT,
                       Salary REAL, HomeCity TEXT, WorkCity TEXT);
CREATE TABLE Products(ProductId INTEGER PRIMARY KEY, ProductName TEXT, UnitPrice REAL, UnitsInStock INTEGER);
CREATE TABLE Customers(CustomerId INTEGER PRIMARY KEY, CompanyName TEXT, Country TEXT);
CREATE TABLE Orders(OrderId INTEGER PRIMARY KEY, CustomerId INTEGER REFERENCES Customers(CustomerId),
                    EmployeeId INTEGER REFERENCES Employees(EmployeeId), Amount REAL);
CREATE TABLE OrderItems(OrderId INTEGER REFERENCES Orders(OrderId), ProductId INTEGER REFERENCES Products(ProductId),
                        Quantity INTEGER, PRIMARY KEY(OrderId, ProductId));
INSERT INTO Employees VALUES (1, 'Ann', 'Lee', 'Sales Representative', '2014-03-01', 5000, 'Oslo', 'Oslo'),
                             (2, 'Bob', 'Ray', 'Clerk', '2016-07-11', 3000, 'Bergen', 'Oslo'),
                             (3, 'Cy', 'Dunn', 'Clerk', '2019-01-02', 3100, 'Oslo', 'Bergen');
INSERT INTO Products VALUES (1, 'Tea', 4.5, 10), (2, 'Coffee', 9.0, 3), (3, 'Cake', 12.5, 0);
INSERT INTO Customers VALUES (1, 'Acme', 'France'), (2, 'Bolt', 'Spain');
INSERT INTO Orders VALUES (1, 1, 2, 10), (2, 2, 3, 20);
INSERT INTO OrderItems VALUES (1, 1, 3), (2, 3, 1);
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shop")
    fresh_database(folder / "shop.sqlite", SCHEMA).close()
    engine = open_engine(str(folder / "shop.sqlite"), folder / "cache")
    schema = linkable_schema(engine)
    return schema


def allowed(schema, question):
    return allowed_queries(schema, question, limit=60)


def test_a_later_sentence_that_says_what_to_show_is_the_head(shop):
    s = read_shape("How many countries does each continent have? List the continent id, continent name and the "
                   "number of countries.")
    assert s.head == [(None, "continent id"), (None, "continent name"), ("COUNT", "countries")]
    assert read_shape("Which employee received the most awards? Give me the employee name.").head == \
        [(None, "employee name")]
    assert read_shape("How many pets does each student have? List their ids instead of names.").head == [(None, "ids")]
    assert allowed(shop, "Which employees were hired after 2015? Give the first and last name.") == \
        ["SELECT FirstName, LastName FROM Employees WHERE strftime('%Y', HireDate) > '2015'"]


def test_a_year_compares_with_a_date_column_in_any_naming_style(shop):
    assert allowed(shop, "How many employees were hired after 2015?") == \
        ["SELECT COUNT(*) FROM Employees WHERE strftime('%Y', HireDate) > '2015'"]
    assert allowed(shop, "How many employees were hired before 2016?") == \
        ["SELECT COUNT(*) FROM Employees WHERE strftime('%Y', HireDate) < '2016'"]


def test_most_or_least_before_an_adjective_is_its_superlative(shop):
    most, least = read_shape("Which product is the most expensive?"), read_shape("List the 2 least expensive products.")
    assert (most.superlative, most.direction, most.limit) == ("expensive", " DESC", "1")
    assert (least.superlative, least.direction, least.limit) == ("cheapest", " ASC", "2")
    assert read_shape("Which customer has the most orders?").superlative == "most"  # a count stays a count
    assert allowed(shop, "What is the name of the most expensive product?") == \
        ["SELECT ProductName FROM Products ORDER BY UnitPrice DESC LIMIT 1"]
    assert allowed(shop, "Which product is the least expensive?") == \
        ["SELECT ProductName FROM Products ORDER BY UnitPrice ASC LIMIT 1"]


def test_a_measure_named_in_full_pulls_no_join_through_a_synonym_or_a_key(shop):
    # "unit" is a synonym of quantity (OrderItems.Quantity), and OrderItems.ProductId is named by "products"
    assert allowed(shop, "Which products have a unit price above 10?") == \
        ["SELECT ProductName FROM Products WHERE UnitPrice > 10"]
    # a measure reached only through a synonym still brings its table: "spent" ~ Orders.Amount
    assert allowed(shop, "What is the total amount spent per country?")[0] == (
        "SELECT Customers.Country, SUM(Orders.Amount) FROM Customers JOIN Orders ON Orders.CustomerId = "
        "Customers.CustomerId GROUP BY Customers.Country")


def test_the_words_of_a_value_name_no_table(shop):
    # "Sales" is a synonym of orders; inside the value 'Sales Representative' it names no table
    assert allowed(shop, "What are the first names of employees whose title is 'Sales Representative'?") == \
        ["SELECT FirstName FROM Employees WHERE Title = 'Sales Representative'"]


def test_two_columns_of_a_row_compared_in_words(shop):
    assert allowed(shop, "Which employees' home city is different from their work city? List his or her first name.") \
        == ["SELECT FirstName FROM Employees WHERE HomeCity != WorkCity"]
    assert allowed(shop, "What are the last names of employees whose work city is the same as the home city?") == \
        ["SELECT LastName FROM Employees WHERE WorkCity = HomeCity"]


def test_conditions_joined_by_or_are_one_or_group(shop):
    assert allowed(shop, "List the first names of employees whose title is 'Clerk' or 'Sales Representative'.") == \
        ["SELECT FirstName FROM Employees WHERE (Title = 'Clerk' OR Title = 'Sales Representative')"]
    assert allowed(shop, "Which products have a unit price above 10 or fewer than 5 units in stock?") == \
        ["SELECT ProductName FROM Products WHERE (UnitPrice > 10 OR UnitsInStock < 5)"]
    assert allowed(shop, "How many employees have a salary above 3050 and the title 'Clerk'?") == \
        ["SELECT COUNT(*) FROM Employees WHERE Title = 'Clerk' AND Salary > 3050"]
    s = read_shape("How many museums opened after 2013 or before 2008?")
    assert s.comparisons == {"2013": " > ", "2008": " < "}
    assert read_shape("How many concerts were there in 2014 or after?").comparisons == {"2014": " >= "}


def test_how_much_and_how_old_ask_for_the_measure_they_imply(shop):
    assert allowed(shop, "How much does the cheapest product cost?") == \
        ["SELECT UnitPrice FROM Products ORDER BY UnitPrice ASC LIMIT 1"]
    assert allowed(shop, "How much does Tea cost?") == ["SELECT UnitPrice FROM Products WHERE ProductName = 'Tea'"]
    assert read_shape("How old is the oldest singer?").head == [(None, "age")]
    assert read_shape("How much money did we make?").head == []


def test_a_number_binds_to_the_longest_column_name_after_it(shop):
    assert allowed(shop, "List the names of products with more than 5 units in stock.") == \
        ["SELECT ProductName FROM Products WHERE UnitsInStock > 5"]


def test_the_measure_a_superlative_names_joins_its_table(shop):
    found = allowed(shop, "Which product was ordered in the largest quantity?")
    assert found and all(q.startswith("SELECT Products.ProductName FROM Products JOIN OrderItems ")
                         and q.endswith(" ORDER BY OrderItems.Quantity DESC LIMIT 1") for q in found)


def toy_model(vocab: int, seed: int):
    """A deterministic next-token distribution from the previous two tokens, and a counter of its calls."""
    calls = []

    def dist(prev):
        rng = random.Random(hash((seed,) + tuple(prev[-2:])))
        logits = [rng.gauss(0, 2) for _ in range(vocab)]
        top = max(logits)
        norm = top + math.log(sum(math.exp(x - top) for x in logits))
        return [x - norm for x in logits]

    def step(ids, start):
        calls.append(len(ids) - start)
        return [dist(ids[:i])[ids[i]] for i in range(start, len(ids))], dist(ids)

    def exact(head, seq):
        ids = head + list(seq)
        return sum(dist(ids[:i])[ids[i]] for i in range(len(head), len(ids)))

    return step, exact, calls


def test_beam_search_finds_what_exhaustive_scoring_finds():
    head = [1, 2, 3]
    # queries as a grammar makes them: shared fixed text, a few slots, different lengths, one a prefix of another
    slots = [[[7], [8, 9], [10]], [[4], [5, 6]], [[], [11, 12]]]
    seqs = [[0] + a + [3] + b + c + [2] for a, b, c in itertools.product(*slots)] + [[0, 7, 3]]
    for seed in range(5):
        step, exact, calls = toy_model(16, seed)
        truth = sorted(((i, exact(head, s)) for i, s in enumerate(seqs)), key=lambda kv: -kv[1])
        wide = beam_search(step, head, seqs, width=len(seqs), keep=5)
        assert [i for i, _ in wide] == [i for i, _ in truth[:5]]
        assert all(math.isclose(a, b) for (_, a), (_, b) in zip(wide, truth))
        calls.clear()
        narrow = beam_search(step, head, seqs, width=2, keep=3)
        assert narrow and all(math.isclose(score, exact(head, seqs[i])) for i, score in narrow)
        assert sum(calls) < sum(len(s) for s in seqs)  # shared text and forced runs are not decoded per query
