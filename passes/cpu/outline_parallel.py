"""gir-outline-parallel: the CPU realisation of the parallel strategy.

It moves the body of each `scf.forall {gir.unit = "core"}` kernel into a task
function `@<name>_task(<args>, %task: index)`; the kernel keeps a serial loop calling it, so the
module still runs alone, while the runtime calls `_task` from one thread per core.
"""
from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import func as func_d

from girflow.passes.ir_utils import collect_ops, str_attr
from girflow.passes.registry import gir_pass


def _nested_ops(op: ir.Operation) -> list[ir.Operation]:
    return collect_ops(op, "")


@gir_pass("gir-outline-parallel", "outline core-parallel scf.forall bodies into task functions")
def outline_parallel(module: ir.Operation, options: dict) -> None:
    for forall in collect_ops(module, "scf.forall"):
        if str_attr(forall, "gir.unit") != "core":
            continue
        func = forall.parent
        func = func.operation if hasattr(func, "operation") else func
        while func.name != "func.func":
            func = func.parent.operation
        name = ir.StringAttr(func.attributes["sym_name"]).value
        fblock = func.regions[0].blocks[0]
        args = list(fblock.arguments)
        arg_types = [a.type for a in args]
        index = ir.IndexType.get()
        body = forall.regions[0].blocks[0]
        iv = body.arguments[0]
        with ir.InsertionPoint(module.regions[0].blocks[0]), func.location:
            task = func_d.FuncOp(f"{name}_task", ir.FunctionType.get(arg_types + [index], []))
            task.operation.move_after(func)
            tblock = task.add_entry_block()
            with ir.InsertionPoint(tblock):
                # constants of the kernel's entry block are cloned into the task
                mapping = {}
                for op in list(fblock.operations):
                    if op.operation.name == "arith.constant":
                        mapping[op.operation.results[0]] = op.operation.clone().results[0]
                ret = func_d.ReturnOp([])
        moved = [o.operation for o in body.operations][:-1]   # all but scf.forall.in_parallel
        for o in moved:
            o.move_before(ret)
        replacements = [(a, tblock.arguments[i]) for i, a in enumerate(args)]
        replacements.append((iv, tblock.arguments[len(args)]))
        replacements += list(mapping.items())
        for o in moved:
            for inner in _nested_ops(o):
                for old, new in replacements:
                    inner.replace_uses_of_with(old, new)
        # the kernel becomes a serial driver over tasks
        tasks = ir.IntegerAttr(func.attributes["gir.tasks"]).value
        with ir.InsertionPoint(forall), forall.location:
            from torch_mlir.dialects import arith, scf
            lo = arith.ConstantOp(index, 0)
            hi = arith.ConstantOp(index, tasks)
            one = arith.ConstantOp(index, 1)
            loop = scf.ForOp(lo, hi, one)
            with ir.InsertionPoint(loop.body):
                func_d.CallOp([], ir.FlatSymbolRefAttr.get(f"{name}_task"), [*args, loop.induction_variable])
                scf.YieldOp([])
        forall.erase()
        task.operation.attributes["gir.task_of"] = ir.StringAttr.get(name)
