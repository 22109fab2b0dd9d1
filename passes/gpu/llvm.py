"""NVVM / ROCDL `gpu.module` -> LLVM IR (MLIR translation) -> PTX / AMDGCN (llvmlite), and ptxas.

  translate(gpu_module_op)             LLVM IR text of the module's body (`translate_module_to_llvmir`)
  llvm_to_ptx(ir, arch)                PTX for sm_80 / sm_90; libdevice (from the nvidia-cuda-nvcc
                                       wheel) is linked and internalised, so `__nv_expf` etc. inline
  llvm_to_amdgcn(ir, chipset)          AMDGCN assembly and an ELF code object for gfx90a / gfx942
  ptxas(ptx, arch)                     runs `ptxas -v`; per-kernel registers, shared memory, spills
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from torch_mlir import ir

PTX_FEATURES = {"sm_80": "+ptx70", "sm_86": "+ptx71", "sm_89": "+ptx78", "sm_90": "+ptx80"}


def _nvcc_dir() -> Path | None:
    try:
        import nvidia.cuda_nvcc as m  # namespace package from nvidia-cuda-nvcc-cu12
        for p in m.__path__:
            return Path(p)
    except ImportError:
        return None
    return None


def ptxas_path() -> str | None:
    d = _nvcc_dir()
    if d is not None and (d / "bin" / "ptxas").exists():
        return str(d / "bin" / "ptxas")
    return shutil.which("ptxas")


def libdevice_path() -> str | None:
    d = _nvcc_dir()
    if d is not None:
        p = d / "nvvm" / "libdevice" / "libdevice.10.bc"
        if p.exists():
            return str(p)
    return None


@functools.lru_cache(maxsize=None)
def _llvm():
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

    body = "\n".join(str(op) for op in gpu_module.regions[0].blocks[0].operations)
    with ir.Context() as ctx, ir.Location.unknown():  # a fresh context: safe inside a running pass
        m = ir.Module.parse("module {\n" + body + "\n}", context=ctx)
        text = llvm_dialect.translate_module_to_llvmir(m.operation)
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


def _optimise(llvm, mod, tm, keep: set[str]):
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


def _kernels(llvm_ir: str) -> list[str]:
    return re.findall(r"define (?:ptx_kernel |amdgpu_kernel )?void @(\w+)\(", llvm_ir) or \
        re.findall(r"define .*?@(\w+)\(", llvm_ir)


def llvm_to_ptx(llvm_ir: str, arch: str = "sm_90") -> str:
    llvm = _llvm()
    kernels = _kernels(llvm_ir)
    mod = llvm.parse_assembly(llvm_ir)
    mod.triple = "nvptx64-nvidia-cuda"
    tm = llvm.Target.from_triple(mod.triple).create_target_machine(
        cpu=arch, features=PTX_FEATURES.get(arch, "+ptx80"), opt=3)
    mod.data_layout = str(tm.target_data)
    lib = libdevice_path()
    if lib and "__nv_" in llvm_ir:
        dev = llvm.parse_bitcode(Path(lib).read_bytes())
        dev.triple = mod.triple
        dev.data_layout = mod.data_layout
        mod.link_in(dev)
    mod.verify()
    _optimise(llvm, mod, tm, set(kernels))
    return tm.emit_assembly(mod)


def llvm_to_amdgcn(llvm_ir: str, chipset: str = "gfx942") -> tuple[str, bytes]:
    llvm = _llvm()
    kernels = _kernels(llvm_ir)
    mod = llvm.parse_assembly(llvm_ir)
    mod.triple = "amdgcn-amd-amdhsa"
    tm = llvm.Target.from_triple(mod.triple).create_target_machine(cpu=chipset, features="", opt=3)
    mod.data_layout = str(tm.target_data)
    mod.verify()
    _optimise(llvm, mod, tm, set(kernels))
    copy = llvm.parse_assembly(str(mod))  # codegen edits the module in place (control-flow annotation)
    asm = tm.emit_assembly(mod)
    obj = tm.emit_object(copy)
    return asm, obj


_PTXAS_ENTRY = re.compile(r"Compiling entry function '(\w+)' for '(\w+)'")
_PTXAS_USED = re.compile(r"Used (\d+) registers(?:, used (\d+) barriers)?(?:, (\d+) bytes smem)?")
_PTXAS_STACK = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")


class PtxasError(RuntimeError):
    pass


def ptxas(ptx: str, arch: str = "sm_90") -> tuple[bytes, dict]:
    """Assemble `ptx` with `ptxas -v`; returns (cubin, {kernel: {registers, shared_bytes, ...}})."""
    exe = ptxas_path()
    if exe is None:
        raise PtxasError("ptxas not found (install nvidia-cuda-nvcc-cu12)")
    with tempfile.TemporaryDirectory() as d:
        src, out = os.path.join(d, "k.ptx"), os.path.join(d, "k.cubin")
        Path(src).write_text(ptx)
        p = subprocess.run([exe, f"-arch={arch}", "-v", "-O3", src, "-o", out],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise PtxasError(f"ptxas failed ({p.returncode}):\n{p.stderr}")
        cubin = Path(out).read_bytes()
    info, cur = {}, None
    for line in p.stderr.splitlines():
        m = _PTXAS_ENTRY.search(line)
        if m:
            cur = m.group(1)
            info[cur] = {"registers": 0, "shared_bytes": 0, "barriers": 0, "stack_bytes": 0,
                         "spill_stores": 0, "spill_loads": 0}
            continue
        if "Compiling" in line or "Function properties for" in line:
            if "Function properties for" in line and cur and line.strip().endswith(cur):
                continue
            if "Function properties for" in line:
                cur = None if not any(line.strip().endswith(k) for k in info) else cur
            continue
        if cur is None:
            continue
        m = _PTXAS_STACK.search(line)
        if m:
            info[cur].update(stack_bytes=int(m.group(1)), spill_stores=int(m.group(2)),
                             spill_loads=int(m.group(3)))
        m = _PTXAS_USED.search(line)
        if m:
            info[cur].update(registers=int(m.group(1)), barriers=int(m.group(2) or 0),
                             shared_bytes=int(m.group(3) or 0))
    return cubin, info


def format_ptxas(info: dict, arch: str) -> str:
    return "\n".join(f"{k} [{arch}]: {v['registers']} registers, {v['shared_bytes']} bytes shared, "
                     f"{v['spill_stores']} bytes spill stores, {v['barriers']} barriers"
                     for k, v in info.items())
