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
    """A Python value for a builtin attribute: str, bool, int, float, list, dict; else its text."""
    for cls in (ir.StringAttr, ir.BoolAttr, ir.IntegerAttr, ir.FloatAttr):
        typed = _cast(cls, attr)
        if typed is not None:
            return typed.value
    for cls in (ir.DenseI64ArrayAttr, ir.ArrayAttr):
        typed = _cast(cls, attr)
        if typed is not None:
            return [decode_attr(a) if isinstance(a, ir.Attribute) else a for a in typed]
    typed = _cast(ir.DictAttr, attr)
    if typed is not None:
        return {na.name: decode_attr(na.attr) for na in typed}
    return str(attr)


def decode_attrs(op: ir.Operation | ir.OpView) -> dict[str, Any]:
    """Every attribute of `op`, decoded (name -> Python value)."""
    op = op.operation
    return {na.name: decode_attr(na.attr) for na in op.attributes}


def shape_of(value_or_type) -> list[int]:
    t = value_or_type.type if isinstance(value_or_type, ir.Value) else value_or_type
    return list(ir.ShapedType(t).shape)
