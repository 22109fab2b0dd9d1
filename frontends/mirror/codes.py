"""Short codes the data keeps for what a question says in words: 'SWE' for "Swedish", 'FIN' for "Finnish",
'F' for "female referees", 'P' for "pending review", 'LW' for "left wing". Found from the data, not from a
dictionary: a code column is a text column of few distinct values, each a short upper-case code (or at most
two letters); a question word abbreviates a code when the code is the word's first letters, or the initials
of two consecutive words; where the question names the code column's table, also the initials of a compound
word's halves ('OT' of "overtime") or a consonant skeleton ('DLY' of "delayed").

A code of three or more letters is specific enough to stand for the word anywhere in the question. A code
of one or two letters abbreviates too many words ('P' of "played"), so it counts only where the question
puts the word right before the name of the code column or of its table ("female referees", "pending
review"), or states it of the table's rows after "is/are/was/were" ("how many referees are female"). A word that is itself a table's or column's name, or already a value, is not read as a code."""
from __future__ import annotations

from .names import STOPWORDS, is_abbreviation, name_words, stem, words
from .schema import ForeignKey
from .shape import NUMBER_WORDS

MAX_CODE_VALUES = 30  # distinct values of a code column
MAX_CODE_CHARS = 4
SPECIFIC = 3  # letters from which a code stands for its word anywhere
COPULAS = frozenset({"is", "are", "was", "were", "be", "been"})
FEW_LETTERS = 8  # a column of more single letters than this holds marks, not abbreviations


def code_columns(schema, index) -> dict[tuple[str, str], list[str]]:
    """(table, column) -> its codes, for every code column of the value index; computed once per schema."""
    cached = getattr(schema, "code_columns", None)
    if cached is not None:
        return cached
    out: dict[tuple[str, str], list[str]] = {}
    for (t, c), n in index.distinct.items():
        if not 2 <= n <= MAX_CODE_VALUES:
            continue
        values = [v for (v,) in index.con.execute("SELECT value FROM vals WHERE tbl = ? AND col = ?", (t, c))]
        if len(values) >= 2 and all(is_code(v) for v in values):
            out[(t, c)] = values
    schema.code_columns = out
    return out


def is_code(value: str) -> bool:
    """'SWE', 'G', 'OT', 'P', 'f': an abbreviation kept as data, not a word ('knee', 'Open')."""
    v = value.strip()
    return 0 < len(v) <= MAX_CODE_CHARS and v.isalpha() and (v.isupper() or len(v) <= 2)


def abbreviates(code: str, spoken: list[str]) -> bool:
    """`code` is the first letters of the one word spoken, or the initials of the two ('LW' of "left wing")."""
    code = code.lower()
    if len(spoken) == 1:
        return len(spoken[0]) > len(code) and spoken[0].startswith(code)
    return len(spoken) == len(code) and all(w[0] == ch for w, ch in zip(spoken, code))


def compound_initials(code: str, word: str) -> bool:
    """'OT' of "overtime", 'SO' of "shootout": a two-letter code whose letters begin the two halves of a
    compound word, each half at least three letters long."""
    code, word = code.lower(), word.lower()
    return len(code) == 2 and word[0] == code[0] and any(
        word[i] == code[1] for i in range(3, len(word) - 2))


def coded_values(question: str, schema, index, taken: set[int], known_words: set[str]) -> list[tuple[str, str, str]]:
    """(table, column, code) for each question word (or pair of words) a code stands for; `taken`: word
    positions already read as values; `known_words`: the schema's name words."""
    columns = code_columns(schema, index)
    if not columns:
        return []
    toks = words(question)
    said = {stem(w) for w in toks}
    found: list[tuple[str, str, str]] = []
    for i in range(len(toks)):
        for n in (2, 1):
            span = toks[i:i + n]
            if len(span) < n or set(range(i, i + n)) & taken or any(
                    w in STOPWORDS or w in NUMBER_WORDS or not w.isalpha() or w in known_words or stem(w) in known_words
                    for w in span):
                continue
            following = stem(toks[i + n]) if i + n < len(toks) else ""
            stated = i > 0 and toks[i - 1] in COPULAS  # "how many referees are female", "which orders were shipped"
            matches = []
            for (t, c), codes in columns.items():
                hits = [v for v in codes if abbreviates(v, span)]
                compound = False
                if not hits and n == 1 and said & set(name_words(t)):  # "games went to overtime": the game table's
                    hits = [v for v in codes if compound_initials(v, span[0]) or len(v) >= SPECIFIC
                            and is_abbreviation(v.lower(), span[0])]  # 'DLY' of "flights delayed"
                    compound = True
                if len(hits) != 1 or len(hits[0]) == 1 and len(codes) > FEW_LETTERS:
                    continue  # no code, or several: the word does not say which; or letters of no meaning
                near = bool(following) and following in (set(name_words(t)) | set(name_words(c))) or (
                    stated and bool(said & set(name_words(t))))
                if len(hits[0]) >= SPECIFIC or near or compound:
                    matches.append((len(hits[0]), near, t, c, hits[0]))
            if not matches:
                continue
            best = max(matches)
            if sum(m[:2] == best[:2] for m in matches) == 1:  # two columns equally fit: neither is sure
                found.append(best[2:])
                taken |= set(range(i, i + n))
                break
    return found


def code_keys(schema) -> list:
    """Joins to a lookup table that the data shows and no FOREIGN KEY declares: a text column whose every
    value ('SWE', 'FIN') is a value of another table's text primary key (`country.code`, beside its
    `name` 'Sweden'), so "players from Sweden" reaches the code through the lookup table. Read from the
    value index (one query per text key), and only for columns of at least two values."""
    index = getattr(schema, "value_index", None)
    if index is None:
        return []
    declared = {(f.table, f.column) for f in schema.foreign_keys} | {
        (f.other_table, f.other_column) for f in schema.foreign_keys}
    found = []
    for t in schema.tables:
        keys = [c for c in t.columns if c.in_key or c.is_pk]
        if len(keys) != 1 or keys[0].is_numeric or (t.name, keys[0].name) in declared:
            continue
        key = keys[0].name
        rows = index.con.execute(
            "SELECT a.tbl, a.col, COUNT(*) FROM vals a JOIN vals b ON a.k = b.k AND a.value = b.value "
            "WHERE b.tbl = ? AND b.col = ? AND a.tbl != ? GROUP BY a.tbl, a.col", (t.name, key, t.name)).fetchall()
        for other, col, shared in rows:
            if shared >= 2 and shared == index.distinct.get((other, col)) and (other, col) not in declared:
                found.append(ForeignKey(other, col, t.name, key))
    return found
