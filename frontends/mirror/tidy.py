"""Generated SQL tidied before it runs: a small model that has nothing more to add to a SELECT list repeats
an item (`SELECT pet_age, pet_age, pet_age`); the repeats say nothing and are dropped."""
from __future__ import annotations


def without_repeated_items(sql: str) -> str:
    """`sql` with each top-level SELECT item kept once (a plain SELECT only: the sides of a set operation
    must keep equal widths). Unparsable SQL is returned as it is, for validation to report."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except Exception:
        return sql
    if not isinstance(tree, exp.Select):
        return sql
    seen, kept = set(), []
    for item in tree.expressions:
        key = item.sql(dialect="sqlite").lower()
        if key not in seen:
            seen.add(key)
            kept.append(item)
    if len(kept) == len(tree.expressions):
        return sql
    tree.set("expressions", kept)
    return tree.sql(dialect="sqlite")
