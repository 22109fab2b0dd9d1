"""NVVM / ROCDL `gpu.module` -> LLVM IR (MLIR translation) and the llvmlite steps both GPU vendors share.

  translate(gpu_module_op)             LLVM IR text of the module's body (`translate_module_to_llvmir`)
  llvm()                               llvmlite.binding with every target initialised
  optimise(llvm, mod, tm, keep)        internalise all but the kernels, O3
  kernel_names(llvm_ir)                the kernel entry points of an LLVM IR module
"""
from __future__ import annotations

import functools
import re

from torch_mlir import ir


@functools.lru_cache(maxsize=None)
def llvm():
    import llvmlite.binding as llvm

    try:
        llvm.initialize_all_targets()
        llvm.initialize_all_asmprinters()
    except Exception:  # older llvmlite: initialize() first
        llvm.initialize()
        llvm.initialize_all_targets()
        llvm.initialize_all_asmprinters()
    return llvm


def translate(gpu_module: ir.Operation) -> str:
    """LLVM IR text of a gpu.module already converted to the LLVM dialect (NVVM or ROCDL)."""
    from torch_mlir.dialects import llvm as llvm_dialect

    with gpu_module.context, ir.Location.unknown():   # a copy of the module's ops in a builtin module
        scratch = ir.Module.create()
        with ir.InsertionPoint(scratch.body):
            for op in gpu_module.regions[0].blocks[0].operations:
                op.operation.clone()
        text = llvm_dialect.translate_module_to_llvmir(scratch.operation)
    return _legacy_float_literals(text)


_SPECIAL = {"-inf": "0xFFF0000000000000", "inf": "0x7FF0000000000000", "+inf": "0x7FF0000000000000",
            "nan": "0x7FF8000000000000", "-nan": "0xFFF8000000000000"}


def _legacy_float_literals(text: str) -> str:
    """MLIR's LLVM prints `inf`/`-inf`/`nan` float literals that llvmlite's parser predates."""
    text = re.sub(r"(?<=[\s,\[(<])([-+]?(?:inf|nan))(?=[\s,\])>])", lambda m: _SPECIAL[m.group(1)], text)
    return re.sub(r"\bf0x([0-9A-Fa-f]{8})\b", _float_bits_to_double_hex, text)


def _float_bits_to_double_hex(m) -> str:
    """`f0x3F3504F3` (float bit pattern) -> `0x3FE6A09E60000000` (the double-hex form LLVM 22 reads)."""
    import struct

    (f,) = struct.unpack("<f", int(m.group(1), 16).to_bytes(4, "little"))
    (bits,) = struct.unpack("<Q", struct.pack("<d", f))
    return f"0x{bits:016X}"


def optimise(llvm, mod, tm, keep: set[str]):
    for f in mod.functions:
        if not f.is_declaration and f.name not in keep:
            f.linkage = "internal"
    for g in mod.global_variables:
        if not g.is_declaration and g.name not in keep:
            try:
                g.linkage = "internal"
            except Exception:
                pass
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pb = llvm.create_pass_builder(tm, pto)
    pm = pb.getModulePassManager()
    pm.run(mod, pb)


def kernel_names(llvm_ir: str) -> list[str]:
    return re.findall(r"define (?:ptx_kernel |amdgpu_kernel )?void @(\w+)\(", llvm_ir) or \
        re.findall(r"define .*?@(\w+)\(", llvm_ir)
