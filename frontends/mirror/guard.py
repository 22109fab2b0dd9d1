"""Stage 5, guarded execution: the only way any SQL (the model's or the user's) reaches the database.

Three independent locks: a read-only connection, an authorizer that allows nothing but reading, and a
single-statement check. A progress handler enforces the time limit; results are capped at `row_cap` rows.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import MirrorError

ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}
if hasattr(sqlite3, "SQLITE_RECURSIVE"):
    ALLOWED_ACTIONS.add(sqlite3.SQLITE_RECURSIVE)
REFUSED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple]
    truncated: bool
    seconds: float


def _authorizer(action, arg1, arg2, db_name, trigger):
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK if action in ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def single_statement(sql: str) -> str:
    """Strip a trailing semicolon and refuse anything holding more than one statement."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise MirrorError("empty SQL: nothing to run")
    # complete_statement is true at every top-level ';' (it knows about strings and comments).
    for i, ch in enumerate(text):
        if ch == ";" and sqlite3.complete_statement(text[: i + 1]) and text[i + 1:].strip():
            raise MirrorError("only one SQL statement can run at a time; remove everything after the first ';'")
    return text


class Guard:
    """Read-only, SELECT-only access to one SQLite file."""

    def __init__(self, db_path: str | Path, *, time_limit_s: float = 5.0, row_cap: int = 1000):
        self.db_path = Path(db_path).resolve()
        self.time_limit_s = time_limit_s
        self.row_cap = row_cap

    def connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, check_same_thread=False)
        con.set_authorizer(_authorizer)
        return con

    def explain(self, sql: str) -> str | None:
        """SQLite's own verdict on the query: None when it compiles, else the error text."""
        text = single_statement(sql)
        con = self.connect()
        try:
            con.execute("EXPLAIN " + text).fetchall()
            return None
        except sqlite3.DatabaseError as e:
            return _plain(e)
        finally:
            con.close()

    def run(self, sql: str) -> Result:
        text = single_statement(sql)
        con = self.connect()
        deadline = time.monotonic() + self.time_limit_s
        con.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        start = time.monotonic()
        try:
            cur = con.execute(text)
            if cur.description is None:
                raise MirrorError("this statement returns no rows; Mirror only runs queries that read data")
            rows = cur.fetchmany(self.row_cap + 1)
            columns = [d[0] for d in cur.description]
        except sqlite3.OperationalError as e:
            if "interrupted" in str(e) and time.monotonic() > deadline:
                raise MirrorError(f"the query ran longer than {self.time_limit_s:g} s and was stopped") from None
            raise MirrorError(_plain(e)) from None
        except (sqlite3.DatabaseError, sqlite3.Warning, sqlite3.ProgrammingError) as e:
            raise MirrorError(_plain(e)) from None
        finally:
            con.close()
        truncated = len(rows) > self.row_cap
        return Result(columns, [tuple(r) for r in rows[: self.row_cap]], truncated, time.monotonic() - start)


def _plain(e: Exception) -> str:
    msg = str(e)
    if "not authorized" in msg or "prohibited" in msg:
        return "refused: Mirror only runs read-only SELECT queries (this one tries to change or attach something)"
    if "readonly" in msg or "read-only" in msg:
        return "refused: the database is opened read-only"
    if "one statement at a time" in msg:
        return "only one SQL statement can run at a time"
    return f"SQLite error: {msg}"
