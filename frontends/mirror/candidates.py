"""Stage 3b, candidates: the queries the question's grammar allows, enumerated, scored by the model's
likelihood, run, and chosen by agreement among those that run.

A greedy constrained decode commits to one token at a time, so an early slip (a column that reads well
but holds nothing) cannot be undone. The grammar built from the question is small enough to list the
queries it allows; each is scored as a whole by the model (teacher-forced log-likelihood), and execution
then decides among the likeliest: a query that fails, or returns nothing where the question asks for
something, is dropped; the result shared by the most likelihood mass wins (execution-result voting).
"""
from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .grammar_text import parse_grammar

MAX_CANDIDATES = 48  # enumerated queries kept (grammars with more are sampled evenly)
MAX_SCORED = 12  # a grammar allowing more queries than this is left to the greedy decode (latency)
MAX_RANKED = 1000  # a larger grammar's queries, listed for the beam search over their token trie (beam.py)
MAX_PER_RULE = 400  # strings a single rule may expand to before the rest is cut


def enumerate_language(grammar: str, numbers: Sequence[str] = (), start: str = "start",
                       limit: int = MAX_CANDIDATES, per_rule: int = MAX_PER_RULE) -> list[str]:
    """The strings the grammar allows, at most `limit` of them, spread evenly over the full list when
    there are more. A free-form number (a regex) takes the question's numbers, or no value at all."""
    rules = parse_grammar(grammar)
    memo: dict[str, list[str]] = {}

    def expand(e, depth=0) -> list[str]:
        kind = e[0]
        if kind == "lit":
            return [e[1]]
        if kind == "re":
            return [n for n in numbers if re.fullmatch(e[1], n)]
        if kind == "ref":
            name = e[1]
            if name not in memo:
                if depth > 40 or name not in rules:
                    return []
                memo[name] = []  # a rule that reaches itself enumerates without the loop
                memo[name] = expand(rules[name], depth + 1)
            return memo[name]
        if kind == "opt":
            return [""] + expand(e[1], depth)
        if kind == "alt":
            return _interleave([expand(a, depth) for a in e[1]], per_rule)
        parts = [expand(x, depth) for x in e[1]]
        if any(not p for p in parts):
            return []
        return _product(parts, per_rule)

    found = list(dict.fromkeys(s.strip() for s in expand(("ref", start))))
    if len(found) > limit:
        step = len(found) / limit
        found = [found[int(i * step)] for i in range(limit)]
    return found


def _interleave(lists: list[list[str]], cap: int) -> list[str]:
    """Alternatives taken in turn (first of each, then second of each, ...), so a cut keeps every branch."""
    out = []
    for group in itertools.zip_longest(*lists):
        out += [s for s in group if s is not None]
        if len(out) >= cap:
            break
    return out[:cap]


def _product(parts: list[list[str]], cap: int) -> list[str]:
    """Concatenations, the leftmost choices varied first (breadth over every slot before the cut)."""
    out = [""]
    for p in parts:
        out = [a + b for b in p for a in out][: cap] if len(out) * len(p) > cap else [a + b for a in out for b in p]
    return out[:cap]


# -- choosing among candidates ----------------------------------------------------------------------
@dataclass
class Candidate:
    sql: str
    score: float = -math.inf  # mean log-likelihood per token under the model
    source: str = "grammar"
    error: str | None = None
    rows: list | None = None
    columns: list = field(default_factory=list)

    @property
    def runs(self) -> bool:
        return self.error is None and self.rows is not None


def result_key(rows: list) -> tuple:
    """Results compared as row multisets (order kept apart: ORDER BY decides it, not the vote)."""
    def norm(v):
        return round(v, 6) if isinstance(v, float) else v

    return tuple(sorted((tuple(norm(v) for v in r) for r in rows), key=repr))


def choose(cands: list[Candidate], wants_rows: bool = True, top: int = 8) -> Candidate | None:
    """Among the `top` likeliest candidates that ran (and returned rows when the question asks for some),
    the one whose result carries the most probability mass; ties go to the likeliest. None if none ran."""
    ran = [c for c in cands if c.runs]
    if wants_rows and any(c.rows for c in ran):
        ran = [c for c in ran if c.rows and not all(v is None for r in c.rows for v in r)]
    if not ran:
        return None
    ran.sort(key=lambda c: -c.score)
    ran = ran[:top]
    best = max(c.score for c in ran)
    mass: dict[tuple, float] = {}
    for c in ran:
        k = result_key(c.rows or [])  # every candidate in `ran` ran, so it has rows
        mass[k] = mass.get(k, 0.0) + math.exp(max(-50.0, c.score - best))
    winner = max(mass.values())
    return next(c for c in ran if mass[result_key(c.rows or [])] == winner)
