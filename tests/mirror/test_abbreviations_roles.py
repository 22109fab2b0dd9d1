"""Schemas in styles Spider does not use: abbreviated names (`pt`, `fname`, `chg_amt`, `DEPTNO`), keys named
for the role the other row plays (`startStationId`, `home_team_id`), yes/no columns (`isElectric`), and
"both A and B" with long parallel phrases. Model-free: linking and the grammar's queries are checked
against SQLite itself."""
import re
import sqlite3

import pytest

from girflow.frontends.mirror.candidates import enumerate_language
from girflow.frontends.mirror.grammar import build_grammar, flag_value, join_plans
from girflow.frontends.mirror.joins import JoinGraph, inferred_keys
from girflow.frontends.mirror.linking import detect_intent, link
from girflow.frontends.mirror.names import is_abbreviation, split_identifier
from girflow.frontends.mirror.schema import Column, introspect
from girflow.frontends.mirror.setops import split_set_question


@pytest.mark.parametrize("short, long", [
    ("pt", "patient"), ("dr", "doctor"), ("qty", "quantity"), ("yrs", "year"), ("mgr", "manager"),
    ("chg", "charge"), ("amt", "amount"), ("appt", "appointment"), ("nm", "name"), ("dt", "date"),
    ("sal", "salary"), ("loc", "location"), ("dept", "department"), ("num", "number")])
def test_abbreviations_by_prefix_and_consonant_skeleton(short, long):
    assert is_abbreviation(short, long)


@pytest.mark.parametrize("short, long", [("dt", "doctor"), ("cat", "dog"), ("pt", "table"), ("no", "number"),
                                         ("ab", "abc")])
def test_not_abbreviations(short, long):
    assert not is_abbreviation(short, long)


@pytest.mark.parametrize("identifier, words", [
    ("fname", ("f", "name")), ("DEPTNO", ("dept", "no")), ("HIREDATE", ("hire", "date")), ("ENAME", ("e", "name")),
    ("med_nm", ("med", "name")), ("appt_dt", ("appt", "date")), ("zipcode", ("zip", "code")),
    ("candidate", ("candidate",)), ("casino", ("casino",)), ("startStationId", ("start", "station", "id"))])
def test_glued_and_class_word_names_split(identifier, words):
    assert split_identifier(identifier) == words


def _database(tmp_path, name, script):
    """A SQLite file built from `script`, and an open connection to check gold queries on."""
    path = tmp_path / f"{name}.sqlite"
    con = sqlite3.connect(path)
    con.executescript(script)
    con.commit()
    return path, con


@pytest.fixture
def clinic(tmp_path):
    return _database(tmp_path, "clinic", """
    CREATE TABLE pt (pt_id INTEGER PRIMARY KEY, fname TEXT, lname TEXT, city TEXT);
    CREATE TABLE dr (dr_id INTEGER PRIMARY KEY, lname TEXT, yrs_exp INTEGER);
    CREATE TABLE appt (appt_id INTEGER PRIMARY KEY, pt_id INTEGER REFERENCES pt(pt_id),
                       dr_id INTEGER REFERENCES dr(dr_id), appt_dt TEXT, chg_amt REAL);
    INSERT INTO pt VALUES (1, 'Ana', 'Diaz', 'Boston'), (2, 'Ben', 'Khan', 'Lowell'), (3, 'Cy', 'Ito', 'Boston');
    INSERT INTO dr VALUES (1, 'Novak', 22), (2, 'Reyes', 8);
    INSERT INTO appt VALUES (1, 1, 1, '2024-01-02', 120.0), (2, 1, 2, '2024-02-03', 80.5), (3, 2, 1, '2024-03-04', 300);
    """)


def queries(question, schema, limit=50):
    linked = link(question, schema)
    return enumerate_language(build_grammar(schema, linked), re.findall(r"\d+", question), limit=limit)


def gives(con, sql_list, gold):
    want = sorted(con.execute(gold).fetchall())
    return [q for q in sql_list if sorted(con.execute(q).fetchall()) == want]


def test_questions_in_full_words_reach_abbreviated_names(clinic):
    path, con = clinic
    schema = introspect(path)
    assert link("How many patients are there?", schema).tables[0] == "pt"  # was "not about this database"
    assert "dr" in link("What is the average years of experience of doctors?", schema).tables
    assert gives(con, queries("How many patients are there?", schema), "SELECT count(*) FROM pt")
    assert gives(con, queries("What is the total charge amount of all appointments?", schema),
                 "SELECT sum(chg_amt) FROM appt")
    assert gives(con, queries("What are the first names of patients who never had an appointment?", schema),
                 "SELECT fname FROM pt WHERE pt_id NOT IN (SELECT pt_id FROM appt)")


def test_each_names_an_abbreviated_table():
    assert "group" in detect_intent("What is the total quantity of each medication?", {"med", "rx"}, {"qty"},
                                    {"med", "rx", "qty", "name"})


@pytest.fixture
def bikes(tmp_path):
    """Two keys to stations, declared as neither: the role words (start, end) tell them apart."""
    return _database(tmp_path, "bikes", """
    CREATE TABLE stations (id INTEGER PRIMARY KEY, stationName TEXT, city TEXT);
    CREATE TABLE trips (id INTEGER PRIMARY KEY, startStationId INTEGER, endStationId INTEGER, minutes INTEGER);
    CREATE TABLE teams (team_id INTEGER PRIMARY KEY, teamName TEXT);
    CREATE TABLE games (id INTEGER PRIMARY KEY, home_team_id INTEGER, away_team_id INTEGER);
    INSERT INTO stations VALUES (1, 'Market St', 'SF'), (2, 'Lake Merritt', 'Oakland'), (3, 'Ashby', 'Berkeley');
    INSERT INTO trips VALUES (1, 1, 2, 10), (2, 1, 3, 20), (3, 2, 1, 5), (4, 3, 2, 7);
    INSERT INTO teams VALUES (1, 'Reds'), (2, 'Blues');
    INSERT INTO games VALUES (1, 1, 2), (2, 2, 1), (3, 1, 2);
    """)


def test_role_named_keys_are_inferred_and_chosen_by_the_question(bikes):
    path, con = bikes
    schema = introspect(path)
    keys = {(f.table, f.column, f.other_table, f.other_column) for f in inferred_keys(schema)}
    assert {("trips", "startStationId", "stations", "id"), ("trips", "endStationId", "stations", "id"),
            ("games", "home_team_id", "teams", "team_id"), ("games", "away_team_id", "teams", "team_id")} <= keys
    ended = join_plans(["trips", "stations"], schema, words=frozenset({"ended"}))
    started = join_plans(["trips", "stations"], schema, words=frozenset({"started"}))
    assert any("endStationId" in clause for names, clause in ended if len(names) == 2)
    assert any("startStationId" in clause for names, clause in started if len(names) == 2)
    assert JoinGraph(schema).connect(["games", "teams"], words=frozenset({"away"}))[1][0].column == "away_team_id"
    for role, gold in (("ended", "endStationId"), ("started", "startStationId")):
        got = queries(f"How many trips {role} at Lake Merritt?", schema)
        assert gives(con, got, f"SELECT count(*) FROM trips JOIN stations ON {gold} = stations.id "
                               "WHERE stationName = 'Lake Merritt'"), got


def test_yes_no_columns_and_their_negation():
    electric = Column("isElectric", "INTEGER", samples=[0, 1])
    assert flag_value("how many bikes are electric", electric) == "1"
    assert flag_value("how many bikes are not electric", electric) == "0"
    assert flag_value("how many non electric bikes", electric) == "0"
    assert flag_value("how many bikes are there", electric) is None
    assert flag_value("how many bikes are electric", Column("isElectric", "TEXT", samples=["yes"])) is None


def test_both_with_long_parallel_phrases():
    split = split_set_question("Which cities have both stations with more than 20 docks and stations with fewer "
                               "than 10 docks?")
    assert split.operator == "INTERSECT"
    assert split.first == "Which cities have stations with more than 20 docks?"
    assert split.second == "Which cities have stations with fewer than 10 docks?"
    split = split_set_question("Which jobs are held both by employees in the RESEARCH department and by employees "
                               "in the SALES department?")
    assert split.second == "Which jobs are held by employees in the SALES department?"


@pytest.fixture
def scott(tmp_path):
    """Oracle-style upper-case names: EMP, DEPT, DEPTNO, DNAME, SAL."""
    return _database(tmp_path, "scott", """
    CREATE TABLE DEPT (DEPTNO INTEGER PRIMARY KEY, DNAME TEXT, LOC TEXT);
    CREATE TABLE EMP (EMPNO INTEGER PRIMARY KEY, ENAME TEXT, JOB TEXT, HIREDATE TEXT, SAL REAL,
                      DEPTNO INTEGER REFERENCES DEPT(DEPTNO));
    INSERT INTO DEPT VALUES (10, 'ACCOUNTING', 'NEW YORK'), (20, 'RESEARCH', 'DALLAS'), (30, 'SALES', 'CHICAGO');
    INSERT INTO EMP VALUES (1, 'SMITH', 'CLERK', '1980-12-17', 800, 20), (2, 'ALLEN', 'SALESMAN', '1981-02-20', 1600, 30),
                           (3, 'JONES', 'MANAGER', '1981-04-02', 2975, 20), (4, 'CLARK', 'CLERK', '1981-06-09', 1300, 10);
    """)


def test_each_and_by_read_abbreviated_table_names(scott):
    path, con = scott
    schema = introspect(path)
    got = queries("How many employees work in each department? Give the department name and the count.", schema)
    assert gives(con, got, "SELECT DNAME, count(*) FROM EMP JOIN DEPT USING (DEPTNO) GROUP BY DNAME"), got
    got = queries("What is the maximum salary in each department?", schema)
    assert gives(con, got, "SELECT DNAME, max(SAL) FROM EMP JOIN DEPT USING (DEPTNO) GROUP BY DNAME"), got
    # "by employees" names the table EMP: no grouping
    got = queries("Which jobs are held by employees in the RESEARCH department?", schema)
    assert gives(con, got, "SELECT JOB FROM EMP JOIN DEPT USING (DEPTNO) WHERE DNAME = 'RESEARCH'"), got


def test_a_text_column_of_iso_dates_compares_by_year(clinic):
    path, con = clinic
    con.executescript("ALTER TABLE pt ADD COLUMN dob TEXT; UPDATE pt SET dob = '19' || (40 + pt_id * 10) || '-05-01';")
    con.commit()
    schema = introspect(path)
    got = queries("Which cities have patients born before 1960?", schema)
    assert gives(con, got, "SELECT city FROM pt WHERE dob < '1960'"), got
