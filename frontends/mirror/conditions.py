"""Conditions the question states that no value or number carries: every restricting phrase becomes a predicate.

A question restricts its rows in words as often as with values: "tickets that have been escalated" (a yes/no
column, stored as 0/1, 'true'/'false' or 'Y'/'N'), "staff who did not give a phone number" (a column that is
NULL), "tickets still unresolved" (a date that is not set yet), "took more hours than estimated" (two columns
of one row compared). Dropping such a phrase counts the whole table. Each kind is found the same way on any
schema: the question's words name a column (by its name's words, in any naming style), the data says what
kind of column it is (column_facts.py: two yes/no values, NULL in some rows), and general English says which
way round (negation, "un-"/"non-", "still ... not", "more/less ... than", particle opposites such as opted
in/out). Nothing here knows any database's words.
"""
from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from .column_facts import facts_of
from .names import STOPWORDS, split_identifier, stem, word_match

# Spelling of yes and no in yes/no columns, lower-cased; a column whose values are two of one pair is a flag.
TRUE_FALSE = [("1", "0"), ("true", "false"), ("t", "f"), ("y", "n"), ("yes", "no")]
# Words naming what kind of column it is, not what it says: `is_active`, `HasOptedOutOfEmail`, `vip_flag`,
# `Written_Off__c` (a platform's custom-field suffix), `resolvedAt`, `leftOn`, `closed_date`.
KIND = {"is", "has", "have", "was", "were", "can", "did", "does", "flag", "flg", "ind", "indicator", "yn", "bool",
        "boolean", "at", "on", "date", "time", "dt", "ts", "timestamp", "datetime", "day", "when", "c", "id", "to",
        "by", "of", "for", "the", "a", "an"}
# Particles whose opposite reverses what a yes/no name says ("opted out" of `newsletter_opt_in`).
OPPOSITE = {"in": "out", "out": "in", "on": "off", "off": "on"}
# Opposite adjectives and participles of general English, both ways ("still open" is "not closed").
ANTONYMS = {"open": "close", "close": "open", "enable": "disable", "disable": "enable", "pass": "fail",
            "fail": "pass", "present": "absent", "absent": "present", "visible": "hidden", "hidden": "visible",
            "public": "private", "private": "public", "accept": "reject", "reject": "accept"}
NEGATORS = {"not", "no", "never", "without", "non", "t", "nor", "none", "neither", "nobody", "anyone", "anybody",
            "lack", "lacking", "lacks", "missing", "yet", "blank", "empty", "unknown"}  # "didn t": the t of n't
# Words after which a negation no longer reaches the next word ("who did not order and have an email").
CLAUSE = {"and", "but", "or", "who", "that", "which", "whose", "where", "while", "with", "have", "has", "had"}
PRESENCE = {"with", "have", "has", "had", "gave", "given", "give", "provided", "provide", "listed", "filled",
            "recorded", "known", "set", "on"}  # "with an email address", "have a phone number", "on file"
MORE = r"more|longer|higher|greater|larger|bigger|over|above|exceed|exceeded|exceeds|exceeding|costlier"
LESS = r"less|shorter|lower|smaller|fewer|under|below|within|cheaper"


@dataclass
class Condition:
    sql: str  # the predicate, on a column named as the FROM clause names it (qualified when joined)
    table: str
    column: str
    at: int  # where the question states it (a character offset), to group "... or ..." conditions
    kind: str  # "flag", "null", "not-null", "columns"
    negated: bool = False  # the question's negation was read here (a NOT IN plan need not read it again)


def question_tokens(question: str) -> list[tuple[str, int]]:
    """Lower-case words with their character offsets ("didn't" -> didn, t)."""
    return [(m.group(0), m.start()) for m in re.finditer(r"[a-z0-9]+", question.lower())]


def content_words(column: str) -> tuple[list[str], list[str]]:
    """A column name's content words (stemmed) and its particles: `HasOptedOutOfEmail` -> ([opted, email],
    [out]); `newsletter_opt_in` -> ([newsletter, opt], [in])."""
    parts = [p for p in split_identifier(column) if len(p) > 1 or p in OPPOSITE]
    particles = [p for p in parts if p in OPPOSITE]
    content = [stem(p) for p in parts if p not in KIND and p not in STOPWORDS and p not in OPPOSITE
               and not p.isdigit()]
    return content, particles


def _matches(word: str, name_word: str) -> bool:
    """A question word saying a name's word: the same stem, another form of it ("estimated" ~ `estimate`,
    "called" ~ `Call`), or a name's abbreviation of it (`qty`, `opt`); two different full words never
    ("called" is not `cancelled`)."""
    w = stem(word)
    if w == name_word:
        return True
    short, long = sorted((w, name_word), key=len)
    if len(short) < 3:
        return False
    if long in (short + "d", short + "ed", short + "ing", short[:-1] + "ing", short + "s", short + "es"):
        return True
    skeleton = not set(short[1:]) & set("aeiou")  # `qty`, `amt`, `mgr`; or a prefix: `opt`, `dept`
    return len(short) <= 4 and (long.startswith(short) or skeleton) and word_match(w, name_word) >= 0.8


def _find(tokens, name_words: list[str]) -> tuple[list[int], bool] | None:
    """Positions of the question words that say a column's content words (each at most once, near each
    other), and whether one says it reversed (an "un"/"non"/"in"/"dis" prefix or an antonym: "unresolved",
    "inactive", "still open" for `closed_at`). None when not every content word is said, or, for names of
    two or more content words, not at least half of them with the rarest (last) included."""
    found: dict[str, tuple[int, bool]] = {}
    for i, (w, _) in enumerate(tokens):
        if w in STOPWORDS and len(w) < 4:  # "called" may say `DoNotCall`; "the", "of", "in" say nothing
            continue
        for n in name_words:
            if n in found:
                continue
            if _matches(w, n):
                found[n] = (i, False)
                break
            for prefix in ("un", "non", "in", "dis"):
                rest = w[len(prefix):]
                if w.startswith(prefix) and len(rest) >= 4 and (_matches(rest, n) or stem(rest) == n):
                    found[n] = (i, True)
                    break
            else:
                anti = {ANTONYMS[f] for f in _forms(w) if f in ANTONYMS}
                if anti & _forms(n):
                    found[n] = (i, True)
            if n in found:
                break
    if not found:
        return None
    if len(found) < len(name_words) and (len(name_words) < 2 or len(found) * 2 < len(name_words)):
        return None
    positions = sorted(i for i, _ in found.values())
    if positions[-1] - positions[0] > 4:  # the words are not one phrase
        return None
    return positions, any(rev for _, rev in found.values())


def _forms(word: str) -> set[str]:
    """A word and its bare forms ("closed" -> closed, close, clos), for the antonym table."""
    w = stem(word)
    return {w, w[:-1] if w.endswith("d") else w, w[:-2] if w.endswith("ed") else w}


def _negated(tokens, first: int) -> bool:
    """A negation in the few words before `first`, inside the same clause ("did not give a phone number",
    "have not been assigned", "without an email", "not converted yet", "yet to be resolved")."""
    for j in range(first - 1, max(-1, first - 6), -1):
        w = tokens[j][0]
        if w in CLAUSE and j < first - 1:  # "who did not order and have an email"; but "do not have a manager":
            return w in ("have", "has", "had") and j > 0 and tokens[j - 1][0] in ("not", "t", "never")  # its verb
        if w in NEGATORS and w not in ("yet", "anyone", "anybody", "missing", "blank", "empty", "unknown"):
            return True
        if w == "yet" and j + 1 < len(tokens) and tokens[j + 1][0] == "to":
            return True
    after = [w for w, _ in tokens[first + 1:first + 4]]
    return "yet" in after and "not" in [w for w, _ in tokens[max(0, first - 6):first]] or bool(
        {"missing", "blank", "empty", "unknown"} & set(after[:3]))


def flag_pair(values) -> tuple[object, object] | None:
    """(yes, no) as the column spells them, when its values are yes/no in one of the usual encodings."""
    lowered = {str(v).strip().lower(): v for v in values}
    if not lowered or len(lowered) > 2:
        return None
    for yes, no in TRUE_FALSE:
        if set(lowered) <= {yes, no}:
            def spelled(word, other_word):
                if word in lowered:
                    return lowered[word]
                other = lowered.get(other_word)  # only one of the two occurs: write the other in its style
                if isinstance(other, (int, float)) and not isinstance(other, bool):
                    return int(word)
                text = str(other)
                return word.upper() if text.isupper() else word.capitalize() if text[:1].isupper() else word
            return spelled(yes, no), spelled(no, yes)
    return None


def sql_literal(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _particle_reversed(tokens, positions: list[int], particles: list[str]) -> bool:
    """The question says the opposite particle right after the name's words: "opted out" of `opt_in`."""
    near = {w for w, _ in tokens[positions[0]:positions[-1] + 3]}
    return any(OPPOSITE[p] in near and p not in near for p in particles)


def stated_conditions(question: str, schema, cols, constrained: AbstractSet[str] = frozenset()) -> list[Condition]:
    """The conditions the question's words state on the columns `cols` ((name as the query writes it, table,
    column) of the tables in play), each checked against the data: yes/no columns, columns NULL in some rows,
    and two columns of one row compared. Columns in `constrained` (already given a value or a number) are
    left alone. A question word belongs to the column whose name it says most fully, whether or not that
    column then states a condition: "did not give an email address" is `Email IS NULL`, and "list the email
    addresses" states nothing (not `HasOptedOutOfEmail`); "the converted date" names `ConvertedDate`."""
    tokens = question_tokens(question)
    said = {stem(w) for w, _ in tokens}
    hits = []
    for q, t, c in cols:
        if q in constrained or c.is_pk:
            continue
        content, particles = content_words(c.name)
        hit = _find(tokens, content) if content else None
        if hit is None:
            continue
        whole = [p for p in split_identifier(c.name) if len(p) > 1]
        cover = (len(hit[0]) / len(content), sum(stem(p) in said for p in whole) / len(whole))
        hits.append((cover, set(hit[0]), q, t, c, content, particles, hit))
    # a hit loses its words to one that explains more of them ("opted out of email": `HasOptedOutOfEmail`, not
    # `Email`), or the same words with more of its name said ("the email address": `Email`)
    winners = [h for h in hits if not any(o[1] > h[1] or o[1] == h[1] and o[0] > h[0] for o in hits)]
    found: list[tuple[tuple, bool, set[int], Condition]] = []
    for cover, spots, q, t, c, content, particles, (positions, reversed_) in winners:
        cond = _condition(schema, tokens, q, t, c, positions, reversed_, particles, cols, constrained)
        if cond is not None:
            found.append((cover, cond.kind == "flag", spots, cond))
    out: list[Condition] = []
    taken: set[int] = set()
    for _, _, spots, cond in sorted(found, key=lambda f: (tuple(-x for x in f[0]), not f[1])):
        if not spots & taken:
            out.append(cond)
            taken |= spots
    out.sort(key=lambda c: c.at)
    return out + column_comparisons(question, schema, cols, constrained)


def _condition(schema, tokens, q, t, c, positions, reversed_, particles, cols, constrained) -> Condition | None:
    """The condition the words at `positions` state on one column, as the column's data reads it."""
    facts = facts_of(schema, t, c.name)
    if facts is None or facts.rows == 0:
        return None
    negated = _negated(tokens, positions[0])
    at = tokens[positions[0]][1]
    pair = flag_pair(facts.values) if facts.distinct <= 2 else None
    if pair and not re.search(r"DATE|TIME", c.type.upper()):
        said_no = bool({"not", "no", "non", "never", "dont"} & set(split_identifier(c.name)))  # `do_not_call`
        no = negated ^ reversed_ ^ _particle_reversed(tokens, positions, particles) ^ said_no
        return Condition(f"{q} = {sql_literal(pair[1] if no else pair[0])}", t, c.name, at, "flag", negated)
    if not facts.nullable:
        return None
    if negated or reversed_:
        return Condition(f"{q} IS NULL", t, c.name, at, "null", negated)
    if _present(tokens, positions, c):
        said = _said_as_value(schema, t, tokens[positions[0]][0], cols, constrained)
        # "resolved tickets" beside a status 'Resolved': the status says it in the data's words
        return Condition(said, t, c.name, at, "value") if said else Condition(
            f"{q} IS NOT NULL", t, c.name, at, "not-null")
    return None


def _said_as_value(schema, table: str, word: str, cols, constrained) -> str | None:
    """`col = 'Value'` when a text column of `table` holds the word itself as a value."""
    from .linking import value_index_of

    names = {(t, c.name): q for q, t, c in cols}
    for t, c, v in value_index_of(schema).lookup(word):
        q = names.get((t, c))
        if t == table and q and q not in constrained:
            return f"{q} = {sql_literal(v)}"
    return None


def _present(tokens, positions: list[int], column) -> bool:
    """The question says the column is set: a participle naming a date-like column ("staff who have left"
    of `leftOn`, "retired assets" of `retired_at`), or "with/has/gave a <column>" ("with an email address")."""
    from .grammar import is_date_column

    words = [w for w, _ in tokens]
    first = positions[0]
    before = words[max(0, first - 3):first]
    if is_date_column(column) or re.search(r"(?:At|On|_at|_on|_date|Date)$", column.name):
        w = words[first]
        if positions[-1] + 1 < len(words) and words[positions[-1] + 1] in KIND:
            return False  # "the converted date of each lead" names the column; it does not say it is set
        return bool(re.search(r"(ed|en|ft|t)$", w)) or w in ("left", "gone", "done")
    return bool(set(before) & PRESENCE) or words[positions[-1] + 1:positions[-1] + 3] == ["on", "file"]


def column_comparisons(question: str, schema, cols, constrained: AbstractSet[str] = frozenset()) -> list[Condition]:
    """Two numeric columns of one row compared: "took more logged hours than estimated" (loggedHours >
    estimateHours), "went over budget" (the spent amount > the budget): the word after "than"/"over" names one
    column; the other is the one the question names before it, else the one sharing its unit or kind word."""
    from .linking import is_key_like

    q = question.lower()
    measures = [(name, t, c) for name, t, c in cols
                if (c.is_numeric or c.numeric_text) and not is_key_like(schema, t, c)]
    out = []
    forms = [(rf"\b({MORE}|{LESS})\b((?: [a-z]+){{0,3}}) than (?:(?:was|were|is|are|the|their|its|what was) )?([a-z]+)",
              1, 3), (r"\b(over|above|under|below|within|exceeded|exceeds|exceeding|exceed)(?: (?:the|their|its))? ([a-z]+)", 1, 2)]
    for pattern, op_group, word_group in forms:
        for m in re.finditer(pattern, q):
            word = m.group(word_group)
            if word in STOPWORDS or word in ("average", "mean", "total", "sum") or word.isdigit():
                continue
            right = [(name, t, c) for name, t, c in measures if any(_matches(word, p) for p in content_words(c.name)[0])]
            if len(right) != 1 or right[0][0] in constrained:
                continue
            rname, rt, rc = right[0]
            others = [(name, c) for name, t, c in measures if t == rt and name != rname]
            said = m.group(2).split() if word_group == 3 else q[:m.start()].split()[-4:]
            named = [name for name, c in others if any(_matches(w, p) for w in said for p in content_words(c.name)[0])]
            kin = [name for name, c in others if set(split_identifier(c.name)) & set(split_identifier(rc.name))]
            left = named or kin or ([others[0][0]] if len(others) == 1 else [])
            if len(left) != 1:
                continue
            op = " > " if re.fullmatch(MORE, m.group(op_group)) else " <= " if m.group(op_group) == "within" else " < "
            out.append(Condition(f"{left[0]}{op}{rname}", rt, rc.name, m.start(), "columns"))
    return out


def plain_numbers(question: str) -> str:
    """Amounts written as a person writes them, as the numbers SQL compares: "$40,000" -> 40000,
    "1,250.50" -> 1250.50, "€5" -> 5. A comma between separate numbers ("in 2014, 2015") is left alone."""
    text = re.sub(r"(?<![\w.])[$€£¥](?=\d)", "", question)
    return re.sub(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,])", lambda m: m.group(0).replace(",", ""), text)


def tables_for_years(question: str, schema, chosen: list[str]) -> list[str]:
    """"models of the cars produced after 1980": a year the question compares or places ("in 1970", "after
    1980", "before 2025") restricts a date or year column; when no linked table has one, the nearest table
    that does (one key away, else two) joins, if it is the only one that near."""
    from .joins import JoinGraph

    if not chosen or not re.search(r"\b(?:in|after|before|since|until|during|from|than|by|of)\s+(?:19|20)\d\d\b",
                                   question.lower()):
        return []

    from .grammar import stored_dates

    def dated(table: str) -> bool:  # by name, or dates in any storage (`sold_jd` of Julian days)
        return any("year" in split_identifier(c.name) for c in schema.columns_of(table)) or bool(
            stored_dates(schema, [(table, c) for c in schema.columns_of(table)], question))

    if any(dated(t) for t in chosen):
        return []
    graph = JoinGraph(schema)
    seen, ring = set(chosen), list(chosen)
    for _ in range(2):
        ring = sorted({n for t in ring for n in graph.neighbours(t)} - seen)
        seen |= set(ring)
        found = [t for t in ring if dated(t)]
        if found:
            return found if len(found) == 1 else []
    return []


# Which end of a trip, transfer or message a preposition names, and the words names use for each end.
DIRECTIONS = [({"from", "leaving", "departing", "out"},
               {"source", "src", "origin", "orig", "from", "start", "departure", "depart", "sender", "outbound"}),
              ({"to", "into", "arriving", "reaching", "towards", "toward"},
               {"destination", "dest", "dst", "to", "end", "arrival", "arrive", "target", "recipient", "inbound"})]


def direction_fit(before: list[str], column: str) -> int:
    """"flights from 'APG'" is the source airport, "to 'APG'" the destination: +1 when the words before a
    value name the end of the column's name, -1 when they name the other end, else 0."""
    parts = set(split_identifier(column))
    near = set(before[-2:])
    for i, (said, named) in enumerate(DIRECTIONS):
        if near & said:
            other = DIRECTIONS[1 - i][1]
            return 1 if parts & named else -1 if parts & other else 0
    return 0


def negated_value(question: str, value: str) -> bool:
    """"whose hometown is not 'Little Lever'", "a country other than France": the question says the value is
    not the column's (a copula negated, or "other than" / "except" right before it)."""
    q = question.lower()
    at = q.find(value.lower())
    if at < 0:
        return False
    before = " ".join(re.findall(r"[a-z]+", q[:at])[-3:])
    return re.search(r"\b(?:(?:is|are|was|were)(?: not|n t)|isn t|aren t|wasn t|weren t|other than|except|excluding)"
                     r"(?: (?:in|from|at|equal to|the))?$", before) is not None
