"""The value index (SQLite FTS5 trigram, persisted per database file in girflow's cache) and display
rounding (numbers rounded for reading, values kept exact)."""
import os
import sqlite3

import pytest

from girflow.frontends.mirror.display import display_value
from girflow.frontends.mirror.values import build_index


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GIRFLOW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def make_db(path, makers):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE maker(id INTEGER PRIMARY KEY, full_name TEXT, country TEXT)")
    con.executemany("INSERT INTO maker(full_name, country) VALUES (?, ?)", makers)
    con.commit()
    con.close()


def test_value_index_is_built_once_per_database_file_and_found_again(tmp_path, cache):
    db = tmp_path / "cars.db"
    make_db(db, [("Ford Motor Company", "usa"), ("General Motors", "usa"), ("Fiat", "italy")])
    cols = [("maker", "full_name"), ("maker", "country")]
    index, distinct = build_index(db, cols)
    assert distinct == {("maker", "full_name"): 3, ("maker", "country"): 2}
    stored = list((cache / "mirror" / "values").glob("*.sqlite"))
    assert len(stored) == 1 and not list(tmp_path.glob("*.sqlite"))  # in the cache, never beside the data
    # exact word runs by key; a quoted name that is part of a longer value through the trigram index
    found = index.find("Which cars are made by 'Ford' in the USA or by General Motors?")
    places = {v for _, _, ps in found for _, _, v in ps}
    assert places == {"Ford Motor Company", "usa", "General Motors"}
    assert index.find("Which cars are made by ford?") == []  # an unquoted lower-case part is no name
    again, _ = build_index(db, cols)
    assert again.entries == index.entries
    assert list((cache / "mirror" / "values").glob("*.sqlite")) == stored  # opened, not rebuilt
    con = sqlite3.connect(db)
    con.execute("INSERT INTO maker(full_name, country) VALUES ('Volvo', 'sweden')")
    con.commit()
    con.close()
    os.utime(db, ns=(os.stat(db).st_atime_ns, os.stat(db).st_mtime_ns + 10**9))
    changed, _ = build_index(db, cols)
    assert changed.find("Which cars come from Sweden?")[0][2] == [("maker", "country", "sweden")]


@pytest.mark.parametrize("value, shown", [
    (3, "3"), (2014, "2014"), (34.5, "34.5"), (34.0, "34"), (189794.0312, "189794.03"), (0.00123456, "0.00123"),
    (2 / 3, "0.667"), (-12.499, "-12.5"), (None, "NULL"), ("Ford", "Ford"), (1e-7, "1.00e-07")])
def test_numbers_are_rounded_for_display(value, shown):
    assert display_value(value) == shown


def test_cli_table_rounds_but_the_answer_keeps_exact_values(tmp_path, capsys):
    from girflow import Mirror
    from girflow.frontends.mirror.cli import print_answer

    db = tmp_path / "m.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t(x REAL)")
    con.execute("INSERT INTO t VALUES (1.0), (2.0), (2.0)")
    con.commit()
    con.close()
    m = Mirror(db, out_dir=tmp_path, model_summary=False, charts=False)
    answer = m.run("SELECT AVG(x) AS avg_x FROM t")
    assert answer.rows == [(5 / 3,)]
    print_answer(answer)
    assert "1.67" in capsys.readouterr().out
