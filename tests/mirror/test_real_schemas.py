"""Mirror on schemas nobody here designed: names in any style, joins found in the key graph, values found in
the data, and no question on any schema ends in anything but an answer or a MirrorError."""
import json
import sqlite3
from pathlib import Path

import pytest
from mirror_helpers import answered_share

from girflow.frontends.mirror.errors import MirrorError
from girflow.frontends.mirror.grammar import join_plans
from girflow.frontends.mirror.joins import JoinGraph
from girflow.frontends.mirror.linking import link
from girflow.frontends.mirror.names import is_abbreviation, name_score, split_identifier, stem
from girflow.frontends.mirror.schema import introspect
from girflow.frontends.mirror.shape import read_shape
from girflow.frontends.mirror.spider_eval import gold_shapes, same_rows
from girflow.frontends.mirror.values import build_index

SPIDER = Path(__file__).parent / "data" / "spider"  # Spider dev databases, CC BY-SA 4.0 (README there)


@pytest.mark.parametrize("identifier, words", [
    ("Ref_Template_Types", ("ref", "template", "types")), ("AirportCode", ("airport", "code")),
    ("StuID", ("stu", "id")), ("HTTPStatus", ("http", "status")), ("LName", ("l", "name")),
    ("customer_id", ("customer", "id")), ("Song_release_year", ("song", "release", "year")),
])
def test_identifiers_split_in_any_style(identifier, words):
    assert split_identifier(identifier) == words


def test_plurals_and_abbreviations():
    assert stem("countries") == "country" and stem("singers") == "singer" and stem("address") == "address"
    assert is_abbreviation("dept", "department") and is_abbreviation("num", "number")
    assert is_abbreviation("stu", "student") and not is_abbreviation("cat", "dog")
    assert name_score("dept_name", ["department", "name"])[0] >= 0.8


@pytest.fixture
def music_db(tmp_path):
    """A CamelCase store with an undeclared key (`Track.AlbumId` -> `Album.AlbumId`) and a bridge table."""
    path = tmp_path / "music.db"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE Artist (ArtistId INTEGER PRIMARY KEY, Name TEXT);
        CREATE TABLE Album (AlbumId INTEGER PRIMARY KEY, Title TEXT, ArtistId INTEGER REFERENCES Artist(ArtistId));
        CREATE TABLE Track (TrackId INTEGER PRIMARY KEY, Name TEXT, AlbumId INTEGER, UnitPrice REAL);
        CREATE TABLE Playlist (PlaylistId INTEGER PRIMARY KEY, Name TEXT);
        CREATE TABLE PlaylistTrack (PlaylistId INTEGER REFERENCES Playlist(PlaylistId),
                                    TrackId INTEGER REFERENCES Track(TrackId), PRIMARY KEY (PlaylistId, TrackId));
        INSERT INTO Artist VALUES (1, 'AC/DC'), (2, 'Aerosmith');
        INSERT INTO Album VALUES (1, 'Back in Black', 1), (2, 'Toys in the Attic', 2);
        INSERT INTO Track VALUES (1, 'Hells Bells', 1, 0.99), (2, 'Walk This Way', 2, 1.29), (3, 'Shoot to Thrill', 1, 0.99);
        INSERT INTO Playlist VALUES (1, 'Rock');
        INSERT INTO PlaylistTrack VALUES (1, 1), (1, 2);
    """)
    con.commit()
    con.close()
    return path


def test_join_paths_follow_declared_and_inferred_keys(music_db):
    schema = introspect(music_db)
    graph = JoinGraph(schema)
    assert "Album" in graph.neighbours("Track")  # AlbumId, no FOREIGN KEY declared
    names, edges = graph.connect(["Artist", "Playlist"])
    assert names[0] == "Artist" and set(names) == {"Artist", "Album", "Track", "PlaylistTrack", "Playlist"}
    clause = graph.from_clause(names, edges)
    con = sqlite3.connect(music_db)
    assert con.execute(f"SELECT Playlist.Name FROM {clause} WHERE Artist.Name = 'AC/DC'").fetchall() == [("Rock",)]
    plans = join_plans(["Artist", "Track"], schema)
    assert any(set(n) == {"Artist", "Album", "Track"} for n, _ in plans)


def test_value_index_tells_which_column_holds_a_value(music_db):
    schema = introspect(music_db)
    schema.value_index = build_index(music_db, [(t.name, c.name) for t in schema.tables for c in t.columns
                                                if not c.is_numeric])[0]
    linked = link("How many tracks are there by AC/DC?", schema)
    assert ("Artist", "Name", "AC/DC") in linked.values
    assert {"Track", "Artist"} <= set(linked.tables)
    linked = link("How many tracks are there?", schema)
    assert linked.tables[0] == "Track" and "count" in linked.intent


def test_head_aggregates_sort_and_between_are_read():
    s = read_shape("What is the average, minimum, and maximum age of all singers from France?")
    assert s.head == [("AVG", ""), ("MIN", ""), ("MAX", "age")] and not s.extreme
    s = read_shape("What are the names, countries, and ages for every singer in descending order of age?")
    assert [w for _, w in s.head] == ["names", "countries", "ages"] and s.sort == ("age", " DESC")
    s = read_shape("Which stadiums have a capacity between 5000 and 10000?")
    assert s.between == {"5000": "10000"}
    assert read_shape("What are the countries with singers above age 20?").comparisons == {"20": " > "}


def test_gold_shapes_and_result_comparison():
    assert gold_shapes("SELECT a FROM t JOIN u ON t.x = u.x GROUP BY a ORDER BY COUNT(*) DESC") == {"join", "group", "order"}
    assert gold_shapes("SELECT a FROM t WHERE b > (SELECT AVG(b) FROM t)") == {"nested"}
    assert gold_shapes("SELECT a FROM t EXCEPT SELECT a FROM u") == {"set-op"}
    assert same_rows(2, [(1, "x"), (2, "y")], [("y",), ("x",)], ordered=False)  # extra columns allowed
    assert not same_rows(2, [(1, "x"), (2, "y")], [("y",), ("x",)], ordered=True)
    assert same_rows(1, [(2.0,)], [(2,)], ordered=False)


@pytest.fixture
def hostile_db(tmp_path):
    """What real databases hold: quoted names, keywords as names, a key to a missing table, text that is not
    UTF-8, an empty table, and a table too wide for any prompt."""
    path = tmp_path / "hostile.db"
    con = sqlite3.connect(path)
    wide = ", ".join(f"measurement_{i} REAL" for i in range(400))
    con.executescript(f"""
        CREATE TABLE "order items" ("select" TEXT, "Unit Price" REAL, order_id INTEGER REFERENCES missing(id));
        CREATE TABLE "We""ird" (id INTEGER PRIMARY KEY, label TEXT);
        CREATE TABLE empty_table (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE sensor_readings (id INTEGER PRIMARY KEY, station TEXT, {wide});
        INSERT INTO "order items" VALUES ('a', 1.5, 1), ('b', 2.5, 2);
        INSERT INTO "We""ird" VALUES (1, 'x');
        INSERT INTO sensor_readings (id, station, measurement_7) VALUES (1, 'North', 3.0), (2, 'South', 4.0);
    """)
    con.execute("INSERT INTO \"We\"\"ird\" VALUES (2, CAST(X'FFFE41' AS TEXT))")
    con.commit()
    con.close()
    return path


QUESTIONS = ["What is the total unit price of order items?", "How many sensor readings are there?",
             "What is the average measurement 7 per station?", "List the labels.", "How many empty tables?",
             "What is the capital of Mongolia?", "", "Which station has the highest measurement 399?"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_no_question_on_a_hostile_schema_crashes(hostile_db, tmp_path, question):
    from girflow import Mirror

    m = Mirror(hostile_db, out_dir=tmp_path, model_summary=False, charts=False)
    try:
        answer = m.ask(question)
    except MirrorError as e:
        assert str(e)
        return
    assert answer.sql.upper().startswith("SELECT")


EVERY = 3  # all 105 took 21 min on the shared 2-core machine; `girflow mirror eval --spider` counts crashes too


def test_every_development_question_is_answered_or_refused_plainly(tmp_path):
    """Questions of the Spider test databases (every EVERY-th, for CI time): an answer whose SQL ran, or a
    MirrorError; never any other exception. (Accuracy is measured by `girflow mirror eval --spider`.)"""
    items = json.loads((SPIDER / "questions.json").read_text())[::EVERY]
    assert answered_share(SPIDER, items, tmp_path) >= 0.9
