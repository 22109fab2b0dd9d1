"""NVIDIA lowering passes: gpu.module -> NVVM -> PTX (+ ptxas -v), and the whole NVIDIA pipeline.

  gir-gpu-to-nvvm{arch=sm_90}                     gpu.module -> NVVM/LLVM dialect (convert-gpu-to-nvvm,
                                                   reconcile-unrealized-casts)
  gir-nvvm-to-ptx{arch=sm_90 ptxas=true}          LLVM IR -> PTX (llvmlite), assembled by ptxas -v;
                                                   attaches gir.ptx and gir.ptxas = {kernel: {registers,
                                                   shared_bytes, ...}} to the gpu.module
  gir-lower-nvidia{arch=sm_90}                    gir-to-gpu and the two above
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from torch_mlir import ir

from girflow.passes.gpu.llvm import translate
from girflow.passes.gpu.lower import GpuSchedule, gpu_modules, gpu_to_llvm, lower_to_gpu, resolve_target
from girflow.passes.ir_utils import str_attr
from girflow.passes.nvidia.ptx import PtxasError, llvm_to_ptx, ptxas
from girflow.passes.options import option
from girflow.passes.registry import PassError, gir_pass


def gpu_to_nvvm(module, arch="sm_90"):
    gpu_to_llvm(module, "nvidia", arch)


Arch = Literal["sm_80", "sm_90"]


@dataclasses.dataclass
class NvvmOptions:
    arch: Arch = option("sm_90", "NVIDIA architecture")


@dataclasses.dataclass
class PtxOptions:
    arch: Arch = option("sm_90", "NVIDIA architecture")
    ptxas: bool = option(True, "assemble with ptxas -v (registers, spills per kernel)")


@dataclasses.dataclass
class LowerNvidiaOptions:
    arch: Arch = option("sm_90", "NVIDIA architecture")
    schedule: GpuSchedule = option("auto", "row programs: one row per warp or per block (auto: by row length)")
    ptxas: bool = option(True, "assemble with ptxas -v (registers, spills per kernel)")


@gir_pass("gir-gpu-to-nvvm", "gpu.module -> NVVM / LLVM dialect (convert-gpu-to-nvvm)", NvvmOptions)
def gir_gpu_to_nvvm(module, options: NvvmOptions):
    gpu_to_nvvm(module, options.arch)


def nvvm_to_ptx(module, arch="sm_90", run_ptxas=True) -> list[dict]:
    results = []
    for gm in gpu_modules(module):
        try:
            ptx = llvm_to_ptx(translate(gm), arch)
        except Exception as e:
            raise PassError(f"PTX emission failed: {e}", gm)
        gm.attributes["gir.ptx"] = ir.StringAttr.get(ptx, module.context)
        entry = {"module": str_attr(gm, "sym_name"), "ptx": ptx, "arch": arch, "ptxas": {}, "cubin": None}
        if run_ptxas:
            try:
                cubin, info = ptxas(ptx, arch)
            except PtxasError as e:
                raise PassError(str(e), gm)
            entry.update(ptxas=info, cubin=cubin)
            with module.context:
                gm.attributes["gir.ptxas"] = ir.DictAttr.get({
                    k: ir.DictAttr.get({f: ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(v[f]))
                                        for f in ("registers", "shared_bytes", "spill_stores", "barriers")})
                    for k, v in info.items()})
        results.append(entry)
    return results


@gir_pass("gir-nvvm-to-ptx", "NVVM gpu.module -> PTX via llvmlite (libdevice linked), assembled by ptxas -v",
          PtxOptions)
def gir_nvvm_to_ptx(module, options: PtxOptions):
    nvvm_to_ptx(module, options.arch, options.ptxas)


@gir_pass("gir-lower-nvidia", "GIR -> gpu -> NVVM -> PTX (+ ptxas -v): the whole NVIDIA pipeline",
          LowerNvidiaOptions)
def gir_lower_nvidia(module, options: LowerNvidiaOptions):
    lower_to_gpu(module, resolve_target(options.arch), options.schedule)
    gpu_to_nvvm(module, options.arch)
    nvvm_to_ptx(module, options.arch, options.ptxas)
