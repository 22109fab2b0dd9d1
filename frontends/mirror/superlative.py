"""Superlatives over counts: "which X has the most Y", "the X with the fewest Y", "the X used by the greatest
number of Y" rank the X rows by how many Y rows each has: `... FROM X JOIN (path) Y GROUP BY X.key ORDER BY
COUNT(*) DESC LIMIT 1`.

General English, read with the schema: the superlative counts when it is "most/fewest/least" not followed by
an adjective ("the most expensive" ranks a measure), or "<superlative> number/count of". The ranked table X
is the last table the question names before the superlative, the counted table Y the first it names after it;
when no table is named after it ("the transcript with the fewest results", "the model with the most versions")
the rows counted are those of a table holding a key to X. Only the tables on the key path from X to Y are
joined: any other table would repeat the rows counted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .joins import JoinGraph
from .names import NAMING_PREFIXES, STOPWORDS, split_identifier, stem, word_match
from .schema import Schema

COUNT_WORDS = r"(?:most|fewest|least)"
RANK_WORDS = r"(?:most|fewest|least|greatest|largest|highest|biggest|smallest|lowest|maximum|minimum|max|min)"
# "<rank word> number of Y", "most Y", "the most" at the end of a clause ("who enrolled the most")
COUNT_SUPERLATIVE = re.compile(rf"(?<!\bat )(?<!\bno )\b(?:{RANK_WORDS} (?:number|count|amount) of|{COUNT_WORDS})\b")
ADJECTIVE_END = re.compile(r"(?:est|ive|ful|ous|ble|al|ic|ar|ent|ant)$")  # "most expensive", "least popular"
LOW = re.compile(r"\b(?:fewest|least|smallest|lowest|minimum|min)\b")


@dataclass
class CountRank:
    ranked: str  # X: the table whose rows are ranked
    counted: str  # Y: the table whose rows are counted per X
    tables: list[str]  # the key path from X to Y, X first
    direction: str  # " DESC" / " ASC"
    at: int  # where the superlative stands in the question (character offset)


def table_words(table: str) -> list[str]:
    return [stem(w) for w in split_identifier(table) if w not in NAMING_PREFIXES and w not in STOPWORDS and len(w) > 1]


def mentions(question: str, schema: Schema) -> list[tuple[int, int, str]]:
    """(start, end, table) for each run of question words that names a table: the run covering most of one
    table's name words wins ("car makers" is `car_makers`, not `car_names`; "template type" is
    `Ref_Template_Types`, the later "templates" `Templates`)."""
    tokens = [(m.start(), m.end(), stem(m.group(0))) for m in re.finditer(r"[a-z]+", question.lower())]
    names = {t.name: table_words(t.name) for t in schema.tables}
    found, i = [], 0
    while i < len(tokens):
        best = None  # (words covered, share of the name covered, table)
        for t, words in names.items():
            if not words:
                continue
            n = 0
            while i + n < len(tokens) and n < len(words) and tokens[i + n][2] not in STOPWORDS and any(
                    word_match(tokens[i + n][2], w) >= 0.8 for w in words):
                n += 1
            if n and (best is None or (n, n / len(words)) > best[:2]):
                best = (n, n / len(words), t)
        if best:
            found.append((tokens[i][0], tokens[i + best[0] - 1][1], best[2]))
            i += best[0]
        else:
            i += 1
    return found


def count_rank(question: str, schema: Schema, measure_linked: bool = False, asked: str | None = None
               ) -> CountRank | None:
    """The X and Y of "which X has the most Y", or None when the question ranks nothing by a count.
    `measure_linked`: the question names a measure (through a synonym too: "spent" ~ amount), so a bare
    "the most" ("the customers who spent the most") ranks that measure's sum, not a count. `asked`: the table
    a question asks for without naming it ("who leads the most projects": the people)."""
    q = question.lower()
    sup = next((m for m in COUNT_SUPERLATIVE.finditer(q)
                if not (m.group(0) in ("most", "least", "fewest")
                        and (nxt := re.match(r"\s+([a-z]+)", q[m.end():])) and ADJECTIVE_END.search(nxt.group(1))
                        and not is_table_word(nxt.group(1), schema))), None)
    if sup is None:
        return None
    found = mentions(q, schema)
    before = [t for s, _, t in found if s < sup.start()] or ([asked] if asked else [])  # "who": the people
    after = [t for s, _, t in found if s >= sup.end()]
    after_sup = re.match(r"\s*(?:different |distinct )?([a-z]+)", q[sup.end():])
    rest = after_sup.group(1) if after_sup else ""
    explicit = " of" in sup.group(0)  # "the greatest number of Y"
    summed = re.search(r"\b(in total|overall|altogether|combined)\b", q[sup.end():])  # "paid the most in total"
    if not (rest and is_table_word(rest, schema)) and (names_measure(rest, schema) or (measure_linked or summed)
                                                        and not explicit):
        return None  # "the largest number of products" where `Number_products` is a column: that column  # "the most horsepower", "the largest amount of gasoline": a measure, not a count
    graph = JoinGraph(schema)
    direction = " ASC" if LOW.search(sup.group(0)) else " DESC"
    counted = next((t for t in after if t not in before[-1:]), None)
    if not before:
        return None
    ranked = before[-1]
    if counted is None:
        children = sorted({e.table for _, e in graph.edges.get(ranked, []) if e.other_table == ranked
                           and e.table != ranked})
        if len(children) != 1:
            return None
        counted = children[0]
    for earlier in before[-2::-1]:  # "the shop that is hiring the most employees": `hiring` links shop and
        # employee; a table holding two keys on the way from an earlier-named table is not the one ranked
        path = graph.connect([earlier, counted], max_tables=4)
        if path and ranked in path[0][1:-1] and len(graph_keys(schema, ranked)) >= 2:
            ranked = earlier
            break
    tree = graph.connect([ranked, counted], max_tables=4)
    if not tree:
        return None
    return CountRank(ranked, counted, tree[0], direction, sup.start())


def graph_keys(schema: Schema, table: str) -> list:
    """The keys this table holds to other tables (declared or inferred)."""
    return [e for _, e in JoinGraph(schema).edges.get(table, []) if e.table == table and e.other_table != table]


def names_measure(word: str, schema: Schema) -> bool:
    """The word names a numeric column that is not a key (a measure: horsepower, price, capacity)."""
    from .linking import is_key_like

    s = stem(word)
    return any((c.is_numeric or c.numeric_text) and not is_key_like(schema, t.name, c) and any(
        word_match(s, stem(w)) >= 0.8 for w in split_identifier(c.name)) for t in schema.tables for c in t.columns)


def is_table_word(word: str, schema: Schema) -> bool:
    s = stem(word)
    return any(word_match(s, w) >= 0.8 for t in schema.tables for w in table_words(t.name))


PER_GROUP = re.compile(r"\b(?:each|every|per)\b")
COUNTED = re.compile(r"\b(?:how many|number of|count of|count the)\b")


def count_per_group(question: str, schema: Schema) -> list[str] | None:
    """The key path from X to Y for "how many Y does each X have" / "the number of Y for each X" (X named
    after each/every/per, Y after how many/number of): only those tables join, since any other table would
    repeat the rows counted. None when the question does not count one table's rows per another's."""
    q = question.lower()
    each, counted = PER_GROUP.search(q), COUNTED.search(q)
    if not each or not counted:
        return None
    found = mentions(q, schema)
    group = next((t for s, _, t in found if s >= each.end()), None)
    rows = next((t for s, _, t in found if s >= counted.end() and t != group), None)
    if not group or not rows:
        return None
    tree = JoinGraph(schema).connect([group, rows], max_tables=4)
    return tree[0] if tree else None
