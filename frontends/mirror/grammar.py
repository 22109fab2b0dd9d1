"""Stage 3a, the SQL grammar built from the live schema (lark syntax for llguidance).

The grammar has a branch per FROM clause covering the question's tables (one table, or tables joined
along their foreign keys), so a column can only be named when its table is in the query. What the question
spells out (values, operators, direction, LIMIT, subqueries; see shape.py) is fixed text, so the model only
chooses columns and aggregates. Spaces are written inside the literals: llguidance's lark does not insert
them through %ignore.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import re
from dataclasses import dataclass

from .column_facts import facts_of
from .conditions import Condition, negated_value, stated_conditions
from .date_encoding import DMY_TEXT, MDY_TEXT, column_encoding, date_part
from .joins import JoinGraph, ident, plays_role, role_words
from .labels import label_columns, label_for_entity, person_asked, whole_name
from .linking import Link, is_key_like, name_parts, stem
from .measures import measured
from .names import NAMING_PREFIXES, STOPWORDS, is_abbreviation, name_words, split_identifier, word_match, words
from .roles import self_join_queries
from .schema import Schema
from .shape import HIGH_WORDS, IMPLIED_MEASURES, LOW_WORDS, SUPERLATIVE, Shape, negation_start, read_shape
from .superlative import CountRank, count_per_group, count_rank

MAX_TABLES_PER_JOIN = 4
MAX_PAIR_PLANS = 45  # pairs of linked tables given a FROM clause of their own (10 tables)


def lit(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def join_plans(tables: list[str], schema: Schema, needed: list[str] | None = None,
               words: frozenset[str] = frozenset()) -> list[tuple[list[str], str]]:
    """Every FROM clause allowed: each single table, each pair of tables joined along the shortest key path
    (through bridge tables where needed; by the key whose role the question's `words` name), and all
    `needed` tables together."""
    graph = JoinGraph(schema)
    plans, seen = [([t], ident(t)) for t in tables], set()
    groups = [list(p) for p in itertools.combinations(tables, 2)][:MAX_PAIR_PLANS]
    if needed and len(needed) > 2:
        groups.append(list(needed))
    for group in groups:
        tree = graph.connect(group, MAX_TABLES_PER_JOIN, words)
        if not tree or frozenset(tree[0]) in seen:
            continue
        seen.add(frozenset(tree[0]))
        plans.append((tree[0], graph.from_clause(*tree)))
    return plans


def build_grammar(schema: Schema, linked: Link) -> str:
    shape = linked.shape or read_shape(linked.question)
    linked = with_ranked_neighbour(schema, linked, shape)
    self_joined = self_join_queries(linked.question, schema, linked.values,
                                    lambda t: asked_columns(shape, schema, t, linked))
    if self_joined:  # one table in two roles (manager / employee): the question fixes the query's form
        return "start: query\nquery: " + " | ".join(lit(q) for q in self_joined) + "\n"
    plans = join_plans(linked.tables, schema, [t for t in linked.tables if t in linked.named],
                       frozenset(stem(w) for w in re.findall(r"[a-z]+", linked.question.lower())))
    person = person_asked(linked.question, schema, linked.tables)
    if person and person not in linked.tables:  # "who worked the most hours": the people the shifts point at
        linked = dataclasses.replace(linked, tables=linked.tables + [person], named=set(linked.named) | {person})
        plans = join_plans(linked.tables, schema, [t for t in linked.tables if t in linked.named],
                           frozenset(stem(w) for w in re.findall(r"[a-z]+", linked.question.lower())))
    entity: tuple | None = asked_entity(linked.question, schema, linked.tables) or (("table", person) if person else None)
    measure_linked = any(c.is_numeric and not is_key_like(schema, t, c) for t in linked.tables
                         for c in schema.columns_of(t) if c.name in linked.columns.get(t, []))
    counting = count_rank(linked.question, schema, measure_linked, person)  # "which X has the most Y": X ranked by its count of Y
    if counting:
        graph = JoinGraph(schema)
        tree = graph.connect(counting.tables, MAX_TABLES_PER_JOIN)
        if tree and not any(set(names) == set(tree[0]) for names, _ in plans):
            plans.append((tree[0], graph.from_clause(*tree)))
        if not (entity and entity[0] == "column" and entity[1] == counting.ranked):
            entity = ("table", counting.ranked)
        shape = dataclasses.replace(shape, direction=counting.direction, limit=shape.limit or "1", extreme=None)
    per_group = None if counting else count_per_group(linked.question, schema)
    if per_group:
        graph = JoinGraph(schema)
        tree = graph.connect(per_group, MAX_TABLES_PER_JOIN)
        if tree and not any(set(names) == set(tree[0]) for names, _ in plans):
            plans.append((tree[0], graph.from_clause(*tree)))
    outer_values, sub_values = split_values(linked, shape)
    if shape.like:  # the pattern's text is matched with LIKE, not looked up as a whole value
        outer_values = [v for v in outer_values if shape.like[1].lower() not in v[2].lower()]
    stated = stated_conditions(linked.question, schema, [(ident(c.name), t, c) for t in linked.tables
                                                         for c in schema.columns_of(t)],
                               {ident(c) for _, c, _ in outer_values})
    membership, inner_numbers = ([], set()) if counting or any(c.negated for c in stated) else membership_conds(
        schema, linked, shape, entity, plans)
    if membership:  # what is said before a negation, or of the entity's own rows, restricts the rows asked for
        outer_values = [v for v in outer_values if shape.membership and entity and (
            v[0] == entity[1] or not after_negation(linked.question, v[2]))]
    # Top-level FROM: the smallest plans covering every table whose columns or values the question names
    # ("amount per country" needs orders and customers); subqueries may use any linked table.
    owners: dict[str, set] = {}
    asked_words = {stem(w) for w in re.findall(r"[a-z]+", linked.question.lower())}
    named_cols, synonym_measures = [], []
    for t in linked.tables:
        for c in linked.columns.get(t, []):
            column = next((x for x in schema.columns_of(t) if x.name == c), None)
            if column is not None and refers_to_other(schema, t, column, linked.tables):
                continue  # OrderItems.ProductId named by "products": the products' key, not a reason to join
            if {p for p in name_parts(c) if len(p) > 1} & asked_words:
                named_cols.append((t, c, column))
            elif column is not None and column.is_numeric:
                synonym_measures.append((t, c))
    # a column of a table the question does not name joins it only for words no column of a named table says
    # ("the average purchase cost of assets": `asset.purchaseCost`, not `ticket.costUsd`)
    said_by = {(t, c): {p for p in name_parts(c) if len(p) > 1} & asked_words for t, c, _ in named_cols}
    named_cols = [(t, c, column) for t, c, column in named_cols if t in linked.named or not any(
        u != t and said_by[(t, c)] <= name_parts(oc.name) for u in linked.named if u in linked.tables
        for oc in schema.columns_of(u))]
    # a measure matched through a synonym ("spent" ~ amount) brings its table in, unless the question names a
    # measure itself ("the unit price": UnitPrice, not Quantity through "unit"); a text column matched only
    # through a synonym ("titles" ~ Staff.Name) never does
    measure_named = any(column is not None and column.is_numeric and not is_key_like(schema, t, column)
                        for t, _, column in named_cols)
    for t, c in [(t, c) for t, c, _ in named_cols] + ([] if measure_named else synonym_measures):
        owners.setdefault(c, set()).add(t)
    # a column name found in several tables ("name") does not say which table is needed
    needed = {t for t, _, _ in outer_values} | {t for c, ts in owners.items() if len(ts) == 1 for t in ts} | {
        c.table for c in stated}
    named = set(linked.named)
    words_of = {t: {stem(w) for w in split_identifier(t) if len(w) > 2} for t in named}
    # "the template type code": Templates is named only inside the name of Ref_Template_Types
    inside = {t for t in named for u in named if t != u and words_of[t] and words_of[t] < words_of[u]
              and not words_of[t] & outside_name(linked.question, words_of[u] | name_parts(u))}
    needed |= ((named - inside) | (inside & needed)) - {t for t, _, _ in sub_values}
    if shape.superlative and not shape.subquery_agg:  # "the visitor who bought the most tickets": the measure
        # ranked may live in another linked table (visit.Num_of_Ticket), which then joins
        def measures_in(tables):
            return [(f"{t}.{c.name}", t, c) for t in tables for c in schema.columns_of(t)]
        if needed and ranked_measure(shape, schema, measures_in(needed)) is None:
            found = ranked_measure(shape, schema, measures_in(linked.tables))
            if found:
                needed.add(found[0].split(".")[0])
    if membership or shape.subquery_agg:
        needed = {entity[1]} | {t for t, _, _ in outer_values} if membership and entity else \
            needed - {t for t, _, _ in sub_values} or needed
    if counting:  # only the key path from X to Y (and the tables of the values named): any other table
        # would repeat the rows counted
        needed = set(counting.tables) | {t for t, _, _ in outer_values}
    elif per_group and not membership:  # "how many Y does each X have": likewise
        needed = set(per_group) | {t for t, _, _ in outer_values}
    most = max(len(needed & set(names)) for names, _ in plans)  # all needed tables, else as many as joinable
    covering = [i for i, (names, _) in enumerate(plans) if len(needed & set(names)) == most]
    fewest = min(len(plans[i][0]) for i in covering)
    top = [i for i in covering if len(plans[i][0]) == fewest]
    lines = ["start: query", "query: " + " | ".join(f"q{i}" for i in top)]
    asked = [a for a in ("SUM", "AVG", "MIN", "MAX") if a in shape.aggregates] or ["SUM", "AVG", "MIN", "MAX"]
    lines += [
        'cmp: " > " | " < " | " >= " | " <= " | " = "',
        "agg: " + " | ".join(lit(a) for a in asked),
        'dir: " DESC" | " ASC"',
        'limit: " LIMIT " /[1-9][0-9]{0,3}/',
        'andor: " AND " | " OR "',
        'distinct: "DISTINCT "',
    ]
    if shape.limit and (after := re.search(rf"\b(?<!top ){re.escape(shape.limit)} ([a-z]+)", linked.question.lower())) \
            and not re.fullmatch(rf"{LOW_WORDS}|{HIGH_WORDS}|most|least|more|less", after.group(1)) and best_column(
                after.group(1), schema, [(c.name, t, c) for t in linked.tables for c in schema.columns_of(t)
                                         if (c.is_numeric or c.numeric_text) and not is_key_like(schema, t, c)], []):
        # "the 4 cylinder cars": a column's value, not a LIMIT ("which model has the most ..." still picks one)
        shape = dataclasses.replace(shape, limit="1" if shape.superlative and shape.limit != "1" else None)
    unvalued = linked.question  # the numbers of a value named ('2023-24', 'Apollo 11') are no years or measures
    for _, _, v in linked.values:
        unvalued = re.sub(rf"(?<!\w){re.escape(v)}(?!\w)", " ", unvalued, flags=re.I)
    years = sorted(set(re.findall(r"\b(?:19|20)\d\d\b", unvalued)))
    dates = stored_dates(schema, [(t, c) for t in linked.tables for c in schema.columns_of(t)], linked.question)
    has_dates = bool(dates)
    year_numbers = any("year" in name_parts(c.name) and (c.is_numeric or c.numeric_text) and holds_years(schema, t, c)
                       for t in linked.tables for c in schema.columns_of(t))
    if not has_dates or year_numbers:
        years = []  # a year held as a number ("Year INTEGER", "PublishedYear") is compared like any number
    numbers = sorted(set(re.findall(r"(?<![\w.-])-?\d+(?:\.\d+)?(?![\w-])", unvalued)) - set(years)
                     - {shape.limit} - set(shape.between) - set(shape.between.values()) - inner_numbers)
    lines.append("number: " + (" | ".join(lit(n) for n in numbers) if numbers else "/[0-9]{1,6}/"))
    ctx = Context(schema, linked, shape, entity, numbers, years, outer_values, sub_values, membership, counting, stated,
                  dates)
    for i, (names, from_clause) in enumerate(plans):
        if i in top:
            lines += branch_rules(f"q{i}", names, from_clause, ctx, True)
    return "\n".join(lines) + "\n"


def refers_to_other(schema: Schema, table: str, column, tables: list[str]) -> bool:
    """A key column whose words, "id" aside, are another linked table's name (OrderItems.ProductId ->
    Products): naming that table names this column too."""
    if not is_key_like(schema, table, column):
        return False
    words = {stem(w) for w in split_identifier(column.name)} - {"id", "ids", "code", "key", "no", "num"}
    return bool(words) and any(u != table and words <= {stem(w) for w in split_identifier(u)} for u in tables)


def table_named(word: str, tables: list[str]) -> str | None:
    """The table a question word names, by its name's words or an abbreviation of the word (`DEPT`)."""
    parts = {t: name_parts(t) - NAMING_PREFIXES for t in tables}
    return next((t for t in tables if stem(word) in parts[t] or word in parts[t]), None) or next(
        (t for t in tables if any(is_abbreviation(p, stem(word)) for p in parts[t])), None)


def flag_value(q_lower: str, column) -> str | None:
    """`1` when the question says what a yes/no column `is_X` / `isX` names ("bikes that are electric"),
    `0` when it says so negated ("not electric", "non-electric"); None when it does not say it."""
    parts = split_identifier(column.name)
    if len(parts) < 2 or parts[0] != "is" or not re.search(r"INT|BOOL|BIT", column.type.upper()):
        return None
    if any(str(v) not in ("0", "1", "True", "False") for v in column.samples):
        return None
    qwords = re.findall(r"[a-z]+", q_lower)
    for i, w in enumerate(qwords):
        if all(any(word_match(stem(p), stem(x)) >= 0.8 for x in qwords[i:i + len(parts) - 1]) for p in parts[1:]):
            negated = {"not", "non", "isn", "aren", "never"} & set(qwords[max(0, i - 2):i])
            return "0" if negated else "1"
    return None


def is_label(column) -> bool:
    """A column that names its row: `name`, `Title`, `ENAME`, `med_nm`."""
    return bool(re.search(r"name|title|label|caption", column.name, re.I)
                or {"name", "title"} & set(split_identifier(column.name)))


def row_key(schema: Schema, table: str):
    """The column that tells a table's rows apart: its integer primary key, else its one-column primary
    key of any type (`DEPT_CD TEXT PRIMARY KEY` in a code table); None for a composite key or none."""
    cols = schema.columns_of(table)
    keys = [c for c in cols if c.is_pk] or [c for c in cols if c.in_key]
    return keys[0] if len(keys) == 1 else None


PERSON_NAME_PARTS = {"first", "last", "given", "family", "surname", "middle", "fname", "lname", "forename"}


def row_names(schema: Schema, table: str) -> list:
    """The columns that name one row of `table`: a person's first and last name together (a first name
    alone does not tell two people apart), else its first name-like column, else its first text column."""
    cols = schema.columns_of(table)
    labels = [c for c in cols if is_label(c) and not c.is_numeric]
    person = [c for c in labels if any(word_match(w, p) >= 0.8 for w in split_identifier(c.name)
                                       for p in PERSON_NAME_PARTS) or re.fullmatch(r"[fl]_?name", c.name, re.I)]
    own = [c for c in labels if c not in person and (
        {w.lower() for w in split_identifier(c.name)} - {"name", "title", "label"} <= set(name_words(table)))]
    if len(person) >= 2:  # `username` beside `first_name`, `last_name`: all of them, in the table's order
        return [c for c in labels if c in person or c in own]
    return label_columns(schema, table) or labels[:1] or [c for c in cols if not c.is_numeric and not c.is_pk and not c.in_key][:1] or [
        c for c in cols if not c.is_numeric and not c.is_pk][:1]


def holds_years(schema: Schema, table: str, column) -> bool:
    """A number column named for years holds years (1995), not a count of them (a contract's `years` = 3):
    by its values where the data can be read."""
    facts = facts_of(schema, table, column.name)
    if facts is None or facts.low is None:
        return True
    try:
        return 1000 <= float(facts.low) and float(facts.high) <= 2200
    except (TypeError, ValueError):
        return False


DATE_WORDS = re.compile(r"\b(?:(?:19|20)\d\d|dates?|days?|months?|monthly|years?|yearly|annual|when|since|born|"
                        r"recent|latest|earliest|newest|oldest|(?:in|during) (?:jan|feb|mar|apr|may|jun|jul|aug|sep|"
                        r"oct|nov|dec)[a-z]*)\b", re.I)


def stored_dates(schema: Schema, columns: list, question: str) -> dict[tuple[str, str], str | None]:
    """(table, column) -> how it stores dates (date_encoding.py), for the columns among `columns` holding
    dates: those whose name or type says so, and, when the question speaks of dates or years, any other
    whose data are dates in some encoding (`birth_ts` of epoch seconds, `scored_ms`, 20231105)."""
    asks = DATE_WORDS.search(question) is not None
    out = {}
    for t, c in columns:
        if is_date_column(c):
            out[(t, c.name)] = column_encoding(schema, t, c) if asks else None
        elif asks and not c.is_pk and not is_key_like(schema, t, c) and (enc := column_encoding(schema, t, c)):
            out[(t, c.name)] = enc
    return out


MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")


def month_of_year(question: str, year: str) -> tuple[str, str]:
    """"before March 2023" compares the month ('%Y-%m' with '2023-03'), "in 2023" the year ('%Y', '2023')."""
    names = "|".join(f"{m}|{m[:3]}" for m in MONTHS) + "|sept"  # the name or its usual short form
    m = re.search(rf"\b({names})\.?,? (?:of )?{year}\b", question.lower())
    if m is None:
        return "%Y", year
    return "%Y-%m", f"{year}-{[x[:3] for x in MONTHS].index(m.group(1)[:3]) + 1:02d}"


def month_alone(question: str) -> str | None:
    """'03' for "placed in March", "during the month of march": a month named with no year after it."""
    names = "|".join(f"{m}|{m[:3]}" for m in MONTHS if m != "may") + "|sept|may"
    m = re.search(rf"\b(?:in|during|throughout) (?:the month of )?({names})\b(?!\.?,? (?:of )?\d)", question.lower())
    return f"{[x[:3] for x in MONTHS].index(m.group(1)[:3]) + 1:02d}" if m else None


def meant_dates(stored: dict, cols: list, linked: Link) -> list[str]:
    """The date columns a year or month of the question is read on: those a word of the question names
    ("signed in 2022": `signed`; "born before 1995": `birth_ts`), else those of the tables the question
    names, else every one."""
    said = [stem(w) for w in re.findall(r"[a-z]+", linked.question.lower()) if len(w) > 3 and w not in STOPWORDS]
    fit = {q: max([word_match(p, w) for _, _, c in [x for x in cols if x[0] == q] for p in name_parts(c.name)
                   if len(p) > 2 for w in said] + [0.0]) for q in stored}
    named = [q for q in stored if fit[q] >= 0.8]
    if named:
        return named
    own = [q for q, t, _ in cols if q in stored and t in linked.named]
    return own or list(stored)


def is_date_column(column) -> bool:
    """A column holding dates or times, by its name in any style or its declared type."""
    return bool(re.search(r"date|day|time", column.name, re.I) or re.search(r"DATE|TIME", column.type.upper())
                or {"date", "time"} & set(split_identifier(column.name))  # appt_dt
                or len(column.samples) >= 2 and all(isinstance(v, str) and re.match(r"\d{4}-\d\d-\d\d", v)
                                                    for v in column.samples))  # `dob` holding ISO dates


@dataclass
class Context:
    """What every branch of one question's grammar is built from."""
    schema: Schema
    linked: Link
    shape: Shape
    entity: tuple | None
    numbers: list[str]
    years: list[str]
    outer_values: list
    sub_values: list
    membership: list[str]
    counting: CountRank | None = None
    stated: list[Condition] = dataclasses.field(default_factory=list)  # conditions.py: flags, NULLs, two columns
    dates: dict = dataclasses.field(default_factory=dict)  # (table, column) -> date encoding (stored_dates)


def split_values(linked: Link, shape: Shape):
    """Values named after "than the average/cheapest" belong to the subquery ("cheaper than the cheapest
    Electronics product"); the others filter the outer query."""
    if not shape.subquery_agg:
        return list(linked.values), []
    m = re.search(r"\b(than|above|below|over|under) the\b", linked.question.lower())
    cut = m.start() if m else len(linked.question)
    after = [v for v in linked.values if value_at(linked.question, v[2]) > cut]
    return [v for v in linked.values if v not in after], after


def asked_entity(question: str, schema: Schema, tables: list[str]):
    """What a "which X" / "how many X" question asks for: ("table", T) or ("column", T, column)."""
    if re.match(r"\s*who\b", question.lower()):  # "who leads the project ...": the row a key named for that
        words = frozenset(stem(w) for w in re.findall(r"[a-z]+", question.lower()))  # role points at
        targets = {e.other_table for t in tables for _, e in JoinGraph(schema).edges.get(t, [])
                   if e.table == t and e.other_table in tables and plays_role(e, words)}
        if len(targets) == 1:
            return ("table", targets.pop())
    m = re.search(r"\b(?:which|how many|what)(?: (?:is|are|was|were|the|all|of|different|distinct))* (?:\d+ )?"
                  r"([a-z]+)(?: ([a-z]+))?", question.lower())
    if not m:
        shape = read_shape(question)
        if shape.head and not shape.head[0][0]:  # "show the stadium names without ...": the names' table
            cols = [(c.name, t, c) for t in tables for c in schema.columns_of(t)]
            head = shape.head[0][1].split()
            named = table_named(head[0], list(tables)) if len(head) == 1 else None
            if named:  # "show customers without orders": the table itself, not `orders.customer_id`
                return ("table", named)
            col = best_column(shape.head[0][1], schema, cols, list(tables))
            found = next(((t, c) for q, t, c in cols if q == col), None)
            return ("table", found[0]) if found else None
        return None
    first, second = m.group(1), m.group(2) or ""

    def table_of(word):
        exact = next((t for t in tables if stem(word) in name_parts(t) or word in name_parts(t)), None)
        return exact or table_named(word, tables)  # "which patients" of a table `pt`

    which = m.group(0).startswith("which") and not re.search(r"\d", m.group(0)) and stem(first) != first

    def column_of(word, among):
        if word in STOPWORDS:  # "which product is ...": `is` is no column's word, though `is_discontinued` has it
            return None
        for t in among:
            for c in schema.columns_of(t):
                # "which wards have more than 2 members": a number column named by "which X" is a group too
                if (not c.is_numeric or which and not is_key_like(schema, t, c)) and not c.is_pk and (
                        stem(word) in name_parts(c.name) or word == c.name):
                    return t, c.name
        return None

    table = table_of(first)
    if table and second and column_of(second, [table]):
        return ("column", *column_of(second, [table]))
    if table:
        return ("table", table)
    col = column_of(first, tables)
    if col:
        return ("column", *col)
    shape = read_shape(question)  # "what are the first names of patients who never ...": the table of `fname`
    if shape.membership and shape.head and not shape.head[0][0] and shape.head[0][1] != "*":
        cols = [(c.name, t, c) for t in tables for c in schema.columns_of(t) if not c.is_numeric]
        found = best_column(shape.head[0][1], schema, cols, list(tables))
        owner = next((t for q, t, _ in cols if q == found), None)
        return ("table", owner) if owner else None
    return None


def membership_conds(schema: Schema, linked: Link, shape: Shape, entity, plans) -> tuple[list[str], set[str]]:
    """`id NOT IN (SELECT fk FROM other)` for "which customers never ordered", and `id IN (SELECT fk FROM
    ... WHERE value)` for "how many customers placed a returned order": joining the many side would
    repeat each customer once per order. Also returns the numbers the subquery uses (not the outer query's)."""
    if not entity:
        return [], set()
    t = entity[1]  # "which customers ..." or "the names of the customers ...": the customers' table
    pk = next((c.name for c in schema.columns_of(t) if c.is_pk), None)
    refs = [e for edges in JoinGraph(schema).edges.values() for _, e in edges
            if e.other_table == t and e.table in linked.tables and e.table != t]
    refs = list(dict.fromkeys(refs))
    said = frozenset(stem(w) for w in re.findall(r"[a-z]+", linked.question.lower()))
    plain = [e for e in refs if not role_words(e) or plays_role(e, said)]
    refs = plain or refs  # "employees working on Apollo": the assignments' key, not the project's `LEAD_EMP_NO`
    if not pk or not refs:
        return [], set()
    values = [v for v in linked.values if v[0] != t]
    if shape.membership:
        inner = [v for v in values if after_negation(linked.question, v[2])]
        numbers = inner_number_conds(schema, linked, shape, t, refs)
        if not inner and not numbers:  # a NULL key in the subquery would make NOT IN true for no row at all
            return [f"{ident(pk)} NOT IN (SELECT {col} FROM {source} WHERE {col} IS NOT NULL"
                    f"{year_in(linked.question, schema, f.table)})"
                    for f in refs for col, source in [through_named(schema, linked, t, f)]], set()
        conds = restricted_not_in(schema, linked, t, pk, refs, inner, numbers)
        return conds, {n for _, _, n in numbers} if conds else set()
    elif not values or any(v[0] == t for v in linked.values) or not re.match(
            r"\s*(which|how many|what|show|list|find|give)\b", linked.question.lower()):
        return [], set()
    op = shape.membership or " IN ("
    conds = []
    for f in refs:
        want = {f.table} | {v[0] for v in values}
        plan = min((p for p in plans if want <= set(p[0]) and t not in p[0]), key=lambda p: len(p[0]), default=None)
        if plan:
            q = len(plan[0]) > 1
            said_at = {value_text(v, q): value_at(linked.question, v[2]) for v in values}
            where = " AND ".join(either_or([value_text(v, q) for v in values], said_at, linked.question.lower(), True))
            col = f"{ident(f.table)}.{ident(f.column)}" if q else ident(f.column)
            if "NOT" in op:
                where += f" AND {col} IS NOT NULL"
            conds.append(f"{ident(pk)}{op}SELECT {col} FROM {plan[1]} WHERE {where})")
    return conds, set()


def value_at(question: str, value: str) -> int:
    """Where the question says a value (-1 if it does not), ignoring the spaces a stored value may carry
    around it ('Abilene ' said as "Abilene?")."""
    return question.lower().find(value.strip().lower()) if value.strip() else -1


def after_negation(question: str, text: str) -> bool:
    """Whether `text` is said after the question's negation: "which teams have no player from Spain" restricts
    the players that must not exist, "which teams from Spain have no player" the teams asked for."""
    at = negation_start(question.lower())
    return at >= 0 and value_at(question, text) > at


def inner_number_conds(schema: Schema, linked: Link, shape: Shape, entity: str, refs) -> list[tuple[str, str, str]]:
    """The numbers said after a negation, as conditions on the related rows that must not exist ("teams with
    no player over 30": age > 30; "venues with no production in the 2024 season": season = 2024): (SQL on a
    qualified column, its table, the number). The column is looked for in the referencing tables and the
    tables one key away from them, never in the entity's own table."""
    q_lower = linked.question.lower()
    graph = JoinGraph(schema)
    near = dict.fromkeys(x for f in refs for x in [f.table] + [o for o, _ in graph.edges.get(f.table, [])]
                         if x != entity)
    cols = [(f"{ident(x)}.{ident(c.name)}", x, c) for x in near for c in schema.columns_of(x)]
    measures = [(q, x, c) for q, x, c in cols if (c.is_numeric or c.numeric_text) and not is_key_like(schema, x, c)]
    out = []
    for n in sorted(set(re.findall(r"(?<![\w.-])\d+(?:\.\d+)?(?![\w-])", linked.question))):
        if n == shape.limit or not after_negation(linked.question, n) or number_at(q_lower, n) < 0:
            continue
        op = shape.comparisons.get(n)
        col = None
        if op:
            col = next(iter(comparative_measure(q_lower, n, schema, measures)), None) or number_column(
                q_lower, n, schema, measures) or only_measure(q_lower[:number_at(q_lower, n)], measures)
        else:  # "in the 2024 season": the column named right after or before the number
            after_n = re.search(rf"(?<![\w.]){re.escape(n)} ([a-z]+)", q_lower)
            before_n = re.search(rf"\b([a-z]+) {re.escape(n)}(?!\w|\.\d)", q_lower)
            col = (best_column(after_n.group(1), schema, measures, []) if after_n else None) or (
                best_column(before_n.group(1), schema, measures, []) if before_n and before_n.group(1) not in STOPWORDS
                else None)
            op = " = "
        if col:
            out.append((f"{col}{op}{n}", next(x for q, x, _ in measures if q == col), n))
    return out


def only_measure(before: str, measures) -> str | None:
    """"no player over 30": the number names no column, so it is the one measure of the table named last
    before it (a player's age), or the one measure there is."""
    words = re.findall(r"[a-z]+", before)
    for w in reversed(words[-4:]):
        table = table_named(w, sorted({t for _, t, _ in measures}))
        if table:
            own = [q for q, t, _ in measures if t == table]
            return own[0] if len(own) == 1 else None
    return measures[0][0] if len(measures) == 1 else None


def restricted_not_in(schema: Schema, linked: Link, entity: str, pk: str, refs, values, numbers) -> list[str]:
    """`id NOT IN (SELECT fk FROM <referencing rows joined to what restricts them> WHERE <restriction>)`:
    "performers who never appeared at the Old Mill Theatre", "productions with no cast member born after
    2000"; the subquery never passes through the entity's own table."""
    graph = JoinGraph(schema)
    words = frozenset(stem(w) for w in re.findall(r"[a-z]+", linked.question.lower()))
    conds = []
    for f in refs:
        want = [f.table] + sorted({v[0] for v in values} | {x for _, x, _ in numbers} - {f.table})
        tree = graph.connect(want, MAX_TABLES_PER_JOIN, words) if len(want) > 1 else ([f.table], [])
        if not tree or entity in tree[0]:
            continue
        source = graph.from_clause(*tree) if len(tree[0]) > 1 else ident(f.table)
        col = f"{ident(f.table)}.{ident(f.column)}"
        where = [value_text(v, True) for v in values] + [sql for sql, _, _ in numbers] + [f"{col} IS NOT NULL"]
        conds.append(f"{ident(pk)} NOT IN (SELECT {col} FROM {source} WHERE {' AND '.join(where)})")
    return conds


def year_in(question: str, schema: Schema, table: str) -> str:
    """" AND Year = 2014" for "stadiums that did not have a concert in 2014": the year a membership
    subquery's rows are restricted to, on the subquery table's year or date column."""
    m = re.search(r"\b(?:in|during) ((?:19|20)\d\d)\b", question.lower())
    if not m:
        return ""
    cols = schema.columns_of(table)
    year = next((c for c in cols if "year" in split_identifier(c.name)), None)
    if year is not None:
        return f" AND {ident(year.name)} = {m.group(1)}"
    said = [stem(w) for w in re.findall(r"[a-z]+", question.lower()) if len(w) > 3]
    stored = stored_dates(schema, [(table, c) for c in cols], question)
    dates = sorted((c for c in cols if (table, c.name) in stored), key=lambda c: -max(  # the date the question's verb names
        [word_match(p, w) for p in name_parts(c.name) for w in said] + [0]))
    date = dates[0] if dates else None
    return f" AND {date_part('%Y', ident(date.name), stored[(table, date.name)])} = '{m.group(1)}'" if date is not None else ""


def through_named(schema: Schema, linked: Link, entity: str, ref) -> tuple[str, str]:
    """The key column and FROM clause of a membership subquery: the referencing table alone, or, when the
    question names a table further away ("contractors that never had a case", a case belonging to a job of
    the contractor), the referencing table joined on to it along the key graph, never back through the
    entity's own table."""
    graph = JoinGraph(schema)
    farther = [n for n in linked.tables if n in linked.named and n not in (entity, ref.table)]
    for n in farther:
        tree = graph.connect([ref.table, n], MAX_TABLES_PER_JOIN)
        if tree and entity not in tree[0] and not any(e.table == ref.table for e in tree[1]):
            # (a bridge holding keys to both, "museums no visitor visited", says it by itself)
            return f"{ident(ref.table)}.{ident(ref.column)}", graph.from_clause(*tree)
    return ident(ref.column), ident(ref.table)


def value_text(value, qualify: bool) -> str:
    t, c, v = value
    col = f"{ident(t)}.{ident(c)}" if qualify else ident(c)
    return f"{col} = '" + v.replace("'", "''") + "'"


def branch_rules(p: str, names: list[str], from_clause: str, ctx: Context, top: bool) -> list[str]:
    """Rules for one FROM clause. What the question spells out (values, comparison operators, direction,
    LIMIT, subquery) is fixed text; the model chooses columns and aggregates. Lists are bounded (a weak
    model otherwise repeats itself until the token limit)."""
    schema, linked, shape = ctx.schema, ctx.linked, ctx.shape
    qualify = len(names) > 1
    cols = [(f"{ident(t)}.{ident(c.name)}" if qualify else ident(c.name), t, c)
            for t in names for c in schema.columns_of(t)]
    intent = linked.intent
    q_lower = linked.question.lower()
    all_names = [q for q, _, _ in cols]
    linked_names = [q for q, t, c in cols if c.name in linked.columns.get(t, [])]
    stored = {q: ctx.dates[(t, c.name)] for q, t, c in cols if (t, c.name) in ctx.dates}
    dates = meant_dates(stored, cols, linked)  # HireDate, hire_date, created_at TIMESTAMP, `birth_ts` of epoch seconds
    numeric = [q for q, t, c in cols if (c.is_numeric or c.numeric_text) and not is_key_like(schema, t, c)]
    numeric = [q for q in numeric if stored.get(q) is None] or numeric  # a date kept as a number is no measure
    measures = [q for q in numeric if q in linked_names] or measured(  # "how much were they charged": money
        linked.question, [(q, c.name) for q, _, c in cols if q in numeric]) or numeric
    table_words = {stem(t.name) for t in schema.tables} | {t.name for t in schema.tables} | {
        w for t in schema.tables for w in name_words(t.name) if len(w) > 2}  # "3 staff members": `staffMember`
    having_n = next((n for n in ctx.numbers if n in shape.comparisons and (after_n := re.search(
        rf"\b{re.escape(n)} (?:or (?:more|fewer|less|above|below) )?(?:different |distinct )?([a-z]+)", q_lower))
        and stem(after_n.group(1)) in table_words), None)  # "2 or more paragraphs"
    entity = ctx.entity if ctx.entity and ctx.entity[1] in names else None
    # "donors who have given more than 50000 in total": the entity's rows grouped, their sum compared
    total_n = next((n for n in ctx.numbers if n in shape.comparisons and n != having_n and re.search(
        rf"\b(?:total|overall|combined|altogether)\b(?: [a-z]+){{0,4}} {re.escape(n)}\b|\b{re.escape(n)}(?: [a-z]+){{0,2}} "
        rf"(?:in total|overall|combined|altogether|all together)\b", q_lower)), None) if (
        entity and entity[0] == "table" and len(names) > 1) else None
    summed = [q for q, t, c in cols if q in measures and entity and t != entity[1]] if total_n else []
    total_n = total_n if summed else None
    after_sup = re.search(rf"{SUPERLATIVE} (?:amount of |value of )?([a-z]+)", q_lower)
    rank = ranked_measure(shape, schema, cols)
    if rank and stored.get(rank[0]) in (DMY_TEXT, MDY_TEXT):  # "the latest contract" of '05/11/2023' text: by the date,
        rank = (date_part("%Y-%m-%d", rank[0], stored[rank[0]]), rank[1])  # not by the day's digits
    ranks_a_measure = rank is not None or after_sup is not None and any(  # "the car with the greatest accelerate"
        c.is_numeric and not is_key_like(schema, t, c) and stem(after_sup.group(1)) in name_parts(c.name)
        for _, t, c in cols)  # ranks rows by a measure, not groups by a count
    rank_group = bool(shape.limit and entity and not shape.extreme and not ctx.membership and not ranks_a_measure
                      and (entity[0] == "column" or (len(names) > 1 and "count" not in intent)))
    counting = ctx.counting if ctx.counting and set(ctx.counting.tables) <= set(names) else None
    rank_group = rank_group or counting is not None
    grouped = ("group" in intent or having_n or total_n or rank_group) and not ctx.membership and not shape.subquery_agg

    rules = []
    def value_pred(v):  # "whose hometown is not 'Little Lever'": the value is excluded
        text = value_text(v, qualify)
        return text.replace(" = '", " != '", 1) if negated_value(linked.question, v[2]) else text

    required = [lit(value_pred(v)) for v in ctx.outer_values
                if any(t == v[0] for t in names)]
    said_at = {lit(value_pred(v)): value_at(q_lower, v[2]) for v in ctx.outer_values}  # where each
    # condition stands in the question, for "cat or dog", "made by General Motors or weighing more than 3500"
    if ctx.membership:
        owner = f"{ident(entity[1])}." if qualify and entity else ""  # the key of the rows asked for, in a join
        rules.append(f"{p}_member: " + " | ".join(lit(owner + c) for c in ctx.membership))
        required.append(f"{p}_member")
    if ctx.years and dates:
        rules.append(f"{p}_year: " + " | ".join(
            lit(f"{date_part(fmt, d, stored[d])}{shape.comparisons.get(y, ' = ')}'{period}'")
            for d in dates for y in ctx.years for fmt, period in [month_of_year(q_lower, y)]))
        required.append(f"{p}_year")
    if dates and not ctx.years and (month := month_alone(q_lower)):  # "orders placed in March": any year's March
        rules.append(f"{p}_month: " + " | ".join(lit(f"{date_part('%m', d, stored[d])} = '{month}'") for d in dates))
        required.append(f"{p}_month")
    either = {}  # "in 2014 or 2015": one condition with OR, on one column
    for a, b in re.findall(r"\b(\d+(?:\.\d+)?) or (\d+(?:\.\d+)?)\b", q_lower):
        if a in shape.comparisons:
            either[a], either[b] = b, None
    year_cols = [q for q, _, c in cols if "year" in name_parts(c.name)]

    def compared(n):  # the column named beside the number; else a year column for 2014; else any measure
        implied = comparative_measure(q_lower, n, schema, cols)  # "older than 30": the age
        if implied:
            return implied
        named = number_column(q_lower, n, schema, cols)
        if named:
            return [named]
        if re.fullmatch(r"(?:19|20)\d\d", n) and (year_cols or re.search(
                rf"\b(?:in|during|since|after|before|until|from) {n}\b", q_lower)):
            return year_cols  # "in 2014" is a year: never another measure ("Capacity = 2014")
        return measures

    for n, op in shape.comparisons.items():
        if n in ctx.numbers and n not in (having_n, total_n) and compared(n) and n in either:
            other = either[n]
            if other is not None:
                op2 = shape.comparisons.get(other, op)
                required.append("(" + " | ".join(lit(f"({m}{op}{n} OR {m}{op2}{other})") for m in compared(n)) + ")")
        elif n in ctx.numbers and n not in (having_n, total_n) and compared(n):
            required.append(f'({" | ".join(lit(m) for m in compared(n))}) {lit(op + n)}')
            said_at[required[-1]] = number_at(q_lower, n)
    for n in ctx.numbers:  # "with 8 cylinders": a number right before a column's name is that column's value
        after_n = re.search(rf"(?<![\w.]){re.escape(n)} ([a-z]+)", q_lower)
        if n in shape.comparisons or n in (having_n, total_n):
            continue
        numeric_cols = [x for x in cols if x[2].is_numeric or x[2].numeric_text]
        col = best_column(after_n.group(1), schema, numeric_cols, []) if after_n else None
        before_n = re.search(rf"\b([a-z]+) {re.escape(n)}(?!\w|\.\d)", q_lower)  # "in ward 1." at the end too
        if col is None and before_n and before_n.group(1) not in STOPWORDS:  # "in ward 6", "on floor 2"
            col = best_column(before_n.group(1), schema, [x for x in numeric_cols
                                                          if not is_key_like(schema, x[1], x[2])], [])
        if col:
            required.append(lit(f"{col} = {n}"))
            said_at[required[-1]] = number_at(q_lower, n)
    if ctx.stated:  # what the question's words restrict, read against the data (conditions.py)
        constrained = {q for q, _, _ in cols if any(re.search(rf"(?<![\w.]){re.escape(q)}(?!\w)", r)
                                                   for r in required)}  # a column a value or number already sets
        for cond in stated_conditions(linked.question, schema, cols, constrained):
            required.append(lit(cond.sql))
            said_at[required[-1]] = cond.at
    for q, t, c in cols:  # "how many bikes are electric": a yes/no column `isElectric` holds it (by its name alone
        # where the data cannot be read; else conditions.py has read it)
        flag = flag_value(q_lower, c) if facts_of(schema, t, c.name) is None else None
        if flag is not None and not any(q in r for r in required):
            required.append(lit(f"{q} = {flag}"))
    for a, op, b in column_comparisons(q_lower, schema, cols):  # "whose permanent address is different from
        required.append(lit(f"{a}{op}{b}"))  # the current address": two columns of the row compared
    if shape.like:
        texts = [q for q, t, c in cols if not c.is_numeric and not is_key_like(schema, t, c)]
        at = q_lower.find(shape.like[1].lower())
        near = re.findall(r"[a-z]+", q_lower[:at])[-6:] + re.findall(r"[a-z]+", q_lower[at + len(shape.like[1]):])
        near_stems = {stem(w) for w in near} - {"letter", "word", "text", "string", "substring"}
        named_texts = {q for q, t, c in cols if q in texts and name_parts(c.name) & near_stems}
        texts = [q for q in texts if q in named_texts] or texts  # "a name containing ...", "... in their description"
        if texts:
            pattern = " LIKE '" + shape.like[0] + "'"
            required.append(f'({" | ".join(lit(q) for q in texts)}) {lit(pattern)}')
    for lo, hi in shape.between.items():
        if measures:
            required.append(f'({" | ".join(lit(m) for m in measures)}) {lit(f" BETWEEN {lo} AND {hi}")}')
    if shape.subquery_agg and measures:
        alts = [lit(a) for a in nested_aggregates(ctx, cols, measures, required, said_at, qualify)]
        if alts:
            required.append("(" + " | ".join(alts) + ")")
    loose = [f'({" | ".join(lit(m) for m in measures)}) cmp number'] if (
        measures and [n for n in ctx.numbers if n not in shape.comparisons and not any(
            f"= {n}" in r for r in required)]) else []
    required = list(dict.fromkeys(required))  # one condition reached two ways (a value, a stated word) is one
    if required:
        where = '" WHERE " ' + ' " AND " '.join(either_or(required, said_at, q_lower))
    elif loose:
        rules.append(f'{p}_cond: ' + " | ".join(loose))
        where = f'(" WHERE " {p}_cond)?'
    else:
        where = ""

    named_measures = [q for q in numeric if q in linked_names]
    if counting:
        agg = f'{p}_agg: "COUNT(*)"'  # "the most Y": Y's rows per X
    elif grouped and named_measures and "how many" not in q_lower and shape.superlative in ("most", "least", "fewest") \
            and not re.search(r"\b(average|mean|avg)\b", q_lower) and not ONE_ROW.search(q_lower):
        agg = f'{p}_agg: "SUM(" {p}_num ")"'  # "the month with the most hours": the hours added up per group
    elif grouped and named_measures and "how many" not in q_lower:
        # "average price per category", "spent the most": aggregate the measure named, not a count
        agg = f'{p}_agg: agg "(" {p}_num ")" | "ROUND(AVG(" {p}_num "), 2)"'
    elif grouped and re.search(r"\b(most|fewest|least)\b", q_lower):
        agg = f'{p}_agg: "COUNT(*)"'  # "the most customers", "ordered the most times": a count
    else:
        agg = f'{p}_agg: "COUNT(*)" | "COUNT(DISTINCT " {p}_col ")"'
        if measures and not (grouped and "how many" in q_lower):
            agg += f' | agg "(" {p}_num ")" | "ROUND(AVG(" {p}_num "), 2)"'
    rules += [f"{p}_col: " + " | ".join(lit(c) for c in all_names), agg]
    if measures:
        rules.append(f"{p}_num: " + " | ".join(lit(m) for m in measures))
    rules.append(f'{p}_expr: {p}_col' + "".join(f' | {lit(date_part(f, d, stored[d]))}' for d in dates
                                                 for f in ("%Y-%m", "%Y")))
    direction = lit(shape.direction) if shape.direction else "dir"
    ranked = f' " ORDER BY " {p}_agg {direction} " LIMIT {shape.limit}"' if shape.limit else ""
    which = re.match(r"\s*(which|who)\b", q_lower) is not None or re.search(r"\bnames? of\b", q_lower) is not None \
        or bool(ctx.membership and entity and entity[0] == "table" and len(shape.head) == 1 and not shape.head[0][0]
                and len(shape.head[0][1].split()) == 1 and table_named(shape.head[0][1], [entity[1]]))
    # "list the products not in any order": the rows themselves, shown as "which products" shows them

    per_entity = None if counting else ranked_per_entity(ctx, cols, names, from_clause, rank, entity, where, qualify)
    if per_entity:
        rules.append(f"{p}: {per_entity}")
        return rules
    if grouped:
        # SELECT <key>, <aggregate> ... GROUP BY <the same key>: one alternative per key, so they always agree.
        plain = [q for q, t, c in cols if not is_key_like(schema, t, c) and q not in numeric]
        named = [q for q in plain if q in linked_names and q not in dates]
        # "in which month of 2023": one year named, so the month alone tells the groups apart
        month = "%m" if len(ctx.years) == 1 and re.search(rf"\bmonths? (?:of|in|during) {ctx.years[0]}\b", q_lower) else "%Y-%m"
        formats = [month] if "month" in intent else ["%Y"] if "year" in intent else []
        keys = [(lit(date_part(f, d, stored[d])),) * 2 for d in dates for f in formats]
        if not keys and (rank_group or having_n or total_n) and entity and entity[0] == "table":
            t = entity[1]
            pk = row_key(schema, t)
            labels = row_names(schema, t)
            if pk and labels:
                qual = (lambda c: f"{ident(t)}.{ident(c)}") if qualify else ident
                keys = [(lit(", ".join(qual(c.name) for c in labels)), lit(qual(pk.name)))]
        each = re.search(r"\b(?:each|per|every|by) (?:the |a )?([a-z]+(?: [a-z]+)?)", q_lower)
        each_col = best_column(each.group(1), schema, cols, list(linked.tables)) if each and not keys else None
        if each_col is None and each and not keys:
            each_col = best_column(each.group(1).split()[0], schema, cols, list(linked.tables))
        if each and each_col and len(names) > 1 and table_named(each.group(1).split()[0], names) and any(
                q == each_col and is_key_like(schema, t, c) for q, t, c in cols):
            each_col = None  # "each category" with a category table joined: its rows, by name, not the key column
        if each_col and not any(c.name == each_col.split(".")[-1] and (c.in_key or c.is_pk) for _, _, c in cols):
            keys = [(lit(each_col),) * 2]  # "average weight each year": the column named after "each"
        if not keys and each and len(names) > 1 and (grouped_table := table_named(each.group(1).split()[0], names)):
            # "how many employees work in each department" (table DEPT): the department's rows are the groups,
            # shown by their name and kept apart by their key
            pk = row_key(schema, grouped_table)
            said = linked.columns.get(grouped_table, [])  # "each doctor by last name": the column the question names
            label = next((c for c in schema.columns_of(grouped_table) if c.name in said and not c.is_numeric and not c.in_key
                          and not c.is_pk), None) or next((c for c in row_names(schema, grouped_table)), None)
            if pk and label:
                shown = ", ".join(f"{ident(grouped_table)}.{ident(c.name)}"
                                  for c in whole_name(schema, grouped_table, label, linked.question))
                keys = [(lit(shown), lit(f"{ident(grouped_table)}.{ident(pk.name)}"))]
        if not keys and entity and entity[0] == "column":
            keys = [(lit(q),) * 2 for q, t, c in cols if t == entity[1] and c.name == entity[2]]
        if not keys:
            keys = [(lit(q),) * 2 for q in (named or plain)]
        key_only = which and (shape.limit == "1" or having_n or total_n) or counting is not None and "how many" not in q_lower \
            and not any(a == "COUNT" for a, _ in shape.head)  # "the 2 departments with the most employees": names
        having = f' " HAVING COUNT(*){shape.comparisons[having_n]}{having_n}"' if having_n else (
            f' " HAVING SUM(" ({" | ".join(lit(m) for m in summed)}) {lit(")" + shape.comparisons[total_n] + total_n)}'
            if total_n else "")
        order = ranked or (f' (" ORDER BY " {p}_agg {direction})?' if shape.direction else "")
        asked = grouped_head(shape, schema, cols, names, linked, keys, qualify, entity[1] if entity else None)
        if asked and (any(AGGREGATED.match(h) for h in asked[0]) or having or shape.limit):
            # the question spells out what it wants per group: "the names of the singers and the number of
            # concerts for each", "the average and maximum age for each pet type", "name and id of courses
            # having at most 2 sections"
            select, group = asked
            rules.append(f'{p}: "SELECT " {lit(", ".join(select))} " FROM " {lit(from_clause)} {where} '
                         f'" GROUP BY " {lit(group)}{having}{order}')
            return rules
        rules.append(f'{p}: ' + " | ".join(f"{p}_k{j}" for j in range(len(keys))))
        rules += [f'{p}_k{j}: "SELECT " {sel}{"" if key_only else " " + chr(34) + ", " + chr(34) + f" {p}_agg"} '
                  f'" FROM " {lit(from_clause)} {where} " GROUP BY " {grp}{having}{order}'
                  for j, (sel, grp) in enumerate(keys)]
        return rules

    head = resolve_head(shape, schema, cols, names, linked, entity[1] if entity else None)
    mixed = head and any(AGGREGATED.match(h) for h in head) and not all(AGGREGATED.match(h) for h in head)
    asked = grouped_head(shape, schema, cols, names, linked, [], qualify, entity[1] if entity else None) \
        if mixed and not ctx.membership else None
    if asked:  # "the names of the singers and the number of concerts": a count per singer
        select, group = asked
        order = f' " ORDER BY " {lit(select[-1])} {direction} " LIMIT {shape.limit}"' if shape.limit else ""
        rules.append(f'{p}: "SELECT " {lit(", ".join(select))} " FROM " {lit(from_clause)} {where} '
                     f'" GROUP BY " {lit(group)}{order}')
        return rules
    head_first = head and (any(a for a, _ in shape.head) or len(head) > 1 or shape.limit or shape.subquery_agg
                           or not (shape.extreme or intent & {"count", "count-distinct"}))
    if head and head_first:
        rules.append(f'{p}_list: {lit(("DISTINCT " if "distinct" in intent else "") + ", ".join(head))}')
    elif shape.extreme and rank:
        rules.append(f'{p}_list: {lit(f"{shape.extreme}({rank[0]})")}')
    elif shape.extreme and measures:
        rules.append(f'{p}_list: "{shape.extreme}(" {p}_num ")"')
    elif "count-distinct" in intent:
        rules.append(f'{p}_list: "COUNT(DISTINCT " {p}_col ")"')
    elif "count" in intent and (counted := counted_rows(schema, linked.question, names)):
        rules.append(f'{p}_list: {lit(counted)}')  # each customer once, not once per order
    elif "count" in intent:  # "how many X" in one table counts its rows; a join may repeat them
        rules.append(f'{p}_list: "COUNT(*)"' + (f' | "COUNT(DISTINCT " {p}_col ")"' if qualify else ""))
    elif "sum" in intent and measures:
        rules.append(f'{p}_list: "SUM(" {p}_num ")"')
    elif "avg" in intent and measures and not shape.subquery_agg:
        rules.append(f'{p}_list: "AVG(" {p}_num ")"')
    elif re.match(r"\s*(?:when|on (?:what|which) (?:date|day))\b", q_lower) and dates and not intent & {"count", "avg"}:
        # "when was the last transcript released": the date; the latest or earliest one when the question says so
        extreme = "MAX" if re.search(r"\b(?:last|latest|most recent(?:ly)?|newest)\b", q_lower) else "MIN" if re.search(
            r"\b(?:first|earliest|oldest)\b", q_lower) else None
        rules.append(f'{p}_list: ' + " | ".join(lit(f"{extreme}({d})" if extreme else d) for d in dates))
    elif (which or shape.limit) and "distinct" not in intent:
        # "which X ...", "the 5 largest X": the X themselves, by name when they have one, else by key
        person = row_names(schema, entity[1]) if entity and entity[0] == "table" else []
        labels = ([q for q, t, c in cols if entity and entity[0] == "column" and (t, c.name) == entity[1:]]
                  or ([", ".join(q for q, t, c in cols if entity and t == entity[1] and c in person)]
                      if person else [])  # a person by first and last name, anything else by its label
                  or [q for q, t, c in cols if entity and t == entity[1] and is_label(c)]
                  or [q for q, t, c in cols if entity and t == entity[1] and not c.is_numeric and not
                      is_key_like(schema, t, c) and name_parts(c.name) & name_parts(t)]  # model_list.Model
                  or [q for q, _, c in cols if is_label(c)]
                  or [q for q, _, c in cols if c.is_pk] or all_names)  # "which model": the Model column
        # each X once when the join repeats X's rows; not when rows are ranked: ORDER BY a column not shown is
        # undefined under DISTINCT in SQLite and an error in PostgreSQL ("the product ordered in the largest quantity")
        once = "DISTINCT " if entity and entity[0] == "table" and not (shape.limit or shape.direction) and repeats_rows(
            schema, entity[1], names) else ""
        rules.append(f'{p}_list: ' + " | ".join(lit(once + q) for q in labels))  # each X once, not once per order
    else:
        d = "distinct " if "distinct" in intent else "distinct? "
        rules.append(f'{p}_list: {d}{p}_sel ("," " " {p}_sel)? ("," " " {p}_sel)?')
        rules.append(f"{p}_sel: {p}_expr | {p}_agg" if shape.aggregates else f"{p}_sel: {p}_expr")
    if shape.limit:
        # rank by the measure the question names; by a date only for "latest", "earliest", ...
        temporal = re.search(r"\b(latest|earliest|newest|oldest|recent|recently|first|last)\b", q_lower)
        by_date = [date_part("%Y-%m-%d", d, stored[d]) if stored[d] in (DMY_TEXT, MDY_TEXT) else d for d in dates]
        ranks = (by_date if temporal else named_measures or measures or by_date) or all_names
        limit = f' {direction} " LIMIT {shape.limit}"'
        if rank:  # the measure the superlative names ("the highest average attendance", "the youngest")
            ranks, limit = [rank[0]], f' {lit(rank[1])} " LIMIT {shape.limit}"'
        if head_first:
            order = f' " ORDER BY " ({" | ".join(lit(m) for m in ranks)}){limit}'
        elif which or shape.extreme or "count" in intent:
            order = f' " ORDER BY " ({" | ".join(lit(m) for m in ranks)}){limit}'
        else:  # "show the 5 cheapest products": name and price, ordered by that price
            rules.append(f'{p}: ' + " | ".join(f"{p}_r{j}" for j in range(len(ranks))))
            rules += [f'{p}_r{j}: "SELECT " {p}_list {lit(", " + m)} " FROM " {lit(from_clause)} {where} '
                      f'" ORDER BY " {lit(m)}{limit}' for j, m in enumerate(ranks)]
            return rules
    elif shape.sort and (sort_col := sort_column(shape, schema, cols, head)):
        order = lit(f" ORDER BY {sort_col}{shape.sort[1]}")
    elif shape.direction and not shape.extreme:
        order = f' (" ORDER BY " ({p}_expr | {p}_agg) {direction})?'
    elif re.search(r"\b(?:order(?:ed)? by|in (?:\w+ ){0,3}order|sort|sorted|alphabetical)", q_lower):  # not "order status"
        order = f' (" ORDER BY " {p}_expr dir?)?'
    else:
        order = ""
    rules.append(f'{p}: "SELECT " {p}_list " FROM " {lit(from_clause)} {where}{order}')
    return rules


def nested_aggregates(ctx: Context, cols, measures: list[str], required: list[str], said_at: dict[str, int],
                      qualify: bool) -> list[str]:
    """`m > (SELECT AVG(m) FROM ... WHERE ...)` for "than the average ...", one per measure. The subquery keeps
    what restricts the rows it averages: the values said after "than" ("than the average Electronics product"),
    and any condition of the outer query the question says again there ("dogs heavier than the average dog",
    "budget above the average budget of that season"). A condition said only after "than" restricts the
    subquery alone, so it leaves `required`. The subquery reads only the measure's table and the tables of its
    conditions (a join to more would count a row once per related row)."""
    schema, shape, q_lower = ctx.schema, ctx.shape, ctx.linked.question.lower()
    m = re.search(r"\b(than|above|below|over|under) the\b", q_lower)
    cut = m.start() if m else len(q_lower)
    later = q_lower[cut:]
    later_words = {stem(w) for w in re.findall(r"[a-z]+", later) if w not in STOPWORDS}
    table_of = {q: t for q, t, _ in cols}
    inner = [value_text(v, qualify) for v in ctx.sub_values if v[0] in table_of.values()]
    for r in list(required):
        sql = literal_text(r) or literal_text(re.sub(r'^\(("(?:[^"\\]|\\.)*")\) ', r"\1 ", r))  # ("col") " > 5"
        if sql is None or said_at.get(r, -1) < 0:
            continue
        said = [q for q in table_of if re.search(rf"(?<![\w.]){re.escape(q)}(?![\w])", sql)]
        quoted = re.findall(r"'((?:[^']|'')*)'", sql)
        numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])", sql)
        again = any(v.lower() in later for v in quoted) or any(re.search(rf"(?<![\w.]){n}(?![\w])", later)
                                                               for n in numbers) or any(
            {stem(w) for w in split_identifier(q.split(".")[-1].strip('"'))} & later_words for q in said
            if q not in measures)  # the compared measure's own name says nothing about which rows
        if said and said_at[r] > cut:  # said only after "than": the average's rows, not the rows asked for
            required.remove(r)
            inner.append(sql)
        elif said and again:
            inner.append(sql)
    graph = JoinGraph(schema)
    out = []
    for measure in measures:
        tables = [table_of[measure]] + sorted({table_of[q] for c in inner for q in table_of
                                                if re.search(rf"(?<![\w.]){re.escape(q)}(?![\w])", c)} - {table_of[measure]})
        tree = graph.connect(tables, MAX_TABLES_PER_JOIN) if len(tables) > 1 else None
        if len(tables) > 1 and not tree:
            continue
        source = graph.from_clause(*tree) if tree else ident(tables[0])
        where = f" WHERE {' AND '.join(dict.fromkeys(inner))}" if inner else ""
        out.append(f"{measure}{shape.subquery_op}(SELECT {shape.subquery_agg}({measure}) FROM {source}{where})")
    return out


def repeats_rows(schema: Schema, table: str, names: list[str]) -> bool:
    """Whether a join of `names` repeats `table`'s rows: it reaches, from `table`, a table on the many side of
    a key (many orders per customer)."""
    edges = [e for t in names for _, e in JoinGraph(schema).edges.get(t, []) if e.table in names and e.other_table in names]
    seen, todo = {table}, [table]
    while todo:
        a = todo.pop()
        for e in edges:
            b = e.table if e.other_table == a else e.other_table if e.table == a else None
            if b is None or b in seen:
                continue
            if e.table == b:  # b's key points at a: many b rows per a row
                return True
            seen.add(b)
            todo.append(b)
    return False


def counted_rows(schema: Schema, question: str, names: list[str]) -> str | None:
    """What "how many X" counts over a join of `names`, X being the table whose name's last word the question
    says ("vehicles" is `vehicles`, not `vehicle_types`): `COUNT(DISTINCT X.key)` when the join reaches, from
    X, a table on the many side of a key (each X then appears once per related row: "how many customers from
    Leeds made a purchase"); `COUNT(*)` when every step from X goes to the one side (each X row once: "how
    many purchases were made by customers from Leeds"). None when X is not one joined table."""
    m = re.search(r"\bhow many (?:different |distinct )?([a-z]+)", question.lower())
    heads = [t for t in names if m and name_words(t) and stem(name_words(t)[-1]) == stem(m.group(1))]
    if len(names) < 2 or len(heads) != 1:
        return None
    if not repeats_rows(schema, heads[0], names):
        return "COUNT(*)"
    key = row_key(schema, heads[0])
    return f"COUNT(DISTINCT {ident(heads[0])}.{ident(key.name)})" if key is not None else None


ONE_ROW = re.compile(r"\b(?:at once|at one time|in one go|in a single [a-z]+)\b")  # one row's value, not a total
TOTAL_WORDS = re.compile(r"\b(total|in total|overall|altogether|combined|sum|all together)\b")


def ranked_per_entity(ctx: Context, cols, names: list[str], from_clause: str, rank, entity, where: str,
                      qualify: bool) -> str | None:
    """"Which customer has the highest total payments", "the employee paid the most in total": the measure
    ranked lives in another table than the entity asked for (many rows per entity), so the entity's rows are
    grouped by its key and ranked by the measure's total (or average), not by one row's value."""
    shape, schema = ctx.shape, ctx.schema
    if not (entity and entity[0] == "table" and shape.limit and not ctx.membership and len(names) > 1):
        return None
    rank = rank or ranked_measure(shape, schema, cols, inside=True)  # "the highest average salary": salary
    measure_said = rank is not None
    if rank is None and shape.superlative in ("most", "least"):  # "paid the most": the one measure of the other table
        others = [q for q, t, c in cols if t != entity[1] and t in ctx.linked.named and c.is_numeric
                  and not is_key_like(schema, t, c)]
        rank = (others[0], shape.direction or " DESC") if len(others) == 1 else None
    if rank is None:
        return None
    owner = next((t for q, t, _ in cols if q == rank[0]), None)
    q_lower = ctx.linked.question.lower()
    agg = "AVG" if re.search(r"\b(average|mean)\b", q_lower) else "SUM" if TOTAL_WORDS.search(q_lower) else None
    if agg is None and measure_said and shape.superlative in ("most", "least", "fewest") and not ONE_ROW.search(q_lower):
        agg = "SUM"  # "the job that has had the most hours": an amount of a measure kept in many rows is their sum
    if owner is None or owner == entity[1] or agg is None:
        return None
    if not any(e.other_table == entity[1] and e.table in names and e.table != entity[1]
               for _, e in JoinGraph(schema).edges.get(entity[1], [])):
        return None  # the entity must be the "one" side of a key
    t = entity[1]
    pk = row_key(schema, t)
    labels = row_names(schema, t)
    if pk is None or not labels:
        return None
    qual = (lambda c: f"{ident(t)}.{ident(c)}") if qualify else ident
    select = ", ".join(qual(c.name) for c in labels)
    head = resolve_head(shape, schema, cols, names, ctx.linked, t)  # "the name and age of the visitor who ..."
    owned = {q for q, owner, _ in cols if owner == t}
    if head and all(h in owned for h in head):
        select = ", ".join(head)
    return (f'"SELECT " {lit(select)} " FROM " {lit(from_clause)} {where} " GROUP BY " {lit(qual(pk.name))} '
            f'{lit(f" ORDER BY {agg}({rank[0]}){rank[1]} LIMIT {shape.limit}")}')


def outside_name(question: str, name_words: set[str]) -> set[str]:
    """The question's word stems outside runs of two or more words of one table's name ("how many templates
    per template type" keeps "templates", drops "template type")."""
    stems = [stem(w) for w in re.findall(r"[a-z]+", question.lower())]
    keep, i = set(), 0
    while i < len(stems):
        j = i
        while j < len(stems) and (stems[j] in name_words or any(word_match(stems[j], n) >= 0.8 for n in name_words)):
            j += 1
        if j - i >= 2:
            i = j
            continue
        keep.add(stems[i])
        i += 1
    return keep


def literal_text(rule: str) -> str | None:
    """The text a rule body of literals only spells (`"strftime('%Y', " "date" ")"`); None if it has more."""
    pieces = re.findall(r'"(?:[^"\\]|\\.)*"', rule)
    if not pieces or re.sub(r'"(?:[^"\\]|\\.)*"', "", rule).strip():
        return None
    return "".join(json.loads(p) for p in pieces)


AGGREGATED = re.compile(r"(?:COUNT|SUM|AVG|MIN|MAX)\(")


def grouped_head(shape: Shape, schema: Schema, cols, names, linked: Link, keys, qualify: bool,
                 entity_table: str | None = None):
    """The SELECT list and GROUP BY key of a grouped question whose head names its columns: the plain
    columns are grouped by their table's key (two "John"s stay apart), aggregates are computed per group; a
    head of aggregates alone ("the average and maximum age for each type") goes beside the group key."""
    head = resolve_head(shape, schema, cols, names, linked, entity_table)
    if not head or "*" in head:
        return None
    plain = [h for h in head if not AGGREGATED.match(h)]
    if not plain:
        if not keys or len(keys) != 1:
            return None
        key, group = literal_text(keys[0][0]), literal_text(keys[0][1])
        if key is None or group is None:
            return None
        return [key] + head, group
    owners = {t for q, t, c in cols if q in plain}
    if len(owners) == 1 and len(names) > 1:  # joined: the rows of the owner's table are the groups; in one
        # table the columns themselves are ("the cities that have more than 1 employee": GROUP BY city)
        t = owners.pop()
        pk = next((c.name for c in [row_key(schema, t)] if c), None)
        if pk:
            return head, f"{ident(t)}.{ident(pk)}" if qualify else ident(pk)
    return head, ", ".join(plain)


def with_ranked_neighbour(schema: Schema, linked: Link, shape: Shape) -> Link:
    """"Which department has the highest total salary": the measure a superlative names may live in a table
    next to the linked ones (the employees' `BASE_SAL_AMT`), which then joins the question."""
    if not shape.superlative or shape.subquery_agg or not linked.tables:
        return linked
    def cols_of(tables):
        return [(f"{ident(t)}.{ident(c.name)}", t, c) for t in tables for c in schema.columns_of(t)]
    if ranked_measure(shape, schema, cols_of(linked.tables), implied=False, inside=True):
        return linked
    graph = JoinGraph(schema)
    near = sorted({n for t in linked.tables for n in graph.neighbours(t)} - set(linked.tables))
    found = [n for n in near if ranked_measure(shape, schema, cols_of([n]), implied=False, inside=True)]
    if len(found) != 1:
        return linked
    return dataclasses.replace(linked, tables=linked.tables + found, named=set(linked.named) | set(found))


AGGREGATE_WORDS = ("average", "mean", "total", "sum", "overall", "combined", "number", "count")


def ranked_measure(shape: Shape, schema: Schema, cols, implied: bool = True, inside: bool = False
                   ) -> tuple[str, str] | None:
    """The column a superlative ranks rows by, and the direction: the measure the words after it name
    ("the highest average attendance" -> Average, "the smallest amount of horsepower"), else the measure
    a superlative adjective implies ("youngest" -> age ascending, or birth year descending)."""
    if not shape.superlative:
        return None
    ranked = [(q, t, c) for q, t, c in cols if not is_key_like(schema, t, c) and (
        c.is_numeric or c.numeric_text or re.search(r"date|time|year", c.name, re.I) or c.type in ("DATE", "TIMESTAMP")
        or is_date_column(c))]
    implied_by = IMPLIED_MEASURES.get(shape.superlative, [])

    def direction(c):
        parts = name_parts(c.name)
        return next((d for word, d in implied_by if stem(word) in parts or word in parts), shape.direction or " DESC")

    # the measure's words: "the largest orders by amount" ranks by amount, "the youngest singer" by what
    # "youngest" implies; table names and linking words name no measure
    table_words = {stem(t.name.lower()) for t in schema.tables} | {w for t in schema.tables for w in name_parts(t.name)}
    words = [w for w in shape.rank_words.split() if w not in ("by", "of", "in", "for", "per", "with", "from", "the", "a",
                                                             "an", "and", "or", "to", "on", "at")
             and stem(w) not in table_words and w not in table_words]
    for n in range(len(words), 0, -1):
        col = best_column(" ".join(words[:n]), schema, ranked, [])
        if col:
            return col, direction(next(c for q, _, c in ranked if q == col))
    for word, d in implied_by if implied else []:
        for q, _, c in ranked:
            if stem(word) in name_parts(c.name) or word in name_parts(c.name):
                return q, d
    # a later word alone ("most recently hired": the hire date); after an aggregate word ("the highest average
    # price") only when asked for the measure inside the aggregate (`inside`): such a superlative ranks groups
    if words and (inside or words[0] not in AGGREGATE_WORDS):
        for w in words[1:]:
            col = best_column(w, schema, ranked, [])
            if col:
                return col, direction(next(c for q, _, c in ranked if q == col))
    return None


def number_at(q_lower: str, number: str) -> int:
    m = re.search(rf"(?<![\w.]){re.escape(number)}(?![\w.])", q_lower)
    return m.start() if m else -1


def either_or(conditions: list[str], said_at: dict[str, int], q_lower: str, plain: bool = False) -> list[str]:
    """Conditions the question joins with "or" ("students who have a cat or dog", "made by General Motors or
    weighing more than 3500") become one OR group (grammar text); the groups are then ANDed. Two conditions are
    joined when "or", and no "and" or comma, stands between where the question states them."""
    group = list(range(len(conditions)))

    def root(i):
        while group[i] != i:
            i = group[i]
        return i

    for i, j in itertools.combinations(range(len(conditions)), 2):
        a, b = said_at.get(conditions[i], -1), said_at.get(conditions[j], -1)
        if a < 0 or b < 0 or a == b:
            continue
        between = q_lower[min(a, b):max(a, b)]
        if re.search(r"\bor\b", between) and not re.search(r"\band\b|,|\bboth\b", between):
            group[root(j)] = root(i)
    out: list[str] = []
    seen: dict[int, list[str]] = {}
    for i, c in enumerate(conditions):
        seen.setdefault(root(i), []).append(c)
    for members in seen.values():
        if len(members) == 1:
            out.append(members[0])
        else:  # grammar text, or (`plain`) SQL text
            out.append("(" + " OR ".join(members) + ")" if plain else '"(" ' + ' " OR " '.join(members) + ' ")"')
    return out


SAME_OR_DIFFERENT = [(r"(?:is|are|was|were) (?:different from|not the same as|not equal to|unequal to)", " != "),
                     (r"(?:is|are|was|were) (?:the same as|equal to)", " = ")]


def column_comparisons(q_lower: str, schema: Schema, cols) -> list[tuple[str, str, str]]:
    """Two columns of one row compared in words: "whose permanent address is different from his or her
    current address" -> (permanent_address_id, " != ", current_address_id); each side is the longest run of
    words next to the phrase that names a column, and the two must differ."""
    out = []
    for phrase, op in SAME_OR_DIFFERENT:
        for m in re.finditer(rf"((?:[a-z]+ ){{1,4}}){phrase} ((?:[a-z]+ ?){{1,5}})", q_lower):
            before, after = m.group(1).split(), [w for w in m.group(2).split()
                                                 if w not in ("his", "her", "or", "their", "its", "the")]
            left = next((c for n in range(min(3, len(before)), 0, -1)
                         if (c := best_column(" ".join(before[-n:]), schema, cols, []))), None)
            right = next((c for n in range(min(3, len(after)), 0, -1)
                          if (c := best_column(" ".join(after[:n]), schema, cols, []))), None)
            if left and right and left != right:
                out.append((left, op, right))
    return out


COMPARATIVES = {"older": "age", "younger": "age", "taller": "height", "shorter": "height", "heavier": "weight",
                "lighter": "weight", "longer": "length"}  # general English: the measure a comparative names


def comparative_measure(q_lower: str, number: str, schema: Schema, cols) -> list[str]:
    """"pets older than 1": the column of the measure the comparative names (an age), if the FROM has one."""
    m = re.search(rf"\b({'|'.join(COMPARATIVES)}) than {re.escape(number)}\b", q_lower)
    born = re.search(rf"\bborn (?:after|before|since|in|until) {re.escape(number)}\b", q_lower)
    if not m and not born:
        return []
    word = COMPARATIVES[m.group(1)] if m else "birth"  # "born after 2000": the year or date of birth
    return [q for q, t, c in cols if (c.is_numeric or c.numeric_text) and not is_key_like(schema, t, c)
            and word in name_parts(c.name)]


def number_column(q_lower: str, number: str, schema: Schema, cols) -> str | None:
    """The numeric column a compared number belongs to, named next to it: "a horsepower greater than 150",
    "above age 40", "more than 3000 in weight"; None when no column is named there."""
    measures = [(q, t, c) for q, t, c in cols
                if (c.is_numeric or c.numeric_text) and not is_key_like(schema, t, c)]
    if not measures:
        return None
    m = re.search(rf"((?:[a-z]+ ){{0,6}})(?<![\w.]){re.escape(number)}(?![\w.])((?: [a-z]+){{0,3}})", q_lower)
    if not m:
        return None
    before = m.group(1).split()
    operator_words = {"more", "less", "than", "greater", "higher", "lower", "larger", "smaller", "bigger", "above",
                      "below", "over", "under", "at", "least", "most", "exactly", "equal", "to", "of", "is", "was",
                      "are", "were", "a", "an", "the", "with", "no", "or", "and", "between", "after", "before",
                      "exceeding", "in", "has", "have", "had", "cheaper", "costlier", "expensive", "fewer"}
    near = [w for w in before[-6:]]
    # the words between the last non-operator word run and the number, nearest first
    spans = []
    tail = [w for w in reversed(near)]
    run: list[str] = []
    for w in tail:
        if w in operator_words:
            if run:
                break
            continue
        run.insert(0, w)
        if len(run) == 2:
            break
    if run:
        spans += [" ".join(run), run[-1]]
    after = m.group(2).split()
    if after and after[0] not in operator_words:  # "more than 50 units in stock": the longest name first
        spans += [" ".join(after[:n]) for n in range(len(after), 0, -1)]
    for text in spans:
        col = best_column(text, schema, measures, [])
        if col:
            return col
    return None


def best_column(text: str, schema: Schema, cols, prefer: list[str]):
    """The column `text` ("release year", "song names", "id") names among `cols` (qualified name, table,
    column), or None: all its words must be found in the column's or its table's name."""
    item = [stem(w) for w in words(text) if w not in ("the", "a", "an", "all")]
    if not item:
        return None
    best, best_key = None, None
    initials = "".join(w[0] for w in item[:-1]) + item[-1] if len(item) > 1 else None  # first name -> fname
    for q, t, c in cols:
        cwords, twords = name_words(c.name), name_words(t)
        if initials and initials in cwords or len(cwords) > 1 and len(cwords[0]) == 1 and len(item) == len(cwords) \
                and item[0].startswith(cwords[0]) and item[1:] == list(cwords[1:]):  # LName: last name
            cwords = tuple(item)
        hit = [max([word_match(w, x) for x in cwords] + [0.9 * word_match(w, x) for x in twords]) for w in item]
        cover = sum(hit) / len(item)
        if cover < 0.75 or not any(word_match(w, x) for w in item for x in cwords):
            continue
        col_cover = sum(max((word_match(x, w) for w in item), default=0) for x in cwords) / max(1, len(cwords))
        key = (cover, col_cover, c.in_key, -prefer.index(t) if t in prefer else -99)
        if best_key is None or key > best_key:
            best, best_key = q, key
    if best is None and len(item) > 1 and item[-1] in ("name", "title"):
        # "the continent name" where `continents` has no name column: the text column named like its table
        # (`Continent`) is what names its rows
        for q, t, c in cols:
            tstems = {stem(w) for w in name_words(t)}
            if not c.is_numeric and not c.in_key and all(any(word_match(w, x) >= 0.8 for x in tstems) for w in item[:-1]) \
                    and {stem(w) for w in name_words(c.name)} & tstems and not is_label(c):
                return q
    return best


def count_column(qualified: str, text: str) -> bool:
    """Whether a column is itself "the number of <text>": Number_products, num_employees, NoOfStaff."""
    cwords = {stem(w) for w in name_words(qualified.split(".")[-1].strip('"'))}
    wanted = {stem(w) for w in words(text) if w not in ("the", "a", "an", "all")}
    return bool(cwords & {"number", "num", "no", "count"}) and bool(wanted) and wanted <= cwords


def asked_columns(shape: Shape, schema: Schema, table: str, linked: Link) -> list[str]:
    """The columns of one table a question asks to see (their names): those it spells out, else the
    columns that name its rows (first and last name both), else its first text column."""
    cols = [(ident(c.name), table, c) for c in schema.columns_of(table)]
    head = resolve_head(shape, schema, cols, [table], linked)
    by_q = {q: c for q, _, c in cols}
    if head and all(h in by_q and not is_key_like(schema, table, by_q[h]) for h in head):
        return [by_q[h].name for h in head]
    labels = [c.name for c in schema.columns_of(table) if is_label(c) and not c.is_numeric]
    return labels or [c.name for c in row_names(schema, table)]


GENERIC_ITEMS = {"id", "ids", "name", "names", "identifier", "title", "titles"}  # whose? the entity's


def entity_item(text: str, schema: Schema, cols, table: str | None) -> str | None:
    """"the name and id of the one with the most students": a bare "id" is the entity's own key, a bare "name"
    its label (the first of a person's name parts; `whole_name` adds the rest)."""
    if table is None:
        return None
    want = row_key(schema, table) if text in ("id", "ids", "identifier") else next(iter(row_names(schema, table)), None)
    return next((q for q, t, c in cols if t == table and c is want), None)


def resolve_head(shape: Shape, schema: Schema, cols, names: list[str], linked: Link, entity_table: str | None = None
                 ) -> list[str] | None:
    """The SELECT list the question spells out ("the name and capacity", "the average and maximum age"),
    each item resolved to a column of this FROM clause; None unless every item resolves."""
    if not shape.head:
        return None
    prefer = [t for t in linked.tables if t in names]
    out, pending = [], []
    for i, (agg, text) in enumerate(shape.head):
        later = shape.head[i + 1][1].split() if i + 1 < len(shape.head) and shape.head[i + 1][1] else []
        said = text
        if text and " " not in text and len(later) >= 2 and not best_column(text, schema, cols, prefer):
            text = f"{text} {later[-1]}"  # "the first and last names": first name, last name
        if agg and not text:
            pending.append(agg)
            continue
        if agg == "COUNT":
            # "the number of products" may name a column (Number_products) rather than ask for a count
            col = best_column(f"number {text}", schema, cols, prefer) if text else None
            named = col and count_column(col, text)
            # "the total number of hours" where hours are a quantity column (`HRS_QTY`): its sum, not a count
            quantity = None if named or not text or table_named(text.split()[-1], [t.name for t in schema.tables]) else best_column(
                text, schema, [x for x in cols if x[2].is_numeric and not is_key_like(schema, x[1], x[2])
                               and x[1] in names], prefer)
            out += [f"{a}(*)" if a == "COUNT" else None for a in pending] + [
                col if named else f"SUM({quantity})" if quantity else "COUNT(*)"]
            pending = []
            continue
        owner = shape.owners.get(said)
        col = ("*" if text == "*" and not agg else
               owner and best_column(f"{owner} {text}", schema, cols, prefer)
               or (text in GENERIC_ITEMS and entity_item(text, schema, cols, entity_table))
               or best_column(text, schema, cols, prefer))
        if col is None:
            return None
        out += [f"{a}({col})" if a != "COUNT" else "COUNT(*)" for a in pending]
        shown = None if agg or col == "*" else label_for_entity(said, col, schema, cols, names)
        if not agg and not shown and (owner_col := next(((t, c) for q, t, c in cols if q == col), None)):
            whole = whole_name(schema, owner_col[0], owner_col[1], linked.question)  # a person: first + last name
            shown = [q for q, t, c in cols if t == owner_col[0] and c in whole] if len(whole) > 1 else None
        out += shown or [f"{agg}({col})" if agg else col]
        pending = []
    if pending or not out or None in out:
        return None
    return list(dict.fromkeys(out))


def sort_column(shape: Shape, schema: Schema, cols, head) -> str | None:
    if not shape.sort:
        return None
    if not shape.sort[0]:
        return head[0] if head else None
    return best_column(shape.sort[0], schema, cols, [])
