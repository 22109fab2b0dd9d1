"""The grammar text grammar.py writes (a lark subset: rules of alternatives, sequences, literals, `?`, and
small regexes), read back into a tree: candidates.py enumerates its language, and endpoints that take a
llama.cpp GBNF grammar get it in that syntax.
"""
from __future__ import annotations

import json
import re

_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(/(?:[^/\\]|\\.)+/)|([a-zA-Z_][a-zA-Z0-9_]*)|([()|?*+]))')


def parse_grammar(text: str) -> dict[str, list]:
    """Rules of `name: alt | alt` lines into expression trees: ("alt", [...]), ("seq", [...]),
    ("lit", s), ("re", pattern), ("ref", name), ("opt", e)."""
    rules = {}
    for line in text.splitlines():
        if not line.strip() or ":" not in line:
            continue
        name, _, body = line.partition(":")
        toks, pos = [], 0
        while pos < len(body):
            m = _TOKEN.match(body, pos)
            if not m or m.end() == pos:
                if body[pos:].strip():
                    raise ValueError(f"grammar line not understood: {line!r}")
                break
            pos = m.end()
            s, r, n, p = m.groups()
            toks.append(("lit", json.loads(s)) if s else ("re", r[1:-1]) if r else ("ref", n) if n else ("p", p))
        rules[name.strip()] = _parse_alt(toks, [0])
    return rules


def _parse_alt(toks, i):
    alts = [_parse_seq(toks, i)]
    while i[0] < len(toks) and toks[i[0]] == ("p", "|"):
        i[0] += 1
        alts.append(_parse_seq(toks, i))
    return alts[0] if len(alts) == 1 else ("alt", alts)


def _parse_seq(toks, i):
    items = []
    while i[0] < len(toks) and toks[i[0]] not in (("p", "|"), ("p", ")")):
        tok = toks[i[0]]
        i[0] += 1
        if tok == ("p", "("):
            item = _parse_alt(toks, i)
            i[0] += 1  # ")"
        else:
            item = tok
        while i[0] < len(toks) and toks[i[0]] in (("p", "?"), ("p", "*"), ("p", "+")):
            op = toks[i[0]][1]
            i[0] += 1
            item = ("opt", item) if op in "?*" else item  # repeats enumerate as a single occurrence
        items.append(item)
    return items[0] if len(items) == 1 else ("seq", items)



GBNF_REGEX = re.compile(r"(?:\[[^\]\\]+\](?:\{\d+(?:,\d+)?\}|[?*+])?)+")


def to_gbnf(text: str) -> str:
    """The same grammar in llama.cpp's GBNF (root rule `root`, names without underscores)."""
    rules = parse_grammar(text)

    def name(n):
        return "root" if n == "start" else "r-" + n.replace("_", "-")

    def out(e) -> str:
        kind = e[0]
        if kind == "lit":
            return json.dumps(e[1])
        if kind == "re":
            if not GBNF_REGEX.fullmatch(e[1]):
                raise ValueError(f"regex not expressible in GBNF: {e[1]}")
            return e[1]
        if kind == "ref":
            return name(e[1])
        if kind == "opt":
            return f"({out(e[1])})?"
        if kind == "alt":
            return "(" + " | ".join(out(a) for a in e[1]) + ")"
        return " ".join(out(x) for x in e[1])

    return "\n".join(f"{name(n)} ::= {out(e)}" for n, e in rules.items()) + "\n"
