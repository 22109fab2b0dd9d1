"""The column that shows a row to a person: a table's label, found from its schema and its data.

"Which contractor ...", "list the varieties ...": the rows are shown by what names them, not by their key,
a yes/no flag or a status code. Names help (`name`, `title`, `label`, `descr`, `caption`), but many tables
call their label something else (`common_label`, `business`, `headline`), so the data decides too: a label
is text, not a key, a date, an e-mail or a link, and its values mostly differ from row to row (a status or
a category repeats; a code is short and has no spaces). People are shown by first and last name together.
"""
from __future__ import annotations

import re

from .names import split_identifier
from .schema import Column, Schema

LABEL_WORDS = {"name", "title", "label", "caption", "nm"}  # what names a row, ahead of what describes it
DESCRIBING_WORDS = {"descr", "description", "desc", "heading", "headline", "summary"}
CONTACT = re.compile(r"^[^@\s]+@[^@\s]+$|^https?://|^www\.|^\+?[\d\s().-]{7,}$")


def _words(column: Column) -> set[str]:
    return {w.lower() for w in split_identifier(column.name)}


def label_score(schema: Schema, table: str, column: Column) -> float | None:
    """How well `column` names the rows of `table`; None for a column that cannot (numeric, key, date)."""
    from .grammar import is_date_column
    from .linking import is_key_like

    if column.is_numeric or column.numeric_text or is_key_like(schema, table, column) or is_date_column(column):
        return None
    score = 0.0
    words = _words(column)
    if words & LABEL_WORDS or re.search(r"name|title|label|caption", column.name, re.I):
        score += 4.0  # a column called a name is the label whatever its data, unless a better-named one differs more
    elif words & DESCRIBING_WORDS:
        score += 1.5
    values = [v for v in (column.values or column.samples) if isinstance(v, str) and v.strip()]
    if values and all(CONTACT.search(v.strip()) for v in values):
        return None  # an e-mail address or a URL identifies, but does not name
    rows = max(1, next((t.row_count for t in schema.tables if t.name == table), 1))
    if column.values:  # every distinct value is known: how many of the rows it tells apart
        score += min(1.0, len(column.values) / rows) * 2.0 - 1.0
    elif rows > 1:
        score += 1.0  # more distinct values than the index keeps: a different value nearly every row
    if values and any(" " in v.strip() for v in values):
        score += 0.5  # words, not a code
    if values and all(re.fullmatch(r"[A-Z0-9][A-Z0-9_./-]{0,11}", v.strip()) for v in values):
        score -= 0.75  # `A-01`, `NY`, `PENDING`: a code, a label only when nothing else is
    return score


def label_columns(schema: Schema, table: str) -> list[Column]:
    """The one column that best names the rows of `table` (in a tie, the earlier one); [] if none can."""
    scored = [(s, -i, c) for i, c in enumerate(schema.columns_of(table))
              if (s := label_score(schema, table, c)) is not None]
    return [max(scored, key=lambda x: x[:2])[2]] if scored else []


def label_for_entity(text: str, resolved: str, schema: Schema, cols, names: list[str]) -> list[str] | None:
    """"List the contractors ...", "the varieties in the category Bean": an asked item that names a table
    rather than one of its columns is shown by that table's label (a person by first and last name), not by
    the key or flag column its name happened to match. `cols` are (qualified name, table, column) of the
    FROM clause; returns the qualified label columns, or None when the item names a column."""
    from .grammar import row_names, table_named
    from .linking import is_key_like
    from .names import stem, word_match
    from .names import words as nwords

    item = [w for w in nwords(text) if w not in ("the", "a", "an", "all", "each", "every")]
    if not item or not item[-1].isalpha():
        return None
    table = table_named(item[-1], names)
    column = next((c for q, t, c in cols if q == resolved and t == table), None)
    if table is None or column is None:
        return None
    own = {stem(w) for w in split_identifier(column.name)}
    table_words = {stem(w) for w in split_identifier(table)}
    # the item named the column itself ("the variety name", "the plot code") unless every word it matched is
    # the table's own word and the column is a key or a yes/no flag
    said_own = [w for w in item if any(word_match(stem(w), x) >= 0.8 for x in own - table_words)]
    if said_own or not (is_key_like(schema, table, column) or _is_flag(column)):
        return None
    shown = [q for q, t, c in cols if t == table and c in row_names(schema, table)]
    return shown or None


def _is_flag(column: Column) -> bool:
    values = {str(v) for v in column.samples if v is not None}
    return bool(values) and values <= {"0", "1", "True", "False", "true", "false", "Y", "N", "yes", "no"}


def is_person_table(schema: Schema, table: str) -> bool:
    """A table of people: its rows are named by a first and a last name (or a full name)."""
    from .grammar import row_names

    shown = row_names(schema, table)
    return len(shown) >= 2 or any({"full", "name"} <= _words(c) or "fullname" in _words(c) for c in shown)


def person_asked(question: str, schema: Schema, tables: list[str]) -> str | None:
    """"Who worked the most hours?": "who" asks for people. The linked table of people, else the one table of
    people a key away from a linked table (the shifts' `member_no` -> `Member`); None if not exactly one."""
    from .joins import JoinGraph

    if not re.match(r"\s*who\b", question, re.I):
        return None
    people = [t for t in tables if is_person_table(schema, t)]
    if not people:
        graph = JoinGraph(schema)
        people = sorted({n for t in tables for n in graph.neighbours(t) if is_person_table(schema, n)} - set(tables))
    return people[0] if len(people) == 1 else None


NAME_PART_WORDS = re.compile(r"\b(?:first|last|given|family|sur|middle|fore|maiden|nick|user)\s*names?\b|\bsurnames?\b|"
                             r"\b[fl]names?\b", re.I)


def whole_name(schema: Schema, table: str, column: Column, question: str) -> list[Column]:
    """"their name", "the names of the inspectors": a person's name is first and last name together, unless the
    question names one part ("the first name"); any other column stays itself."""
    from .grammar import row_names

    shown = row_names(schema, table)
    if len(shown) >= 2 and column in shown and not NAME_PART_WORDS.search(question):
        return shown
    return [column]
