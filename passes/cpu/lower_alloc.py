"""gir-lower-alloc: `gir.alloc` -> memref allocation for its level on the CPU: "local"/"register" buffers
are per-task stack buffers (memref.alloca); "global" ones are heap buffers (memref.alloc)."""
from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import memref

from girflow.passes.ir_utils import str_attr
from girflow.passes.patterns import apply_patterns, replace
from girflow.passes.registry import PassError, gir_pass

_ALLOC = {"local": "alloca", "register": "alloca", "global": "alloc"}


def _lower_alloc(op, rewriter) -> None:
    level = str_attr(op, "level")
    if level not in _ALLOC:
        raise PassError(f"the cpu has no '{level}' memory level", op)
    mtype = op.results[0].type
    make = memref.AllocaOp if _ALLOC[level] == "alloca" else memref.AllocOp
    replace(rewriter, op, lambda: [make(mtype, [], [], alignment=64).result])


@gir_pass("gir-lower-alloc", "lower gir.alloc to memref.alloca (local/register) or memref.alloc (global)")
def lower_alloc(module: ir.Operation, options) -> None:
    apply_patterns(module, {"gir.alloc": _lower_alloc})
