"""Dates stored differently from how a question says them (date_encoding.py): epoch seconds, epoch
milliseconds, 20231105 integers, ISO text with 'T'/'Z', day-first and month-first '05/11/2023' text and
Julian day numbers. The encoding is read from the data, and "in 2023", "before 2022", "each year", "per
month" compile to the same condition on every encoding. Checked without a model against Python's own
calendar: the grammar built for the question must allow a query returning the reference rows."""
import calendar
import datetime as dt
import sqlite3
from collections import Counter

import pytest

from girflow.frontends.mirror import date_encoding as de
from girflow.frontends.mirror.engines import open_engine
from girflow.frontends.mirror.pipeline import allowed_queries, linkable_schema
from girflow.frontends.mirror.spider_eval import same_rows

MOMENTS = [dt.datetime(2021 + (i * 7) % 4, 1 + (i * 5) % 12, 1 + (i * 11) % 28, (i * 3) % 24, (i * 17) % 60)
           for i in range(1, 41)]


def _epoch(m: dt.datetime) -> int:
    return calendar.timegm(m.timetuple())


# table, date column, SQL type, how a moment is stored, the encoding expected
STORAGES = [
    ("payment", "paid_ts", "INTEGER", _epoch, de.EPOCH_S),
    ("login", "logged_ms", "INTEGER", lambda m: _epoch(m) * 1000 + 250, de.EPOCH_MS),
    ("booking", "booked", "INTEGER", lambda m: int(m.strftime("%Y%m%d")), de.YMD_NUMBER),
    ("contract", "signed", "TEXT", lambda m: m.strftime("%d/%m/%Y"), de.DMY_TEXT),
    ("permit", "issued", "TEXT", lambda m: m.strftime("%m/%d/%Y"), de.MDY_TEXT),
    ("alert", "raised_utc", "TEXT", lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ"), de.ISO),
    ("sale", "sold_jd", "REAL", lambda m: round(_epoch(m) / 86400.0 + 2440587.5, 6), de.JULIAN),
]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = tmp_path_factory.mktemp("dates") / "dates.sqlite"
    con = sqlite3.connect(path)
    for table, column, sql_type, store, _ in STORAGES:
        con.execute(f"CREATE TABLE {table} ({table}_id INTEGER PRIMARY KEY, amount REAL, {column} {sql_type})")
        con.executemany(f"INSERT INTO {table} VALUES (?,?,?)",
                        [(i, 10.0 * i, store(m)) for i, m in enumerate(MOMENTS, 1)])
    con.commit()
    engine = open_engine(path, tmp_path_factory.mktemp("dates_cache"))
    return linkable_schema(engine), con


@pytest.mark.parametrize("table,column,sql_type,store,encoding", STORAGES)
def test_the_encoding_is_read_from_the_data(stored, table, column, sql_type, store, encoding):
    schema, _ = stored
    found = next(c for c in schema.columns_of(table) if c.name == column)
    assert de.column_encoding(schema, table, found) == encoding


@pytest.mark.parametrize("table,column,sql_type,store,encoding", STORAGES)
def test_every_encoding_reads_back_as_the_same_date(stored, table, column, sql_type, store, encoding):
    _, con = stored
    got = [r[0] for r in con.execute(f"SELECT {de.date_part('%Y-%m-%d %H:%M', column, encoding)} FROM {table} "
                                     f"ORDER BY {table}_id")]
    whole_minutes = [m.strftime("%Y-%m-%d %H:%M") for m in MOMENTS]
    if encoding in (de.YMD_NUMBER, de.DMY_TEXT, de.MDY_TEXT):  # the day alone is stored
        got, whole_minutes = [g[:10] for g in got], [w[:10] for w in whole_minutes]
    if encoding == de.JULIAN:  # a fraction of a day in floating point: exact to the hour (no moment is on one)
        got, whole_minutes = [g[:13] for g in got], [w[:13] for w in whole_minutes]
    assert got == whole_minutes


def _questions(table):
    verb = {"payment": "made", "login": "recorded", "booking": "made", "contract": "signed", "permit": "issued",
            "alert": "raised", "sale": "made"}[table]
    years = Counter(m.year for m in MOMENTS)
    months = Counter(m.strftime("%Y-%m") for m in MOMENTS)
    return [
        (f"How many {table}s were {verb} in 2023?", [(years[2023],)]),
        (f"How many {table}s were {verb} before 2022?", [(years[2021],)]),
        (f"How many {table}s were {verb} in each year?", sorted((str(y), n) for y, n in years.items())),
        (f"How many {table}s were {verb} per month?", sorted(months.items())),
    ]


@pytest.mark.parametrize("table,column,sql_type,store,encoding", STORAGES)
def test_year_and_month_questions_compile_for_every_encoding(stored, table, column, sql_type, store, encoding):
    schema, con = stored
    for question, want in _questions(table):
        queries = allowed_queries(schema, question, limit=13)
        assert any(same_rows(len(con.execute(q).description), con.execute(q).fetchall(), want, False)
                   for q in queries), (question, queries)


@pytest.mark.parametrize("values,numeric,named,expected", [
    ([1_700_000_000, 1_600_000_000], True, False, de.EPOCH_S),
    ([600_000_000, 1_600_000_000], True, False, None),  # 1989 needs a name that says time
    ([600_000_000, 1_600_000_000], True, True, de.EPOCH_S),
    ([1_700_000_000_123], True, False, de.EPOCH_MS),
    ([20231105, 19991231], True, False, de.YMD_NUMBER),
    (["20231105"], False, False, de.YMD_NUMBER),
    ([12345678, 20231105], True, False, None),  # month 56: an identifier, not a date
    (["05/11/2023", "25/12/2022"], False, False, de.DMY_TEXT),
    (["12/25/2022", "05/11/2023"], False, False, de.MDY_TEXT),
    (["2023-11-05T08:15:00Z", "2023-11-05 08:15:00+02:00"], False, False, de.ISO),
    ([2460254.5, 2459000.25], True, True, de.JULIAN),
    ([2460254.5, 2459000.25], True, False, None),  # an amount of 2.4 million is not a Julian day by itself
    ([1_350_000_000, 1_420_000_000], True, False, de.EPOCH_S),
    ([5, 1_420_000_000], True, False, None),  # populations: the smallest is no moment
    (["2023-24", "2022-23"], False, False, None),  # a season is a period code, not a date
    (["FY2024", "2024Q3", "Spring 2023"], False, False, None),
    ([True, False], True, False, None),
])
def test_encodings_of_values(values, numeric, named, expected):
    assert de.encoding_from_values(values, numeric, named) == expected


def test_names_that_say_time():
    assert all(de.names_time(n) for n in ("birth_ts", "createdAt", "sold_jd", "signed_on", "EventTime", "HIREDATE"))
    assert not any(de.names_time(n) for n in ("population", "salary_usd", "attendance", "station"))


@pytest.mark.parametrize("question,want_fmt,want_period", [
    ("How many payments were made before March 2023?", "%Y-%m", "2023-03"),
    ("How many payments were made after sept. 2021?", "%Y-%m", "2021-09"),
    ("How many payments were made in 2023?", "%Y", "2023"),
])
def test_a_month_named_with_its_year_compares_the_month(question, want_fmt, want_period):
    from girflow.frontends.mirror.grammar import month_of_year

    assert month_of_year(question, want_period[:4]) == (want_fmt, want_period)


def test_before_a_month_compiles_on_a_stored_date(stored):
    schema, con = stored
    want = [(sum(m < dt.datetime(2023, 3, 1) for m in MOMENTS),)]
    for table, verb in (("payment", "made"), ("booking", "made"), ("contract", "signed")):
        queries = allowed_queries(schema, f"How many {table}s were {verb} before March 2023?", limit=13)
        assert any(con.execute(q).fetchall() == want for q in queries), queries


def test_other_engines_read_every_encoding_as_sqlite_does(stored, tmp_path):
    """DuckDB (and PostgreSQL where installed) give the same years and months as SQLite for the SQLite
    expressions date_encoding.py writes (engines/translate.py turns 'unixepoch' into the engine's own)."""
    from girflow.frontends.mirror.engines.export import sqlite_to_parquet, sqlite_to_postgres
    from girflow.frontends.mirror.engines.pg_cluster import PrivateCluster, find_bindir

    _, con = stored
    path = con.execute("PRAGMA database_list").fetchall()[0][2]
    sqlite_to_parquet(path, tmp_path / "parquet")
    others = [open_engine(tmp_path / "parquet", tmp_path / "duck_cache", engine="duckdb")]
    cluster = PrivateCluster().start() if find_bindir() is not None else None
    try:
        if cluster is not None:
            url = cluster.create_database("dates")
            sqlite_to_postgres(path, url)
            others.append(open_engine(url, tmp_path / "pg_cache", engine="postgresql"))
        for table, column, _, _, encoding in STORAGES:
            part = de.date_part("%Y-%m", column, encoding)
            sql = f"SELECT {part}, COUNT(*) FROM {table} GROUP BY {part} ORDER BY 1"
            want = con.execute(sql).fetchall()
            assert want == sorted(Counter(m.strftime("%Y-%m") for m in MOMENTS).items())
            for engine in others:
                assert [tuple(r) for r in engine.run(engine.translate(sql)).rows] == want, (engine.name, sql)
    finally:
        for engine in others:
            engine.close()
        if cluster is not None:
            cluster.stop()


def test_a_month_without_a_year_is_that_month_of_every_year(stored):
    from girflow.frontends.mirror.grammar import month_alone

    assert month_alone("How many payments were made in March?") == "03"
    assert month_alone("How many payments were made during the month of sept?") == "09"
    assert month_alone("How many payments were made in March 2023?") is None  # the year says more
    assert month_alone("Which payments may be late?") is None
    schema, con = stored
    want = [(sum(m.month == 3 for m in MOMENTS),)]
    for table, verb in (("payment", "made"), ("login", "recorded"), ("permit", "issued"), ("alert", "raised")):
        queries = allowed_queries(schema, f"How many {table}s were {verb} in March?", limit=13)
        assert any(con.execute(q).fetchall() == want for q in queries), queries


def test_the_latest_of_day_first_text_is_the_latest_date(stored):
    """'25/01/2024' sorts before '26/03/2021' as text: "the latest contract" ranks by the date it stands for."""
    schema, con = stored
    latest = max(MOMENTS)
    for table, column, _, store, _ in STORAGES[3:5]:  # day-first and month-first text
        verb = "signed" if table == "contract" else "issued"
        queries = allowed_queries(schema, f"Which {table} was {verb} the latest?", limit=13)
        assert queries and all(con.execute(q).fetchall()[0][0] == store(latest) for q in queries), queries
