"""Measure words that name a numeric column by what it measures, not by its name: "how much were they
charged", "what did it cost", "how much did sales take in" ask for money; "how much does it weigh" for a
weight; "how long did it take/last" for a duration; "how far" for a distance. The kind of a column is read
from its name's words (an amount, price, fee, `salary_usd`; `weight_kg`; `duration_min`; `distance_km`).

General English, written once: the verbs and the unit words of four kinds of quantity."""
from __future__ import annotations

import re

from .names import split_identifier

SPOKEN = {  # how a question asks for a quantity of each kind
    "money": r"\b(?:pa(?:y|ys|id|ying)|charg(?:e|es|ed|ing)|cost(?:s|ing)?|sp(?:end|ends|ent)|earn(?:s|ed|ing)?|"
             r"(?:take|takes|took|taken|bring|brings|brought) in|owe[sd]?|bill(?:s|ed)?|worth|revenue|income|"
             r"how much money)\b",
    "weight": r"\b(?:weigh(?:s|ed|ing)?|how heavy)\b",
    "duration": r"\b(?:how long (?:did|does|do|was|were|is|are|will)\b.*\b(?:take|last|run|stay|wait)\w*|"
                r"(?:took|lasted|last|lasts) (?:on average|longest|the longest|in total)|how many (?:minutes|hours|"
                r"seconds|days))\b",
    "distance": r"\b(?:how far|travel(?:l)?ed|distance)\b",
}
UNITS = {  # the words of a column's name that say its kind
    "money": {"price", "cost", "amount", "fee", "fare", "salary", "wage", "pay", "paid", "payment", "charge",
              "revenue", "sales", "income", "budget", "balance", "usd", "eur", "gbp", "dollars", "money", "spend",
              "spent", "worth"},
    "weight": {"weight", "kg", "kgs", "lb", "lbs", "grams", "mass", "wt", "tons", "tonnes"},
    "duration": {"duration", "minutes", "min", "mins", "hours", "hrs", "seconds", "secs", "sec", "days", "length",
                 "runtime", "elapsed"},
    "distance": {"distance", "km", "miles", "mi", "meters", "metres", "length", "range"},
}


def asked_kinds(question: str) -> set[str]:
    """The kinds of quantity the question's verbs ask for."""
    q = question.lower()
    return {kind for kind, pattern in SPOKEN.items() if re.search(pattern, q)}


def column_kinds(name: str) -> set[str]:
    """The kinds of quantity a column's name says it holds (`salary_usd` -> money, `weight_kg` -> weight)."""
    parts = set(split_identifier(name))
    return {kind for kind, units in UNITS.items() if parts & units}


def measured(question: str, columns: list[tuple[str, str]]) -> list[str]:
    """Of (qualified name, column name) pairs, those whose kind the question's verbs ask for; [] if none fit."""
    kinds = asked_kinds(question)
    return [q for q, name in columns if kinds & column_kinds(name)] if kinds else []
