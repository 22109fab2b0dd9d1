"""gir-verify: runs each GIR op's shape rule (kept with the op in dialects/gir.py) and checks `gir.alloc`
capacity against the target (run by gir-opt after parsing)."""
from __future__ import annotations

from torch_mlir import ir

from girflow.dialects.gir import AllocOp, ShapeError
from girflow.passes.ir_utils import collect_ops
from girflow.passes.memory import check_alloc
from girflow.passes.registry import PassError, gir_pass


def _check(op: ir.Operation) -> None:
    view = op.opview
    try:
        view.check_shapes()
    except ShapeError as e:
        raise PassError(str(e), op)
    if isinstance(view, AllocOp):
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
        for err in errors[1:]:
            if err.op is not None:
                err.op.location.emit_error(str(err))
        raise errors[0]
