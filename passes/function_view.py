"""The plain-Python view of a tensor-level GIR function shared by every target's code generator:
op kinds, value names, shapes, dtypes and attributes (value-numbered), and the sweep level of each value."""
from __future__ import annotations

import dataclasses

from torch_mlir import ir

from girflow.dialects.ops import decode_attrs
from girflow.passes.dataflow import gir_functions
from girflow.passes.ir_utils import collect_ops, shape_of, str_attr
from girflow.passes.registry import PassError


@dataclasses.dataclass
class GOp:
    kind: str
    result: str
    operands: list
    shape: tuple
    dtype: str
    attrs: dict


@dataclasses.dataclass
class GProgram:
    name: str
    form: str
    view: tuple
    args: list        # (name, shape, dtype)
    ops: list         # GOp in program order
    outputs: list     # (value name, shape, dtype)


def gir_funcs(module) -> list:
    """Tensor-level GIR functions: those with GIR ops, or a `gir.form` (an identity has no ops)."""
    found = gir_functions(module)
    for f in collect_ops(module, "func.func"):
        if "gir.form" in f.attributes and f not in found:
            found.append(f)
    return found


def _dtype(t) -> str:
    s = str(t)
    return s.rsplit("x", 1)[-1].rstrip(">") if "tensor" in s else s


def extract(func: ir.Operation) -> GProgram:
    """A plain-Python view of a tensor-level GIR function (op kinds, value names, shapes, dtypes)."""
    form = str_attr(func, "gir.form", "row")
    body = func.regions[0].blocks[0]
    args = [(a.get_name(), tuple(shape_of(a)), _dtype(a.type)) for a in body.arguments]
    ops, outputs = [], []
    seen: dict = {}
    same: dict = {}
    for op in body.operations:
        op = op.operation
        if op.name in ("func.return", "return"):
            outputs = [(same.get(v.get_name(), v.get_name()), tuple(shape_of(v)), _dtype(v.type))
                       for v in op.operands]
            continue
        if not op.name.startswith("gir."):
            raise PassError(f"unexpected op '{op.name}' in a GIR function", op)
        attrs = decode_attrs(op, scalars_only=True)
        r = op.results[0]
        g = GOp(op.name[4:], r.get_name(), [same.get(v.get_name(), v.get_name()) for v in op.operands],
                tuple(shape_of(r)), _dtype(r.type), attrs)
        # value numbering: GIR ops are pure, so a repeated (op, operands, attributes) is the same value
        key = (g.kind, tuple(g.operands), tuple(sorted(attrs.items())), g.shape, g.dtype)
        if key in seen:
            same[g.result] = seen[key]
            continue
        seen[key] = g.result
        ops.append(g)
    full: tuple | None = None
    for _, s, _ in args:
        full = s if full is None else tuple(max(x, y) for x, y in zip(full, s))
    if full is None:
        raise PassError("a GIR function needs at least one tensor argument", func)
    return GProgram(func.attributes["sym_name"].value if "sym_name" in func.attributes else "kernel",
                    form, tuple(full), args, ops, outputs)


def levels(prog: GProgram) -> tuple[dict, dict]:
    """value -> sweep level at which it is available; value -> depends on the reduced (inner) axis."""
    level, inner = {}, {}
    for name, shape, _ in prog.args:
        level[name] = 0
        inner[name] = len(shape) > 1 and shape[1] == prog.view[1]
    for op in prog.ops:
        ins = op.operands
        lv = max((level[v] for v in ins), default=0)
        if op.kind == "reduce":
            level[op.result], inner[op.result] = lv + 1, False
        elif op.kind == "splat":
            level[op.result], inner[op.result] = 0, False
        else:
            level[op.result] = lv
            inner[op.result] = any(inner[v] for v in ins)
    return level, inner
