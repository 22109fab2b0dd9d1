"""Small helpers over the MLIR Python API shared by girflow passes."""
from __future__ import annotations

from typing import Any

from torch_mlir import ir


def collect_ops(root: ir.Operation, prefix: str = "") -> list[ir.Operation]:
    """All ops under `root` (post-order) whose name starts with `prefix`; safe to mutate afterwards."""
    found = []

    def visit(op):
        if op.name.startswith(prefix):
            found.append(op.operation if hasattr(op, "operation") else op)
        return ir.WalkResult.ADVANCE

    root.walk(visit)
    return found


def shape_of(value_or_type) -> list[int]:
    t = value_or_type.type if isinstance(value_or_type, ir.Value) else value_or_type
    try:
        return list(ir.ShapedType(t).shape)
    except (ValueError, TypeError):
        return []


def element_type(value_or_type) -> ir.Type:
    t = value_or_type.type if isinstance(value_or_type, ir.Value) else value_or_type
    try:
        return ir.ShapedType(t).element_type
    except (ValueError, TypeError):
        return t


def str_attr(op: ir.Operation | ir.OpView, name: str, default: Any = None) -> Any:
    """The string attribute `name` of `op` (an attribute the op's definition requires), else `default`."""
    return ir.StringAttr(op.attributes[name]).value if name in op.attributes else default


def int_attr(op: ir.Operation | ir.OpView, name: str, default: Any = None) -> Any:
    """The integer attribute `name` of `op`, else `default`."""
    return ir.IntegerAttr(op.attributes[name]).value if name in op.attributes else default
