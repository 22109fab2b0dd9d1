"""Readable result headers: `SUM(amount)` becomes `SUM(amount) AS total_amount`.

Only the top-level SELECT list is touched, and only items that are a bare aggregate or date bucket of one
column without an alias already; everything else is left as written. The pipeline keeps the query without
aliases when the database refuses the aliased one.
"""
from __future__ import annotations

import re
from collections.abc import Set as AbstractSet

PREFIX = {"SUM": "total", "AVG": "average", "MIN": "min", "MAX": "max", "COUNT": "number_of"}
_COL = r'(?:[A-Za-z_][\w]*\.)?(?:[A-Za-z_]\w*|"[^"]+")'
_AGG = re.compile(rf"^(?:ROUND\()?(SUM|AVG|MIN|MAX|COUNT)\((DISTINCT )?({_COL}|\*)\)(?:, \d+\))?$", re.I)
_NESTED = r"(?:[^()]|\((?:[^()]|\([^()]*\))*\))*"  # text with parentheses two deep
_DATE = re.compile(rf"^strftime\('(%Y-%m|%Y|%m)', ({_NESTED})\)$", re.I)  # a date bucket of a column in any storage
# of the date (date_encoding.py: `scored_ms / 1000, 'unixepoch'`, `substr(...) || '-' || ...`)


def _top_level(text: str, start: int = 0):
    """Positions in `text` (from `start`) outside quotes and parentheses, quote and paren characters
    themselves excluded: where a top-level comma or keyword can stand."""
    depth, quote = 0, None
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            yield i


def _split_top_level(text: str) -> list[str]:
    items, start = [], 0
    for i in _top_level(text):
        if text[i] == ",":
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return items


def _select_span(sql: str) -> tuple[int, int] | None:
    """Start and end of the first SELECT's column list (up to its top-level FROM)."""
    m = re.match(r"\s*SELECT\s+(?:DISTINCT\s+)?", sql, re.I)
    if not m:
        return None
    for i in _top_level(sql, m.end()):
        if re.match(r"\sFROM\s", sql[i:i + 6], re.I):
            return m.end(), i
    return None


def _name(column: str) -> str:
    base = column.split(".")[-1].strip('"')
    return re.sub(r"\W+", "_", base).strip("_").lower() or "value"


def alias_for(item: str) -> str | None:
    text = item.strip()
    m = _AGG.match(text)
    if m:
        fn, distinct, col = m.group(1).upper(), m.group(2), m.group(3)
        if col == "*":
            return "count"
        return f"{PREFIX[fn]}_{'distinct_' if distinct else ''}{_name(col)}"
    m = _DATE.match(text)
    if m:
        return {"%Y-%m": "month", "%Y": "year", "%m": "month_of_year"}[m.group(1)]
    return None


def readable_aliases(sql: str, avoid: AbstractSet[str] = frozenset()) -> str:
    """`sql` with aliases on its bare aggregates and date buckets; `avoid`: the database's column names
    (lower case), which an alias must not shadow."""
    span = _select_span(sql)
    if not span:
        return sql
    start, end = span
    items = _split_top_level(sql[start:end])
    used: set[str] = {_name(i) for i in items if re.fullmatch(rf"\s*{_COL}\s*", i)} | set(avoid)
    out = []
    for item in items:
        aliased = re.search(r"\bAS\s+(?:\w+|\"[^\"]+\")\s*$", item, re.I)  # not the AS of CAST(x AS TEXT)
        alias = None if aliased else alias_for(item)
        if alias:
            name, n = alias, 2
            while name in used:
                name, n = f"{alias}_{n}", n + 1
            used.add(name)
            item = f"{item.rstrip()} AS {name}" + (" " if item.endswith(" ") else "")
        out.append(item)
    return sql[:start] + ",".join(out) + sql[end:]
