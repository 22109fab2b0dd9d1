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
    # Top-level FROM: the smallest plans covering every table whose columns or values the question names
    # ("amount per country" needs orders and customers); subqueries may use any linked table.
    owners: dict[str, set] = {}
    for t in linked.tables:
        for c in linked.columns.get(t, []):
            owners.setdefault(c, set()).add(t)
    # a column name found in several tables ("name") does not say which table is needed
    needed = set(linked.named) | {t for c, ts in owners.items() if len(ts) == 1 for t in ts}
    covering = [i for i, (names, _) in enumerate(plans) if needed <= set(names)] or list(range(len(plans)))
    fewest = min(len(plans[i][0]) for i in covering)
    top = [i for i in covering if len(plans[i][0]) == fewest]
    lines = ["start: query", "query: " + " | ".join(f"q{i}" for i in top)]
    lines += [
        'op: " = " | " != " | " > " | " < " | " >= " | " <= "',
        'cmp: " > " | " < " | " >= " | " <= " | " = "',
        'agg: "SUM" | "AVG" | "MIN" | "MAX"',
        'dir: " DESC" | " ASC"',
        'limit: " LIMIT " /[1-9][0-9]{0,3}/',
        'andor: " AND " | " OR "',
        'distinct: "DISTINCT "',
    ]
    years = sorted(set(re.findall(r"\b(?:19|20)\d\d\b", linked.question)))
    numbers = sorted(set(re.findall(r"(?<![\w.-])-?\d+(?:\.\d+)?(?![\w-])", linked.question)) - set(years))
    lines.append("number: " + (" | ".join(lit(n) for n in numbers) if numbers else "/[0-9]{1,6}/"))
    lines.append("sub: " + " | ".join(f"s{i}" for i in range(len(plans))))
    for i, (names, from_clause) in enumerate(plans):
        qualify = len(names) > 1
        cols = [(f"{ident(t)}.{ident(c.name)}" if qualify else ident(c.name), t, c)
                for t in names for c in schema.table(t).columns]
        if i in top:
            lines += branch_rules(f"q{i}", from_clause, cols, linked, True, numbers, years)
        lines += branch_rules(f"s{i}", from_clause, cols, linked, False, numbers, years)
    return "\n".join(lines) + "\n"


def branch_rules(p: str, from_clause: str, cols, linked: Link, top: bool, numbers, years) -> list[str]:
    """Rules for one FROM clause. Filters pair each literal with its column (Paris -> city = 'Paris'); numbers
    only compare with numeric columns; lists are bounded (a weak model otherwise repeats itself until the
    token limit). Subqueries (`top=False`) cannot nest and do not carry the question's intent."""
    intent = linked.intent if top else set()
    names = [q for q, _, _ in cols]
    linked_names = [q for q, t, c in cols if c.name in linked.columns.get(t, [])]
    numeric = [q for q, _, c in cols if c.is_numeric and not c.is_pk and not c.name.endswith("_id")]
    measures = [q for q in numeric if q in linked_names] or numeric
    dates = [q for q, _, c in cols if re.search(r"date|day|time", c.name)]
    rank_mark = "" if "rank" in intent else "?"

    conds = []
    for t, c, v in linked.values:
        q = next((q for q, tt, cc in cols if tt == t and cc.name == c), None)
        if q:
            conds.append(lit(f"{q} = '" + v.replace("'", "''") + "'"))
    if numbers and measures:
        conds.append(f'({" | ".join(lit(m) for m in measures)}) cmp number')
    for y in years:
        conds += [lit(f"strftime('%Y', {d}) = '{y}'") for d in dates]
    if top and "nested" in intent and measures:
        conds.append(f'({" | ".join(lit(m) for m in measures)}) cmp "(" sub ")"')
    if top and "nested" in intent:
        keys = [q for q, _, c in cols if c.is_pk or c.name.endswith("_id")]
        if keys:
            conds.append(f'({" | ".join(lit(k) for k in keys)}) (" IN (" | " NOT IN (") sub ")"')
    must_filter = top and (linked.values or years)  # a value named in the question is a filter
    where = (f'{p}_where' if must_filter else f'{p}_where?') if conds else ""
    direction = " DESC" if "desc" in intent else " ASC" if "asc" in intent else ""
    order_dir = "dir?"  # forcing the direction as a literal made decoding very slow (measured); left to the model

    agg = f'{p}_agg: "COUNT(*)" | "COUNT(DISTINCT " {p}_col ")"'
    if measures:
        agg += f' | agg "(" {p}_num ")" | "ROUND(AVG(" {p}_num "), 2)"'
    rules = [f"{p}_col: " + " | ".join(lit(c) for c in names), agg]
    if measures:
        rules.append(f"{p}_num: " + " | ".join(lit(m) for m in measures))
    if conds:
        rules += [f'{p}_where: " WHERE " {p}_cond (andor {p}_cond)? (andor {p}_cond)?',
                  f"{p}_cond: " + " | ".join(conds)]
    rules.append(f'{p}_expr: {p}_col' + "".join(f' | "strftime(\'{f}\', " {lit(d)} ")"' for d in dates
                                                 for f in ("%Y-%m", "%Y")))
    having = f' " HAVING " {p}_agg cmp number' if numbers else ""
    if "group" in intent:
        # SELECT <key>, <aggregate> ... GROUP BY <the same key>: one alternative per key, so they always agree.
        plain = [q for q, _, c in cols if not c.is_pk and not c.name.endswith("_id") and q not in numeric]
        named = [q for q in plain if q in linked_names and q not in dates]
        formats = ["%Y-%m"] if "month" in intent else ["%Y"] if "year" in intent else []
        keys = [f'"strftime(\'{f}\', " {lit(d)} ")"' for d in dates for f in formats]
        if not keys:
            keys = [lit(q) for q in (named or plain)]
        rules.append(f'{p}: ' + " | ".join(f"{p}_k{j}" for j in range(len(keys))))
        rules += [f'{p}_k{j}: "SELECT " {k} ", " {p}_agg " FROM " {lit(from_clause)} {where} " GROUP BY " {k}'
                  f'{(" (" + having + ")?") if having else ""} {p}_gorder{rank_mark} limit{rank_mark}'
                  for j, k in enumerate(keys)]
        rules.append(f'{p}_gorder: " ORDER BY " {p}_agg {order_dir}')
    else:
        if "count-distinct" in intent:
            rules.append(f'{p}_list: "COUNT(DISTINCT " {p}_col ")"')
        elif "count" in intent:
            rules.append(f'{p}_list: "COUNT(*)" | "COUNT(DISTINCT " {p}_col ")"')
        else:
            d = "distinct " if "distinct" in intent else "distinct? "
            rules.append(f'{p}_list: {d}{p}_sel ("," " " {p}_sel)? ("," " " {p}_sel)?')
        rules.append(f"{p}_sel: {p}_expr | {p}_agg")
        rules.append(f'{p}: "SELECT " {p}_list " FROM " {lit(from_clause)} {where} {p}_order{rank_mark} limit{rank_mark}')
    rules.append(f'{p}_order: " ORDER BY " ({p}_expr | {p}_agg) {order_dir}')
    return rules
