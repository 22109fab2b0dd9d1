"""Stage 2, schema linking: choose the tables, columns and literal values a question is about.

Deterministic lexical matching (names, light stemming, synonyms, known cell values) so that only the
relevant part of a large schema reaches the prompt and the grammar, and a weak model has less to get wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import MirrorError
from .schema import Schema
from .shape import Shape, read_shape

SYNONYMS = {
    "customer": {"client", "buyer", "people", "person", "user"},
    "product": {"item", "article", "good", "merchandise"},
    "order": {"purchase", "sale", "sold", "bought", "buy", "transaction", "ordered", "ordering"},
    "amount": {"revenue", "spent", "spend", "spending", "sales", "total", "value", "money", "income", "turnover"},
    "price": {"cost", "expensive", "cheap", "cheapest", "priced"},
    "quantity": {"units", "unit", "qty", "pieces"},
    "date": {"when", "day", "month", "year", "time", "monthly", "daily", "yearly", "recent", "latest", "earliest"},
    "city": {"town", "cities"},
    "country": {"nation", "countries"},
    "category": {"categories", "type", "kind", "department"},
    "name": {"called", "named", "names", "title"},
    "status": {"state", "delivered", "cancelled", "shipped", "returned"},
    "segment": {"segments", "tier"},
}
STOPWORDS = {"the", "a", "an", "of", "in", "on", "for", "to", "by", "with", "and", "or", "is", "are", "was", "were",
             "what", "which", "how", "many", "much", "show", "list", "give", "me", "all", "each", "per", "there",
             "do", "does", "did", "have", "has", "from", "that", "than", "more", "less", "most", "least", "top",
             "number", "count", "average", "mean", "sum", "max", "min", "their", "its", "it", "be", "at", "as"}


def stem(word: str) -> str:
    w = word.lower()
    for suffix in ("ies", "es", "s"):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            w = w[: -len(suffix)] + ("y" if suffix == "ies" else "")
            break
    return w


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def name_parts(identifier: str) -> set[str]:
    """`signup_date` -> {signup, date}; each part also stemmed."""
    parts = [p for p in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", identifier) if p]
    return {stem(p) for p in parts} | {p.lower() for p in parts}


def expand(question: str) -> set[str]:
    """Question words, stemmed, plus the schema-words they are synonyms of."""
    toks = {stem(w) for w in words(question)} | set(words(question))
    for canon, syns in SYNONYMS.items():
        if toks & ({stem(s) for s in syns} | syns):
            toks.add(canon)
    return toks - STOPWORDS


@dataclass
class Link:
    tables: list[str]
    columns: dict[str, list[str]]  # table -> linked columns (for the report; grammar keeps all columns)
    values: list[tuple[str, str, str]] = field(default_factory=list)  # (table, column, value) found in question
    scores: dict[str, float] = field(default_factory=dict)
    named: set[str] = field(default_factory=set)  # tables the question names, or whose values it quotes
    intent: set[str] = field(default_factory=set)  # shapes the question asks for: count, group, rank
    question: str = ""
    shape: Shape | None = None  # direction, LIMIT, operators, subquery: see shape.py

    def describe(self) -> str:
        lines = [f"tables: {', '.join(self.tables)}"]
        for t in self.tables:
            if self.columns.get(t):
                lines.append(f"  {t}: {', '.join(self.columns[t])}")
        for t, c, v in self.values:
            lines.append(f"  value {t}.{c} = {v!r}")
        if self.intent:
            lines.append(f"intent: {', '.join(sorted(self.intent))}")
        if self.shape:
            lines.append("shape: " + ", ".join(f"{k}={v}" for k, v in vars(self.shape).items() if v))
        return "\n".join(lines)


def find_values(question: str, schema: Schema) -> list[tuple[str, str, str]]:
    """Known cell values quoted or named in the question (e.g. 'Paris' -> customers.city)."""
    q = " " + " ".join(words(question)) + " "
    found = []
    for t in schema.tables:
        for c in t.columns:
            for v in c.values:
                key = " ".join(words(v))
                if key and len(key) > 1 and f" {key} " in q and key not in STOPWORDS:
                    found.append((t.name, c.name, v))
    # prefer longest matches: drop a value contained in a longer one found elsewhere
    longest = []
    for f in sorted(found, key=lambda f: -len(f[2])):
        if not any(f[2].lower() in g[2].lower() and f[2] != g[2] for g in longest):
            longest.append(f)
    return longest


def link(question: str, schema: Schema) -> Link:
    toks = expand(question)
    values = find_values(question, schema)
    scores, columns, named = {}, {}, {t for t, _, _ in values}
    for t in schema.tables:
        score = 3.0 if name_parts(t.name) & toks else 0.0
        if score:
            named.add(t.name)
        cols = []
        fk_cols = {f.column for f in schema.foreign_keys if f.table == t.name}
        for c in t.columns:
            if c.name in fk_cols:
                continue  # `customer_id` says nothing about what the question wants from orders
            parts = name_parts(c.name) - {"id"} - name_parts(t.name)  # "order" names the table, not order_date
            if parts & toks:
                cols.append(c.name)
                score += 1.0
        for vt, vc, _ in values:
            if vt == t.name:
                score += 2.0
                if vc not in cols:
                    cols.append(vc)
        scores[t.name] = score
        columns[t.name] = cols
    chosen = [t for t, s in scores.items() if s > 0]
    if not chosen:
        if len(schema.tables) == 1:
            chosen = [schema.tables[0].name]
        else:
            raise MirrorError("this question does not seem to be about this database: no table, column or value "
                              "in it matches the question. Try naming what you want, e.g. a table or column.")
    chosen = add_bridges(chosen, schema)
    chosen.sort(key=lambda t: -scores.get(t, 0))
    measure_words = {p for t in schema.tables for c in t.columns if c.is_numeric and not c.is_pk and not c.name.endswith("_id")
                     for p in name_parts(c.name)}
    return Link(chosen, {t: columns.get(t, []) for t in chosen}, values, scores, named,
                detect_intent(question, {stem(t.name) for t in schema.tables}, measure_words), question,
                read_shape(question))


def detect_intent(question: str, table_words: set[str] = frozenset(), measure_words: set[str] = frozenset()) -> set[str]:
    """Question shapes that are safe to enforce in the grammar (a weak model often ignores them).
    "by" groups only before a category ("by country"), not before a table or a measure ("placed by
    customers from France", "largest orders by amount")."""
    q = " ".join(words(question))
    intent = set()
    by = re.search(r"\bby (\w+)", q)
    by_groups = by and stem(by.group(1)) not in table_words and not (expand(by.group(1)) & measure_words)
    grouped = re.search(r"\b(each|per|every)\b", q) or by_groups
    if grouped:
        intent.add("group")
    m = re.search(r"\b(most|fewest|least) (\w+)", q)
    if m and stem(m.group(2)) in table_words:
        intent.add("group")  # "which country has the most customers" counts customers per country
    if re.search(r"\b(than the|than any|than all|never|not|no|without|average \w+ price)\b", q) and not grouped:
        intent.add("nested")
    if re.search(r"\b(different|distinct|unique)\b", q) and not re.search(r"\bhow many\b", q):
        intent.add("distinct")
    many = re.search(r"\bhow many (\w+)", q)
    if many and expand(many.group(1)) & measure_words:
        intent.add("sum")  # "how many units" adds up a quantity
    elif not grouped and not many and re.search(r"\b(total|sum)\b", q):
        intent.add("sum")
    elif not grouped and not many and re.search(r"\b(average|mean)\b", q) and not re.search(r"\bthan the\b", q):
        intent.add("avg")
    elif re.search(r"\bhow many\b", q) and not grouped and not re.search(r"\b(which|what|who)\b", q):
        intent.add("count")
        if re.search(r"\b(different|distinct|unique)\b", q):
            intent.add("count-distinct")
    if re.search(r"\b(top \d+|most|least|highest|lowest|largest|smallest|best|biggest|cheapest|fewest)\b", q):
        intent.add("rank")
        low = re.search(r"\b(least|lowest|smallest|cheapest|fewest)\b", q)
        intent.add("asc" if low else "desc")
    if re.search(r"\b(month|monthly)\b", q):
        intent.add("month")
    elif re.search(r"\b(year|yearly|annual)\b", q):
        intent.add("year")
    return intent


def add_bridges(tables: list[str], schema: Schema) -> list[str]:
    """Add tables that join two chosen tables (orders between customers and products)."""
    chosen = list(tables)
    for t in schema.tables:
        if t.name in chosen:
            continue
        targets = {f.other_table for f in schema.foreign_keys if f.table == t.name}
        if len(targets & set(chosen)) >= 2:
            chosen.append(t.name)
    return chosen
