"""NVIDIA code generation: LLVM IR -> PTX (llvmlite; libdevice from the nvidia-cuda-nvcc wheel linked
and internalised, so `__nv_expf` etc. inline) and `ptxas -v` (per-kernel registers, shared memory, spills)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from girflow.passes.gpu.llvm import kernel_names, llvm, optimise

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


def llvm_to_ptx(llvm_ir: str, arch: str = "sm_90") -> str:
    binding = llvm()
    kernels = kernel_names(llvm_ir)
    mod = binding.parse_assembly(llvm_ir)
    mod.triple = "nvptx64-nvidia-cuda"
    tm = binding.Target.from_triple(mod.triple).create_target_machine(
        cpu=arch, features=PTX_FEATURES.get(arch, "+ptx80"), opt=3)
    mod.data_layout = str(tm.target_data)
    lib = libdevice_path()
    if lib and "__nv_" in llvm_ir:
        dev = binding.parse_bitcode(Path(lib).read_bytes())
        dev.triple = mod.triple
        dev.data_layout = mod.data_layout
        mod.link_in(dev)
    mod.verify()
    optimise(binding, mod, tm, set(kernels))
    return tm.emit_assembly(mod)



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
