"""gir-task-driver: gives every outlined task function a native loop over a range of tasks.

    func.func @k_tasks(<args>, %lo: index, %hi: index) { scf.for %t = %lo to %hi { call @k_task(<args>, %t) } }

The runtime calls `@k_tasks` once per chunk of tasks (once in all for single-threaded work), so a
kernel call costs one foreign call per thread instead of one per task, and Python never loops over
tasks. Runs after gir-outline-parallel; functions without a `gir.task_of` task are left alone.
"""
from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import arith, scf
from torch_mlir.dialects import func as func_d

from girflow.passes.ir_utils import collect_ops
from girflow.passes.registry import gir_pass

DRIVER_SUFFIX = "_tasks"


def driver_name(kernel: str) -> str:
    return kernel + DRIVER_SUFFIX


@gir_pass("gir-task-driver", "add a @<kernel>_tasks(args, lo, hi) loop over each outlined task function")
def task_driver(module: ir.Operation, options: dict) -> None:
    for task in collect_ops(module, "func.func"):
        if "gir.task_of" not in task.attributes:
            continue
        kernel = ir.StringAttr(task.attributes["gir.task_of"]).value
        task_name = ir.StringAttr(task.attributes["sym_name"]).value
        task_type = ir.FunctionType(ir.TypeAttr(task.attributes["function_type"]).value)
        arg_types = list(task_type.inputs)[:-1]          # the last input is the task index
        index = ir.IndexType.get()
        with ir.InsertionPoint(module.regions[0].blocks[0]), task.location:
            driver = func_d.FuncOp(driver_name(kernel), ir.FunctionType.get(arg_types + [index, index], []))
            driver.operation.move_after(task)
            block = driver.add_entry_block()
            *args, lo, hi = block.arguments
            with ir.InsertionPoint(block):
                one = arith.ConstantOp(index, 1)
                loop = scf.ForOp(lo, hi, one)
                with ir.InsertionPoint(loop.body):
                    func_d.CallOp([], ir.FlatSymbolRefAttr.get(task_name), [*args, loop.induction_variable])
                    scf.YieldOp([])
                func_d.ReturnOp([])
