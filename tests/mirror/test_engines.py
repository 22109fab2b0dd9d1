"""Mirror on PostgreSQL and DuckDB: the same guard and the same answers as on SQLite.

A private PostgreSQL cluster (initdb/pg_ctl, temp folder, free port, unprivileged user) holds the demo
database and three Spider dev databases; the same data is also written as Parquet files for DuckDB.
SQLite itself is the reference for every answer.
"""
import hashlib
import json
import os
from pathlib import Path

import pytest
from mirror_helpers import SQLITE_ATTACKS, db_fingerprint, sqlite_rows

from girflow.frontends.mirror.engines import choose_engine, open_engine
from girflow.frontends.mirror.engines.parity import Replicas, same_rows
from girflow.frontends.mirror.engines.pg_cluster import PrivateCluster, find_bindir
from girflow.frontends.mirror.errors import MirrorError

SPIDER = Path(__file__).parent / "data" / "spider"
ENGINES = ["sqlite", "postgresql", "duckdb"]

ATTACKS = SQLITE_ATTACKS + [
    # what other engines would otherwise allow
    "WITH gone AS (DELETE FROM orders RETURNING *) SELECT COUNT(*) FROM gone",
    "SELECT * INTO stolen FROM customers",
    "SELECT * FROM customers FOR UPDATE",
    "COPY customers TO '/tmp/mirror_stolen.csv'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SET default_transaction_read_only = off",
    "SELECT pg_terminate_backend(1)",
]

READS = [
    "SELECT country, COUNT(*) FROM customers GROUP BY country ORDER BY 2 DESC",
    "SELECT name FROM products WHERE price > (SELECT AVG(price) FROM products) ORDER BY name",
    "SELECT c.name, SUM(o.amount) FROM orders o JOIN customers c ON o.customer_id = c.id GROUP BY c.id ORDER BY 2 DESC LIMIT 3;",
    "SELECT 'a;b' AS text_with_semicolon",
    "SELECT strftime('%Y', order_date), COUNT(*) FROM orders GROUP BY strftime('%Y', order_date) ORDER BY 1",
    "SELECT COUNT(*) FROM customers WHERE name LIKE 'anna%'",
]


NO_POSTGRES = "PostgreSQL is not installed (tools/setup.sh installs it with apt-get as root)"


@pytest.fixture(scope="module")
def any_cluster():
    """The private cluster, or None where PostgreSQL cannot be installed (the DuckDB tests still run)."""
    if find_bindir() is None:
        yield None
        return
    pg = PrivateCluster().start()
    yield pg
    pg.stop()


@pytest.fixture
def cluster(any_cluster):
    if any_cluster is None:
        pytest.skip(NO_POSTGRES)
    return any_cluster


@pytest.fixture(scope="module")
def replicas(any_cluster, demo_db, tmp_path_factory):
    dbs = {"demo": demo_db}
    dbs.update({p.stem: p for p in sorted((SPIDER / "database").glob("*.sqlite"))})
    return Replicas(dbs, any_cluster, tmp_path_factory.mktemp("replicas"))


def needs(kind: str, replicas) -> None:
    if kind == "postgresql" and not replicas.postgres:
        pytest.skip(NO_POSTGRES)


@pytest.fixture(params=ENGINES)
def engine(request, replicas):
    needs(request.param, replicas)
    e = replicas.engine("demo", request.param)
    yield e
    e.close()


def fingerprint(replicas, kind: str) -> str:
    """Every row of every table of the demo copy this engine reads (and, for files, the folder listing)."""
    if kind == "sqlite":
        return db_fingerprint(replicas.sqlite["demo"])
    h = hashlib.sha256()
    if kind == "duckdb":
        for f in sorted(replicas.parquet["demo"].iterdir()):
            h.update(f.name.encode() + f.read_bytes())
        return h.hexdigest()
    import psycopg

    with psycopg.connect(replicas.postgres["demo"]) as con:
        for (name,) in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"):
            h.update(name.encode())
            for row in con.execute(f'SELECT * FROM "{name}" ORDER BY 1'):
                h.update(repr(row).encode())
    return h.hexdigest()


@pytest.mark.parametrize("sql", ATTACKS)
def test_destructive_sql_is_refused_and_nothing_changes(replicas, engine, sql):
    kind = {"SQLite": "sqlite", "PostgreSQL": "postgresql", "DuckDB": "duckdb"}[engine.name]
    before = fingerprint(replicas, kind)
    with pytest.raises(MirrorError):
        engine.run(sql)
    assert fingerprint(replicas, kind) == before
    assert not os.path.exists("/tmp/mirror_stolen.csv")


@pytest.mark.parametrize("sql", READS)
def test_reads_return_what_sqlite_returns(replicas, engine, sql):
    want = sqlite_rows(replicas.sqlite["demo"], sql)
    got = engine.run(engine.translate(sql)).rows
    assert same_rows(got, want, sql)


def test_row_cap_and_time_limit(engine):
    engine.row_cap = 50
    result = engine.run("SELECT * FROM orders")
    assert len(result.rows) == 50 and result.truncated
    engine.time_limit_s = 0.3
    slow = ("SELECT COUNT(*) FROM orders a, orders b, orders c WHERE a.amount + b.amount + c.amount > 1"
            if engine.name != "SQLite" else
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c")
    with pytest.raises(MirrorError, match="longer than"):
        engine.run(slow)
    engine.time_limit_s = 5.0
    assert engine.run("SELECT COUNT(*) FROM orders").rows == [(4000,)]  # usable after an interrupt


def test_errors_are_plain(engine):
    with pytest.raises(MirrorError, match="nope"):
        engine.run("SELECT nope FROM orders")
    with pytest.raises(MirrorError, match="empty SQL"):
        engine.run("  ;  ")
    assert engine.explain("SELECT id FROM orders") is None
    assert "missing_table" in engine.explain("SELECT id FROM missing_table")


def test_schema_is_the_same_on_every_engine(replicas):
    texts, indexes = {}, {}
    for kind in [k for k in ENGINES if k != "postgresql" or replicas.postgres]:
        e = replicas.engine("demo", kind)
        texts[kind] = e.schema
        indexes[kind] = e.value_index([(t.name, c.name) for t in e.schema.tables for c in t.columns
                                       if not c.is_numeric])
        e.close()
    base = texts["sqlite"]
    for kind in [k for k in texts if k != "sqlite"]:
        s = texts[kind]
        assert [t.name for t in s.tables] == [t.name for t in base.tables]
        assert [(t.row_count, [(c.name, c.is_pk, c.samples) for c in t.columns]) for t in s.tables] == \
               [(t.row_count, [(c.name, c.is_pk, c.samples) for c in t.columns]) for t in base.tables]
        assert sorted((f.table, f.column, f.other_table, f.other_column) for f in s.foreign_keys) == \
               sorted((f.table, f.column, f.other_table, f.other_column) for f in base.foreign_keys)
        assert s.describe() == base.describe()
        assert indexes[kind].distinct == indexes["sqlite"].distinct  # linking finds values the same way
        assert {k: sorted(v) for k, v in indexes[kind].entries.items()} == \
               {k: sorted(v) for k, v in indexes["sqlite"].entries.items()}


@pytest.mark.parametrize("kind", ["postgresql", "duckdb"])
def test_spider_gold_sql_runs_and_agrees_with_sqlite(replicas, kind):
    """Every gold query of three Spider databases, written for SQLite, translated and run on the engine."""
    needs(kind, replicas)
    items = json.loads((SPIDER / "questions.json").read_text())
    engines = {db: replicas.engine(db, kind) for db in {q["db_id"] for q in items}}
    failed, differ = [], []
    for q in items:
        want = sqlite_rows(SPIDER / "database" / f"{q['db_id']}.sqlite", q["query"])
        e = engines[q["db_id"]]
        try:
            got = e.run(e.translate(q["query"])).rows
        except MirrorError as err:
            failed.append((q["query"], str(err)))
            continue
        if not same_rows(got, want, q["query"]):
            differ.append(q["query"])
    assert not failed, failed
    # ORDER BY ... LIMIT over ties may legitimately pick another row; nothing else may differ
    assert all("LIMIT" in d.upper() for d in differ), differ
    assert len(differ) <= 0.05 * len(items), differ


def test_postgres_introspection_reads_the_catalog(cluster):
    url = cluster.create_database("catalog_test")
    cluster.execute("""
        CREATE SCHEMA sales;
        CREATE TABLE public.region (id integer PRIMARY KEY, name text NOT NULL);
        COMMENT ON TABLE public.region IS 'Sales regions';
        COMMENT ON COLUMN public.region.name IS 'Region name as printed on invoices';
        CREATE TABLE sales.invoice (id bigint PRIMARY KEY, region_id integer REFERENCES public.region(id),
                                    total numeric(10, 2), issued date);
        CREATE TABLE sales.region (shadowed integer);
        CREATE TABLE hidden_schema_table (x integer);
        CREATE SCHEMA hidden; CREATE TABLE hidden.secret (x integer);
        INSERT INTO public.region VALUES (1, 'North'), (2, 'South');
        INSERT INTO sales.invoice VALUES (10, 1, 99.50, '2024-03-01'), (11, 2, 10.00, '2025-01-02');
        ALTER DATABASE catalog_test SET search_path = public, sales;
    """, database="catalog_test")
    e = open_engine(url, Path("/tmp"))
    s = e.schema
    assert sorted(t.name for t in s.tables) == ["hidden_schema_table", "invoice", "region"]
    region = s.table("region")
    assert [c.name for c in region.columns] == ["id", "name"]  # public.region shadows sales.region
    assert region.comment == "Sales regions" and region.column("name").comment.startswith("Region name")
    assert region.column("id").is_pk and region.column("name").values == ["North", "South"]
    inv = s.table("invoice")
    assert [(c.name, c.type) for c in inv.columns] == [("id", "INTEGER"), ("region_id", "INTEGER"),
                                                       ("total", "NUMERIC"), ("issued", "DATE")]
    assert [(f.table, f.column, f.other_table, f.other_column) for f in s.foreign_keys] == \
           [("invoice", "region_id", "region", "id")]
    assert "Sales regions" in s.describe()
    # dates come back as text, numerics as numbers; strftime is written as TO_CHAR
    sql = e.translate("SELECT strftime('%Y', issued), SUM(total) FROM invoice GROUP BY 1 ORDER BY 1")
    assert "TO_CHAR" in sql
    assert e.run(sql).rows == [("2024", 99.5), ("2025", 10)]
    e.close()


def test_postgres_writes_fail_even_for_a_role_that_could_write(cluster, replicas):
    url = replicas.postgres["demo"]
    cluster.execute("""
        CREATE ROLE writer LOGIN;
        GRANT ALL ON ALL TABLES IN SCHEMA public TO writer;
        CREATE FUNCTION public.wipe() RETURNS bigint LANGUAGE sql AS 'DELETE FROM orders RETURNING 1; SELECT 1::bigint';
        GRANT EXECUTE ON FUNCTION public.wipe() TO writer;
    """, database="demo")
    writer = url.replace("postgres@", "writer@")
    import psycopg

    with psycopg.connect(writer) as con:  # the role can write: a plain transaction could delete rows
        con.execute("DELETE FROM orders WHERE id = -1")
        con.rollback()
    e = open_engine(writer, Path("/tmp"))
    with pytest.raises(MirrorError, match="refused"):
        e.run("DELETE FROM orders")  # refused before it reaches the server
    with pytest.raises(MirrorError, match="read-only transaction"):
        e.run("SELECT public.wipe()")  # a SELECT that writes: the READ ONLY transaction stops it
    assert e.run("SELECT COUNT(*) FROM orders").rows == [(4000,)]
    e.close()


def test_duckdb_reads_files_in_place_read_only(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "cities.csv").write_text("id,city,country\n1,Paris,France\n2,Lyon,France\n3,Rome,Italy\n")
    (folder / "sales.csv").write_text("id,city_id,amount\n1,1,10.5\n2,1,4.5\n3,3,7\n4,2,1\n")
    part = folder / "events"
    for year in (2023, 2024):
        (part / f"year={year}").mkdir(parents=True)
        (part / f"year={year}" / "e.csv").write_text(f"kind\nclick\nview\n{'click' if year == 2024 else 'view'}\n")
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    assert choose_engine(folder) == "duckdb"  # a partitioned subfolder: read in place
    e = open_engine(folder, tmp_path / "out")
    s = e.schema
    assert sorted(t.name for t in s.tables) == ["cities", "events", "sales"]
    assert s.table("cities").column("id").is_pk
    assert [(f.table, f.column, f.other_table) for f in s.foreign_keys] == [("sales", "city_id", "cities")]
    rows = e.run(e.translate("SELECT cities.country, SUM(sales.amount) FROM sales JOIN cities ON sales.city_id = "
                             "cities.id GROUP BY cities.country ORDER BY 1")).rows
    assert rows == [("France", 16.0), ("Italy", 7.0)]
    assert e.run("SELECT year, COUNT(*) FROM events WHERE kind = 'click' GROUP BY year ORDER BY 1").rows == \
           [(2023, 1), (2024, 2)]
    for attack in ("COPY cities TO '" + str(folder / "x.csv") + "'", "SELECT * FROM read_csv('/etc/passwd')",
                   "CREATE TABLE t AS SELECT 1"):
        with pytest.raises(MirrorError):
            e.run(attack)
    again = open_engine(folder, tmp_path / "out")  # a second engine on the same files shares the locked instance
    assert again.run("SELECT COUNT(*) FROM sales").rows == [(4,)]
    with pytest.raises(MirrorError):
        again.run("SELECT * FROM read_csv('/etc/passwd')")
    again.close()
    e.close()
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before  # nothing written beside the data
    # a glob is one table of every file it matches
    g = open_engine(str(folder / "events" / "*" / "*.csv"), tmp_path / "out")
    assert [t.row_count for t in g.schema.tables] == [6]
    g.close()
    # small CSV folders keep today's path: imported into SQLite
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "t.csv").write_text("a,b\n1,2\n")
    assert choose_engine(plain) == "sqlite"


def test_cli_names_a_bad_source_plainly(tmp_path, capsys):
    """Bad sources: a clear message naming the problem, non-zero exit, no traceback (the success path of
    the CLI is the same Mirror the web API test drives on PostgreSQL)."""
    from girflow.tools.cli import main

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.parquet").write_bytes(b"not parquet")
    cases = [("postgresql://nobody@127.0.0.1:1/none", "cannot connect"),
             (str(tmp_path / "broken"), "cannot read these files"),
             (str(tmp_path / "nothing" / "*.parquet"), "matches no CSV or Parquet files")]
    for source, message in cases:
        assert main(["mirror", "ask", "--db", source, "--sql", "SELECT 1"]) != 0
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


def test_web_api_serves_a_postgres_database(cluster, replicas):
    import threading
    import urllib.error
    import urllib.request

    from girflow import Mirror
    from girflow.frontends.mirror.web import make_server

    m = Mirror(replicas.postgres["demo"], charts=False, model_summary=False)
    server = make_server(m, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def post(path, body):
        req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    try:
        with urllib.request.urlopen(base + "/api/schema") as r:
            info = json.loads(r.read())
        assert info["engine"] == "PostgreSQL" and "orders(" in info["schema"]
        code, out = post("/api/run", {"sql": "SELECT segment, COUNT(*) FROM customers GROUP BY segment ORDER BY 1"})
        assert code == 200 and out["rows"] == [list(r) for r in sqlite_rows(
            replicas.sqlite["demo"], "SELECT segment, COUNT(*) FROM customers GROUP BY segment ORDER BY 1")]
        code, out = post("/api/run", {"sql": "DELETE FROM orders"})
        assert code == 400 and "refused" in out["error"]
    finally:
        server.shutdown()
        m.engine.close()


@pytest.mark.parametrize("sql, want", [
    # identifiers are resolved to the catalog's spelling; "..." naming nothing is a string (SQLite's rule)
    ('SELECT name FROM SINGER WHERE country = "France"', ['FROM singer', '"Country"', "'France'"]),
    # a text column compared with a number compares as text; SUM/AVG of text reads numbers as SQLite does
    ("SELECT COUNT(*) FROM museum WHERE open_year < 2009", ["'2009'"]),
    ("SELECT name FROM singer WHERE name LIKE 'j%'", ["ILIKE"]),
    ("SELECT max(capacity), average FROM stadium", ["ARRAY_AGG", "ORDER BY"]),
])
def test_translation_keeps_sqlite_meaning(cluster, replicas, sql, want):
    db = "museum_visit" if "museum" in sql else "concert_singer"
    e = replicas.engine(db, "postgresql")
    out = e.translate(sql)
    for w in want:
        assert w.lower() in out.lower(), out
    assert same_rows(e.run(out).rows, sqlite_rows(SPIDER / "database" / f"{db}.sqlite", sql), sql)
    e.close()
