"""Every restricting word of the question must be used by the query: among the queries a question's grammar
allows, one whose conditions use a strict subset of the question's words that another's use is dropped.

"How many staff members work on floor 2?" allows `SELECT COUNT(*) FROM staff JOIN department ...` with or
without `WHERE department.floorNumber = 2`; only the second accounts for "floor" and "2". Words are compared
after the SELECT list and the FROM clause are cut away (what is shown, and which tables are joined, are other
questions), so only what restricts, groups and orders is counted: a query is never preferred for joining a
table or showing a column a word names.
"""
from __future__ import annotations

import re

from .names import STOPWORDS, split_identifier, stem, word_match
from .names import words as question_words

CLAUSES = r"\b(?:WHERE|GROUP BY|HAVING|ORDER BY|LIMIT)\b"
KEYWORDS = frozenset("""SELECT FROM WHERE GROUP BY HAVING ORDER LIMIT AND OR NOT IN IS NULL LIKE BETWEEN ASC DESC COUNT
SUM AVG MIN MAX DISTINCT JOIN ON AS EXISTS UNION INTERSECT EXCEPT CAST CASE WHEN THEN ELSE END ROUND strftime""".split())


def restricting_part(sql: str) -> str:
    """The query from its first WHERE / GROUP BY / HAVING / ORDER BY / LIMIT on (subqueries included)."""
    m = re.search(CLAUSES, sql)
    return sql[m.start():] if m else ""


def used_words(question: str, sql: str) -> frozenset[str]:
    """The question's content words (and numbers) that the query's restricting part names: in a column or
    table name (any naming style, abbreviations), a quoted value, or a number."""
    part = restricting_part(sql)
    if not part:
        return frozenset()
    literals = re.findall(r"'((?:[^']|'')*)'", part)
    names = set()
    bare_part = re.sub(r'(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\.(?=["A-Za-z_])', "", re.sub(r"'(?:[^']|'')*'", " ", part))
    for quoted, bare in re.findall(r'"([^"]+)"|([A-Za-z_][A-Za-z0-9_]*)', bare_part):  # table qualifiers aside
        if bare not in KEYWORDS:
            names |= {stem(w) for w in split_identifier(quoted or bare)}
    values = {stem(w) for lit in literals for w in question_words(lit)}
    numbers = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?", part))
    used = set()
    for w in question_words(question):
        if w in STOPWORDS:
            continue
        if w.isdigit() or re.fullmatch(r"\d+(?:\.\d+)?", w):
            if w in numbers or any(w in lit for lit in literals):
                used.add(w)
            continue
        s = stem(w)
        if s in values or s in names or any(len(s) >= 3 and word_match(s, n) >= 0.8 for n in names):
            used.add(w)
    return frozenset(used)


def most_accounted(question: str, queries: list[str]) -> list[str]:
    """The queries whose used words are not a strict subset of another query's (order kept)."""
    if len(queries) < 2:
        return queries
    used = [used_words(question, q) for q in queries]
    return [q for q, u in zip(queries, used) if not any(u < other for other in used)]
