"""Stage 3c, the prompt, laid out for llama.cpp's KV cache.

Prefill of the prompt is most of a question's time on a CPU. guidance reuses the longest token prefix
already in the model's cache, so everything that does not depend on the question (instruction, the worked
examples, the database's tables and joins) comes first and is computed once per session; each question
only pays for its own tail (value hints, two similar examples, the question). The summary is asked for as a
continuation of the same text, so it too only pays for the result rows.
"""
from __future__ import annotations

from .fewshot import EXAMPLE_SCHEMA, EXAMPLES, choose_examples, example_text
from .grammar import join_plans
from .linking import Link
from .schema import Schema

# The whole schema sits in the static head when its text fits this many characters (without example values
# if need be): at ~2.5 characters a token at worst (identifiers) that is ~4k tokens, computed once per
# session (and saved to disk), so a question on a 25-table schema pays only for its own few tokens. Only
# larger schemas put the linked tables into the tail, which every question then pays to read (~1 s per
# 500 tokens on one CPU thread, measured: median 4.7 s on a 24-table schema with the tail at 2500 chars).
STATIC_SCHEMA_CHARS = 10000
# The tail's schema text: about 2 characters a token at worst (identifiers), so this stays far inside an 8k
# context together with the head, the question and the answer.
MAX_SCHEMA_CHARS = 6000
JOINS_CHARS = 1500  # the joins line under the tables (at most 12 joins)
TAIL_EXAMPLES = 0


def prompt_prefix(schema: Schema) -> str:
    """The question-independent head of every prompt for this database."""
    shots = "\n\n".join(example_text(q, s) for q, s in EXAMPLES)
    head = ("Write one SQLite SELECT query that answers the question.\n\n"
            f"Tables:\n{EXAMPLE_SCHEMA}\n\n{shots}\n\n")
    static = static_tables(schema)
    return head + static + "\n" if static else head


def static_tables(schema: Schema) -> str:
    """The whole schema's text for the static head (with example values where they fit), or "" when even
    without them it is too long, and the tail carries the question's linked tables instead."""
    if not schema_in_head(schema):
        return ""
    return tables_text(schema, [t.name for t in schema.tables], max_chars=STATIC_SCHEMA_CHARS + JOINS_CHARS)


def schema_in_head(schema: Schema) -> bool:
    return len(schema.describe(samples=False)) <= STATIC_SCHEMA_CHARS


def tables_text(schema: Schema, tables: list[str], columns: dict | None = None,
                max_chars: int = MAX_SCHEMA_CHARS) -> str:
    """The tables and their joins, within `max_chars`: with example values if they fit, else without, else
    only the question's columns and the keys, else the first tables only (the most relevant come first)."""
    tables = list(tables)
    while True:
        for text in (schema.describe(tables), schema.describe(tables, samples=False),
                     schema.describe(tables, columns or {}, samples=False)):
            if len(text) <= max_chars:
                break
        joins = [clause for names, clause in join_plans(tables, schema) if len(names) == 2][:12]
        full = f"Tables:\n{text}" + ("\nJoins: " + "; ".join(joins) if joins else "")
        if len(full) <= max_chars or len(tables) == 1:
            return full[:max_chars]
        tables = tables[:-1]


def prompt_tail(question: str, linked: Link, schema: Schema) -> str:
    """The question-dependent end: linked tables (large schemas only), similar examples, hints, question."""
    tail = ""
    if not schema_in_head(schema):
        tail += tables_text(schema, linked.tables, linked.columns) + "\n"
    for q, s in choose_examples(question, TAIL_EXAMPLES) if TAIL_EXAMPLES else []:
        tail += f"\nExample question: {q}\nSQL: {s}\n"
    tail += "".join(f"\nThe question mentions {t}.{c} = '{v}'." for t, c, v in linked.values)
    return tail + f"\nQuestion: {' '.join(question.split())}\nSQL: "

