"""CPU backend: compiles a traced GIR module through the CPU pipeline and runs it with the MLIR
ExecutionEngine (LLVM JIT), one thread per core calling the kernel's task function.

ctypes releases the GIL around each foreign call, so the tasks of one kernel run truly in parallel.
"""
from __future__ import annotations

import ctypes
import os
from concurrent.futures import ThreadPoolExecutor

from torch_mlir import execution_engine, ir

from girflow.dialects import make_context
from girflow.passes.ir_utils import collect_ops
from girflow.passes.registry import PIPELINES, run_pipeline
from girflow.runtime.backends import register_backend
from girflow.runtime.jit_link import lookup_entry, undefined_symbols

_POOL: ThreadPoolExecutor | None = None


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None or _POOL._max_workers < workers:
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="girflow-cpu")
    return _POOL


class CpuKernel:
    """A JIT-compiled kernel: `run(pointers)` with input then output buffer addresses."""

    def __init__(self, module_text: str, schedule_options: str = "", opt_level: int = 3):
        self.context = make_context()
        with self.context, ir.Location.unknown():
            module = ir.Module.parse(module_text)
            kernel_pipeline = PIPELINES["gir-cpu-kernel"]
            if schedule_options:
                kernel_pipeline = kernel_pipeline.replace("gir-schedule{target=cpu}",
                                                          f"gir-schedule{{target=cpu {schedule_options}}}")
            run_pipeline(module, kernel_pipeline)
            tasks = [f for f in collect_ops(module.operation, "func.func") if "gir.task_of" in f.attributes]
            if len(tasks) != 1:
                raise RuntimeError(f"expected one task function, found {len(tasks)}")
            self.name = ir.StringAttr(tasks[0].attributes["sym_name"]).value
            kernel = next(f for f in collect_ops(module.operation, "func.func") if "gir.tasks" in f.attributes)
            self.tasks = ir.IntegerAttr(kernel.attributes["gir.tasks"]).value
            kernel_name = ir.StringAttr(kernel.attributes["sym_name"]).value
            self.kernel_ir = str(module)
            run_pipeline(module, PIPELINES["gir-cpu-to-llvm"])
            self.engine = execution_engine.ExecutionEngine(module, opt_level=opt_level)
            address = lookup_entry(self.engine, self.name, kernel=kernel_name)
            self._fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(address)
        self.workers = min(self.tasks, len(os.sched_getaffinity(0)))

    def undefined_symbols(self) -> set[str]:
        """What the linked kernel takes from the process (libc/libm names only, by design)."""
        return undefined_symbols(self.engine)

    def _call_task(self, slots, task: int) -> None:
        ptrs, index = slots
        index.value = task
        self._fn(ptrs)

    def _slots(self, pointers):
        storage = [ctypes.c_void_p(p) for p in pointers]
        index = ctypes.c_int64(0)
        arr = (ctypes.c_void_p * (len(storage) + 1))(*[ctypes.addressof(s) for s in storage],
                                                      ctypes.addressof(index))
        return (arr, index), storage

    def run(self, pointers: list[int]) -> None:
        if self.workers <= 1:
            slots, _storage = self._slots(pointers)   # _storage keeps the ctypes slots alive
            for t in range(self.tasks):
                self._call_task(slots, t)
            return
        per_worker = [self._slots(pointers) for _ in range(self.workers)]

        def work(w):
            slots, _ = per_worker[w]
            for t in range(w, self.tasks, self.workers):
                self._call_task(slots, t)

        futures = [_pool(self.workers).submit(work, w) for w in range(1, self.workers)]
        work(0)
        for f in futures:
            f.result()


def build(module_text: str, traced, target: dict, schedule_options: str = "") -> CpuKernel:
    return CpuKernel(module_text, schedule_options)


register_backend("cpu", build)
