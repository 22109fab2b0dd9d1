"""CPU backend: compiles a traced GIR module through the CPU pipeline and runs it with the MLIR
ExecutionEngine (LLVM JIT). Calls go through `runtime.dispatch.TaskRunner`: one foreign call per
chunk of tasks, on the caller's thread and a persistent pool of helpers.

The object code of every kernel is kept in `runtime.kernel_cache`; a later process compiling the
same module links that object instead of running the pipeline and LLVM again.
"""
from __future__ import annotations

import math
import os
import tempfile

from torch_mlir import execution_engine, ir

from girflow.dialects import make_context
from girflow.passes.cpu.task_driver import driver_name
from girflow.passes.ir_utils import collect_ops
from girflow.passes.registry import PIPELINES, run_pipeline
from girflow.runtime import kernel_cache
from girflow.runtime.backends import register_backend
from girflow.runtime.dispatch import TaskRunner
from girflow.runtime.jit_link import _elf_undefined, lookup_entry, undefined_symbols

PACKED_PREFIX = "_mlir_"     # the ExecutionEngine's packed-interface wrapper of each function


class CpuKernel:
    """A JIT-compiled kernel: `run(pointers)` with input then output buffer addresses."""

    def __init__(self, module_text: str, schedule_options: str = "", opt_level: int = 3, target: dict | None = None):
        # a tuned schedule for this program and shape class applies unless options say otherwise
        kernel_pipeline = PIPELINES["gir-cpu-kernel"].replace(
            "gir-schedule{target=cpu}", f"gir-schedule{{target=cpu from-cache=1 {schedule_options}}}")
        key = kernel_cache.kernel_key(module_text, kernel_pipeline + "|" + PIPELINES["gir-cpu-to-llvm"],
                                      schedule_options, target or {}, opt_level)
        self.engine: execution_engine.ExecutionEngine | None = None
        self.linked: kernel_cache.LinkedObject | None = None
        self.from_cache = False
        cached = kernel_cache.load(key)
        if cached is not None:
            data, facts = cached
            self.name, self.tasks, nargs = facts["name"], facts["tasks"], facts["nargs"]
            self.kernel_ir = facts["kernel_ir"]
            self.combine, self.workspace_bytes = facts.get("combine"), facts.get("workspace_bytes", 0)
            entry = PACKED_PREFIX + facts["entry"]
            exports = [entry] + ([PACKED_PREFIX + self.combine] if self.combine else [])
            self.linked = kernel_cache.LinkedObject(data, exports, self.name)
            address = self.linked.address(entry)
            combine_address = self.linked.address(exports[-1]) if self.combine else None
            self.from_cache = True
        else:
            address, nargs, combine_address = self._compile(module_text, kernel_pipeline, opt_level)
            self._store(key, nargs)
        self.runner = TaskRunner(address, nargs, self.tasks, combine_address=combine_address,
                                 workspace_bytes=self.workspace_bytes)
        self.workers = self.runner.threads
        self.run = self.runner.run     # run(addresses): inputs then outputs
        self.bound_call = self.runner.bound_call

    def _compile(self, module_text: str, kernel_pipeline: str, opt_level: int) -> tuple[int, int, int | None]:
        self.context = make_context()
        with self.context, ir.Location.unknown():
            module = ir.Module.parse(module_text)
            run_pipeline(module, kernel_pipeline)
            tasks = [f for f in collect_ops(module.operation, "func.func") if "gir.task_of" in f.attributes]
            if len(tasks) != 1:
                raise RuntimeError(f"expected one task function, found {len(tasks)}")
            self.name = ir.StringAttr(tasks[0].attributes["sym_name"]).value
            kernel = next(f for f in collect_ops(module.operation, "func.func") if "gir.tasks" in f.attributes)
            self.tasks = ir.IntegerAttr(kernel.attributes["gir.tasks"]).value
            self.kernel_name = ir.StringAttr(kernel.attributes["sym_name"]).value
            self.kernel_ir = str(module)
            inputs = list(ir.FunctionType(ir.TypeAttr(kernel.attributes["function_type"]).value).inputs)
            nargs = len(inputs)
            combine = [f for f in collect_ops(module.operation, "func.func") if "gir.combine_of" in f.attributes]
            self.combine = ir.StringAttr(combine[0].attributes["sym_name"]).value if combine else None
            # a kernel with a combine step takes its workspace (an f32 memref) last
            self.workspace_bytes = 4 * math.prod(ir.MemRefType(inputs[-1]).shape) if combine else 0
            run_pipeline(module, PIPELINES["gir-cpu-to-llvm"])
            self.engine = execution_engine.ExecutionEngine(module, opt_level=opt_level)
            address = lookup_entry(self.engine, driver_name(self.kernel_name), kernel=self.kernel_name)
            combine_address = lookup_entry(self.engine, self.combine, kernel=self.kernel_name) if self.combine else None
        return address, nargs, combine_address

    def _store(self, key: str, nargs: int) -> None:
        if not kernel_cache.enabled() or self.engine is None:
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "kernel.o")
            self.engine.dump_to_object_file(path)
            with open(path, "rb") as f:
                data = f.read()
        kernel_cache.store(key, data, {"name": self.name, "entry": driver_name(self.kernel_name),
                                       "tasks": self.tasks, "nargs": nargs, "kernel_ir": self.kernel_ir,
                                       "combine": self.combine, "workspace_bytes": self.workspace_bytes})

    def undefined_symbols(self) -> set[str]:
        """What the linked kernel takes from the process (libc/libm names only, by design)."""
        if self.linked is not None:
            return _elf_undefined(self.linked.data)
        assert self.engine is not None
        return undefined_symbols(self.engine)


def build(module_text: str, traced, target: dict, schedule_options: str = "") -> CpuKernel:
    return CpuKernel(module_text, schedule_options, target=target)


register_backend("cpu", build)
