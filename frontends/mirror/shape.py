"""Stage 2b, the question's shape, read in Python so the grammar can state it as fixed text.

A 135M model often picks the wrong ORDER BY direction, comparison operator or LIMIT, and cannot plan a
subquery; yet these are spelled out by a handful of words ("cheapest", "more than", "top 5", "above the
average", "never"). Deciding them here and writing them into the grammar as literals costs nothing at
decoding time (letting the model choose and then masking the direction was measured at 30-90 s a question).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

LOW_WORDS = r"least|lowest|smallest|cheapest|fewest|minimum|earliest|oldest|shortest|lightest|slowest|poorest|worst"
HIGH_WORDS = r"most|highest|largest|biggest|best|greatest|maximum|top|latest|newest|expensive|youngest|tallest|" \
             r"heaviest|longest|fastest|richest"
SUPERLATIVE = rf"(?<!\bat )(?<!\bno )\b(?:{LOW_WORDS}|{HIGH_WORDS})\b"  # "at most 2", "at least 3": comparisons
# Superlative adjectives that name their measure (general English): the measure's words in a column name and
# the direction on it. "youngest" is the lowest age but the latest birth date; "oldest" the other way round.
IMPLIED_MEASURES = {
    "youngest": [("age", " ASC"), ("birth", " DESC"), ("born", " DESC")],
    "oldest": [("age", " DESC"), ("birth", " ASC"), ("born", " ASC"), ("year", " ASC"), ("date", " ASC")],
    "tallest": [("height", " DESC"), ("tall", " DESC")], "shortest": [("height", " ASC"), ("length", " ASC"),
                                                                   ("duration", " ASC"), ("time", " ASC")],
    "heaviest": [("weight", " DESC")], "lightest": [("weight", " ASC")],
    "longest": [("length", " DESC"), ("duration", " DESC"), ("time", " DESC"), ("page", " DESC")],
    "fastest": [("speed", " DESC"), ("time", " ASC")], "slowest": [("speed", " ASC"), ("time", " DESC")],
    "richest": [("worth", " DESC"), ("wealth", " DESC"), ("money", " DESC")],
    "poorest": [("worth", " ASC"), ("wealth", " ASC"), ("money", " ASC")],
    "cheapest": [("price", " ASC"), ("cost", " ASC")], "expensive": [("price", " DESC"), ("cost", " DESC")],
    "earliest": [("date", " ASC"), ("year", " ASC"), ("time", " ASC")],
    "latest": [("date", " DESC"), ("year", " DESC"), ("time", " DESC")],
    "newest": [("date", " DESC"), ("year", " DESC")],
}
# "most"/"least" before an adjective make its superlative (general English), not a count: "the most
# expensive product" is the priciest one, "the least expensive" the cheapest
MOST_ADJECTIVES = {"expensive": ("expensive", "cheapest"), "costly": ("expensive", "cheapest"),
                   "recent": ("latest", "earliest")}
OPERATORS = [  # longest phrases first; the phrase stands just before the number or the "the average ..."
    (r"at least|no less than|or more", " >= "), (r"at most|no more than|or less|or fewer", " <= "),
    (r"more than|greater than|higher than|larger than|bigger than|above|over|exceeding|costlier than"
     r"|more expensive than|after|older than|taller than|heavier than|longer than|later than", " > "),
    (r"less than|fewer than|lower than|smaller than|below|under|cheaper than|before|younger than|shorter than|"
     r"lighter than|earlier than", " < "),
    (r"of|equal to|equals|exactly|is|=|in|in year|in the year", " = "),
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
    between: dict[str, str] = field(default_factory=dict)  # "between 5 and 10": {"5": "10"}
    aggregates: set[str] = field(default_factory=set)  # the aggregate functions the question's words name
    head: list[tuple[str | None, str]] = field(default_factory=list)  # what is asked: [(agg or None, words)]
    sort: tuple[str, str] | None = None  # ("age", " DESC") for "in descending order of age"
    like: tuple[str, str] | None = None  # ("%east%", "east"): "contains the word 'East'", "starts with B"
    owners: dict[str, str] = field(default_factory=dict)  # head item words -> what they belong to ("of the song")
    superlative: str | None = None  # the superlative word itself: "youngest", "most"
    rank_words: str = ""  # the words after it, which may name the measure ranked: "average attendance"
    head_later: bool = False  # the head was read from a later sentence ("... ? List the name and id.")


NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
                "eight": "8", "nine": "9", "ten": "10", "twelve": "12", "twenty": "20", "hundred": "100",
                "single": "1", "once": "1", "twice": "2"}
COMPARING = r"(?:more|less|fewer|greater|larger|smaller|higher|lower) than|at (?:least|most)|exactly|over|under|" \
            r"no (?:more|less|fewer) than|above|below"


def numbers_as_digits(question: str) -> str:
    """Number words that a comparison counts written as digits: "more than one pet" -> "more than 1 pet",
    "less than three templates", "used in more than a single document", "at least twice". Other uses
    ("the one with", "one of the") are left alone."""
    words = "|".join(NUMBER_WORDS)

    def digit(m):
        return f"{m.group(1)} {NUMBER_WORDS[m.group(2).lower()]}"

    question = re.sub(rf"\b((?:{COMPARING})) (?:a )?({words})\b", digit, question, flags=re.I)
    # a count of rows asked for: "the three most dedicated", "top five", "the two cheapest"
    counts = "two|three|four|five|six|seven|eight|nine|ten|twelve|twenty"
    question = re.sub(rf"\b(top) ({words})\b", digit, question, flags=re.I)
    question = re.sub(rf"\b(the|first|last) ({counts})\b(?! (?:of|with|and|or)\b)", digit, question, flags=re.I)
    return re.sub(rf"\b(the|first|last) (one)(?= (?:{SUPERLATIVE_WORDS})\b| [a-z]+(?:est|iest)\b)",
                  digit, question, flags=re.I)


SUPERLATIVE_WORDS = "most|least|fewest|highest|lowest|largest|smallest|best|worst|biggest|top|oldest|youngest|latest"


def number_operator(question: str, number: str) -> str | None:
    """The comparison the words right before `number` ask for ("cost more than 100" -> " > "); a comparison
    may also stand before the measure's own words ("above age 20", "more than 3 models" reads the phrase
    just before the number only)."""
    m = re.search(rf"([a-z ]{{0,40}}?)\s*\b{re.escape(number)}\b( (?:or|and) (?:more|later|after|above|greater|"
                  rf"higher|less|fewer|earlier|before|below|lower|smaller)(?! \d| than))?", question.lower())
    before = m.group(1).strip() if m else ""
    if m and m.group(2):  # "2014 or after", "5 or more"
        return " >= " if re.search(r"more|later|after|above|greater|higher", m.group(2)) else " <= "
    for phrase, op in OPERATORS:
        if re.search(rf"\b(?:{phrase})$", before):
            return op
    for phrase, op in OPERATORS[:4]:  # not "of"/"is": "number of ... 5" is no comparison
        if re.search(rf"\b(?:{phrase})(?: [a-z]+){{1,2}}$", before) and not re.search(
                r"\b(?:than|and|or|the|of)$", before):
            return op
    return None


AGGREGATE_WORDS = [(r"average|mean|avg", "AVG"), (r"total|sum", "SUM"), (r"maximum|max", "MAX"),
                   (r"minimum|min", "MIN"), (r"how many|number of|count", "COUNT")]
HEAD_START = r"^(?:(?:what|which|who) (?:is|are|was|were)|show|list|give|find|return|display|tell|get|provide|count)" \
             r"(?: me| us)?(?: (?:the|all|each|every|of|different|distinct|unique|all of the))*\b"
HEAD_END = r"\b(?:for|of|by|with|from|who|that|which|where|whose|in|on|at|when|having|than|ordered|sorted|" \
           r"whom|if|across|among|per|about|without|never|not|did|does|do|has|have|had|is|are|was|were|can|will|instead)\b"


def read_head(q: str, owners: dict[str, str] | None = None) -> list[tuple[str | None, str]]:
    """What the question asks to see, item by item: "what are the name and age of ..." -> [(None, "name"),
    (None, "age")]; "the average, minimum and maximum age" -> AVG/MIN/MAX of "age"."""
    owners = {} if owners is None else owners  # item words -> the words after its "of" ("name" -> "song")
    how = re.match(r"how (?:(old|tall|heavy)|much\b.*\b(weigh|cost)s?)\b", q)
    if how:  # "how old is ...", "how much does the youngest dog weigh": the measure the words ask for
        return [(None, HOW_MEASURES[how.group(1) or how.group(2)])]
    m = re.match(HEAD_START, q)
    if not m:
        return []
    rest = q[m.end():].strip()
    counted = re.match(r"(?:the )?(?:total )?(?:number|count) of (?:the |all |all the )?", rest)
    if counted:  # "count the number of templates", "what is the total number of ...": a count of what follows
        rest = rest[counted.end():]
    end = re.search(HEAD_END.replace("for|of|", "for|"), rest)  # "of" ends an item, not the head
    head = rest[: end.start()] if end else rest
    items = [i.strip() for i in re.split(r",|\band\b|\bas well as\b", head)]
    items = [re.sub(r"^(?:(?:both|also) )?(?:the|their|its|his or her|his|her|all|each|every|also) ", "",
                    re.sub(r"^both ", "", i.strip())).strip() for i in items if i.strip()]  # "both the name and id"
    owner, found = "", {}
    for i, item in reversed(list(enumerate(items))):
        # "the name and release year of the song": each item is the song's; the owner reaches back to the
        # items before it that have none. "the number of concerts" is a count, not an owner.
        m = re.search(r"\bof (?:the |all |all the |each |every )?([a-z]+)\b.*$", item)
        if m and not re.fullmatch(r"(?:the )?(?:total )?(?:number|count|total|sum|average|mean|amount)", item[: m.start()].strip()):
            items[i], owner = item[: m.start()].strip(), m.group(1).strip()
        if owner and items[i]:
            found[i] = owner
    out = []
    for i, item in enumerate(items):
        agg = next((fn for pat, fn in AGGREGATE_WORDS if re.match(rf"(?:{pat})\b", item)), None)
        words = re.sub(rf"^(?:{'|'.join(p for p, _ in AGGREGATE_WORDS)})\b", "", item).strip()
        words = re.sub(r"^(?:of|the) ", "", words).strip()
        if re.fullmatch(r"(?:all )?(?:the )?(?:information|info|details|data|everything|columns|records)", words):
            words = "*"  # "all the information about X": every column
        out.append((agg, words))
        if i in found and words:
            owners[words] = found[i]
    if counted and out:
        out[0] = ("COUNT", out[0][1])
    return out if len(out) <= 6 else []


def read_shape(question: str) -> Shape:
    q = " ".join(re.findall(r"[a-z0-9.]+|'[^']*'", question.lower())).rstrip(".").strip()
    shape = read_order(q, read_words(" ".join(re.findall(r"[a-z0-9.]+|'[^']*'|,", question.lower())).rstrip("."),
                                     Shape(), sentences_of(question)))


    sup = re.search(SUPERLATIVE, q)
    if sup:
        shape.superlative = sup.group(0)
        adjective = re.match(rf"\s*({'|'.join(MOST_ADJECTIVES)})\b", q[sup.end():])
        if sup.group(0) in ("most", "least") and adjective:  # "the most expensive", "the least recent"
            shape.superlative = MOST_ADJECTIVES[adjective.group(1)][sup.group(0) == "least"]
            sup = re.search(rf"\b{adjective.group(1)}\b", q) or sup
        shape.direction = " ASC" if re.fullmatch(LOW_WORDS, shape.superlative) else " DESC"
        after = re.match(r"\s*(?:(?:amount|value|number|count|level|rate) of )?((?:[a-z]+ ?){1,3})", q[sup.end():])
        shape.rank_words = after.group(1).strip() if after else ""
    limit = (re.search(rf"\btop (\d+)\b|\b(\d+) (?:\w+ ){{0,1}}(?:{LOW_WORDS}|{HIGH_WORDS})\b", q)
             or re.search(r"\b(?:which|what|show|list|the) (\d+) \w+", q))
    if sup and limit:
        shape.limit = limit.group(1) or limit.group(2)
    elif sup and re.search(r"\b(which|what|who)\b", q) and not re.search(r"\b(what is the|what was the)\b"
                                                                       r"(?! name)", q):
        shape.limit = "1"
    elif sup and re.match(r"how (?:old|tall|heavy|much)\b", q) and shape.head:
        shape.limit = "1"  # "how much does the youngest dog weigh": the youngest dog's weight
    elif sup and re.search(rf"\b(?:by|of|with|for|from|has|have|had|in|at|on|to) the (?:{sup.group(0)})\b", q):
        shape.limit = "1"  # "the song by the youngest singer", "the stadium with the highest capacity": one row
    compare_to = re.search(r"\b(than|above|below|over|under) (?:the (?:[a-z]+ )?)?(average|mean|cheapest|lowest|smallest|"
                           r"most expensive|highest|largest|biggest|maximum|minimum)\b", q)  # "the citywide average"
    if compare_to:
        word = compare_to.group(2)
        shape.subquery_agg = ("AVG" if word in ("average", "mean") else
                              "MIN" if re.fullmatch(LOW_WORDS, word) or word == "minimum" else "MAX")
        before = q[: compare_to.start(1)] + compare_to.group(1)
        shape.subquery_op = next((op for phrase, op in OPERATORS[:4] if re.search(rf"\b(?:{phrase})$", before)),
                                 " > ")
        shape.direction = None  # "cheaper than the cheapest X" is a filter, not a ranking
        shape.limit = None
    if any(agg for agg, _ in shape.head) and not (shape.head_later and sup and all(
            agg in (None, "COUNT") for agg, _ in shape.head)):  # "the minimum and maximum price": aggregates, not a
        # ranking; but "Which student enrolled the most times? List the id and the number of enrollments." ranks
        shape.direction = shape.limit = None
    elif sup and re.match(r"(what is|what was|what s) the\b", q) and not re.search(r"\bname\b", q) and not shape.limit:
        qualifier = re.search(r"\b(?:with|who|that|which|whose|having)\b", q)
        if len(shape.head) > 1 and not any(agg for agg, _ in shape.head) or qualifier and sup.start() > qualifier.start():
            # "what is the id and name of the X with the most Y", "what is the model of the car with the
            # smallest horsepower": the superlative picks a row, whose attribute is asked; not a value
            shape.limit = "1"
        elif not any(agg for agg, _ in shape.head):
            shape.extreme = "MIN" if shape.direction == " ASC" else "MAX"
    if negation_start(q) >= 0:
        shape.membership = " NOT IN ("
    shape.like = read_like(question)
    for lo, hi in re.findall(r"\bbetween (\d+(?:\.\d+)?) and (\d+(?:\.\d+)?)", q):
        shape.between[lo] = hi
    for number in re.findall(r"(?<![\w.-])\d+(?:\.\d+)?(?![\w-])", q):
        if number == shape.limit or number in shape.between or number in shape.between.values():
            continue
        op = number_operator(q, number)
        if op:
            shape.comparisons[number] = op
    return shape



NEGATED = re.compile(r"\b(?:never|without|no|zero) \w+|\bnot (?:\w+ ){0,2}(?:any|a single)\b|\b(?:not been|(?:do|does|did|has|have|had|is|are|was|were) not|"
                     r"(?:don|doesn|didn|haven|hasn)(?: |'|\u2019)?t)\b")


def negation_start(text: str) -> int:
    """Where a question's negation ("never", "no", "did not", "haven't") starts in `text` (lower case), or -1.
    What is said before it restricts the rows asked for ("patrons from Ashford who never ..."); what is said
    after it restricts the related rows that must not exist ("... no player over 30")."""
    m = NEGATED.search(text)
    return m.start() if m else -1


PART = r"(?:the )?(?:word|words|letter|letters|substring|string|text|phrase|characters?|prefix|suffix|name)?"
LIKE_FORMS = [  # (words before the text, pattern around it), most specific first; the text is quoted, or one word
    (rf"\b(?:starts?|starting|begins?|beginning) with {PART}", "{}%"),
    (rf"\b(?:ends?|ending) with {PART}", "%{}"),
    (rf"\b(?:contains?|containing|includes?|including|has|have|having|with) (?:a |an )?{PART}", "%{}%"),
    (r"\b(?:substring|the word|the letter)", "%{}%"),
]


def read_like(question: str) -> tuple[str, str] | None:
    """A text pattern: "whose name contains 'Ha'", "that include the word East", "starting with the letter
    B". Only a quoted text, or a single word after "word"/"letter"/"substring" words, counts: "with 3 pets"
    and "has a name" are no patterns."""
    for before, pattern in LIKE_FORMS:
        for m in re.finditer(rf"{before}\s*(?:'([^']+)'|\"([^\"]+)\"|(\w+))", question, re.I):
            quoted = m.group(1) or m.group(2)
            word = quoted or m.group(3)
            if not quoted and not re.search(r"(?:word|letter|substring|string|text|phrase|character|prefix|suffix)s?\s*$",
                                             m.group(0)[: m.start(3) - m.start(0)], re.I):
                continue
            text = word.strip().replace("'", "''")
            if text:
                return pattern.format(text), word.strip()
    return None


HOW_MEASURES = {"old": "age", "tall": "height", "heavy": "weight", "weigh": "weight", "cost": "price"}
SHOW_SENTENCE = r"^(?:(?:only|also|please|and|then|just) )*(?=(?:list|give|show|return|display|provide|tell)\b)"


def read_words(q: str, shape: Shape, sentences: Sequence[str] = ()) -> Shape:
    """The aggregates the question names and what it asks to see (its head). A later sentence that says
    what to show ("Which employee received the most awards? Give me the employee name.", "... List the
    continent id, name and the number of countries.") states the head; the first sentence then only says
    which rows."""
    for pat, fn in AGGREGATE_WORDS:
        if re.search(rf"\b(?:{pat})\b", q):
            shape.aggregates.add(fn)
    for later in reversed(sentences[1:]):
        text = re.sub(SHOW_SENTENCE, "", later)
        owners: dict[str, str] = {}
        head = read_head(text, owners) if text != later or re.match(HEAD_START, later) else []
        if head:
            shape.head, shape.owners, shape.head_later = head, owners, True
            return shape
    shape.head = read_head(q, shape.owners)
    return shape


def sentences_of(question: str) -> list[str]:
    """The question's sentences, lower-cased, in the word form read_words reads."""
    parts = re.split(r"(?<=[.?!;])\s+(?=[A-Za-z])", question.strip())
    return [" ".join(re.findall(r"[a-z0-9.]+|'[^']*'|,", p.lower())).rstrip(".").strip() for p in parts]


def read_order(q: str, shape: Shape) -> Shape:
    """"in descending order of age", "sorted by name", "in alphabetical order": an explicit ordering."""
    m = re.search(r"\b(?:order(?:ed)? by|sort(?:ed)? by|order of|ranked by)(?: the)? ([a-z ]+?)"
                  r"(?:\s*$| in | and | from | for |,)", q)
    down = r"\b(?:descending|decreasing|reverse|from (?:the )?(?:highest|largest|most))\b"
    up = r"\b(?:ascending|increasing|alphabetical|alphabetically|from (?:the )?(?:lowest|smallest|least))\b"
    direction = " DESC" if re.search(down, q) else " ASC" if re.search(up, q) else ""
    if m:
        shape.sort = (m.group(1).strip(), direction or " ASC")
    elif re.search(r"\balphabetical", q):
        shape.sort = ("", " ASC")
    return shape
