"""Stage 2c, set operations: a question that coordinates two conditions on the same rows is split into
two simpler questions whose queries are combined.

"stadiums that had concerts in both 2014 and 2015" asks for rows meeting each condition on different
rows of the joined table, which no single WHERE can say: it is "... in 2014" INTERSECT "... in 2015".
"airlines with flights from 'CVO' but not from 'APG'" is "... from 'CVO'" EXCEPT "... from 'APG'";
"stadiums except for those having a concert in 2014" is "stadiums" EXCEPT "stadiums having a concert in
2014". Only the coordination words of English are read here; each half is planned like any question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

VALUE = r"'[^']+'|\"[^\"]+\"|\d+(?:\.\d+)?|[A-Z][\w.-]*"
RELATIVE = r"\b(?:who|that|which|whose|with|having|where|are|is|were|was|have|has|had|do|does|did)\b"


@dataclass
class SetSplit:
    operator: str  # "INTERSECT" / "EXCEPT" / "UNION"
    first: str
    second: str
    count: bool = False  # "how many ...": the rows of the combination are counted


def split_set_question(question: str) -> SetSplit | None:
    return split_both(question) or split_repeated(question) or split_except(question)


def split_repeated(question: str) -> SetSplit | None:
    """"countries where a singer above age 40 and a singer below 30 are from", "cities that have a branch
    opened before 1990 and a branch opened after 2010": the same indefinite noun twice, each with its own
    condition, names two different rows; one row cannot meet both conditions."""
    m = re.search(r"\b(an?) ([a-z]+) (.+?),? and (?:also )?an? \2 (.+?)(?=\s*[?.,;!]|$)", question)
    if not m or not re.search(r"\d|'|\b(?:before|after|above|below|over|under|than|in|from|with)\b", m.group(3)):
        return None
    lead, noun, end = question[: m.start()], f"{m.group(1)} {m.group(2)}", question[m.end():]
    cond1, cond2 = m.group(3), m.group(4)
    value = re.search(rf"(?:{VALUE})", cond2)
    if re.search(rf"(?:{VALUE})$", cond1) and value:  # "... below 30 are from": the words after the second
        cond2, end = cond2[: value.end()], cond2[value.end():] + end  # condition's value belong to both halves
    first = f"{lead}{noun} {cond1}{end}"
    second = f"{lead}{noun} {cond2}{end}"
    return SetSplit("INTERSECT", first.strip(), second.strip())


def split_both(question: str) -> SetSplit | None:
    """"... both A and B ...": A and B are parallel (the same number of words, or a value each after a
    shared lead: "from both airports 'APG' and 'CVO'")."""
    m = re.search(r"\bboth (.+?) and (.+?)(?=[?.,;!]|$)", question)
    if not m:
        return None
    a, rest = m.group(1).split(), m.group(2).split()
    if not a or not rest:
        return None
    last = re.fullmatch(VALUE, a[-1])
    lead: list[str]
    tail: list[str]
    if len(a) > 1 and a[0].lower() == rest[0].lower() and a[0].lower() not in ("the", "a", "an"):
        # parallel phrases of any length: "both stations with more than 20 docks and stations with fewer
        # than 10 docks", "held both by employees in RESEARCH and by employees in SALES"
        lead, a_var, b_var, tail = [], a, rest, []
    elif len(a) > 4:
        return None
    elif len(a) > 1 and last and re.fullmatch(VALUE, rest[0]):
        lead, a_var, b_var = a[:-1], a[-1:], rest[:1]
        tail = rest[1:]
    else:
        if len(rest) < len(a):
            return None
        lead, a_var, b_var, tail = [], a, rest[: len(a)], rest[len(a):]
    head, end = question[: m.start()], question[m.end():]
    first = " ".join(head.split() + lead + a_var + tail) + end
    second = " ".join(head.split() + lead + b_var + tail) + end
    return SetSplit("INTERSECT", first.strip(), second.strip())


def split_except(question: str) -> SetSplit | None:
    """"X but not (from) B" and "all X except (for) Y": the rows of the first half less those of the second.
    A second half that is only a value ("but not from 'APG'") takes the first half's wording with that value
    in place of the first half's last value."""
    m = re.search(r"\s*,?\s*\b(?:but not|except for|except|excluding|other than)\b\s*(.+?)\s*([?.!]*)$", question)
    if not m or m.start() < 8:
        return None
    first, rest, end = question[: m.start()].strip(), m.group(1), m.group(2)
    if re.match(r"\s*(?:how many|what is the (?:total|average|number|sum|count)|count)\b", first, re.I):
        return None  # "the total of all orders except cancelled ones" filters an aggregate: no set operation
    bare = re.fullmatch(rf"(?:(?:from|in|by|of|at|for|with|on) )?(?:the )?({VALUE})(?: [a-z]+){{0,2}}", rest.strip())
    if bare:
        values = list(re.finditer(VALUE, first))
        values = [v for v in values if v.start() > 0]  # not the capitalised first word
        if not values:
            return None
        v = values[-1]
        second = first[: v.start()] + bare.group(1) + first[v.end():]
    else:
        rel = re.search(RELATIVE, first[first.find(" ") + 1:])
        lead = first[: first.find(" ") + 1 + rel.start()] if rel else first
        lead = re.sub(r"\ball (?:the )?", "", lead).strip()
        if re.search(r"\b(?:those|ones|them)\b", rest.split()[0] if rest.split() else ""):
            rest = " ".join(rest.split()[1:])
        if lead.split() and rest.split() and lead.split()[-1].lower().rstrip("s") == rest.split()[0].lower().rstrip("s"):
            lead = " ".join(lead.split()[:-1])  # "all stadiums except for stadiums having ..."
        second = f"{lead} {rest}"
    if second.strip() == first.strip():
        return None
    return SetSplit("EXCEPT", first + end, second.strip() + end)
