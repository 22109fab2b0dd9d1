"""SQLite-dialect SQL (what the grammar and the model write) -> the engine's dialect, meaning kept.

sqlglot transpiles the syntax (strftime -> TO_CHAR, ROUND over numeric, NULLS FIRST as SQLite orders,
quoting). Three SQLite rules that sqlglot leaves alone are applied here on the tree, from the live schema:
- identifiers are case-insensitive in SQLite: each one is resolved to the catalog's spelling and quoted
  when that spelling needs it (PostgreSQL folds unquoted names to lower case);
- a double-quoted word that names no column is a string in SQLite ("Alice"): it becomes a literal;
- LIKE ignores ASCII case in SQLite: ILIKE;
- a bare column beside GROUP BY (`SELECT name ... GROUP BY id`) is legal in SQLite: it becomes MIN(name),
  which is the same value whenever the column depends on the group key.
"""
from __future__ import annotations

import sqlglot
from sqlglot import exp

from ..errors import MirrorError
from ..schema import Schema
from .sqlcheck import parse_select


def translate(sql: str, dialect: str, schema: Schema) -> str:
    """One SQLite SELECT as `dialect` SQL (a MirrorError if it is not a single SELECT)."""
    tree = parse_select(sql, "sqlite")
    if dialect == "sqlite":
        return tree.sql(dialect="sqlite")
    tables = {t.name.lower(): t for t in schema.tables}
    names = {t.name.lower(): {c.name.lower(): c.name for c in t.columns} for t in schema.tables}
    spellings: dict[str, set] = {}
    for t in schema.tables:
        for c in t.columns:
            spellings.setdefault(c.name.lower(), set()).add(c.name)
    aliases = {a.alias.lower() for a in tree.find_all(exp.Alias) if a.alias}
    aliases |= {c.alias.lower() for c in tree.find_all(exp.CTE) if c.alias}

    def quoted(name: str) -> exp.Identifier:
        return exp.to_identifier(name, quoted=name != name.lower() or None)

    def scope_tables(node) -> dict[str, str]:
        """alias or name (lower case) -> table name, for the tables the node's SELECT reads."""
        scope: dict[str, str] = {}
        select = node.find_ancestor(exp.Select)
        while select is not None:
            for t in select.find_all(exp.Table):
                if t.find_ancestor(exp.Select) is select and t.name.lower() in tables:
                    scope.setdefault((t.alias or t.name).lower(), t.name.lower())
                    scope.setdefault(t.name.lower(), t.name.lower())
            select = select.find_ancestor(exp.Select)  # correlated subqueries see the outer tables
        return scope

    def resolve(column: exp.Column) -> str | None:
        low = column.name.lower()
        if low not in spellings:
            return None
        if len(spellings[low]) == 1:
            return next(iter(spellings[low]))
        scope = scope_tables(column)
        owners = [scope[column.table.lower()]] if column.table and column.table.lower() in scope else scope.values()
        return next((names[t][low] for t in owners if low in names[t]), next(iter(sorted(spellings[low]))))

    def column_of(column: exp.Column):
        """The schema Column a query column refers to, or None."""
        low = column.name.lower()
        scope = scope_tables(column)
        owners = [scope[column.table.lower()]] if column.table and column.table.lower() in scope else scope.values()
        for t in owners:
            for c in tables[t].columns:
                if c.name.lower() == low:
                    return c
        return None

    _unix_times(tree)
    _apply_affinity(tree, column_of, dialect)
    for column in list(tree.find_all(exp.Column)):
        if not isinstance(column.this, exp.Identifier):
            continue
        real = resolve(column)
        if real is not None:
            column.set("this", quoted(real))
        elif column.this.quoted and not column.table and column.name.lower() not in aliases:
            column.replace(exp.Literal.string(column.name))  # SQLite's rule for "..." that names nothing
            continue
        if column.table and column.table.lower() in tables:
            column.set("table", quoted(tables[column.table.lower()].name))
    for table in list(tree.find_all(exp.Table)):
        named = tables.get(table.name.lower())
        if named is not None and isinstance(table.this, exp.Identifier):
            table.set("this", quoted(named.name))
    for like in list(tree.find_all(exp.Like)):
        ilike = exp.ILike(**{k: (v.copy() if isinstance(v, exp.Expression) else v) for k, v in like.args.items()})
        like.replace(ilike)
    for select in list(tree.find_all(exp.Select)):
        _aggregate_bare_columns(select, dialect)
    try:
        return tree.sql(dialect=dialect)
    except sqlglot.errors.SqlglotError as e:
        raise MirrorError(f"cannot write this query in {dialect}: {e}") from None


def _unix_times(tree: exp.Expression) -> None:
    """SQLite's `strftime(fmt, x, 'unixepoch')` (how date_encoding.py reads epoch seconds, milliseconds and
    Julian days) is the engine's timestamp of `x` seconds after 1970 in UTC, then formatted as SQLite would."""
    for call in list(tree.find_all(exp.Anonymous)):
        args = call.expressions
        if str(call.this).upper() != "STRFTIME" or len(args) != 3 or not (
                isinstance(args[2], exp.Literal) and args[2].is_string and args[2].this.lower() == "unixepoch"):
            continue
        formatted = sqlglot.parse_one("SELECT strftime(f, x)", read="sqlite").selects[0]
        formatted.set("format", args[0].copy())
        moment = exp.AtTimeZone(this=exp.UnixToTime(this=args[1].copy()), zone=exp.Literal.string("UTC"))
        formatted.find(exp.Column).replace(moment)
        call.replace(formatted)


COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.GT, exp.LTE, exp.GTE)


def _apply_affinity(tree: exp.Expression, column_of, dialect: str) -> None:
    """SQLite compares a text column with a number as text (the number takes the column's TEXT affinity),
    and a number column with a text column as numbers; PostgreSQL and DuckDB refuse both. Written out:
    the literal becomes a string, or the number column is cast to text (which never fails)."""
    def kind(node):
        if isinstance(node, exp.Column):
            c = column_of(node)
            return None if c is None else ("number" if c.is_numeric else "text" if c.type == "TEXT" else None)
        if isinstance(node, exp.Literal):
            return "text" if node.is_string else "number-literal"
        return None

    def as_text(lit: exp.Literal) -> exp.Literal:
        return exp.Literal.string(lit.this)

    def projection(node):
        """The single column a scalar or IN subquery returns, else None."""
        q = node.this if isinstance(node, exp.Subquery) else node
        if isinstance(q, exp.Select) and len(q.expressions) == 1:
            inner = q.expressions[0]
            inner = inner.this if isinstance(inner, exp.Alias) else inner
            return inner if isinstance(inner, exp.Column) else None
        return None

    def to_text(node) -> None:
        node.replace(exp.cast(node.copy(), "TEXT"))

    def reconcile(a, b) -> None:
        """a and b are compared: make their kinds agree the way SQLite would compare them."""
        pa = a if isinstance(a, (exp.Column, exp.Literal)) else projection(a)
        pb = b if isinstance(b, (exp.Column, exp.Literal)) else projection(b)
        if pa is None or pb is None:
            return
        ka, kb = kind(pa), kind(pb)
        if ka == "text" and kb == "number-literal" and isinstance(pa, exp.Column):
            pb.replace(as_text(pb))
        elif kb == "text" and ka == "number-literal" and isinstance(pb, exp.Column):
            pa.replace(as_text(pa))
        elif ka == "number" and kb == "text":
            to_text(pa)
        elif kb == "number" and ka == "text":
            to_text(pb)

    for cmp in list(tree.find_all(*COMPARISONS)):
        reconcile(cmp.this, cmp.expression)
    for agg in list(tree.find_all(exp.Sum, exp.Avg)):
        if isinstance(agg.this, exp.Column) and kind(agg.this) == "text":
            agg.this.replace(_sqlite_number(agg.this.copy(), dialect))
    for node in list(tree.find_all(exp.In, exp.Between)):
        if node.args.get("query") is not None:
            reconcile(node.this, node.args["query"])
            continue
        if kind(node.this) == "text" and isinstance(node.this, exp.Column):
            for lit in [x for x in node.find_all(exp.Literal) if not x.is_string and x.parent is node]:
                lit.replace(as_text(lit))
            for key in ("low", "high"):
                v = node.args.get(key)
                if isinstance(v, exp.Literal) and not v.is_string:
                    v.replace(as_text(v))


NUMBER_PREFIX = r"^\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"


def _sqlite_number(column: exp.Column, dialect: str) -> exp.Expression:
    """SUM/AVG over text in SQLite: the text's leading number ('1975-10-28' -> 1975), 0 when it has none,
    NULL stays NULL."""
    c = column.sql(dialect=dialect)
    pattern = "'" + NUMBER_PREFIX + "'"
    prefix = f"SUBSTRING({c} FROM {pattern})" if dialect == "postgres" else f"REGEXP_EXTRACT({c}, {pattern})"
    return sqlglot.parse_one(f"CASE WHEN {c} IS NULL THEN NULL ELSE COALESCE(CAST(NULLIF({prefix}, '') AS "
                             f"{'DOUBLE PRECISION' if dialect == 'postgres' else 'DOUBLE'}), 0) END", read=dialect)


def _aggregate_bare_columns(select: exp.Select, dialect: str) -> None:
    group = select.args.get("group")
    aggs = [a for p in select.expressions for a in p.find_all(exp.AggFunc) if _owned_by(a, select)]
    if not group and not aggs:
        return
    keys = {k.sql().lower() for k in group.expressions} if group else set()
    key_columns = {c.sql().lower() for k in group.expressions for c in k.find_all(exp.Column)} if group else set()
    # SQLite: beside a single MIN() or MAX(), a bare column comes from the row holding that extreme
    extremes = [a for a in aggs if isinstance(a, (exp.Max, exp.Min))]
    extreme = extremes[0] if len(extremes) == 1 and len(aggs) == 1 else None

    def bare(expr) -> bool:
        return expr.sql().lower() not in keys and not expr.find(exp.AggFunc) and any(
            c.sql().lower() not in key_columns for c in expr.find_all(exp.Column))

    def replacement(col: exp.Column) -> exp.Expression:
        if extreme is None:
            return exp.Min(this=col.copy())
        arg = extreme.this.copy()
        if dialect == "postgres":
            order = "DESC" if isinstance(extreme, exp.Max) else "ASC"
            return sqlglot.parse_one(f"(ARRAY_AGG({col.sql('postgres')} ORDER BY {arg.sql('postgres')} {order} "
                                     f"NULLS LAST))[1]", read="postgres")
        return (exp.ArgMax if isinstance(extreme, exp.Max) else exp.ArgMin)(this=col.copy(), expression=arg)

    projections = []
    for p in select.expressions:
        inner = p.this if isinstance(p, exp.Alias) else p
        if isinstance(inner, exp.Column) and bare(inner) and _owned_by(inner, select):
            name = p.alias if isinstance(p, exp.Alias) else inner.name
            projections.append(exp.alias_(replacement(inner), exp.to_identifier(name, quoted=True)))
        else:
            projections.append(p)
    select.set("expressions", projections)


def _owned_by(column: exp.Column, select: exp.Select) -> bool:
    return column.find_ancestor(exp.Select) is select
