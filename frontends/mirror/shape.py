"""Stage 2b, the question's shape, read in Python so the grammar can state it as fixed text.

A 135M model often picks the wrong ORDER BY direction, comparison operator or LIMIT, and cannot plan a
subquery; yet these are spelled out by a handful of words ("cheapest", "more than", "top 5", "above the
average", "never"). Deciding them here and writing them into the grammar as literals costs nothing at
decoding time (letting the model choose and then masking the direction was measured at 30-90 s a question).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

LOW_WORDS = r"least|lowest|smallest|cheapest|fewest|minimum|earliest|oldest"
HIGH_WORDS = r"most|highest|largest|biggest|best|greatest|maximum|top|latest|newest|expensive"
SUPERLATIVE = rf"\b(?:{LOW_WORDS}|{HIGH_WORDS})\b"
OPERATORS = [  # longest phrases first; the phrase stands just before the number or the "the average ..."
    (r"at least|no less than|or more", " >= "), (r"at most|no more than|or less|or fewer", " <= "),
    (r"more than|greater than|higher than|larger than|bigger than|above|over|exceeding|costlier than"
     r"|more expensive than|after", " > "),
    (r"less than|fewer than|lower than|smaller than|below|under|cheaper than|before", " < "),
    (r"of|equal to|equals|exactly|is|=", " = "),
]


@dataclass
class Shape:
    direction: str | None = None  # " DESC" / " ASC" for superlatives
    limit: str | None = None  # "5" in "top 5", "the 5 cheapest", "which 5 customers"; "1" for a single best
    comparisons: dict[str, str] = field(default_factory=dict)  # number -> operator, from the words before it
    extreme: str | None = None  # "MAX"/"MIN": "what is the highest price" asks for a value, not a row
    subquery_agg: str | None = None  # "AVG"/"MAX"/"MIN": "more than the average/cheapest ..." compares to it
    subquery_op: str | None = None
    membership: str | None = None  # " NOT IN (" for never/no/without, " IN (" for "customers who ordered ..."


def number_operator(question: str, number: str) -> str | None:
    """The comparison the words right before `number` ask for ("cost more than 100" -> " > ")."""
    m = re.search(rf"([a-z ]{{0,30}}?)\s*\b{re.escape(number)}\b", question.lower())
    before = m.group(1).strip() if m else ""
    for phrase, op in OPERATORS:
        if re.search(rf"\b(?:{phrase})$", before):
            return op
    return None


def read_shape(question: str) -> Shape:
    q = " ".join(re.findall(r"[a-z0-9.]+|'[^']*'", question.lower()))
    shape = Shape()
    sup = re.search(SUPERLATIVE, q)
    if sup:
        shape.direction = " ASC" if re.fullmatch(LOW_WORDS, sup.group(0)) else " DESC"
    limit = (re.search(rf"\btop (\d+)\b|\b(\d+) (?:\w+ ){{0,1}}(?:{LOW_WORDS}|{HIGH_WORDS})\b", q)
             or re.search(r"\b(?:which|what|show|list|the) (\d+) \w+", q))
    if sup and limit:
        shape.limit = limit.group(1) or limit.group(2)
    elif sup and re.search(r"\b(which|what|who)\b", q) and not re.search(r"\b(what is the|what was the)\b"
                                                                       r"(?! name)", q):
        shape.limit = "1"
    compare_to = re.search(r"\b(than|above|below|over|under) the (average|mean|cheapest|lowest|smallest|most expensive|"
                           r"highest|largest|biggest|maximum|minimum)\b", q)
    if compare_to:
        word = compare_to.group(2)
        shape.subquery_agg = ("AVG" if word in ("average", "mean") else
                              "MIN" if re.fullmatch(LOW_WORDS, word) or word == "minimum" else "MAX")
        before = q[: compare_to.start(1)] + compare_to.group(1)
        shape.subquery_op = next((op for phrase, op in OPERATORS[:4] if re.search(rf"\b(?:{phrase})$", before)),
                                 " > ")
        shape.direction = None  # "cheaper than the cheapest X" is a filter, not a ranking
        shape.limit = None
    elif sup and re.match(r"(what is|what was|what s) the\b", q) and not re.search(r"\bname\b", q) and not shape.limit:
        shape.extreme = "MIN" if shape.direction == " ASC" else "MAX"
    if re.search(r"\b(never|without|no) \w+", q) or re.search(r"\bnot been\b", q):
        shape.membership = " NOT IN ("
    for number in re.findall(r"(?<![\w.-])\d+(?:\.\d+)?(?![\w-])", q):
        if number == shape.limit:
            continue
        op = number_operator(q, number)
        if op:
            shape.comparisons[number] = op
    return shape

