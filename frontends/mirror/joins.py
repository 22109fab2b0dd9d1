"""Join paths: the schema as a graph whose edges are foreign keys, searched for the tables a question needs.

Declared foreign keys come first; where a database declares none between two tables, the obvious naming
conventions add an edge: `x_id`/`xId` -> table x's primary key, or a column named exactly like another
table's single primary key. Several tables are connected by a Steiner-tree heuristic (shortest paths
added one table at a time, breadth-first), so a bridge table such as `singer_in_concert` or
`Student_Enrolment_Courses` joins its two sides even when the question never names it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .codes import code_keys
from .names import name_words
from .quoting import ident
from .schema import ForeignKey, Schema


@dataclass(frozen=True)
class Edge:
    table: str
    column: str
    other_table: str
    other_column: str
    declared: bool = True

    def on(self) -> str:
        return f"{ident(self.table)}.{ident(self.column)} = {ident(self.other_table)}.{ident(self.other_column)}"


KEY_TAILS = ("id", "no", "num", "nbr", "key")  # how key columns end: `customer_id`, `EMP_NO`, `ACCT_NBR`


def inferred_keys(schema: Schema) -> list[ForeignKey]:
    """Joins the naming says exist but no FOREIGN KEY declares: `customer_id` -> customers.id, `StuID` ->
    Student.StuID, and keys named for the role the other row plays (`home_team_id`, `startStationId` ->
    the team's / station's id; `manager_team_id` -> teams.team_id). Not for a column a declared key already
    covers, and only between compatible types."""
    declared_cols = {(f.table, f.column) for f in schema.foreign_keys}
    declared = {frozenset((f.table, f.other_table)) for f in schema.foreign_keys}
    pks = {}
    for t in schema.tables:
        keys = [c for c in t.columns if c.in_key or c.is_pk]
        if len(keys) == 1:
            pks[t.name] = keys[0]
    found = []
    for t in schema.tables:
        for c in t.columns:
            if (c.in_key or c.is_pk) and len([k for k in t.columns if k.in_key or k.is_pk]) == 1:
                continue
            if (t.name, c.name) in declared_cols:
                continue
            cw = name_words(c.name)
            for other, pk in pks.items():
                if other == t.name or c.is_numeric != pk.is_numeric:
                    continue
                ow, pw = name_words(other), name_words(pk.name)
                same_name = c.name.lower() == pk.name.lower() and pk.name.lower() not in ("id", "name", "code")
                x_id = (cw and cw[-1] == "id" and pk.name.lower() == "id" and tuple(cw[:-1]) in (ow, ow[-1:]))
                if (same_name or x_id) and frozenset((t.name, other)) not in declared:
                    found.append(ForeignKey(t.name, c.name, other, pk.name))
                    continue
                # a role word before the key's own name: home_team_id -> teams.id / teams.team_id
                role_id = len(cw) >= 3 and (
                    cw[-1] == "id" and pk.name.lower() == "id" and (cw[-1 - len(ow):-1] == ow or cw[-2:-1] == ow[-1:])
                    or len(pw) >= 2 and pw[-1] in KEY_TAILS and cw[-len(pw):] == pw and len(cw) > len(pw))
                if role_id:
                    found.append(ForeignKey(t.name, c.name, other, pk.name))
            if cw and cw[-1] == "id" and len(cw) == 2 and len(cw[0]) >= 4 and not any(
                    f.table == t.name and f.column == c.name for f in found):
                # ORM models named by a glued compound: `status_id` -> sales_orderstatus.id, when one table's
                # last word ends in the key's word
                glued = [o for o, pk in pks.items() if o != t.name and pk.name.lower() == "id"
                         and c.is_numeric == pk.is_numeric and (ow := name_words(o))
                         and ow[-1].endswith(cw[0]) and ow[-1] != cw[0]]
                if len(glued) == 1 and frozenset((t.name, glued[0])) not in declared:
                    found.append(ForeignKey(t.name, c.name, glued[0], "id"))
    return found


def role_words(edge: "Edge") -> set[str]:
    """The words a key's column adds to the name of the table it points to: `startStationId` -> {start},
    `home_team_id` -> {home}, `customer_id` -> {} (no role)."""
    other = set(name_words(edge.other_table)) | set(name_words(edge.other_column)) | {"id", "fk", "ref", "key"}
    return {w for w in name_words(edge.column) if w not in other and len(w) > 1}


def plays_role(edge: "Edge", words: frozenset[str]) -> bool:
    """Whether the question names this key's role ("trips that started at ...": startStationId)."""
    from .names import word_match

    return any(word_match(r, w, roots=True) >= 0.8 for r in role_words(edge) for w in words)


class JoinGraph:
    """Undirected multigraph of tables; edges carry the ON condition. `JoinGraph(schema)` is built once per
    schema and reused (inferring keys looks at every column pair)."""

    def __new__(cls, schema: Schema):
        cached = schema.__dict__.get("_join_graph")
        if isinstance(cached, cls):
            return cached
        graph = super().__new__(cls)
        graph._build(schema)
        schema.__dict__["_join_graph"] = graph
        return graph

    def __init__(self, schema: Schema):
        pass

    def _build(self, schema: Schema):
        self.schema = schema
        self.edges: dict[str, list[tuple[str, Edge]]] = {t.name: [] for t in schema.tables}
        inferred = inferred_keys(schema)
        named = {(f.table, f.column) for f in inferred}
        inferred += [f for f in code_keys(schema) if (f.table, f.column) not in named]  # 'SWE' -> country.code
        for f, declared in [(f, True) for f in schema.foreign_keys] + [(f, False) for f in inferred]:
            if f.table not in self.edges or f.other_table not in self.edges or f.table == f.other_table:
                continue
            e = Edge(f.table, f.column, f.other_table, f.other_column, declared)
            self.edges[f.table].append((f.other_table, e))
            self.edges[f.other_table].append((f.table, e))

    def neighbours(self, table: str) -> list[str]:
        return sorted({n for n, _ in self.edges.get(table, [])})

    def path(self, sources: set[str], target: str, words: frozenset[str] = frozenset()) -> list[tuple[str, Edge]] | None:
        """Shortest path (as steps: new table, edge) from any of `sources` to `target`; between two tables,
        the key whose role the question names (`words`: its stems) first, then declared keys."""
        if target in sources:
            return []
        prev: dict[str, tuple[str, Edge] | None] = {s: None for s in sources}
        queue = deque(sorted(sources))
        while queue:
            cur = queue.popleft()
            for nxt, e in sorted(self.edges.get(cur, []),
                                 key=lambda x: (not plays_role(x[1], words), not x[1].declared, x[0])):
                if nxt in prev:
                    continue
                prev[nxt] = (cur, e)
                if nxt == target:
                    steps = []
                    node = nxt
                    while (step := prev[node]) is not None:
                        p, edge = step
                        steps.append((node, edge))
                        node = p
                    return steps[::-1]
                queue.append(nxt)
        return None

    def connect(self, tables: list[str], max_tables: int = 6,
                words: frozenset[str] = frozenset()) -> tuple[list[str], list[Edge]] | None:
        """The tables and edges of a small tree joining all `tables` (in the given order of importance),
        or None when they are not connected within `max_tables`."""
        if not tables:
            return None
        names, edges = [tables[0]], []
        for t in tables[1:]:
            if t in names:
                continue
            steps = self.path(set(names), t, words)
            if steps is None:
                return None
            for node, e in steps:
                names.append(node)
                edges.append(e)
            if len(names) > max_tables:
                return None
        return names, edges

    def from_clause(self, names: list[str], edges: list[Edge]) -> str:
        """`a JOIN b ON ... JOIN c ON ...` in the order each table becomes reachable."""
        clause, placed, pending = ident(names[0]), {names[0]}, list(edges)
        while pending:
            for e in pending:
                new = e.other_table if e.table in placed else e.table if e.other_table in placed else None
                if new is None:
                    continue
                if new in placed:  # a second edge between placed tables: an extra ON condition
                    clause += f" AND {e.on()}"
                else:
                    clause += f" JOIN {ident(new)} ON {e.on()}"
                    placed.add(new)
                pending.remove(e)
                break
            else:
                break
        return clause
