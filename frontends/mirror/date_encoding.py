"""How a column stores its dates, read from the DATA, and the one SQLite expression that turns such a column
into a date SQLite understands. Exports keep dates as epoch seconds (`birth_ts`), epoch milliseconds
(`scored_ms`), integers like 20231105, ISO text with 'T'/'Z', '05/11/2023' text or Julian day numbers; a
question's "in 2023", "per month", "before 1995" must compile to the same condition on every one of them.

The encoding is decided from the column's declared type and its values (the schema's samples of a text
column; the smallest and largest value of a numeric one, probed once through the read-only guard), never from
a list of column names. A name that says time (`ts`, `epoch`, `jd`, `created_at`) only admits the encodings
whose value ranges other measures could also fall in (epoch seconds of any year, Julian days).

The expressions are plain SQLite (`strftime(fmt, x, 'unixepoch')`, `substr`); `engines/translate.py` turns
`strftime(fmt, x, 'unixepoch')` into PostgreSQL's and DuckDB's timestamp of `x` seconds in UTC."""
from __future__ import annotations

import re

from .column_facts import facts_of
from .names import split_identifier

ISO = "iso"  # '2023-11-05', '2023-11-05T08:15:00Z', '2023-11-05 08:15:00+02:00': SQLite reads it as it is
EPOCH_S = "epoch_s"
EPOCH_MS = "epoch_ms"
YMD_NUMBER = "ymd_number"  # 20231105, as an integer or as digit text
DMY_TEXT = "dmy_text"  # '05/11/2023' (also '05.11.2023', '05-11-2023'): day first
MDY_TEXT = "mdy_text"  # '11/05/2023': month first
JULIAN = "julian"  # 2460254.5: SQLite's own numeric date

_ISO = re.compile(r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)?(?:Z|[+-]\d\d:?\d\d)?")
_SLASHED = re.compile(r"(\d\d)([/.-])(\d\d)\2(\d{4})(?:[T ].*)?")
_YMD = re.compile(r"(1[89]|20|21)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")
TIME_NAME_PARTS = frozenset({"date", "time", "timestamp", "ts", "epoch", "unix", "jd", "julian", "at", "on",
                             "when", "day", "dt", "utc"})
# epoch seconds between 1 Jan 2001 and 2038 are ten-digit numbers few other measures keep in every row;
# any year (1900-2100) needs the column's name to say time
_EPOCH_S_PLAIN = (978_307_200, 2_147_483_647)
_EPOCH_S_NAMED = (-2_208_988_800, 4_102_444_800)
_EPOCH_MS = (946_684_800_000, 4_102_444_800_000)  # 2000-2100 in milliseconds: thirteen digits
_JULIAN = (2_415_020.5, 2_488_069.5)  # 1900-2100


def names_time(name: str) -> bool:
    """The column's name says it holds a moment (`birth_ts`, `createdAt`, `sold_jd`, `signed_on`)."""
    return bool(TIME_NAME_PARTS & set(split_identifier(name))) or bool(re.search(r"date|time", name, re.I))


def encoding_from_values(values: list, numeric: bool, named_time: bool) -> str | None:
    """The one encoding every non-NULL value fits, or None (not dates, or mixed)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    texts = [v.strip() for v in values if isinstance(v, str)]
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if texts and len(texts) == len(values):
        if all(_ISO.fullmatch(t) for t in texts):
            return ISO
        if all(_YMD.fullmatch(t) for t in texts):
            return YMD_NUMBER
        slashed = [_SLASHED.fullmatch(t) for t in texts]
        if all(slashed):
            first = max(int(m.group(1)) for m in slashed if m)
            second = max(int(m.group(3)) for m in slashed if m)
            if first > 31 or second > 31 or (first > 12 and second > 12):
                return None
            return MDY_TEXT if second > 12 else DMY_TEXT  # day-first unless the data says otherwise
        return None
    if len(numbers) != len(values):
        return None
    if all(float(v).is_integer() and _YMD.fullmatch(str(int(v))) for v in numbers):
        return YMD_NUMBER
    if all(float(v).is_integer() for v in numbers):
        if all(_EPOCH_MS[0] <= v <= _EPOCH_MS[1] for v in numbers):
            return EPOCH_MS
        lo, hi = _EPOCH_S_NAMED if named_time else _EPOCH_S_PLAIN
        if all(lo <= v <= hi for v in numbers) and (named_time or not numeric or all(v >= 1e9 for v in numbers)):
            return EPOCH_S
    if named_time and all(_JULIAN[0] <= v <= _JULIAN[1] for v in numbers):
        return JULIAN
    return None


def column_encoding(schema, table: str, column) -> str | None:
    """How `column` of `table` stores dates, or None when it does not hold dates. Text columns are read from
    their samples; numeric ones from their smallest and largest values (column facts), and, for day/month
    order, from the largest first and second part (one aggregate, cached with the facts)."""
    named = names_time(column.name)
    if column.samples and all(isinstance(v, str) for v in column.samples):
        enc = encoding_from_values(list(column.samples), False, named)
        if enc in (DMY_TEXT, MDY_TEXT):
            enc = _day_order(schema, table, column.name) or enc
        return enc
    if not (column.is_numeric or re.search(r"DATE|TIME", column.type.upper()) or not column.samples):
        return None
    facts = facts_of(schema, table, column.name)
    if facts is None or facts.low is None:
        return ISO if re.search(r"DATE|TIME", column.type.upper()) else None
    enc = encoding_from_values([facts.low, facts.high] + list(facts.values), column.is_numeric, named)
    if enc in (DMY_TEXT, MDY_TEXT):
        enc = _day_order(schema, table, column.name) or enc
    return enc


def _day_order(schema, table: str, column: str) -> str | None:
    """'05/11/2023' or '11/05/2023': the part that exceeds 12 somewhere in the column is the day."""
    probe = getattr(schema, "column_facts", None)
    if probe is None:
        return None
    first, second = probe.aggregate(table, column, "MAX(CAST(substr({c}, 1, 2) AS INTEGER)), "
                                                   "MAX(CAST(substr({c}, 4, 2) AS INTEGER))") or (None, None)
    if first is None or second is None:
        return None
    return MDY_TEXT if int(second) > 12 >= int(first) else DMY_TEXT


def as_date(expr: str, encoding: str | None) -> tuple[str, ...]:
    """The arguments that make SQLite's date functions read `expr` stored in `encoding`: `strftime(fmt, *args)`."""
    if encoding == EPOCH_S:
        return (expr, "'unixepoch'")
    if encoding == EPOCH_MS:
        return (f"{expr} / 1000", "'unixepoch'")
    if encoding == YMD_NUMBER:  # as text first: other engines take no substring of a number
        text = f"CAST({expr} AS TEXT)"
        return (f"substr({text}, 1, 4) || '-' || substr({text}, 5, 2) || '-' || substr({text}, 7, 2)",)
    if encoding == DMY_TEXT:
        return (f"substr({expr}, 7, 4) || '-' || substr({expr}, 4, 2) || '-' || substr({expr}, 1, 2)",)
    if encoding == MDY_TEXT:
        return (f"substr({expr}, 7, 4) || '-' || substr({expr}, 1, 2) || '-' || substr({expr}, 4, 2)",)
    if encoding == JULIAN:  # SQLite reads Julian days natively; as seconds since 1970 every engine does
        return (f"({expr} - 2440587.5) * 86400", "'unixepoch'")
    return (expr,)  # ISO text


def date_part(fmt: str, expr: str, encoding: str | None) -> str:
    """`strftime('%Y', <expr as a date>)`: a year, month or day of a column in any encoding, as SQLite text."""
    return f"strftime('{fmt}', {', '.join(as_date(expr, encoding))})"
