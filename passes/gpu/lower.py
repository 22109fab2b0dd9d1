"""GPU lowering passes (NVIDIA PTX and AMD AMDGCN), each runnable alone in gir-opt.

  gir-to-gpu{target=nvidia_sm90 schedule=auto}   tensor-level GIR func -> `gpu.module` with a `gpu.func`
                                                   kernel (grid/block/warp/lane mapping, shared memory
                                                   workgroup attributions, barriers, gpu.shuffle
                                                   reductions, 128-bit vector loads/stores); the
                                                   schedule and launch shape are attributes on it
  gir-gpu-to-nvvm{arch=sm_90}                     gpu.module -> NVVM/LLVM dialect (convert-gpu-to-nvvm,
                                                   reconcile-unrealized-casts)
  gir-nvvm-to-ptx{arch=sm_90 ptxas=true}          LLVM IR -> PTX (llvmlite), assembled by ptxas -v;
                                                   attaches gir.ptx and gir.ptxas = {kernel: {registers,
                                                   shared_bytes, ...}} to the gpu.module
  gir-lower-nvidia{arch=sm_90}                    the three above
  gir-gpu-to-rocdl{chipset=gfx942}                gpu.module -> ROCDL/LLVM dialect (wavefront 64)
  gir-rocdl-to-amdgcn{chipset=gfx942}             LLVM IR -> AMDGCN assembly + code object (llvmlite);
                                                   attaches gir.amdgcn and gir.code_object_bytes
  gir-lower-amd{chipset=gfx942}                   the three AMD stages
"""
from __future__ import annotations

from torch_mlir import ir, passmanager

from girflow.dialects import targets
from girflow.passes import gpu_codegen, gpu_llvm
from girflow.passes.ir_utils import collect_ops, str_attr
from girflow.passes.registry import PassError, gir_pass

ARCH_TARGETS = {"sm_80": "nvidia_sm80", "sm_90": "nvidia_sm90",
                "gfx90a": "amd_gfx90a", "gfx942": "amd_gfx942"}


def resolve_target(name: str) -> dict:
    try:
        return targets.get(ARCH_TARGETS.get(name, name))
    except ValueError as e:
        raise PassError(str(e))


def lower_to_gpu(module: ir.Operation, desc: dict, schedule: str = "auto") -> list:
    vendor = desc["kind"]
    if vendor not in ("nvidia", "amd"):
        raise PassError(f"target '{desc['name']}' is not a GPU target (kind '{vendor}')")
    kernels = []
    shared_cap = targets.capacity(desc, "shared")
    for func in gpu_codegen.gir_funcs(module):
        prog = gpu_codegen.extract(func)
        text, k = gpu_codegen.gpu_module_text(prog, desc, vendor, schedule)
        if shared_cap is not None and k.shared_bytes > shared_cap:
            raise PassError(f"kernel {k.name} needs {k.shared_bytes} bytes of shared memory; target "
                            f"'{desc['name']}' has {shared_cap} per block", func)
        try:
            parsed = ir.Module.parse(text, context=module.context)
        except Exception as e:  # a generator bug: show the text
            raise PassError(f"internal error: generated gpu kernel does not parse: {e}\n{text}", func)
        for op in list(parsed.body.operations):
            op.operation.move_before(func)
        func.erase()
        kernels.append(k)
    module.attributes["gpu.container_module"] = ir.UnitAttr.get(module.context)
    return kernels


def _run_upstream(module: ir.Operation, pipeline: str) -> None:
    """Run an upstream pipeline on a copy of `module` (a pass manager cannot re-enter the op it is
    running on) and splice the result back into `module`."""
    ctx = module.context
    copy = ir.Module.parse(module.get_asm(), context=ctx)
    with ctx:
        pm = passmanager.PassManager.parse(pipeline)
    try:
        pm.run(copy.operation)
    except Exception as e:
        raise PassError(f"upstream pipeline '{pipeline}' failed: {e}")
    body = module.regions[0].blocks[0]
    for op in list(body.operations):
        op.operation.erase()
    for op in list(copy.body.operations):
        body.append(op.operation)
    for attr in copy.operation.attributes:
        key = attr if isinstance(attr, str) else attr.name
        module.attributes[key] = copy.operation.attributes[key]


def _gpu_modules(module):
    return [op for op in collect_ops(module, "gpu.module")]


@gir_pass("gir-to-gpu", "GIR -> gpu dialect kernels (grid/block/warp/lane mapping, shared memory, shuffles)",
          options={"target": "target description (nvidia, nvidia_sm80, amd_gfx942, ...; default nvidia)",
                   "schedule": "auto | warp | block (row programs; default auto: by row length)"})
def gir_to_gpu(module, options):
    lower_to_gpu(module, resolve_target(options.get("target", "nvidia")), options.get("schedule", "auto"))


def gpu_to_nvvm(module, arch="sm_90"):
    _run_upstream(module, "builtin.module(gpu.module(convert-scf-to-cf, convert-gpu-to-nvvm{index-bitwidth=64 "
                          "use-bare-ptr-memref-call-conv=true}), reconcile-unrealized-casts)")
    for gm in _gpu_modules(module):
        gm.attributes["gir.arch"] = ir.StringAttr.get(arch, module.context)


def gpu_to_rocdl(module, chipset="gfx942"):
    _run_upstream(module, f"builtin.module(gpu.module(convert-scf-to-cf, convert-gpu-to-rocdl{{chipset={chipset} "
                          "index-bitwidth=64 use-bare-ptr-memref-call-conv=true}), reconcile-unrealized-casts)")
    for gm in _gpu_modules(module):
        gm.attributes["gir.arch"] = ir.StringAttr.get(chipset, module.context)


@gir_pass("gir-gpu-to-nvvm", "gpu.module -> NVVM / LLVM dialect (convert-gpu-to-nvvm)",
          options={"arch": "sm_80 | sm_90 (default sm_90)"})
def gir_gpu_to_nvvm(module, options):
    gpu_to_nvvm(module, options.get("arch", "sm_90"))


@gir_pass("gir-gpu-to-rocdl", "gpu.module -> ROCDL / LLVM dialect (convert-gpu-to-rocdl, wavefront 64)",
          options={"chipset": "gfx90a | gfx942 (default gfx942)"})
def gir_gpu_to_rocdl(module, options):
    gpu_to_rocdl(module, options.get("chipset", "gfx942"))


def _kernel_names(gm):
    return [str_attr(f, "sym_name") for f in gm.regions[0].blocks[0].operations
            if f.operation.name == "llvm.func" and "gpu.kernel" in f.operation.attributes]


def nvvm_to_ptx(module, arch="sm_90", run_ptxas=True) -> list[dict]:
    results = []
    for gm in _gpu_modules(module):
        try:
            ptx = gpu_llvm.llvm_to_ptx(gpu_llvm.translate(gm), arch)
        except Exception as e:
            raise PassError(f"PTX emission failed: {e}", gm)
        gm.attributes["gir.ptx"] = ir.StringAttr.get(ptx, module.context)
        entry = {"module": str_attr(gm, "sym_name"), "ptx": ptx, "arch": arch, "ptxas": {}, "cubin": None}
        if run_ptxas:
            try:
                cubin, info = gpu_llvm.ptxas(ptx, arch)
            except gpu_llvm.PtxasError as e:
                raise PassError(str(e), gm)
            entry.update(ptxas=info, cubin=cubin)
            with module.context:
                gm.attributes["gir.ptxas"] = ir.DictAttr.get({
                    k: ir.DictAttr.get({f: ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(v[f]))
                                        for f in ("registers", "shared_bytes", "spill_stores", "barriers")})
                    for k, v in info.items()})
        results.append(entry)
    return results


def rocdl_to_amdgcn(module, chipset="gfx942") -> list[dict]:
    results = []
    for gm in _gpu_modules(module):
        try:
            asm, obj = gpu_llvm.llvm_to_amdgcn(gpu_llvm.translate(gm), chipset)
        except Exception as e:
            raise PassError(f"AMDGCN emission failed: {e}", gm)
        with module.context:
            gm.attributes["gir.amdgcn"] = ir.StringAttr.get(asm)
            gm.attributes["gir.code_object_bytes"] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), len(obj))
        results.append({"module": str_attr(gm, "sym_name"), "asm": asm, "object": obj, "chipset": chipset,
                        "kernels": _kernel_names(gm)})
    return results


@gir_pass("gir-nvvm-to-ptx", "NVVM gpu.module -> PTX via llvmlite (libdevice linked), assembled by ptxas -v",
          options={"arch": "sm_80 | sm_90 (default sm_90)", "ptxas": "true | false (default true)"})
def gir_nvvm_to_ptx(module, options):
    nvvm_to_ptx(module, options.get("arch", "sm_90"), options.get("ptxas", "true") != "false")


@gir_pass("gir-rocdl-to-amdgcn", "ROCDL gpu.module -> AMDGCN assembly and code object via llvmlite",
          options={"chipset": "gfx90a | gfx942 (default gfx942)"})
def gir_rocdl_to_amdgcn(module, options):
    rocdl_to_amdgcn(module, options.get("chipset", "gfx942"))


@gir_pass("gir-lower-nvidia", "GIR -> gpu -> NVVM -> PTX (+ ptxas -v): the whole NVIDIA pipeline",
          options={"arch": "sm_80 | sm_90 (default sm_90)", "schedule": "auto | warp | block",
                   "ptxas": "true | false (default true)"})
def gir_lower_nvidia(module, options):
    arch = options.get("arch", "sm_90")
    lower_to_gpu(module, resolve_target(arch), options.get("schedule", "auto"))
    gpu_to_nvvm(module, arch)
    nvvm_to_ptx(module, arch, options.get("ptxas", "true") != "false")


@gir_pass("gir-lower-amd", "GIR -> gpu -> ROCDL -> AMDGCN: the whole AMD pipeline",
          options={"chipset": "gfx90a | gfx942 (default gfx942)", "schedule": "auto | warp | block"})
def gir_lower_amd(module, options):
    chipset = options.get("chipset", "gfx942")
    lower_to_gpu(module, resolve_target(chipset), options.get("schedule", "auto"))
    gpu_to_rocdl(module, chipset)
    rocdl_to_amdgcn(module, chipset)
