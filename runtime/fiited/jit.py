"""Run an `emb` program: lower it to runtime calls and LLVM, JIT it with the runtime library loaded,
call one function on NumPy arrays (passed as memrefs), then surface any runtime error."""
from __future__ import annotations

import ctypes

import numpy as np
from torch_mlir import execution_engine, ir
from torch_mlir.runtime.np_to_memref import get_ranked_memref_descriptor

from girflow.dialects import make_context
from girflow.passes.registry import run_pipeline
from girflow.runtime.jit_link import lookup_entry

from . import library_path, take_status

EMB_TO_LLVM = ("builtin.module(emb-lower-to-runtime,expand-strided-metadata,finalize-memref-to-llvm,"
               "convert-arith-to-llvm,convert-func-to-llvm,reconcile-unrealized-casts)")


class EmbProgram:
    def __init__(self, module_text: str, opt_level: int = 2):
        self.context = make_context()
        with self.context, ir.Location.unknown():
            module = ir.Module.parse(module_text)
            public = []
            for f in module.body.operations:
                if f.operation.name == "func.func" and "sym_visibility" not in f.operation.attributes:
                    f.operation.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
                    public.append(ir.StringAttr(f.operation.attributes["sym_name"]).value)
            run_pipeline(module, EMB_TO_LLVM)
            self.engine = execution_engine.ExecutionEngine(module, opt_level=opt_level, shared_libs=[library_path()])
        for name in public:   # link now: a missing runtime symbol is a JitLinkError here, not at a call
            lookup_entry(self.engine, f"_mlir_ciface_{name}", kernel=name)

    def __call__(self, name: str, *arrays: np.ndarray) -> None:
        """Call `name` with each array as a memref argument (arrays are written in place)."""
        take_status()  # clear anything stale
        descs = [ctypes.pointer(ctypes.pointer(get_ranked_memref_descriptor(a))) for a in arrays]
        self.engine.invoke(name, *descs)
        take_status()
