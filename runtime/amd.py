"""AMD backend: GIR -> gpu -> ROCDL -> AMDGCN assembly + code object (llvmlite), gfx90a / gfx942.

`build(module_text, traced, desc)` compiles (no GPU needed) and returns an `AmdFunction` with
`.assembly`, `.code_object` (ELF relocatable; link with ld.lld to a loadable HSACO) and `.report()`.
Running it needs the ROCm HIP runtime, which this build does not wrap: calling raises RuntimeError.
"""
from __future__ import annotations

from girflow.passes.gpu.compile import GpuBinary, compile_gpu
from girflow.runtime.backends import register_backend
from girflow.runtime.backends import schedule_option as _schedule


class AmdFunction:
    def __init__(self, binary: GpuBinary, traced, desc: dict):
        self.binary, self.traced, self.desc = binary, traced, desc

    assembly = property(lambda self: self.binary.assembly)
    code_object = property(lambda self: self.binary.binary)

    def report(self) -> str:
        import re

        vgpr = re.search(r"\.vgpr_count:\s+(\d+)", self.assembly)
        sgpr = re.search(r"\.sgpr_count:\s+(\d+)", self.assembly)
        lds = re.search(r"\.group_segment_fixed_size:\s+(\d+)", self.assembly)
        return (self.binary.report() + f"\n  amdgcn: {vgpr.group(1) if vgpr else '?'} VGPRs, "
                f"{sgpr.group(1) if sgpr else '?'} SGPRs, {lds.group(1) if lds else '?'} bytes LDS, "
                f"code object {len(self.code_object or b'')} bytes")

    def __repr__(self):
        return f"<girflow amd kernel {self.report()}>"

    def __call__(self, *args):
        raise RuntimeError(f"cannot run on target '{self.desc['name']}': AMD GPU execution needs the ROCm "
                           "HIP runtime, which girflow does not wrap yet (the code object is emitted)")


def build(module_text: str, traced, desc: dict, options: str = "") -> AmdFunction:
    return AmdFunction(compile_gpu(module_text, desc, _schedule(options, "auto")), traced, desc)



register_backend("amd", build)
