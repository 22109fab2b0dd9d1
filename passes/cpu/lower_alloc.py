"""gir-lower-alloc: `gir.alloc` -> memref allocation for its level on the CPU: "local"/"register" buffers
are per-task stack buffers (memref.alloca); "global" ones are heap buffers (memref.alloc)."""
from __future__ import annotations

from torch_mlir import ir

from girflow.passes.ir_utils import collect_ops, str_attr
from girflow.passes.registry import PassError, gir_pass


@gir_pass("gir-lower-alloc", "lower gir.alloc to memref.alloca (local/register) or memref.alloc (global)")
def lower_alloc(module: ir.Operation, options: dict) -> None:
    from torch_mlir.dialects import memref

    for op in collect_ops(module, "gir.alloc"):
        level = str_attr(op, "level")
        mtype = op.results[0].type
        with ir.InsertionPoint(op), op.location:
            if level in ("local", "register"):
                new = memref.AllocaOp(mtype, [], [], alignment=64)
            elif level == "global":
                new = memref.AllocOp(mtype, [], [], alignment=64)
            else:
                raise PassError(f"the cpu has no '{level}' memory level", op)
        op.results[0].replace_all_uses_with(new.result)
        op.erase()
