"""Stage 3a, the SQL grammar built from the live schema (lark syntax for llguidance).

The grammar branches per FROM clause (one table, or tables joined along their foreign keys), so a column
can only be named when its table is in the query. Spaces are written inside the literals: llguidance's lark
does not insert them through %ignore.
"""
from __future__ import annotations

import itertools
import json
import re

from .linking import Link
from .schema import Schema

MAX_TABLES_PER_JOIN = 3


def ident(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def join_plans(tables: list[str], schema: Schema) -> list[tuple[list[str], str]]:
    """Every FROM clause allowed: each single table, and tables connected by foreign keys (up to 3)."""
    plans = [([t], ident(t)) for t in tables]
    fks = [f for f in schema.foreign_keys if f.table in tables and f.other_table in tables]
    for n in range(1, MAX_TABLES_PER_JOIN):
        for combo in itertools.combinations(fks, n):
            names = [combo[0].table]
            clause = ident(combo[0].table)
            ok = True
            for f in combo:
                if f.table in names and f.other_table not in names:
                    new, on = f.other_table, f
                elif f.other_table in names and f.table not in names:
                    new, on = f.table, f
                else:
                    ok = False
                    break
                names.append(new)
                clause += (f" JOIN {ident(new)} ON {ident(on.table)}.{ident(on.column)}"
                           f" = {ident(on.other_table)}.{ident(on.other_column)}")
            if ok:
                plans.append((names, clause))
    return plans


def build_grammar(schema: Schema, linked: Link) -> str:
    plans = join_plans(linked.tables, schema)
    lines = ["start: query", "query: " + " | ".join(f"q{i}" for i in range(len(plans)))]
    value_alts = sorted({lit("'" + v.replace("'", "''") + "'") for _, _, v in linked.values})
    lines.append("value: NUMBER | STRING" + "".join(" | " + v for v in value_alts))
    lines += [
        'NUMBER: /-?[0-9]{1,9}(\\.[0-9]{1,4})?/',
        "STRING: /'[^'\\n]{0,40}'/",
        'op: " = " | " != " | " > " | " < " | " >= " | " <= " | " LIKE "',
        'agg: "SUM" | "AVG" | "MIN" | "MAX" | "COUNT"',
        'dir: " DESC" | " ASC"',
        'limit: " LIMIT " /[1-9][0-9]{0,3}/',
        'andor: " AND " | " OR "',
    ]
    group_mark = "" if "group" in linked.intent else "?"
    rank_mark = "" if "rank" in linked.intent else "?"
    for i, (names, from_clause) in enumerate(plans):
        qualify = len(names) > 1
        cols = []
        for t in names:
            for c in schema.table(t).columns:
                cols.append(f"{ident(t)}.{ident(c.name)}" if qualify else ident(c.name))
        p = f"q{i}"
        lines += [
            f'{p}: "SELECT " {p}_list " FROM " {lit(from_clause)}'
            f' {p}_where? {p}_group{group_mark} {p}_order{rank_mark} limit{rank_mark}',
            (f'{p}_list: "COUNT(*)" | "COUNT(DISTINCT " {p}_col ")"' if "count" in linked.intent else
             f'{p}_list: distinct? {p}_sel ("," " " {p}_sel)? ("," " " {p}_sel)? ("," " " {p}_sel)?'),
            f"{p}_col: " + " | ".join(lit(c) for c in cols),
            f'{p}_agg: agg "(" {p}_col ")" | "COUNT(*)" | "COUNT(DISTINCT " {p}_col ")" | "ROUND(AVG(" {p}_col "), 2)"',
            f"{p}_sel: {p}_expr | {p}_agg",
            f'{p}_expr: {p}_col | "strftime(' + "'%Y-%m'" + f', " {p}_col ")" | "strftime(' + "'%Y'" + f', " {p}_col ")"',
            f'{p}_where: " WHERE " {p}_cond (andor {p}_cond)*',
            f'{p}_cond: {p}_expr op value | {p}_col " IN (" query ")" | {p}_col " NOT IN (" query ")"'
            f' | {p}_col op "(" query ")" | {p}_col " BETWEEN " value " AND " value'
            f' | {p}_col " IS NULL" | {p}_col " IS NOT NULL"',
            f'{p}_group: " GROUP BY " {p}_expr ("," " " {p}_expr)* {p}_having?',
            f'{p}_having: " HAVING " {p}_agg op value',
            f'{p}_order: " ORDER BY " ({p}_expr | {p}_agg) dir?',
        ]
    lines.append('distinct: "DISTINCT "')
    return "\n".join(lines) + "\n"
