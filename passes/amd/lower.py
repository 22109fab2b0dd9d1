"""AMD lowering passes: gpu.module -> ROCDL -> AMDGCN, and the whole AMD pipeline.

  gir-gpu-to-rocdl{chipset=gfx942}                gpu.module -> ROCDL/LLVM dialect (wavefront 64)
  gir-rocdl-to-amdgcn{chipset=gfx942}             LLVM IR -> AMDGCN assembly + code object (llvmlite);
                                                   attaches gir.amdgcn and gir.code_object_bytes
  gir-lower-amd{chipset=gfx942}                   gir-to-gpu and the two above
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from torch_mlir import ir

from girflow.passes.amd.gcn import llvm_to_amdgcn
from girflow.passes.gpu.llvm import translate
from girflow.passes.gpu.lower import GpuSchedule, gpu_modules, gpu_to_llvm, lower_to_gpu, resolve_target
from girflow.passes.ir_utils import str_attr
from girflow.passes.options import option
from girflow.passes.registry import PassError, gir_pass


def gpu_to_rocdl(module, chipset="gfx942"):
    gpu_to_llvm(module, "amd", chipset)


Chipset = Literal["gfx90a", "gfx942"]


@dataclasses.dataclass
class ChipsetOptions:
    chipset: Chipset = option("gfx942", "AMD chipset")


@dataclasses.dataclass
class LowerAmdOptions:
    chipset: Chipset = option("gfx942", "AMD chipset")
    schedule: GpuSchedule = option("auto", "row programs: one row per warp or per block (auto: by row length)")


@gir_pass("gir-gpu-to-rocdl", "gpu.module -> ROCDL / LLVM dialect (convert-gpu-to-rocdl, wavefront 64)",
          ChipsetOptions)
def gir_gpu_to_rocdl(module, options: ChipsetOptions):
    gpu_to_rocdl(module, options.chipset)


def _kernel_names(gm):
    return [str_attr(f, "sym_name") for f in gm.regions[0].blocks[0].operations
            if f.operation.name == "llvm.func" and "gpu.kernel" in f.operation.attributes]


def rocdl_to_amdgcn(module, chipset="gfx942") -> list[dict]:
    results = []
    for gm in gpu_modules(module):
        try:
            asm, obj = llvm_to_amdgcn(translate(gm), chipset)
        except Exception as e:
            raise PassError(f"AMDGCN emission failed: {e}", gm)
        with module.context:
            gm.attributes["gir.amdgcn"] = ir.StringAttr.get(asm)
            gm.attributes["gir.code_object_bytes"] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), len(obj))
        results.append({"module": str_attr(gm, "sym_name"), "asm": asm, "object": obj, "chipset": chipset,
                        "kernels": _kernel_names(gm)})
    return results


@gir_pass("gir-rocdl-to-amdgcn", "ROCDL gpu.module -> AMDGCN assembly and code object via llvmlite",
          ChipsetOptions)
def gir_rocdl_to_amdgcn(module, options: ChipsetOptions):
    rocdl_to_amdgcn(module, options.chipset)


@gir_pass("gir-lower-amd", "GIR -> gpu -> ROCDL -> AMDGCN: the whole AMD pipeline",
          LowerAmdOptions)
def gir_lower_amd(module, options: LowerAmdOptions):
    chipset = options.chipset
    lower_to_gpu(module, resolve_target(chipset), options.schedule)
    gpu_to_rocdl(module, chipset)
    rocdl_to_amdgcn(module, chipset)
