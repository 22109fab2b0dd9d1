"""Small graph queries and edits on the ops of a tensor-level GIR function (one block)."""
from __future__ import annotations

from typing import Any

from torch_mlir import ir


def op_of(value: ir.Value) -> Any:
    """The op defining `value`, or None for a block argument (`kind(None)` is "": matchers chain)."""
    owner = value.owner
    if isinstance(owner, ir.Block):
        return None
    return owner.operation if hasattr(owner, "operation") else owner


def users(value: ir.Value) -> list:
    return [u.owner.operation if hasattr(u.owner, "operation") else u.owner for u in value.uses]


def kind(op) -> str:
    """`exp` for gir.exp, `reduce:max` for a max reduction, the op name otherwise."""
    if op is None:
        return ""
    name = op.name
    if name == "gir.reduce":
        return "reduce:" + ir.StringAttr(op.attributes["kind"]).value
    return name[4:] if name.startswith("gir.") else name


def gir_ops(func) -> list:
    return [o.operation for o in func.regions[0].blocks[0].operations if o.operation.name.startswith("gir.")]


def erase_dead(func) -> int:
    """Erase GIR ops (all pure) whose results nobody uses; returns how many went."""
    erased = 0
    changed = True
    while changed:
        changed = False
        for op in reversed(gir_ops(func)):
            if all(not list(r.uses) for r in op.results):
                op.erase()
                erased += 1
                changed = True
    return erased
