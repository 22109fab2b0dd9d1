"""GPU lowering shared by NVIDIA and AMD (the vendor stages live in passes/nvidia and passes/amd).

  gir-to-gpu{target=nvidia_sm90 schedule=auto}   tensor-level GIR func -> `gpu.module` with a `gpu.func`
                                                   kernel (grid/block/warp/lane mapping, shared memory
                                                   workgroup attributions, barriers, gpu.shuffle
                                                   reductions, 128-bit vector loads/stores); the
                                                   schedule and launch shape are attributes on it
  The vendor stages (NVVM -> PTX, ROCDL -> AMDGCN) live in passes/nvidia and passes/amd.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from torch_mlir import ir, passmanager

from girflow.dialects import targets
from girflow.passes import function_view
from girflow.passes.gpu import codegen as gpu_codegen
from girflow.passes.gpu import launch_space
from girflow.passes.ir_builder import move_before, scratch_module
from girflow.passes.ir_utils import collect_ops
from girflow.passes.options import option
from girflow.passes.registry import PassError, gir_pass

ARCH_TARGETS = {"sm_80": "nvidia_sm80", "sm_90": "nvidia_sm90",
                "gfx90a": "amd_gfx90a", "gfx942": "amd_gfx942"}


def resolve_target(name: str) -> dict:
    try:
        return targets.get(ARCH_TARGETS.get(name, name))
    except ValueError as e:
        raise PassError(str(e))


def lower_to_gpu(module: ir.Operation, desc: dict, schedule: str = "auto", rows_per_block: int | None = None,
                 block_threads: int | None = None, launch: str = "default", column_split: int | None = None) -> list:
    vendor = desc["kind"]
    if vendor not in ("nvidia", "amd"):
        raise PassError(f"target '{desc['name']}' is not a GPU target (kind '{vendor}')")
    kernels = []
    shared_cap = targets.capacity(desc, "shared")
    for func in function_view.gir_funcs(module):
        prog = function_view.extract(func)
        sched, rpb, bt = schedule, rows_per_block, block_threads
        if launch == "model" and prog.form == "row" and rpb is None and bt is None:
            _ns, best = launch_space.rank(prog.view, desc, schedule, **launch_space.program_stats(prog))[0]
            sched, rpb, bt = best["schedule"], best.get("rows_per_block"), best.get("block_threads")
        with scratch_module(module.context, func.location) as scratch:
            with ir.InsertionPoint(scratch.body):
                k = gpu_codegen.build_gpu_module(prog, desc, vendor, sched, rpb, bt, column_split)
            if shared_cap is not None and k.shared_bytes > shared_cap:
                raise PassError(f"kernel {k.name} needs {k.shared_bytes} bytes of shared memory; target "
                                f"'{desc['name']}' has {shared_cap} per block", func)
            move_before(scratch, func)
        func.erase()
        kernels.append(k)
    module.attributes["gpu.container_module"] = ir.UnitAttr.get(module.context)
    return kernels


def _move_body(src: ir.Operation, dst: ir.Operation) -> None:
    """Move every op and attribute of module `src` into module `dst` (no printing, no parsing)."""
    target = dst.regions[0].blocks[0]
    for op in list(src.regions[0].blocks[0].operations):
        target.append(op.operation)
    for attr in list(src.attributes):
        key = attr if isinstance(attr, str) else attr.name
        if key != "sym_name":
            dst.attributes[key] = src.attributes[key]


def run_upstream(module: ir.Operation, pipeline: str) -> None:
    """Run an upstream pipeline on `module`'s contents: a pass manager cannot re-enter the op it is
    running on, so the ops move into a scratch module for the run and back afterwards."""
    ctx = module.context
    with ctx, ir.Location.unknown():
        scratch = ir.Module.create()
        pm = passmanager.PassManager.parse(pipeline)
    _move_body(module, scratch.operation)
    try:
        pm.run(scratch.operation)
    except Exception as e:
        raise PassError(f"upstream pipeline '{pipeline}' failed: {e}")
    finally:
        _move_body(scratch.operation, module)


# The upstream conversion of each vendor (NVVM for NVIDIA, ROCDL for AMD; `arch` is ROCDL's chipset).
_TO_LLVM = {"nvidia": "convert-gpu-to-nvvm{{index-bitwidth=64 use-bare-ptr-memref-call-conv=true}}",
            "amd": "convert-gpu-to-rocdl{{chipset={arch} index-bitwidth=64 use-bare-ptr-memref-call-conv=true}}"}


def gpu_to_llvm(module: ir.Operation, vendor: str, arch: str) -> None:
    """gpu.module -> the vendor's LLVM dialect (NVVM / ROCDL): one lowering, parameterised by vendor;
    records the architecture as `gir.arch` on each gpu.module."""
    conversion = _TO_LLVM[vendor].format(arch=arch)
    run_upstream(module, f"builtin.module(gpu.module(convert-scf-to-cf, {conversion}), reconcile-unrealized-casts)")
    for gm in gpu_modules(module):
        gm.attributes["gir.arch"] = ir.StringAttr.get(arch, module.context)


def gpu_modules(module):
    return [op for op in collect_ops(module, "gpu.module")]


GpuSchedule = Literal["auto", "warp", "block"]


@dataclasses.dataclass
class GirToGpuOptions:
    target: str = option("nvidia", "target description (nvidia, nvidia_sm80, amd_gfx942, ...)")
    schedule: GpuSchedule = option("auto", "row programs: one row per warp or per block (auto: by row length)")
    rows_per_block: int | None = option(None, "row-per-warp: rows (warps) per block (default 4)")
    block_threads: int | None = option(None, "row-per-block: threads per row, a multiple of the warp size (default 256)")
    launch: Literal["default", "model"] = option(
        "default", "model: rows per block / threads per row from the launch cost model (passes/gpu/launch_space.py)")
    column_split: int | None = option(None, "column programs: thread rows splitting the reduced axis (default: fill the device)")


@gir_pass("gir-to-gpu", "GIR -> gpu dialect kernels (grid/block/warp/lane mapping, shared memory, shuffles)",
          GirToGpuOptions)
def gir_to_gpu(module, options: GirToGpuOptions):
    lower_to_gpu(module, resolve_target(options.target), options.schedule, options.rows_per_block,
                 options.block_threads, options.launch, options.column_split)
