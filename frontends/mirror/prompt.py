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

STATIC_SCHEMA_CHARS = 2500  # larger schemas go into the tail, linked tables only
# The tail's schema text: about 2 characters a token at worst (identifiers), so this stays far inside an 8k
# context together with the head, the question and the answer.
MAX_SCHEMA_CHARS = 6000
TAIL_EXAMPLES = 0


def prompt_prefix(schema: Schema) -> str:
    """The question-independent head of every prompt for this database."""
    shots = "\n\n".join(example_text(q, s) for q, s in EXAMPLES)
    head = ("Write one SQLite SELECT query that answers the question.\n\n"
            f"Tables:\n{EXAMPLE_SCHEMA}\n\n{shots}\n\n")
    if len(schema.describe()) <= STATIC_SCHEMA_CHARS:
        head += tables_text(schema, [t.name for t in schema.tables]) + "\n"
    return head


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
    if len(schema.describe()) > STATIC_SCHEMA_CHARS:
        tail += tables_text(schema, linked.tables, linked.columns) + "\n"
    for q, s in choose_examples(question, TAIL_EXAMPLES) if TAIL_EXAMPLES else []:
        tail += f"\nExample question: {q}\nSQL: {s}\n"
    tail += "".join(f"\nThe question mentions {t}.{c} = '{v}'." for t, c, v in linked.values)
    return tail + f"\nQuestion: {' '.join(question.split())}\nSQL: "

