"""How result values are shown to a person: numbers rounded for reading, the values themselves untouched.

Shared by the CLI table, the web page and the summary so a number reads the same everywhere. Integers stay
as they are (ids and years must not gain separators); a float that holds a whole number loses its ".0";
other floats keep two decimals, or three significant digits when smaller than 1 (0.00123 stays visible),
with trailing zeros dropped.
"""
from __future__ import annotations


def display_value(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool) or not isinstance(v, float):
        return str(v)
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    text = f"{v:.2f}" if abs(v) >= 1 else f"{v:.3g}" if abs(v) >= 1e-4 else f"{v:.2e}"
    if "e" not in text and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def display_rows(rows) -> list[list[str]]:
    return [[display_value(v) for v in r] for r in rows]
