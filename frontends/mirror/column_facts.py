"""What the data says about one column, asked for lazily: how many rows, how many NULLs, its distinct values
when there are few. Conditions (conditions.py) are proposed from these facts, not from names alone: a yes/no
column is one whose values are two of 0/1, 'true'/'false', 'Y'/'N', ...; "no phone number on file" is a
column that is NULL in some rows and not in others.

Only columns a question's words name are probed (one small aggregate query each, cached per session), so a
large schema costs nothing up front."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .engines.base import sql_ident


@dataclass
class Facts:
    rows: int = 0
    nulls: int = 0
    distinct: int = 0  # distinct non-NULL values, counted up to MAX_LISTED + 1
    values: list = field(default_factory=list)  # the distinct non-NULL values when there are at most MAX_LISTED
    low: Any = None  # the smallest and largest value: how a numeric column stores dates (date_encoding.py)
    high: Any = None

    @property
    def nullable(self) -> bool:
        """NULL in some rows and set in others: "not given" / "not yet" is a real restriction."""
        return 0 < self.nulls < self.rows


MAX_LISTED = 3


class ColumnFacts:
    """Facts per (table, column), from `run(sqlite_sql) -> rows` (the engine's guarded runner, through its
    dialect translation); a column that cannot be read has no facts (None)."""

    def __init__(self, run: Callable[[str], list]):
        self._run = run
        self._cache: dict[tuple[str, str], Facts | None] = {}
        self._aggregates: dict[tuple[str, str, str], tuple | None] = {}

    def __call__(self, table: str, column: str) -> Facts | None:
        key = (table, column)
        if key not in self._cache:
            self._cache[key] = self._probe(table, column)
        return self._cache[key]

    def _probe(self, table: str, column: str) -> Facts | None:
        t, c = sql_ident(table), sql_ident(column)
        try:
            rows, set_, low, high = self._run(f"SELECT COUNT(*), COUNT({c}), MIN({c}), MAX({c}) FROM {t}")[0]
            # a few distinct values are enough to tell a yes/no column; the scan stops there on a large table
            values = [r[0] for r in self._run(f"SELECT DISTINCT {c} FROM {t} WHERE {c} IS NOT NULL "
                                              f"LIMIT {MAX_LISTED + 1}")]
            facts = Facts(int(rows or 0), int(rows or 0) - int(set_ or 0), len(values), low=low, high=high)
            if len(values) <= MAX_LISTED:
                facts.values = sorted(values, key=repr)
        except Exception:  # noqa: BLE001 - a column the engine cannot aggregate simply has no facts
            return None
        return facts

    def aggregate(self, table: str, column: str, template: str) -> tuple | None:
        """One more aggregate over the column (`template` names it `{c}`), once per session: the largest day
        or month part of '05/11/2023' text; None when the engine cannot compute it."""
        key = (table, column, template)
        if key not in self._aggregates:
            sql = f"SELECT {template.format(c=sql_ident(column))} FROM {sql_ident(table)}"
            try:
                self._aggregates[key] = tuple(self._run(sql)[0])
            except Exception:  # noqa: BLE001 - a column the engine cannot aggregate simply has no answer
                self._aggregates[key] = None
        return self._aggregates[key]


def engine_facts(engine) -> ColumnFacts:
    """Column facts read through an engine's guard (read-only, time-limited) in its own dialect."""
    def run(sql: str) -> list:
        return engine.run(engine.translate(sql)).rows

    return ColumnFacts(run)


def facts_of(schema, table: str, column: str) -> Facts | None:
    """The schema's column facts (set by the pipeline from the engine), or None without them."""
    probe = getattr(schema, "column_facts", None)
    return probe(table, column) if probe else None
