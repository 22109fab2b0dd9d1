"""Helpers shared by the girflow dialects defined with `torch_mlir.dialects.ext` (ops as Python
classes, emitted as IRDL): enum attribute constraints, the dense-array constraint, and the one
attribute decoder every pass and target uses.

This module must not use `from __future__ import annotations`: ext reads the op classes'
annotations as live objects.
"""
import functools
import operator
from typing import Any

from torch_mlir import ir


def enum(*values: str) -> Any:
    """An attribute constraint: a string attribute equal to one of `values` (IRDL `any_of(is ...)`)."""
    return functools.reduce(operator.or_, (ir.StringAttr[v] for v in values))


class DenseArrayAttr(ir.DenseI64ArrayAttr):
    """The `#builtin.dense_array` base constraint (the bindings' class names no IRDL base)."""

    attr_name = "builtin.dense_array"


def _cast(cls, attr):
    try:
        return cls(attr)
    except (ValueError, TypeError):
        return None


def decode_attr(attr: ir.Attribute) -> Any:
    """A Python value for an attribute: str, int (bools too), float, list of ints; else its text."""
    for cls in (ir.StringAttr, ir.IntegerAttr, ir.FloatAttr):
        typed = _cast(cls, attr)
        if typed is not None:
            return typed.value
    dense = _cast(ir.DenseI64ArrayAttr, attr)
    return list(dense) if dense is not None else str(attr)


def decode_attrs(op: ir.Operation | ir.OpView, scalars_only: bool = False) -> dict[str, Any]:
    """Every attribute of `op`, decoded (name -> Python value); `scalars_only` keeps str/int/float ones."""
    attributes = op.operation.attributes
    names = [a if isinstance(a, str) else a.name for a in attributes]   # bindings differ by version
    out = {k: decode_attr(attributes[k]) for k in names}
    if scalars_only:
        out = {k: v for k, v in out.items() if not isinstance(v, list) and not _is_text_of(v, op, k)}
    return out


def _is_text_of(value: Any, op, key: str) -> bool:
    """Whether `value` is only the printed form of a non-scalar attribute (not a string attribute)."""
    return isinstance(value, str) and _cast(ir.StringAttr, op.operation.attributes[key]) is None


def shape_of(value_or_type) -> list[int]:
    t = value_or_type.type if isinstance(value_or_type, ir.Value) else value_or_type
    return list(ir.ShapedType(t).shape)
