"""Capacity checks of `gir.alloc` buffers against the memory levels of the function's target."""
from __future__ import annotations

from torch_mlir import ir

from girflow.dialects import targets
from girflow.passes.ir_utils import element_type, shape_of, str_attr
from girflow.passes.registry import PassError


def byte_size(t: ir.Type) -> int:
    n = 1
    for d in shape_of(t):
        if d < 0:
            raise ValueError("dynamic shape")
        n *= d
    et = element_type(t)
    bits = ir.FloatType(et).width if isinstance(et, ir.FloatType) else ir.IntegerType(et).width
    return n * max(bits, 8) // 8


def target_of(op: ir.Operation) -> str:
    """The `gir.target` of the enclosing func (default: cpu)."""
    cur = op
    while cur is not None:
        if "gir.target" in cur.attributes:
            return ir.StringAttr(cur.attributes["gir.target"]).value
        parent = cur.parent
        cur = parent.operation if parent is not None and hasattr(parent, "operation") else parent
    return "cpu"


def check_alloc(op: ir.Operation) -> None:
    level = str_attr(op, "level")
    try:
        desc = targets.get(target_of(op))
        cap = targets.capacity(desc, level)
    except ValueError as e:
        raise PassError(str(e), op)
    try:
        size = byte_size(op.results[0].type)
    except ValueError:
        raise PassError(f"gir.alloc at level '{level}' needs a static shape", op)
    if cap is not None and size > cap:
        raise PassError(f"buffer of {size} bytes does not fit memory level '{level}' of target "
                        f"'{desc['name']}' (capacity {cap} bytes)", op)
