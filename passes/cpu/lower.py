"""gir-lower-cpu: rewrites each scheduled tensor-level GIR function into a CPU kernel.

The kernel takes its inputs and outputs as memrefs (outputs are written in place), keeps the
parallel strategy as an `scf.forall` over tasks with `gir.unit = "core"`, and computes with
vector/arith/math ops; row buffers stay as `gir.alloc {level = "local"}` until gir-lower-alloc.
"""
from __future__ import annotations

from torch_mlir import ir

from girflow.passes.cpu.codegen import KERNELS
from girflow.passes.dataflow import gir_functions
from girflow.passes.kernel_graph import build_graph
from girflow.passes.registry import PassError, gir_pass


def replace_function(old: ir.Operation, text: str) -> None:
    """Parse `text` (one func) in the module's context and put it in place of `old`."""
    try:
        new_mod = ir.Module.parse(text)
    except ir.MLIRError as e:
        raise PassError(f"internal error: generated kernel does not parse: {e}\n{text}", old)
    new = new_mod.body.operations[0].operation
    new.move_before(old)
    old.erase()


@gir_pass("gir-lower-cpu", "lower scheduled GIR functions to forall/vector/memref kernels for the CPU")
def lower_cpu(module: ir.Operation, options: dict) -> None:
    for func in gir_functions(module):
        if "gir.schedule" not in func.attributes:
            raise PassError("gir-lower-cpu needs a schedule: run gir-schedule first", func)
        g = build_graph(func)
        try:
            text = KERNELS[g.form](g).emit()
        except (ValueError, KeyError, StopIteration) as e:
            raise PassError(f"cannot lower '{g.name}' for cpu: {e}", func)
        replace_function(func, text)
