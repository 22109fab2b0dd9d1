"""Stage 2, schema linking: choose the tables, columns and literal values a question is about.

Deterministic lexical matching (names, light stemming, synonyms, known cell values) so that only the
relevant part of a large schema reaches the prompt and the grammar, and a weak model has less to get wrong.
"""
from __future__ import annotations

import re
from collections.abc import Container, Sequence, Set
from dataclasses import dataclass, field

from . import names
from .codes import coded_values
from .conditions import direction_fit, tables_for_years
from .errors import MirrorError
from .joins import KEY_TAILS, JoinGraph, plays_role
from .lookups import rows_named_by_values
from .names import STOPWORDS, name_score, name_words, question_stems, stem, words  # stem, words: re-exported
from .schema import Schema
from .shape import Shape, read_shape
from .values import ValueIndex

# General English synonyms of common schema words (not any one database's vocabulary).
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
    "type": {"kind", "kinds", "sort", "sorts"},  # "kinds of permit": `permit_type`
    "name": {"called", "named", "names", "title"},
    "status": {"state", "delivered", "cancelled", "shipped", "returned"},
    "segment": {"segments", "tier"},
}


def name_parts(identifier: str) -> set[str]:
    """`signup_date`, `SignupDate` -> {signup, date}; each part also stemmed."""
    parts = names.split_identifier(identifier)
    return {stem(p) for p in parts} | set(parts)


def expand(question: str, known: Set[str] = frozenset()) -> set[str]:
    """Question words, stemmed, plus the schema-words they are synonyms of; a word the schema itself uses
    (`known`: "unit" of `unit_price`) means that name, not a synonym."""
    toks = {stem(w) for w in words(question)} | set(words(question))
    unknown = {w for w in toks if stem(w) not in known}
    for canon, syns in SYNONYMS.items():
        if unknown & ({stem(s) for s in syns} | syns):
            toks.add(canon)
        elif canon in unknown and known:  # "customers" where the schema says `user`: the other way round
            toks |= {s for s in syns if s in known}
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


LINK_COVERAGE = 0.75  # share of a name's words the question must mention for the name to count as named


def all_schema_words(schema: Schema) -> set[str]:
    """Every word of every table and column name, stemmed, with the words they abbreviate left to matching."""
    return schema_words(schema)


def schema_words(schema: Schema) -> set[str]:
    out = set()
    for t in schema.tables:
        out |= set(name_words(t.name))
        for c in t.columns:
            out |= set(name_words(c.name))
    return out


def value_index_of(schema: Schema) -> ValueIndex:
    """The schema's value index (built by the pipeline from the data), else one from the few distinct values
    introspection keeps per column."""
    index = getattr(schema, "value_index", None)
    if index is None:
        index = ValueIndex()
        for t in schema.tables:
            for c in t.columns:
                index.set_distinct(t.name, c.name, len(c.values))
                index.add_many(t.name, c.name, list(c.values))
        index.finish()
        schema.value_index = index
    return index


def find_values(question: str, schema: Schema, qstems: list[str] | None = None) -> list[tuple[str, str, str]]:
    """Values the question names, each placed in one column: the one whose table or column name the question
    also mentions, else the most categorical (fewest distinct values)."""
    qstems = question_stems(question) if qstems is None else qstems
    index = value_index_of(schema)
    found = []
    toks = names.words(question)
    taken: set[int] = set()
    known = schema_words(schema)
    for start, end, places in index.find(question, known):
        def score(place):
            t, c, _ = place
            return (name_score(c, qstems)[0] + name_score(t, qstems)[0], direction_fit(toks[:start], c),
                    -index.distinct.get((t, c), 0), -len(c))
        place = max(places, key=score)
        if place not in found:  # a value said twice ("Ashford patrons ... than Ashford patrons") is one condition
            found.append(place)
        taken |= set(range(start, end))
    return found + coded_values(question, schema, index, taken, known)  # "Swedish players": 'SWE'


def _question_words(text: str, schema: Schema) -> tuple[list[str], set[str], set[str]]:
    """The words of `text` as names are matched against them: stems with their expansions, every
    word with its stem, and those that are some name's word exactly (such a word is that name's, not
    an abbreviation of another: "countries" is the table countries, not the `cont` of `ContId`)."""
    qset = sorted(set(question_stems(text)) | {stem(w) for w in expand(text, schema_words(schema))})
    qall = {stem(w) for w in words(text)} | set(words(text))
    return qset, qall, set(qset) & schema_words(schema)


def link(question: str, schema: Schema, hint: Sequence[str] = ()) -> Link:
    """Tables, columns and values of the question: names matched word by word across naming styles
    (names.py), values through the value index, and the tables joining them through the key graph.
    `hint`: tables known to be meant though no word names them (the model's choice, see pipeline.py)."""
    qset, qall, exact = _question_words(question, schema)
    values = find_values(question, schema, qset)
    if values:  # a value's words name no table or column ("title is 'Sales Representative'" says nothing of sales)
        rest = question
        for _, _, v in values:
            rest = re.sub(rf"(?<!\w){re.escape(v)}(?!\w)", " ", rest, flags=re.I)  # a code 'F' is no letter f
        qset, qall, exact = _question_words(rest, schema)
    graph = JoinGraph(schema)
    fk_cols = {(e.table, e.column) for edges in graph.edges.values() for _, e in edges}
    scores, columns, named = {}, {}, {t for t, _, _ in values}
    partial: dict[str, float] = {}  # the best single word match of a table's or its columns' names
    col_hits: list[tuple[float, str, tuple[str, ...]]] = []
    for t in schema.tables:
        cover, best = name_score(t.name, qset, qall, exact, kinds_optional=True)  # DEPT_CD_REF: "department"
        partial[t.name] = best
        score = 3.0 * cover if cover >= LINK_COVERAGE and best > 0 else 0.0
        if score:
            named.add(t.name)
        own = set(name_words(t.name))
        cols = []
        for c in t.columns:
            if (t.name, c.name) in fk_cols and not c.in_key:
                continue  # `customer_id` says nothing about what the question wants from orders
            words_c = [w for w in name_words(c.name) if w not in own] or list(name_words(c.name))
            cover_c, best_c = name_score("_".join(words_c), qset, qall, exact, kinds_optional=True)
            partial[t.name] = max(partial[t.name], 0.9 * best_c)
            if cover_c >= LINK_COVERAGE and best_c > 0 and not (c.in_key and len(words_c) == 1 and words_c[0] == "id"):
                cols.append(c.name)
                col_hits.append((cover_c, t.name, tuple(words_c)))
        for vt, vc, _ in values:
            if vt == t.name and vc not in cols:
                cols.append(vc)
        scores[t.name] = score + len(cols) + 2.0 * sum(vt == t.name for vt, _, _ in values)
        columns[t.name] = cols
    for extra in head_named(schema, named, qset, exact) | {h for h in hint if h in scores}:
        named.add(extra)
        scores[extra] += 3.0 * LINK_COVERAGE
    chosen_names = {t.name for t in schema.tables if t.name in named}
    # a column the question names joins the query only when no table already chosen has a column so named
    for _, hit_table, hit_words in sorted(col_hits, reverse=True):
        if hit_table in chosen_names:
            continue
        if any(set(name_words(oc.name)) >= set(hit_words)
               for ot in schema.tables if ot.name in chosen_names for oc in ot.columns):
            continue
        if chosen_names and scores[hit_table] < 1.0:
            continue
        chosen_names.add(hit_table)
    for extra in rows_named_by_values(question, schema, values, named):  # "how many grants": the rows pointing
        named.add(extra)  # at the lookup table's 'Grant', not the lookup table itself
        chosen_names.add(extra)
        scores[extra] += 3.0 * LINK_COVERAGE
    chosen = [t.name for t in schema.tables if t.name in chosen_names]
    if not chosen:
        closest = max(partial, key=lambda t: partial[t], default="")
        if len(schema.tables) == 1:
            chosen = [schema.tables[0].name]
        elif closest and partial[closest] >= 0.7:  # no name covered enough, but a word of one is asked for
            chosen = [closest]
        else:
            listed = ", ".join(t.name for t in schema.tables[:12]) + (" ..." if len(schema.tables) > 12 else "")
            raise MirrorError("this question does not seem to be about this database: no table, column or value "
                              f"of it matches a word of the question. Its tables are: {listed}. "
                              "Try naming what you want with the database's words.")
    chosen.sort(key=lambda t: -scores.get(t, 0))
    asks_who = re.match(r"\s*who\b", question.lower()) is not None
    for holder in list(chosen) if asks_who else []:  # "who leads the project": the row a role key
        for other, e in graph.edges.get(holder, []):  # (`LEAD_EMP_NO`) points at
            if e.table == holder and other not in chosen and plays_role(e, frozenset(qset)):
                chosen.append(other)
                named.add(other)
    for extra in tables_for_years(question, schema, chosen):  # "cars produced after 1980": the years' table
        chosen.append(extra)
        named.add(extra)
    tree = graph.connect(chosen, words=frozenset(qset))
    if tree:
        chosen += [t for t in tree[0] if t not in chosen]
    measure_words = {p for t in schema.tables for c in t.columns if c.is_numeric and not is_key_like(schema, t.name, c)
                     for p in name_parts(c.name)}
    return Link(chosen, {t: columns.get(t, []) for t in chosen}, values, scores, named,
                detect_intent(question, {stem(t.name) for t in schema.tables} |
                              {w for t in schema.tables for w in name_words(t.name)}, measure_words,
                              all_schema_words(schema)), question,
                read_shape(question))


def head_named(schema: Schema, named: set[str], qset, exact) -> set[str]:
    """Tables the question names by their head noun alone ("orders": `sales_order`; "users": `auth_user`),
    unless a table it names in full already holds that word ("concerts": `concert`, not `singer_in_concert`)."""
    from .names import head_word, word_match

    found = set()
    for t in schema.tables:
        head = head_word(t.name)
        if t.name in named or head is None or not any(
                (q == head) if q in exact else word_match(head, q) >= 1.0 for q in qset):
            continue
        if any(head in name_words(n) for n in named) or any(
                name_words(c.name) == (head,) for o in schema.tables if o.name != t.name for c in o.columns):
            continue  # "the makers and models": a column model_list.Maker says it, not the table car_makers
        found.add(t.name)
    return found


class _AnyWord:
    """Without a schema every word may name something."""

    def __contains__(self, word) -> bool:
        return True


def is_key_like(schema: Schema, table: str, column) -> bool:
    """A key rather than a quantity: primary key, a foreign key, or named `...id` (`customer_id`, `StuID`)."""
    if column.in_key or column.is_pk:
        return True
    parts = names.split_identifier(column.name)
    if parts and parts[-1] in ("id", "ids"):
        return True
    if any(f.table == table and f.column == column.name for f in schema.foreign_keys):
        return True
    if any(e.table == table and e.column == column.name  # a key the naming implies
           for edges in JoinGraph(schema).edges.values() for _, e in edges):
        return True
    words = name_words(column.name)  # `MGR_EMP_NO`: a role before a table's own key name (EMP_NO)
    return len(words) >= 3 and any(len(pw) >= 2 and pw[-1] in KEY_TAILS and words[-len(pw):] == pw
                                   for t in schema.tables for pw in [name_words(k.name) for k in t.columns if k.is_pk])


def asks_number_of(q: str, measure_words: Set[str] = frozenset()) -> bool:
    """"Count the templates", "what is the number of cars ...", "find the total number of ...": the question
    asks for a count. Not when "number of X" names a column ("the largest number of products" with a
    Number_products column), nor when a superlative asks for the row with the largest count."""
    m = re.match(r"(?:what is|what was|what s|find|give(?: me)?|show|return|tell me|compute|calculate|count)?"
                 r"\s*(?:the )?(?:total )?(?:number|count) of (?:the |all |all the )?(?:different |distinct |unique )?(\w+)", q)
    if not m and not re.match(r"count (?:the |all |all the |how )", q):
        return False
    if m and "number" in measure_words and (stem(m.group(1)) in measure_words or m.group(1) in measure_words):
        return False
    return True


def names_something(word: str, known: Container[str]) -> bool:
    """Whether a question word is one of the schema's words, or what one of them abbreviates ("medication"
    for `med`, "doctor" for `dr`)."""
    if word in known or stem(word) in known:
        return True
    return isinstance(known, Set) and any(names.is_abbreviation(k, stem(word)) for k in known if len(k) < len(word))


def detect_intent(question: str, table_words: Set[str] = frozenset(), measure_words: Set[str] = frozenset(),
                  schema_words: Set[str] | None = None) -> set[str]:
    """Question shapes that are safe to enforce in the grammar (a weak model often ignores them).
    "by" groups only before a category ("by country"), not before a table or a measure ("placed by
    customers from France", "largest orders by amount")."""
    q = " ".join(words(question))
    intent = set()
    known: Container[str] = _AnyWord() if schema_words is None else {w for s in schema_words for w in (s, stem(s))} | {
        "year", "month", "day", "week", "quarter"}  # date parts group any date column
    by = re.search(r"\bby (?:the |a |an |their |its )?(\w+)", q)
    by_groups = by and not names_something(by.group(1), table_words) and not (expand(by.group(1)) & measure_words) and (
        names_something(by.group(1), known))
    each = re.search(r"\b(?:each|per|every) (?:single |one of the )?(\w+)", q)
    aggregated = re.search(r"\b(how many|number|count|total|sum|average|mean|avg|maximum|minimum|max|min|most|least)\b",
                           q)
    # "for each country" groups; "the name of every singer" only lists (grouping needs something to aggregate)
    each_names = each and names_something(each.group(1), known)
    grouped = (each and each_names and (aggregated or not names_something(each.group(1), table_words))) or by_groups
    if grouped:
        intent.add("group")
    if aggregated and re.search(r"\b(?:which|what) (?:month|year)\b", q):
        grouped = True  # "in which month were the most hours worked": the months are the groups
    m = re.search(r"\b(most|fewest|least) (\w+)", q)
    if grouped or m and names_something(m.group(2), table_words):
        intent.add("group")  # "which country has the most customers" counts customers per country
    if re.search(r"\b(than the|than any|than all|never|not|no|without|average \w+ price)\b", q) and not grouped:
        intent.add("nested")
    if re.search(r"\b(different(?! from)|distinct|unique)\b", q) and not re.search(r"\bhow many\b", q):
        intent.add("distinct")
    many = re.search(r"\bhow many (\w+)", q)
    if many and expand(many.group(1)) & measure_words and not names_something(many.group(1), table_words):
        intent.add("sum")  # "how many units" adds up a quantity
    elif not grouped and not many and re.search(r"\b(total|sum)\b", q):
        intent.add("sum")
    elif not grouped and not many and re.search(r"\b(average|mean)\b", q) and not re.search(r"\bthan the\b", q):
        intent.add("avg")
    elif not grouped and (re.search(r"\bhow many\b", q) and not re.search(r"\b(which|what|who)\b", q)
                          or asks_number_of(q, measure_words)):
        intent.add("count")
        if re.search(r"\b(different(?! from)|distinct|unique)\b", q):
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
