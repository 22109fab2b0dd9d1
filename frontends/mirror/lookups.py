"""Values held in a lookup table restrict the rows of the table that points at it.

A record-type, category or status table (`RecordType.Name` = 'Grant', `ticketCategory.label` = 'Printing')
names kinds of rows that live elsewhere: "How many grants were awarded?" counts the rows whose key points at
the 'Grant' row, not the lookup table's one row. Which table that is the schema's keys say: the table named
by a word inside the value ('Household Account' -> `Account`), else the only table whose key points at the
lookup table.
"""
from __future__ import annotations

import re

from .joins import JoinGraph
from .names import NAMING_PREFIXES, name_words, stem, words

MAX_LOOKUP_COLUMNS = 6  # a lookup table is narrow: a key, a name, a few descriptive columns
ASKS_FOR_ROWS = r"\b(?:how many|number of|count|which|what|list|show|all|every|each|total)\b"


def pointing_tables(schema, table: str) -> set[str]:
    """Tables with a key (declared or inferred) to `table`."""
    return {e.table for _, e in JoinGraph(schema).edges.get(table, []) if e.other_table == table and e.table != table}


def is_lookup(schema, table: str) -> bool:
    t = schema.table(table)
    return t is not None and len(t.columns) <= MAX_LOOKUP_COLUMNS and bool(pointing_tables(schema, table))


def rows_named_by_values(question: str, schema, values, named: set[str]) -> set[str]:
    """Tables whose rows the question's lookup values restrict, to be linked beside the lookup table: the one
    a word of the value names ('household accounts': `Account`), or, when the question names no other table
    and asks for the value's rows ("how many grants ..."), the only table pointing at the lookup table."""
    out: set[str] = set()
    q = question.lower()
    for vt, _, value in values:
        if not is_lookup(schema, vt):
            continue
        pointing = pointing_tables(schema, vt)
        said = {stem(w) for w in words(value)}
        by_word = {u for u in pointing if set(name_words(u)) - NAMING_PREFIXES and
                   (set(name_words(u)) - NAMING_PREFIXES) <= said}
        if by_word:
            out |= by_word
            continue
        others = named - {t for t, _, _ in values}
        at = q.find(value.lower())
        asked = at >= 0 and re.search(rf"{ASKS_FOR_ROWS}(?: [a-z]+)?\s*$", q[:at].strip() + " ") is not None
        if not others and asked and len(pointing) == 1:
            out |= pointing
    return out - named


def rows_pointing_at(question: str, schema, linked) -> list[str]:
    """The tables whose rows a lookup value may name when several point at its table and no word says which
    ("how many grants" where accounts, opportunities and contacts all have a record type): the pipeline lets
    the model's likelihood choose among them. Empty when the link already holds such a table."""
    if set(linked.tables) - {t for t, _, _ in linked.values}:
        return []
    q = question.lower()
    for vt, _, value in linked.values:
        pointing = sorted(pointing_tables(schema, vt))
        at = q.find(value.lower())
        if len(pointing) >= 2 and is_lookup(schema, vt) and at >= 0 and re.search(
                rf"{ASKS_FOR_ROWS}(?: [a-z]+)?\s*$", q[:at].strip() + " "):
            return pointing
    return []
