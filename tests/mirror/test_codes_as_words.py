"""Codes the data keeps for what a question says in words (codes.py): 'NOR' for "Norwegian", 'F' for "female
crew members", 'N' for "the night shift", 'BU' for "business class", 'DLY' for "flights delayed"; period
codes that look like dates ('2022/23', 'FY2024') matched as text. Checked without a model against SQLite: the grammar built for the question must allow the gold query's rows, and where the
question fixes the whole query, only them; a word that merely begins like a code adds no condition."""
import sqlite3

import pytest

from girflow.frontends.mirror.codes import abbreviates, compound_initials, is_code
from girflow.frontends.mirror.engines import open_engine
from girflow.frontends.mirror.pipeline import allowed_queries, linkable_schema
from girflow.frontends.mirror.spider_eval import same_rows
from girflow.frontends.mirror.values import is_season

SCHEMA = """
CREATE TABLE crew_member (crew_id INTEGER PRIMARY KEY, crew_name TEXT, gender TEXT, country_cd TEXT, shift TEXT,
                          base_city TEXT);
CREATE TABLE flight (flight_id INTEGER PRIMARY KEY, flight_no TEXT, status TEXT, fare_class TEXT,
                     fiscal_period TEXT, season TEXT, turnaround TEXT, seats INTEGER);
"""
COUNTRIES = ["NOR", "DEU", "ESP", "NOR", "ITA"]


@pytest.fixture(scope="module")
def airline(tmp_path_factory):
    path = tmp_path_factory.mktemp("airline") / "airline.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    for i in range(1, 21):
        con.execute("INSERT INTO crew_member VALUES (?,?,?,?,?,?)",
                    (i, f"Crew {i}", "F" if i % 3 else "M", COUNTRIES[i % 5], "N" if i % 4 == 0 else "D",
                     ["Oslo", "Madrid", "Rome"][i % 3]))
    for i in range(1, 41):
        con.execute("INSERT INTO flight VALUES (?,?,?,?,?,?,?,?)",
                    (i, f"XA{100 + i}", ["ARR", "DLY", "ARR", "CX"][i % 4], ["EC", "BU", "EC", "FI"][i % 4],
                     f"FY{2022 + i % 3}", ["2022/23", "2023/24"][i % 2], ["QT", "ST"][i % 2], 100 + i))
    con.commit()
    engine = open_engine(path, tmp_path_factory.mktemp("airline_cache"))
    return linkable_schema(engine), con


QUESTIONS = [
    ("How many Norwegian crew members are there?", "SELECT COUNT(*) FROM crew_member WHERE country_cd = 'NOR'"),
    ("List the names of the Italian crew members.", "SELECT crew_name FROM crew_member WHERE country_cd = 'ITA'"),
    ("How many female crew members are there?", "SELECT COUNT(*) FROM crew_member WHERE gender = 'F'"),
    ("How many crew members work the night shift?", "SELECT COUNT(*) FROM crew_member WHERE shift = 'N'"),
    ("How many crew members are male?", "SELECT COUNT(*) FROM crew_member WHERE gender = 'M'"),
    ("How many flights have arrived?", "SELECT COUNT(*) FROM flight WHERE status = 'ARR'"),
    ("How many flights sold business class seats?", "SELECT COUNT(*) FROM flight WHERE fare_class = 'BU'"),
    ("How many flights were delayed?", "SELECT COUNT(*) FROM flight WHERE status = 'DLY'"),
    ("How many flights flew in FY2024?", "SELECT COUNT(*) FROM flight WHERE fiscal_period = 'FY2024'"),
    ("How many flights flew in the 2022/23 season?", "SELECT COUNT(*) FROM flight WHERE season = '2022/23'"),
]


@pytest.mark.parametrize("question,gold", QUESTIONS)
def test_a_code_said_as_a_word_is_the_condition(airline, question, gold):
    schema, con = airline
    queries = allowed_queries(schema, question, limit=13)
    want = con.execute(gold).fetchall()
    assert queries and all(same_rows(len(con.execute(q).description), con.execute(q).fetchall(), want, False)
                           for q in queries), queries


@pytest.mark.parametrize("question", [
    "How many crew members are there?",
    "How many flights are there?",
    "How many flights departed from gate 4?",  # 'DLY' and 'DEU' begin with d; no word says them
    "Which crew members are based in Oslo?",
])
def test_words_that_only_begin_like_a_code_add_no_condition(airline, question):
    schema, _ = airline
    for q in allowed_queries(schema, question, limit=13):
        for code in ("'NOR'", "'DEU'", "'F'", "'M'", "'N'", "'D'", "'DLY'", "'ARR'", "'CX'", "'EC'", "'QT'", "'ST'"):
            assert code not in q, (question, q)


def test_what_counts_as_a_code():
    assert all(is_code(v) for v in ("SWE", "G", "OT", "p", "LW"))
    assert not any(is_code(v) for v in ("knee", "Open", "On-Hold", "A-01", "12", "FY2024"))
    assert abbreviates("SWE", ["swedish"]) and abbreviates("LW", ["left", "wing"]) and not abbreviates("SWE", ["swe"])
    assert compound_initials("OT", "overtime") and compound_initials("SO", "shootout")
    assert not compound_initials("PA", "placed") and not compound_initials("CA", "cancelled")


def test_seasons_are_periods_not_numbers():
    assert all(is_season(v) for v in ("2023-24", "2023/24", "1999-00", "2023/2024"))
    assert not any(is_season(v) for v in ("2023-25", "2023-11", "2023", "12-13", "2023-11-05"))


def test_a_code_reaches_its_lookup_table_through_the_data(tmp_path):
    """No FOREIGN KEY says so, but every `crew.home_country` value is a `country.iso3` value: "crew from
    Norway" joins the lookup table and restricts its name."""
    path = tmp_path / "lookup.sqlite"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE country (iso3 TEXT PRIMARY KEY, country_name TEXT);
        CREATE TABLE crew (crew_id INTEGER PRIMARY KEY, crew_name TEXT, home_country TEXT, rank_title TEXT);
    """)
    con.executemany("INSERT INTO country VALUES (?,?)", [("NOR", "Norway"), ("DEU", "Germany"), ("ITA", "Italy"),
                                                         ("FRA", "France")])
    con.executemany("INSERT INTO crew VALUES (?,?,?,?)", [(i, f"Crew {i}", ["NOR", "DEU", "ITA"][i % 3],
                                                           ["Captain", "Purser", "Steward"][i % 3]) for i in range(1, 13)])
    con.commit()
    schema = linkable_schema(open_engine(path, tmp_path / "cache"))
    want = con.execute("SELECT COUNT(*) FROM crew WHERE home_country = 'NOR'").fetchall()
    queries = allowed_queries(schema, "How many crew members are from Norway?", limit=13)
    assert queries and all(con.execute(q).fetchall() == want for q in queries), queries
    assert any("JOIN" in q for q in queries)
    # a column whose values are no country codes is not joined to it
    from girflow.frontends.mirror.codes import code_keys

    assert [(f.table, f.column, f.other_table, f.other_column) for f in code_keys(schema)] == [
        ("crew", "home_country", "country", "iso3")]
