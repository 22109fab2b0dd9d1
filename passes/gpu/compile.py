"""Shared GPU compile driver: tensor-level GIR text -> kernel binary + launch shape (NVIDIA and AMD)."""
from __future__ import annotations

import dataclasses

from torch_mlir import ir

from girflow.dialects import make_context


@dataclasses.dataclass
class GpuBinary:
    vendor: str
    arch: str
    kernel: str                 # entry point name
    grid: tuple
    block: tuple
    shared_bytes: int           # dynamic shared memory requested at launch (0: all static)
    schedule: str
    vector_width: int
    gpu_ir: str                 # the gpu-dialect form (before NVVM/ROCDL)
    assembly: str               # PTX or AMDGCN assembly
    binary: bytes | None        # cubin (ptxas) or AMDGPU ELF code object
    resources: dict             # ptxas -v: {kernel: {registers, shared_bytes, ...}}

    def report(self) -> str:
        lines = [f"{self.kernel} [{self.arch}] schedule={self.schedule} vector_width={self.vector_width} "
                 f"grid={self.grid} block={self.block}"]
        for k, v in self.resources.items():
            lines.append(f"  ptxas: {k}: {v['registers']} registers, {v['shared_bytes']} bytes shared memory, "
                         f"{v['spill_stores']} bytes spill stores, {v['stack_bytes']} bytes stack")
        return "\n".join(lines)


def compile_gpu(module_text: str, desc: dict, schedule: str = "auto", run_ptxas: bool = True,
                rows_per_block: int | None = None, block_threads: int | None = None,
                launch: str = "default", column_split: int | None = None) -> GpuBinary:
    """One GIR function -> kernel binary; `rows_per_block` / `block_threads` / `launch="model"` pick
    the launch shape (see passes/gpu/launch_space.py), `column_split` a column program's thread rows,
    else the schedule's defaults."""
    from girflow.passes.amd import lower as amd
    from girflow.passes.gpu.lower import lower_to_gpu
    from girflow.passes.nvidia import lower as nvidia

    vendor, arch = desc["kind"], desc["arch"]
    ctx = make_context()
    with ctx, ir.Location.unknown():
        module = ir.Module.parse(module_text)
        kernels = lower_to_gpu(module.operation, desc, schedule, rows_per_block, block_threads, launch, column_split)
        if len(kernels) != 1:
            raise ValueError(f"expected one GIR function, found {len(kernels)}")
        k = kernels[0]
        gpu_ir = str(module)
        if vendor == "nvidia":
            nvidia.gpu_to_nvvm(module.operation, arch)
            (res,) = nvidia.nvvm_to_ptx(module.operation, arch, run_ptxas)
            asm, binary, resources = res["ptx"], res["cubin"], res["ptxas"]
        else:
            amd.gpu_to_rocdl(module.operation, arch)
            (res,) = amd.rocdl_to_amdgcn(module.operation, arch)
            asm, binary, resources = res["asm"], res["object"], {}
    return GpuBinary(vendor, arch, k.name, k.grid, k.block, 0, k.schedule, k.vector_width,
                     gpu_ir, asm, binary, resources)


def launch_ranking(module_text: str, desc: dict) -> list[tuple[float, dict]]:
    """The launch model's ranking (modelled ns, gir-to-gpu options) for a row program; [] for the
    other forms (column, transpose), whose launch shape is fixed."""
    from girflow.passes import function_view
    from girflow.passes.gpu import launch_space

    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(module_text)
        (func,) = function_view.gir_funcs(module.operation)
        prog = function_view.extract(func)
    if prog.form != "row":
        return []
    return launch_space.rank(prog.view, desc, "auto", **launch_space.program_stats(prog))
