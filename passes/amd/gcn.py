"""AMD code generation: LLVM IR -> AMDGCN assembly and an ELF code object (llvmlite) for gfx90a / gfx942."""
from __future__ import annotations

from girflow.passes.gpu.llvm import kernel_names, llvm, optimise


def llvm_to_amdgcn(llvm_ir: str, chipset: str = "gfx942") -> tuple[str, bytes]:
    binding = llvm()
    kernels = kernel_names(llvm_ir)
    mod = binding.parse_assembly(llvm_ir)
    mod.triple = "amdgcn-amd-amdhsa"
    tm = binding.Target.from_triple(mod.triple).create_target_machine(cpu=chipset, features="", opt=3)
    mod.data_layout = str(tm.target_data)
    mod.verify()
    optimise(binding, mod, tm, set(kernels))
    copy = binding.parse_assembly(str(mod))  # codegen edits the module in place (control-flow annotation)
    asm = tm.emit_assembly(mod)
    obj = tm.emit_object(copy)
    return asm, obj
