"""Measure words that name a numeric column by what it measures (measures.py): "charged" and "cost" ask for
the money column, "weigh" for the weight, "how far" for the distance, "how long ... take" for the duration.
Checked without a model against SQLite: every query the grammar allows aggregates the measured column."""
import sqlite3

import pytest

from girflow.frontends.mirror.engines import open_engine
from girflow.frontends.mirror.measures import asked_kinds, column_kinds
from girflow.frontends.mirror.pipeline import allowed_queries, linkable_schema

SCHEMA = """
CREATE TABLE parcel (parcel_id INTEGER PRIMARY KEY, recipient TEXT, pieces INTEGER, weight_kg REAL, fee_usd REAL,
                     transit_hours REAL, distance_km REAL);
"""


@pytest.fixture(scope="module")
def depot(tmp_path_factory):
    path = tmp_path_factory.mktemp("depot") / "depot.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    con.executemany("INSERT INTO parcel VALUES (?,?,?,?,?,?,?)",
                    [(i, f"R{i}", 1 + i % 3, 0.5 * i, 4.0 + i, 12.0 + 3 * (i % 5), 40.0 * i) for i in range(1, 21)])
    con.commit()
    engine = open_engine(path, tmp_path_factory.mktemp("depot_cache"))
    return linkable_schema(engine), con


@pytest.mark.parametrize("question,column", [
    ("How much were recipients charged in total?", "fee_usd"),
    ("What did the parcels cost on average?", "fee_usd"),
    ("How much do parcels weigh on average?", "weight_kg"),
    ("How far did parcels travel on average?", "distance_km"),
    ("How long did deliveries take on average?", "transit_hours"),
])
def test_a_measure_word_picks_its_column(depot, question, column):
    schema, con = depot
    queries = allowed_queries(schema, question, limit=13)
    assert queries and all(column in q for q in queries), queries
    for q in queries:
        con.execute(q)  # every one runs


def test_kinds_of_quantity():
    assert asked_kinds("How much did ticket sales take in?") == {"money"}
    assert asked_kinds("How much does the heaviest box weigh?") == {"weight"}
    assert asked_kinds("How long did the repairs take?") == {"duration"}
    assert asked_kinds("How many parcels are there?") == set()
    assert column_kinds("salary_usd") == {"money"} and column_kinds("chg_amt") == {"money"}
    assert column_kinds("weight_kg") == {"weight"} and column_kinds("DurationMinutes") == {"duration"}
    assert column_kinds("pieces") == set()
