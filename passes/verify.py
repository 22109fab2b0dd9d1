"""gir-verify: shape and type rules of GIR ops that IRDL cannot express (run by gir-opt after parsing)."""
from __future__ import annotations

from torch_mlir import ir

from girflow.dialects.gir import BINARY, UNARY
from girflow.passes.ir_utils import collect_ops
from girflow.passes.ir_utils import shape_of as _shape
from girflow.passes.registry import PassError, gir_pass


def _check(op: ir.Operation) -> None:
    name = op.name[len("gir."):]
    if name in UNARY or name in BINARY or name in ("fma", "select"):
        return  # same-type operands/results are enforced by the IRDL constraint variables
    if name == "reduce":
        src, dst = _shape(op.operands[0]), _shape(op.results[0])
        axis = ir.IntegerAttr(op.attributes["axis"]).value
        if not -len(src) <= axis < len(src):
            raise PassError(f"reduction axis {axis} is out of range for rank {len(src)}", op)
        axis %= len(src)
        keep = src[:axis] + [1] + src[axis + 1:]
        drop = src[:axis] + src[axis + 1:]
        if dst not in (keep, drop):
            raise PassError(f"reduce along axis {axis} of {src} must give {keep} or {drop}, not {dst}", op)
    elif name == "broadcast":
        src, dst = _shape(op.operands[0]), _shape(op.results[0])
        if len(src) != len(dst) or any(s not in (1, d) for s, d in zip(src, dst)):
            raise PassError(f"cannot broadcast {src} to {dst}: ranks must match and each dim be 1 or equal", op)
    elif name == "transpose":
        src, dst = _shape(op.operands[0]), _shape(op.results[0])
        perm = list(ir.DenseI64ArrayAttr(op.attributes["permutation"]))
        if sorted(perm) != list(range(len(src))):
            raise PassError(f"permutation {perm} is not a permutation of 0..{len(src) - 1}", op)
        if [src[p] for p in perm] != dst:
            raise PassError(f"transpose of {src} by {perm} gives {[src[p] for p in perm]}, not {dst}", op)
    elif name == "cmp":
        if _shape(op.operands[0]) != _shape(op.results[0]):
            raise PassError("cmp result must have the operand shape", op)
    elif name == "alloc":
        from girflow.passes.memory import check_alloc
        check_alloc(op)


@gir_pass("gir-verify", "check GIR shape rules and memory-level capacities against the target")
def verify(module: ir.Operation, options: dict) -> None:
    errors = []
    for op in collect_ops(module, "gir."):
        try:
            _check(op)
        except PassError as e:
            errors.append(e)
    if errors:
        for e in errors[1:]:
            e.op.location.emit_error(str(e))
        raise errors[0]
