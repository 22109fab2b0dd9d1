"""Words of identifiers and questions, matched across naming styles.

Schemas name things `customer_id`, `CustomerId`, `CUSTOMERID`, `cust_id`, `Ref_Template_Types`; questions
say "customers", "template types". Both sides become lists of lower-case word stems; a name word matches a
question word when the stems are equal, or when one is an abbreviation of the other (a prefix of at least
3 letters: `dept`/`department` by consonants, `num`/`number`, `addr`/`address`). No vocabulary is fitted to
any database: the rules are English morphology and naming conventions only.
"""
from __future__ import annotations

import re
from functools import lru_cache

# Function words of English questions: they never name a table or column.
STOPWORDS = frozenset("""
a an the of in on at for to by with and or is are was were be been being what which who whom whose how many much
show list give me all each per there do does did have has had from that than more less most least top number
count average mean sum max min their its it as this these those any some find return tell please get display
whats called named also both either only not no never without can could would should will ever
they them he she his her we our you your i my when where why into out over under about between among after before
""".split())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Light English stemming: plurals and a few common endings, so 'countries' ~ 'country',
    'employees' ~ 'employee', 'singers' ~ 'singer'."""
    w = word.lower()
    if len(w) <= 3:
        return "id" if w == "ids" else w  # "the ids of ..." names id columns
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"), ("s", "")):
        if w.endswith(suffix) and len(w) > len(suffix) + 2 and not w.endswith(("ss", "us", "is")):
            return w[: -len(suffix)] + repl
    return w


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


@lru_cache(maxsize=65536)
def split_identifier(identifier: str) -> tuple[str, ...]:
    """`Ref_Template_Types` -> (ref, template, types); `AirportCode` -> (airport, code);
    `HTTPStatus2xx` -> (http, status, 2xx); `StuID` -> (stu, id)."""
    parts = re.split(r"[_\W]+", identifier)
    out = []
    for p in parts:
        out += re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+[a-z]*", p)
    return tuple(w.lower() for w in out if w)


def name_words(identifier: str) -> tuple[str, ...]:
    """Stems of an identifier's words."""
    return tuple(stem(w) for w in split_identifier(identifier))


def is_abbreviation(short: str, long: str) -> bool:
    """`num` of `number`, `dept` of `department`, `addr` of `address`, `stu` of `student`: the short word
    starts like the long one and its letters appear in order in it."""
    if len(short) < 3 or len(short) >= len(long) or short[0] != long[0] or short.isdigit():
        return False
    if long.startswith(short):
        return True
    it = iter(long)
    return len(short) >= 3 and short[:2] == long[:2] and all(ch in it for ch in short)


def word_match(a: str, b: str) -> float:
    """How well two stems match: 1 equal, 0.8 abbreviation / shared long prefix, else 0."""
    if a == b:
        return 1.0
    if is_abbreviation(a, b) or is_abbreviation(b, a):
        return 0.8
    n = min(len(a), len(b))
    if n >= 5 and a[: n - 1] == b[: n - 1]:  # 'accelerate' ~ 'acceleration', 'popular' ~ 'popularity'
        return 0.8
    common = 0
    for x, y in zip(a, b):
        if x != y:
            break
        common += 1
    return 0.7 if common >= 6 else 0.0


def question_stems(question: str) -> list[str]:
    return [stem(w) for w in words(question) if w not in STOPWORDS]


def name_score(identifier: str, qstems, qall=frozenset(), exact=frozenset()) -> tuple[float, float]:
    """(coverage, best): the share of the identifier's words the question mentions (abbreviations count a
    little less; a function word such as the `has` of `Has_Pet` only when the question says it), and the
    best single content word match."""
    parts = [w for w in name_words(identifier) if w not in ("id", "ref", "tbl", "t")]
    if not parts:
        return 0.0, 0.0
    def match(p, q):
        return float(p == q) if q in exact else word_match(p, q)

    scores = [(1.0 if p in qall else 0.0) if p in STOPWORDS else max((match(p, q) for q in qstems), default=0.0)
              for p in parts]
    content = [s for p, s in zip(parts, scores) if p not in STOPWORDS]
    return sum(scores) / len(scores), max(content, default=0.0)
