"""Typed pass options, declared as a dataclass (as xDSL's `ModulePass` does).

    @dataclasses.dataclass
    class MathApproxOptions:
        ops: tuple[str, ...] = option(("exp", "log"), "which math ops to replace")
        seed: int = option(0, "random seed")

`parse_options(Options, "ops=exp,log seed=3")` -> MathApproxOptions(ops=("exp", "log"), seed=3).
Options are separated by spaces (or by commas before another `name=`); a list option takes `a,b`.
Supported field types: str, int, float, bool, `X | None`, `tuple[X, ...]` and `Literal[...]` choices.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, get_args, get_origin

_HELP = "gir.help"


def option(default: Any, help: str) -> Any:  # noqa: A002 - the natural name for a help text
    """A dataclass field with a default and a help line (shown by `gir-opt --list-passes`)."""
    return dataclasses.field(default=default, metadata={_HELP: help})


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """The options of a pass that takes none."""


def _split_items(text: str) -> list[tuple[str, str]]:
    """`a=1 b=x,y,c=2 flag` -> [(a, 1), (b, "x,y"), (c, 2), (flag, "true")]."""
    items: list[list[str]] = []
    for token in text.replace("\t", " ").split():
        for i, piece in enumerate(p for p in token.split(",") if p):
            if i > 0 and "=" not in piece:      # a further element of the previous list value
                items[-1][1] += "," + piece.strip("\"'")
                continue
            key, eq, value = piece.partition("=")
            items.append([key.strip().replace("-", "_"), value.strip().strip("\"'") if eq else "true"])
    return [(k, v) for k, v in items]


def _convert(name: str, text: str, hint: Any) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return None if text.lower() in ("none", "") else _convert(name, text, inner[0])
    if origin is Literal:
        if text not in args:
            raise ValueError(f"option '{name}' must be one of {', '.join(map(str, args))}; got '{text}'")
        return text
    if origin is tuple:
        return tuple(_convert(name, part, args[0]) for part in text.split(",") if part)
    if hint is bool:
        if text.lower() not in ("1", "0", "true", "false"):
            raise ValueError(f"option '{name}' takes true or false; got '{text}'")
        return text.lower() in ("1", "true")
    try:
        return hint(text)
    except ValueError as e:
        raise ValueError(f"{e} (option '{name}' takes a value of type {hint.__name__})") from None


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def parse_options(cls: type, text: str, pass_name: str = "pass") -> Any:
    """An instance of the options dataclass `cls` from `name=value` text; raises ValueError naming
    unknown options or bad values."""
    hints = _hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    values, unknown = {}, []
    for key, value in _split_items(text):
        if key not in fields:
            unknown.append(key)
            continue
        try:
            values[key] = _convert(key, value, hints[key])
        except ValueError as e:
            raise ValueError(f"{pass_name}: {e}") from None
    if unknown:
        raise ValueError(f"pass '{pass_name}' has no option(s) {sorted(unknown)}; "
                         f"known: {sorted(fields) or 'none'}")
    return cls(**values)


def _type_name(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return "|".join(map(str, args))
    if origin is tuple:
        return f"{_type_name(args[0])},..."
    if origin in (typing.Union, types.UnionType):
        return _type_name(next(a for a in args if a is not type(None)))
    return getattr(hint, "__name__", str(hint))


def describe(cls: type) -> list[tuple[str, str, str]]:
    """(name, type and default, help) per option, for --help and --list-passes."""
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        out.append((f.name, f"{_type_name(hints[f.name])} = {shown}", f.metadata.get(_HELP, "")))
    return out
