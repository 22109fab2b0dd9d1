"""gir-lower-cpu: rewrites each scheduled tensor-level GIR function into a CPU kernel.

The kernel takes its inputs and outputs as memrefs (outputs are written in place), keeps the
parallel strategy as an `scf.forall` over tasks with `gir.unit = "core"`, and computes with
vector/arith/math ops; row buffers stay as `gir.alloc {level = "local"}` until gir-lower-alloc.
"""
from __future__ import annotations

from torch_mlir import ir

from girflow.passes.cpu.codegen import KERNELS
from girflow.passes.dataflow import gir_functions
from girflow.passes.function_view import build_graph
from girflow.passes.ir_builder import move_before, scratch_module
from girflow.passes.registry import PassError, gir_pass


@gir_pass("gir-lower-cpu", "lower scheduled GIR functions to forall/vector/memref kernels for the CPU")
def lower_cpu(module: ir.Operation, options: dict) -> None:
    for func in gir_functions(module):
        if "gir.schedule" not in func.attributes:
            raise PassError("gir-lower-cpu needs a schedule: run gir-schedule first", func)
        g = build_graph(func)
        with scratch_module(module.context, func.location) as scratch:
            try:
                with ir.InsertionPoint(scratch.body):
                    KERNELS[g.form](g).build()
            except (ValueError, KeyError, StopIteration) as e:
                raise PassError(f"cannot lower '{g.name}' for cpu: {e}", func)
            if not scratch.operation.verify():
                raise PassError(f"internal error: generated kernel does not verify\n{scratch}", func)
            move_before(scratch, func)
        func.erase()
