"""Keys shown by what they point at: a query that would show a foreign-key column (`timesheet.job_id`) shows the
label of the row it refers to (`job.headline`) first, through a join on that key, and the key after it.

A person asked "which job has had the most hours" wants the job's name, not its number; whichever stage wrote
the query (the grammar, the model's decode, a repair), a bare key in the SELECT list that refers to another
table gets that table's label (labels.py) before it. The grouping stays on the key, so rows are told apart
exactly as before. Left alone: a question that asks for ids, codes or numbers, a key with no label to show, set
operations and nested SELECT lists.
"""
from __future__ import annotations

import re

from .joins import JoinGraph, ident
from .schema import Schema

ASKS_FOR_KEYS = re.compile(r"\b(?:ids?|identifiers?|codes?|keys?|numbers?|nos?|no\.)\b", re.I)


def with_key_labels(sql: str, schema: Schema, question: str) -> str:
    """`sql` with each bare foreign-key column of its SELECT list shown by the referenced row's label; `sql`
    itself when nothing is to be replaced or the query is not a plain SELECT."""
    if ASKS_FOR_KEYS.search(question):
        return sql
    import sqlglot
    from sqlglot import exp

    from .grammar import row_names

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except Exception:  # sqlglot's ParseError/TokenError: leave the query as it is
        return sql
    if not isinstance(tree, exp.Select) or tree.args.get("distinct"):
        return sql
    sources = {}  # alias or name -> table, for the tables of the FROM clause and its joins
    for t in tree.find_all(exp.Table):
        if t.find_ancestor(exp.Subquery) is None and schema.table(t.name) is not None:
            sources[(t.alias_or_name).lower()] = t.name
    if not sources:
        return sql
    graph = JoinGraph(schema)
    changed = False
    new_items = []
    joined = {t.lower() for t in sources.values()}
    for item in tree.selects:
        col = item if isinstance(item, exp.Column) else None
        owner: str | None = None
        if col is not None:
            owner = sources.get(col.table.lower()) if col.table else (
                next(iter(sources.values())) if len(set(sources.values())) == 1 else None)
        if col is None or owner is None:
            new_items.append(item)
            continue
        edge = next((e for _, e in graph.edges.get(owner, []) if e.table == owner
                     and e.column.lower() == col.name.lower()), None)
        labels = row_names(schema, edge.other_table) if edge else []  # a person: first and last name
        if not edge or not labels:
            new_items.append(item)
            continue
        present = next((a for a, t in sources.items() if t == edge.other_table), None)
        if present is not None:  # the referenced table is joined already: its label, by the name the query uses
            name = next(t.alias_or_name for t in tree.find_all(exp.Table) if t.alias_or_name.lower() == present)
            new_items += [exp.Column(this=exp.to_identifier(c.name, quoted=ident(c.name) != c.name),
                                     table=exp.to_identifier(name, quoted=ident(name) != name)) for c in labels]
            new_items.append(item)
            changed = True
            continue
        if edge.other_table.lower() in joined:
            new_items.append(item)
            continue
        if not changed and len(sources) == 1:  # a second table is coming: name the first one's columns
            (alias, table), = sources.items()
            name = next(t.alias_or_name for t in tree.find_all(exp.Table) if t.alias_or_name.lower() == alias)
            for c in list(tree.find_all(exp.Column)):
                if not c.table and c.find_ancestor(exp.Subquery) is None and any(
                        x.name.lower() == c.name.lower() for x in schema.columns_of(table)):
                    c.set("table", exp.to_identifier(name, quoted=ident(name) != name))
        ref = edge.other_table
        on = f"{ident(owner)}.{ident(edge.column)} = {ident(ref)}.{ident(edge.other_column)}"
        if col.table:
            on = f"{ident(col.table)}.{ident(edge.column)} = {ident(ref)}.{ident(edge.other_column)}"
        tree = tree.join(f"{ident(ref)}", on=on, join_type="left", dialect="sqlite")
        joined.add(ref.lower())
        new_items += [exp.Column(this=exp.to_identifier(c.name, quoted=ident(c.name) != c.name),
                                 table=exp.to_identifier(ref, quoted=ident(ref) != ref)) for c in labels]
        new_items.append(item)  # the key stays beside its label: what tells two equal labels apart
        changed = True
    if not changed:
        return sql
    tree.set("expressions", new_items)
    return tree.sql(dialect="sqlite")
