"""The SQLite engine: the original guard (read-only file, authorizer, progress-handler time limit)."""
from __future__ import annotations

from pathlib import Path

from ..guard import Guard, Result
from ..schema import Schema, introspect
from .base import Engine


class SQLiteEngine(Engine):
    name = "SQLite"
    dialect = "sqlite"

    def __init__(self, db_path, *, time_limit_s: float = 5.0, row_cap: int = 1000):
        super().__init__(time_limit_s=time_limit_s, row_cap=row_cap)
        self.db_path = Path(db_path)
        self.location = str(self.db_path)
        self._guard = Guard(self.db_path, time_limit_s=time_limit_s, row_cap=row_cap)

    def introspect(self) -> Schema:
        return introspect(self.db_path)

    def value_index(self, columns):
        from ..values import build_index

        return build_index(self.db_path, columns)[0]

    def translate(self, sqlite_sql: str) -> str:
        return sqlite_sql  # already this engine's dialect; the authorizer is the check

    def _sync(self) -> Guard:
        self._guard.time_limit_s, self._guard.row_cap = self.time_limit_s, self.row_cap
        return self._guard

    def explain(self, sql: str) -> str | None:
        return self._sync().explain(sql)

    def run(self, sql: str) -> Result:
        return self._sync().run(sql)
