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


# English verbs whose past forms do not end in -ed ("paid" names a `pay` table, "sold" a `sell_price`).
IRREGULAR_PAST = {"paid": "pay", "sold": "sell", "bought": "buy", "spent": "spend", "led": "lead", "won": "win",
                  "lost": "lose", "taught": "teach", "held": "hold", "wrote": "write", "written": "write",
                  "gave": "give", "given": "give", "made": "make", "flew": "fly", "flown": "fly", "drove": "drive",
                  "driven": "drive", "sent": "send", "built": "build", "took": "take", "taken": "take",
                  "chose": "choose", "chosen": "choose", "sang": "sing", "sung": "sing", "began": "begin",
                  "begun": "begin", "kept": "keep", "sat": "sit", "bore": "bear", "born": "bear", "grew": "grow",
                  "grown": "grow", "ate": "eat", "eaten": "eat", "shot": "shoot", "fought": "fight",
                  "caught": "catch", "brought": "bring", "thought": "think", "told": "tell"}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Light English stemming: plurals and a few common endings, so 'countries' ~ 'country',
    'employees' ~ 'employee', 'singers' ~ 'singer'; irregular past forms ('paid' ~ 'pay')."""
    w = word.lower()
    if w in IRREGULAR_PAST:
        return IRREGULAR_PAST[w]
    if len(w) <= 3:
        return "id" if w == "ids" else w  # "the ids of ..." names id columns
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"), ("s", "")):
        if w.endswith(suffix) and len(w) > len(suffix) + 2 and not w.endswith(("ss", "us", "is")):
            return w[: -len(suffix)] + repl
    return w


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


# Words that close a glued name in any naming convention (`fname`, `DNAME`, `hiredate`, `DEPTNO`, `zipcode`):
# what a column is (a name, a date, a number, a code, a type), not any one database's vocabulary.
GLUED_TAILS = ("name", "nm", "date", "dt", "no", "num", "nbr", "code", "cd", "type", "amt", "qty", "year", "yr")
VOWELS = frozenset("aeiouy")
# Words naming conventions add to a name that say what kind of table or key it is, not what it holds:
# `tblCustomer`, `dim_customer`, `fact_sales`, `lkp_status`, `vw_orders`, `Ref_Template_Types`, `customer_id`.
NAMING_PREFIXES = frozenset({"id", "ref", "tbl", "t", "dim", "fact", "lkp", "lu", "vw", "stg",
                             "mstr", "master", "xref", "xrf", "lookup", "hist"})  # `EMP_MSTR`, `EMP_PRJ_XREF`: the kind of table
# The shortenings naming conventions use for those words (ISO/IEC 11179-style class words), read as the word.
CLASS_WORDS = {"nm": "name", "dt": "date", "cd": "code", "amt": "amount", "qty": "quantity", "nbr": "number",
               "yr": "year", "yrs": "years", "desc": "description", "addr": "address"}


def unglue(word: str) -> tuple[str, ...]:
    """`fname` -> (f, name), `deptno` -> (dept, no), `hiredate` -> (hire, date): a one-case word that ends
    in a word saying what the column holds splits there. Not when the rest would end in a vowel other than
    `e` (`candidate`, `casino`, `piano` stay whole) or when the word is itself that tail."""
    for tail in GLUED_TAILS:
        head = word[: -len(tail)]
        if word.endswith(tail) and head and head.isalpha() and (head[-1] not in VOWELS or head[-1] == "e"):
            if tail in ("no", "num", "nbr", "nm", "dt", "cd", "yr") and head[-1] in VOWELS:
                continue  # `techno`... a short tail only after a consonant (`deptno`, `empnum`, `mednm`)
            if len(head) == 1 or len(head) >= 3:
                return (head, tail)
    return (word,)


@lru_cache(maxsize=65536)
def split_identifier(identifier: str) -> tuple[str, ...]:
    """`Ref_Template_Types` -> (ref, template, types); `AirportCode` -> (airport, code);
    `HTTPStatus2xx` -> (http, status, 2xx); `StuID` -> (stu, id); `fname` -> (f, name); `DEPTNO` -> (dept, no)."""
    parts = re.split(r"[_\W]+", identifier)
    out = []
    for p in parts:
        out += re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+[a-z]*", p)
    words = [w.lower() for w in out if w]
    return tuple(CLASS_WORDS.get(piece, piece) for w in words for piece in (unglue(w) if len(w) >= 4 else (w,)))


def name_words(identifier: str) -> tuple[str, ...]:
    """Stems of an identifier's words."""
    return tuple(stem(w) for w in split_identifier(identifier))


def is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def is_abbreviation(short: str, long: str) -> bool:
    """How English names get shortened, each keeping the first letter and the letters' order:
    a prefix (`num` of `number`, `dept` of `department`), the first two letters then some later ones
    (`stu`, `appt`, `chg`, `amt`), or a consonant skeleton (`qty` of `quantity`, `yrs` of `years`,
    `mgr` of `manager`, and with two letters `pt` of `patient`, `dr` of `doctor`, `nm` of `name`)."""
    if len(short) < 2 or len(short) >= len(long) or short[0] != long[0] or not short.isalpha():
        return False
    if not is_subsequence(short, long):  # `yrs` of `year`, `pts` of `point`: a plural's s
        return len(short) >= 3 and short.endswith("s") and is_abbreviation(short[:-1], long)
    if len(short) >= 3 and (long.startswith(short) or short[:2] == long[:2]):
        return True
    skeleton = not (set(short[1:]) & set("aeiou"))
    if not skeleton:
        return False
    if len(short) == 2:  # `pt`, `dr`, `dt`, `nm`: the second letter is the long word's last consonant
        consonants = [ch for ch in long if ch not in "aeiouy"]
        return len(long) <= 8 and bool(consonants) and short[1] == consonants[-1]
    return True


def word_match(a: str, b: str, roots: bool = False) -> float:
    """How well two stems match: 1 equal, 0.8 abbreviation / shared long prefix, 0.6 a one-letter initial
    (the `f` of `fname` for "first"), else 0."""
    if a == b:
        return 1.0
    if a in ("at", "by", "of", "in", "on", "to") or b in ("at", "by", "of", "in", "on", "to"):
        return 0.0  # a function word in a name (`PaidAt`, `referred_by_id`) abbreviates nothing
    if is_abbreviation(a, b) or is_abbreviation(b, a):
        return 0.8
    if (len(a) == 1) != (len(b) == 1) and a[0] == b[0] and a.isalpha() and b.isalpha():
        return 0.6
    short, long = sorted((a, b), key=len)
    if len(short) >= 3 and long in (short + "d", short + "ed", short + "ing", short[:-1] + "ing"):
        return 0.9  # 'hired' ~ `HIRE_DT`, 'ordered' ~ order, 'hiring' ~ hire
    ra, rb = (re.sub(r"(ed|er|or|ing|ion)$", "", w) for w in (a, b))
    if roots and len(ra) >= 5 and (ra == rb or ra + "e" == rb or rb + "e" == ra):
        return 0.8  # a role's root with another ending: 'supervised' ~ `supervisor_id`, 'managed' ~ manager
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


# Words saying what kind of value a column holds (ISO/IEC 11179 class words) or its unit: a question names
# the thing ("the budget", "the unit price") and rarely the kind (`BUDG_AMT`, `unit_price_cents`).
KIND_WORDS = frozenset(set(CLASS_WORDS.values()) - {"name", "year", "years", "address"} | {"no", "num", "value", "val", "flag", "flg", "ind", "indicator",
                                                    "cent", "usd", "eur", "gbp", "pct", "percent", "kg", "km", "ms",
                                                    "sec", "utc", "ts", "text", "txt"})


def name_score(identifier: str, qstems, qall=frozenset(), exact=frozenset(), kinds_optional: bool = False
               ) -> tuple[float, float]:
    """(coverage, best): the share of the identifier's words the question mentions (abbreviations count a
    little less; a function word such as the `has` of `Has_Pet` only when the question says it), and the
    best single content word match. With `kinds_optional` (column names) an unmentioned class or unit word
    (`BUDG_AMT` for "budget", `unit_price_cents` for "unit price") leaves the share when another word is
    mentioned."""
    parts = [w for w in name_words(identifier) if w not in NAMING_PREFIXES]
    if not parts:
        return 0.0, 0.0
    def match(p, q):
        return float(p == q) if q in exact else word_match(p, q)

    scores = [(1.0 if p in qall else 0.0) if p in STOPWORDS else max((match(p, q) for q in qstems), default=0.0)
              for p in parts]
    content = [s for p, s in zip(parts, scores) if p not in STOPWORDS]
    if kinds_optional and any(s >= 0.8 for p, s in zip(parts, scores) if p not in KIND_WORDS):
        kept = [s for p, s in zip(parts, scores) if s > 0 or p not in KIND_WORDS]
        return sum(kept) / len(kept), max(content, default=0.0)
    return sum(scores) / len(scores), max(content, default=0.0)


def head_word(identifier: str) -> str | None:
    """The head noun of a compound table name, its last content word (`sales_order` -> order, `auth_user` ->
    user, `catalog_item` -> item: the words before it qualify it or name the application's namespace), when
    the name has two or more content words and the head is not a class word (`car_names`, `Ref_Template_Types`)."""
    parts = [w for w in name_words(identifier) if w not in NAMING_PREFIXES and w not in STOPWORDS
             and not w.isdigit()]
    if len(parts) < 2 or parts[-1] in KIND_WORDS or parts[-1] in ("type", "name", "id", "data", "info", "detail",
                                                                    "list", "hist", "history", "log"):
        return None
    return parts[-1]
