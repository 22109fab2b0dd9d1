"""Lays a test-built database and its questions out in Spider's format, so `girflow mirror eval
--spider DIR` measures Mirror on it exactly as on Spider's own databases."""
import json
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path


def write_spider_folder(folder: str | Path, db_id: str, build: Callable[[Path], Path],
                        questions: list[tuple[str, str]]) -> Path:
    """DIR/questions.json and DIR/database/<db_id>.sqlite, built by `build(path)`."""
    folder = Path(folder)
    build(folder / "database" / f"{db_id}.sqlite")
    (folder / "questions.json").write_text(json.dumps(
        [{"db_id": db_id, "question": q, "query": sql} for q, sql in questions], indent=1))
    return folder


def fresh_database(path: str | Path, schema: str) -> sqlite3.Connection:
    """An open connection to a new database at `path` holding `schema` (an older file is replaced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.executescript(schema)
    return con


def insert_numbered(con: sqlite3.Connection, table: str, rows: Iterable[object]) -> None:
    """Insert `rows` into `table` with ids 1, 2, ... in front: the builders' lists hold the data, the
    position is the key. A row is a tuple of column values or one value."""
    numbered = [(i, *(row if isinstance(row, tuple) else (row,))) for i, row in enumerate(rows, 1)]
    if numbered:
        marks = ",".join("?" * len(numbered[0]))
        name = table.replace('"', '""')
        con.executemany(f'INSERT INTO "{name}" VALUES ({marks})', numbered)
