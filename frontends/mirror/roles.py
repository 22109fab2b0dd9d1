"""Self-joins: a table whose key points at its own rows (`Employee.ManagerID`, `EMP_MSTR.MGR_EMP_NO`,
`auth_user.referred_by_id`) plays two roles in one question, so it is read twice under two aliases.

"the employees whose manager is Okafor": the employees are the rows asked for (alias `a`) and Okafor is
the row their key points at (alias `b`): `SELECT a.name FROM T AS a JOIN T AS b ON a.mgr = b.id WHERE
b.name = 'Okafor'`. "who is the manager of Hughes": the role is asked for, so the sides swap. The role is
the key's own word ("manager" for `MGR_EMP_NO`, "referred" for `referred_by_id`), matched across naming
styles; the question must say it, and name a value of the table.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .joins import KEY_TAILS, ident
from .names import STOPWORDS, name_words, question_stems, stem, word_match
from .schema import Schema


@dataclass(frozen=True)
class SelfKey:
    table: str
    column: str  # the key naming another row of the same table
    key: str  # the table's own primary key
    roles: tuple[str, ...]  # the words the key adds to the key's name: ("manag",) ...


def self_keys(schema: Schema) -> list[SelfKey]:
    """Declared self-references, and keys named like the table's own key with a role word before it
    (`MGR_EMP_NO` beside `EMP_NO`, `parent_id` / `referred_by_id` beside `id` when no table is so named)."""
    found = []
    table_words = {w for t in schema.tables for w in name_words(t.name)}
    for t in schema.tables:
        pk = next((c for c in t.columns if c.is_pk), None)
        if pk is None:
            continue
        pw = name_words(pk.name)
        declared = {f.column for f in schema.foreign_keys if f.table == t.name and f.other_table == t.name}
        for c in t.columns:
            if c.is_pk or c.is_numeric != pk.is_numeric:
                continue
            cw = name_words(c.name)
            if c.name in declared:
                roles = tuple(w for w in cw if w not in pw and w not in KEY_TAILS and w not in name_words(t.name))
            elif len(pw) >= 2 and pw[-1] in KEY_TAILS and len(cw) > len(pw) and cw[-len(pw):] == pw:
                roles = cw[:-len(pw)]
            elif pk.name.lower() == "id" and len(cw) >= 2 and cw[-1] == "id" and not set(cw[:-1]) & table_words:
                roles = cw[:-1]
            else:
                continue
            roles = tuple(w for w in roles if w not in STOPWORDS and len(w) > 1)
            if roles:
                found.append(SelfKey(t.name, c.name, pk.name, roles))
    return found


def _said_at(question: str, word: str) -> int:
    """Index of the first question word matching `word` (a stem), or -1."""
    for i, w in enumerate(re.findall(r"[a-z0-9]+", question.lower())):
        if word_match(stem(w), word, roots=True) >= 0.8:
            return i
    return -1


def self_join_queries(question: str, schema: Schema, values, head_columns) -> list[str]:
    """The queries reading one table in two roles, or [] when the question does not say a self-key's role
    word and name a value of its table. `values` are the linked (table, column, value) triples;
    `head_columns(table)` gives the columns asked for (unqualified)."""
    q_words = re.findall(r"[a-z0-9]+", question.lower())
    stems = set(question_stems(question))
    out = []
    for k in self_keys(schema):
        role_at = min((i for r in k.roles if (i := _said_at(question, r)) >= 0), default=-1)
        vals = [v for v in values if v[0] == k.table]
        if role_at < 0 or not vals or not any(word_match(r, s, roots=True) >= 0.8 for r in k.roles for s in stems):
            continue
        own = [w for w in name_words(k.table) if len(w) > 1]
        table_at = min((i for i, w in enumerate(q_words) if any(word_match(stem(w), o) >= 0.8 for o in own)),
                       default=len(q_words))
        asked_is_role = role_at < table_at  # "who is the manager of X" vs "employees whose manager is X"
        asked, filtered = ("b", "a") if asked_is_role else ("a", "b")
        cols = head_columns(k.table)
        if not cols:
            continue
        where = " AND ".join(f"{filtered}.{ident(c)} = '" + v.replace("'", "''") + "'" for _, c, v in vals)
        select = ", ".join(f"{asked}.{ident(c)}" for c in cols)
        out.append(f"SELECT {select} FROM {ident(k.table)} AS a JOIN {ident(k.table)} AS b "
                   f"ON a.{ident(k.column)} = b.{ident(k.key)} WHERE {where}")
    return out
