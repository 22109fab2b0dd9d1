"""Stage 2c (continued), clauses coordinated on one entity: "members who harvested Sungold or belong to the
Youth Garden group", "contractors that had a case but never had an order", "how many varieties were both
ordered and harvested".

Each clause may reach the entity along its own join path, so no single WHERE says both: the question is
split into one question per clause, both asking for the same entity (the words up to the first one that
names a table: "Which members", "List the names of the contractors"), and combined with the set operator
English gives: "or" -> UNION, "but never"/"but not" -> EXCEPT, "both ... and" -> INTERSECT (setops.py).
"How many ..." counts the rows of the combination. Only coordination words are read here.
"""
from __future__ import annotations

import dataclasses
import re

from .schema import Schema
from .setops import SetSplit, split_set_question

ASKING = {"which", "what", "who", "list", "show", "find", "give", "return", "tell", "me", "the", "all", "names",
          "name", "of", "are", "is", "were", "was", "how", "many", "number", "different", "distinct", "count"}
RELATIVE = r"(?:who|that|which|whose)"
AUX = r"(?:have|has|had|did|do|does|were|was|are|is|will|can|could|would)"
COUNTED = re.compile(r"\s*(?:how many|what is the number of|what's the number of|count the(?: number of)?|"
                     r"find the number of|give the number of)\s+(?:the |all |all the )?(?:different |distinct )?", re.I)
# a clause starts with a verb (lower case; not an article, a comparison or a value such as 'Sungold' or 3)
CLAUSE_START = re.compile(rf"(?:{RELATIVE}\s+)?(?!(?:a|an|the|more|less|fewer|at|than|not|and|or)\b)[a-z]+\b")
# "how many orders except cancelled ones" filters one table; "... but not in the Seed Savers" is a difference
DIFFERENCE = re.compile(r"\b(?:but not|except(?: for)?|other than)\s+(?:in|from|by|at|of|with|on|for|to|who|that|which|"
                        r"any|a|an)\b|\bnever\b", re.I)


def entity_lead(question: str, schema: Schema) -> str | None:
    """The words that ask for the entity: from the start through the first word that names a table."""
    from .grammar import table_named

    tables = [t.name for t in schema.tables]
    found = [m for m in list(re.finditer(r"[A-Za-z]+", question))[:12]]
    relative = next((i for i, m in enumerate(found) if i > 0 and re.fullmatch(RELATIVE, m.group().lower())), None)
    if relative is not None:  # "the last names of the students who ...": the last table word before "who"
        named = [m for m in found[:relative] if m.group().lower() not in ASKING and table_named(m.group().lower(), tables)]
        return question[: named[-1].end()] if named else None
    for m in found[:8]:
        w = m.group().lower()
        if w in ASKING or len(w) < 3:
            continue
        return question[: m.end()] if table_named(w, tables) else None
    return None


def split_coordinated(question: str, schema: Schema) -> SetSplit | None:
    """The set operation a question's coordination asks for, or None. "How many" questions are split as
    "which" questions and counted (`SetSplit.count`)."""
    counted = COUNTED.match(question)
    asked = f"Which {question[counted.end():]}" if counted else question
    split = split_set_question(asked) or split_clauses(asked, schema)
    if split is None or counted and split.operator == "EXCEPT" and not DIFFERENCE.search(question):
        return None
    return dataclasses.replace(split, count=bool(counted))


def split_clauses(question: str, schema: Schema) -> SetSplit | None:
    """"<lead> A or B" -> UNION, "<lead> A but/and never|not B" -> EXCEPT, where B is a clause of its own (a
    verb after "or", not a value or a noun: "a cat or a dog" is one condition on one column)."""
    lead = entity_lead(question, schema)
    if not lead:
        return None
    closing = re.search(r"\s*[?.!]*\s*$", question)
    body, end = question[len(lead):], closing.group() if closing else ""
    body = body[: len(body) - len(end)] if end else body
    neg = re.search(rf"\s*,?\s+(?:but|and|yet)\s+({AUX}\s+)?(?:never|not)\s+(.+)$", body)
    rel = re.match(rf"\s*({RELATIVE})\b", body)  # "students who live in X but have not ...": who have
    if neg and neg.start() > 0 and CLAUSE_START.match(neg.group(2)):
        first = lead + body[: neg.start()]
        second = f"{lead} {rel.group(1) + ' ' if rel else ''}{neg.group(1) or ''}{neg.group(2)}"
        return SetSplit("EXCEPT", first.strip() + end, re.sub(r"\s+", " ", second).strip() + end)
    alt = re.search(r"\s*,?\s+or\s+(.+)$", body)
    if not alt or alt.start() == 0 or " or " in alt.group(1):
        return None
    first, rest = lead + body[: alt.start()], alt.group(1)
    if re.search(r"\b(?:his|her|him|he|she|they|them|their|its|it)$", first, re.I):
        return None  # "his or her current address": one person, not two clauses
    if CLAUSE_START.match(rest):  # "... harvested Sungold or belong to the Youth Garden group"
        if rel and not re.match(RELATIVE + r"\b", rest):
            rest = f"{rel.group(1)} {rest}"  # "who are insured or have a job": who have a job
        return SetSplit("UNION", first.strip() + end, f"{lead} {rest}".strip() + end)
    # "jobs that have a case or an order": two things, each a table of its own, after one shared verb
    from .grammar import table_named

    tables = [t.name for t in schema.tables]
    noun1 = re.search(r"\b(?:a|an|any|some)\s+([a-z]+)$", first)
    noun2 = re.match(r"(?:a|an|any|some)\s+([a-z]+)$", rest)
    if noun1 and noun2:
        t1, t2 = table_named(noun1.group(1), tables), table_named(noun2.group(1), tables)
        if t1 and t2 and t1 != t2:
            return SetSplit("UNION", first.strip() + end, f"{first[: noun1.start()]}{rest}".strip() + end)
    return None


def tables_of(sql: str) -> frozenset[str]:
    """The tables a query reads (any depth), lower-cased; empty when it does not parse."""
    import sqlglot
    from sqlglot import exp

    try:
        return frozenset(t.name.lower() for t in sqlglot.parse_one(sql, read="sqlite").find_all(exp.Table))
    except Exception:  # sqlglot's ParseError/TokenError: a query it cannot read shares no tables
        return frozenset()


def either_where(first: str, second: str) -> str | None:
    """Two queries that differ only in their WHERE ("contractors that are insured" / "... in York") as one
    query whose WHERE is either condition: the rows, repeats included, that a UNION would merge."""
    import sqlglot
    from sqlglot import exp

    try:
        a, b = sqlglot.parse_one(first, read="sqlite"), sqlglot.parse_one(second, read="sqlite")
    except Exception:  # sqlglot's ParseError/TokenError
        return None
    if not isinstance(a, exp.Select) or not isinstance(b, exp.Select):
        return None
    wa, wb = a.args.get("where"), b.args.get("where")
    if wa is None or wb is None:
        return None
    bare_a, bare_b = a.copy(), b.copy()
    bare_a.set("where", None)
    bare_b.set("where", None)
    if bare_a.sql(dialect="sqlite") != bare_b.sql(dialect="sqlite"):
        return None
    return bare_a.where(exp.or_(exp.paren(wa.this.copy()), exp.paren(wb.this.copy()))).sql(dialect="sqlite")


def combined(split: SetSplit, first: str, second: str) -> str:
    """The two halves' queries joined as the split says: by its set operator, or, when both read the same
    tables and "or" joins them, as one WHERE with OR (repeats kept); counted for "how many"."""
    sql = f"{first} {split.operator} {second}"
    if split.operator == "UNION" and tables_of(first) == tables_of(second):
        sql = either_where(first, second) or sql
    return f"SELECT COUNT(*) FROM ({sql})" if split.count else sql
