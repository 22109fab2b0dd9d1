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


def question_literals(linked: Link) -> set[str]:
    found = {v for _, _, v in linked.values}
    for a, b in re.findall(r"'([^'\n]{1,40})'|\"([^\"\n]{1,40})\"", linked.question):
        found.add(a or b)
    found |= set(re.findall(r"\b(?:19|20)\d\d(?:-\d\d)?(?:-\d\d)?\b", linked.question))
    return found


def build_grammar(schema: Schema, linked: Link) -> str:
    plans = join_plans(linked.tables, schema)
    # Top-level FROM must cover every table whose columns or values the question names ("amount per country"
    # needs orders and customers); subqueries may use any linked table.
    needed = {t for t in linked.tables if linked.columns.get(t)}
    top = [i for i, (names, _) in enumerate(plans) if needed <= set(names)] or list(range(len(plans)))
    lines = ["start: query", "query: " + " | ".join(f"q{i}" for i in top)]
    # Text literals are only those the question itself supplies (known cell values, quoted text, years):
    # a weak model otherwise invents filters such as country = 'USA'.
    values = sorted({"'" + v.replace("'", "''") + "'" for v in question_literals(linked)})
    values += sorted(set(re.findall(r"(?<![\w.-])-?\d+(?:\.\d+)?(?![\w-])", linked.question)))
    has_values = bool(values)
    if has_values:
        lines.append("value: " + " | ".join(lit(v) for v in values))
    lines += [
        'op: " = " | " != " | " > " | " < " | " >= " | " <= " | " LIKE "',
        'agg: "SUM" | "AVG" | "MIN" | "MAX" | "COUNT"',
        'dir: " DESC" | " ASC"',
        'limit: " LIMIT " /[1-9][0-9]{0,3}/',
        'NUMBER: /[0-9]{1,6}/',
        'andor: " AND " | " OR "',
    ]
    lines.append("sub: " + " | ".join(f"s{i}" for i in range(len(plans))))
    for i, (names, from_clause) in enumerate(plans):
        qualify = len(names) > 1
        cols = [f"{ident(t)}.{ident(c.name)}" if qualify else ident(c.name)
                for t in names for c in schema.table(t).columns]
        if i in top:
            linked_cols = [f"{ident(t)}.{ident(c)}" if qualify else ident(c) for t in names for c in linked.columns.get(t, [])]
            lines += branch_rules(f"q{i}", from_clause, cols, linked.intent, True, has_values, linked_cols)
        lines += branch_rules(f"s{i}", from_clause, cols, set(), False, has_values)
    lines.append('distinct: "DISTINCT "')
    return "\n".join(lines) + "\n"


def branch_rules(p: str, from_clause: str, cols: list[str], intent: set[str], nested: bool, has_values: bool,
                 linked_cols: list[str] = ()) -> list[str]:
    """Rules for one FROM clause. Lists are bounded (a weak model otherwise repeats itself until the token
    limit); subqueries (`nested=False`) cannot nest further and do not carry the question's intent."""
    group_mark = "" if "group" in intent else "?"
    rank_mark = "" if "rank" in intent else "?"
    more = f'(andor {p}_cond)? (andor {p}_cond)?'
    if "group" in intent:
        # SELECT <key>, <aggregate> ... GROUP BY <the same key>: one alternative per key, so they always agree.
        plain = [c for c in cols if not re.search(r"(^|\.)(id|\w+_id)$", c)]  # grouping by a key is rarely asked
        # "amount per country": when the question names a text column, group by one of those.
        named = [c for c in plain if c in linked_cols and not re.search(r"amount|price|quantity|total", c)]
        plain = named or plain
        dates = [c for c in plain if re.search(r"date|day|time", c)]
        keys = [lit(c) for c in plain] + [f'"strftime(\'{f}\', " {lit(c)} ")"' for c in dates for f in ("%Y-%m", "%Y")]
        head = [f'{p}: ' + " | ".join(f"{p}_k{j}" for j in range(len(keys)))]
        measures = [c for c in linked_cols if re.search(r"amount|price|quantity|total|salary|score|count|value", c)]
        head.append(f'{p}_gagg: "COUNT(*)" | agg "(" ({" | ".join(lit(c) for c in measures)}) ")"' if measures
                    else f'{p}_gagg: {p}_agg')
        head += [f'{p}_k{j}: "SELECT " {k} ", " {p}_gagg " FROM " {lit(from_clause)} {p}_where? " GROUP BY " {k}'
                 f' {p}_having? {p}_order{rank_mark} limit{rank_mark}' for j, k in enumerate(keys)]
    else:
        head = [f'{p}: "SELECT " {p}_list " FROM " {lit(from_clause)}'
                f' {p}_where? {p}_group? {p}_order{rank_mark} limit{rank_mark}']
    value_conds = [f'{p}_expr op value', f'{p}_col " BETWEEN " value " AND " value'] if has_values else []
    nested = nested and "group" not in intent  # "per country" never needs a subquery filter
    conds = value_conds + (
        [f'{p}_col " IN (" sub ")"', f'{p}_col " NOT IN (" sub ")"', f'{p}_col op "(" sub ")"'] if nested else [])
    rules = head + [
        (f'{p}_list: "COUNT(*)" | "COUNT(DISTINCT " {p}_col ")"' if "count" in intent else
         f'{p}_list: distinct? {p}_sel ("," " " {p}_sel)? ("," " " {p}_sel)?'),
        f"{p}_col: " + " | ".join(lit(c) for c in cols),
        f'{p}_agg: agg "(" {p}_col ")" | "COUNT(*)" | "COUNT(DISTINCT " {p}_col ")" | "ROUND(AVG(" {p}_col "), 2)"',
        f"{p}_sel: {p}_expr | {p}_agg",
        f'{p}_expr: {p}_col | "strftime(' + "'%Y-%m'" + f', " {p}_col ")" | "strftime(' + "'%Y'" + f', " {p}_col ")"',
        f'{p}_where: " WHERE " {p}_cond {more}' if conds else f'{p}_where: " WHERE " {p}_col " IS NOT NULL"',
        f'{p}_cond: ' + " | ".join(conds),
        f'{p}_group: " GROUP BY " {p}_expr ("," " " {p}_expr)? {p}_having?',
        f'{p}_having: " HAVING " {p}_agg op ' + ("value" if has_values else '"(" sub ")"' if nested else "NUMBER"),
        f'{p}_order: " ORDER BY " ({p}_expr | {p}_agg) dir?',
    ]
    return rules
