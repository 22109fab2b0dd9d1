"""`python -m girflow.tools.mirror_merge`: several Spider-format databases copied into one larger schema,
with each question's gold SQL still giving the same rows there (latency and accuracy by schema size)."""
import json
import sqlite3

import pytest

from girflow.tools.mirror_merge import merge_databases, merge_folder


def _db(path, script):
    con = sqlite3.connect(path)
    con.executescript(script)
    con.commit()
    con.close()
    return path


def test_merged_schema_keeps_tables_rows_and_gold_results(tmp_path):
    spider = tmp_path / "spider"
    (spider / "database").mkdir(parents=True)
    _db(spider / "database" / "a.sqlite", "CREATE TABLE singer (id INTEGER PRIMARY KEY, name TEXT);"
        "INSERT INTO singer VALUES (1, 'Ann'), (2, 'Bo');")
    _db(spider / "database" / "b.sqlite", "CREATE TABLE Pets (PetID INTEGER PRIMARY KEY, kind TEXT);"
        "CREATE TABLE Owner (OwnerID INTEGER PRIMARY KEY, PetID INTEGER REFERENCES Pets(PetID));"
        "INSERT INTO Pets VALUES (1, 'cat'); INSERT INTO Owner VALUES (7, 1);")
    questions = [{"db_id": "a", "question": "How many singers?", "query": "SELECT count(*) FROM singer"},
                 {"db_id": "b", "question": "Kinds of owned pets?",
                  "query": "SELECT kind FROM Pets JOIN Owner ON Owner.PetID = Pets.PetID"}]
    (spider / "questions.json").write_text(json.dumps(questions))
    out = merge_folder(spider, tmp_path / "merged", {"ab": ["a", "b"]})
    merged = json.loads((out / "questions.json").read_text())
    assert [q["db_id"] for q in merged] == ["ab", "ab"]
    con = sqlite3.connect(out / "database" / "ab.sqlite")
    assert con.execute(merged[0]["query"]).fetchall() == [(2,)]
    assert con.execute(merged[1]["query"]).fetchall() == [("cat",)]
    assert con.execute("SELECT * FROM pragma_foreign_key_list('Owner')").fetchone()[2] == "Pets"
    with pytest.raises(ValueError, match="singer"):
        merge_databases([spider / "database" / "a.sqlite"] * 2, tmp_path / "clash.sqlite")
