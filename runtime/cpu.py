"""CPU backend: compiles a traced GIR module through the CPU pipeline and runs it with the MLIR
ExecutionEngine (LLVM JIT). Calls go through `runtime.dispatch.TaskRunner`: one foreign call per
chunk of tasks, on the caller's thread and a persistent pool of helpers.
"""
from __future__ import annotations

from torch_mlir import execution_engine, ir

from girflow.dialects import make_context
from girflow.passes.cpu.task_driver import driver_name
from girflow.passes.ir_utils import collect_ops
from girflow.passes.registry import PIPELINES, run_pipeline
from girflow.runtime.backends import register_backend
from girflow.runtime.dispatch import TaskRunner
from girflow.runtime.jit_link import lookup_entry, undefined_symbols


class CpuKernel:
    """A JIT-compiled kernel: `run(pointers)` with input then output buffer addresses."""

    def __init__(self, module_text: str, schedule_options: str = "", opt_level: int = 3):
        self.context = make_context()
        with self.context, ir.Location.unknown():
            module = ir.Module.parse(module_text)
            # a tuned schedule for this program and shape class applies unless options say otherwise
            kernel_pipeline = PIPELINES["gir-cpu-kernel"].replace(
                "gir-schedule{target=cpu}", f"gir-schedule{{target=cpu from-cache=1 {schedule_options}}}")
            run_pipeline(module, kernel_pipeline)
            tasks = [f for f in collect_ops(module.operation, "func.func") if "gir.task_of" in f.attributes]
            if len(tasks) != 1:
                raise RuntimeError(f"expected one task function, found {len(tasks)}")
            self.name = ir.StringAttr(tasks[0].attributes["sym_name"]).value
            kernel = next(f for f in collect_ops(module.operation, "func.func") if "gir.tasks" in f.attributes)
            self.tasks = ir.IntegerAttr(kernel.attributes["gir.tasks"]).value
            kernel_name = ir.StringAttr(kernel.attributes["sym_name"]).value
            self.kernel_ir = str(module)
            nargs = len(ir.FunctionType(ir.TypeAttr(kernel.attributes["function_type"]).value).inputs)
            run_pipeline(module, PIPELINES["gir-cpu-to-llvm"])
            self.engine = execution_engine.ExecutionEngine(module, opt_level=opt_level)
            address = lookup_entry(self.engine, driver_name(kernel_name), kernel=kernel_name)
        self.runner = TaskRunner(address, nargs, self.tasks)
        self.workers = self.runner.threads
        self.run = self.runner.run     # run(addresses): inputs then outputs

    def undefined_symbols(self) -> set[str]:
        """What the linked kernel takes from the process (libc/libm names only, by design)."""
        return undefined_symbols(self.engine)


def build(module_text: str, traced, target: dict, schedule_options: str = "") -> CpuKernel:
    return CpuKernel(module_text, schedule_options)


register_backend("cpu", build)
