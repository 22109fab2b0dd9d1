"""NVIDIA backend: GIR -> gpu -> NVVM -> PTX (llvmlite) -> cubin (ptxas), launched with cuda-python.

    build(module_text, traced, desc) -> NvidiaFunction
        compiles at build time (no GPU needed: the PTX is assembled by ptxas from the
        nvidia-cuda-nvcc-cu12 wheel and `fn.report()` prints registers / shared memory per kernel);
        calling it needs a CUDA device: it takes torch CUDA tensors in the traced input-view shapes
        and returns new torch CUDA tensors in the output-view shapes. Arguments are passed to the
        kernel by pointer (bare-pointer memref convention), so there are no copies; non-contiguous
        inputs are rejected rather than silently copied.
    gpu_available() -> (bool, reason)
"""
from __future__ import annotations

from girflow.runtime.backends import register_backend
from girflow.runtime.backends import schedule_option as _schedule
from girflow.runtime.cuda_launch import KernelLaunch, gpu_available

__all__ = ["DEFAULT_LAUNCH", "NvidiaFunction", "build", "gpu_available"]

# Row programs' launch shape unless options name one: the launch model's first choice
# (passes/gpu/launch_space.py). The fixed default (4 rows per block up to 1024 columns, else 256
# threads per row) ran up to 2.5x slower at 1024x1000 on an H200 (tools/gpu_check.sh, run 1).
DEFAULT_LAUNCH = "model"


class NvidiaFunction:
    """A compiled kernel (GpuBinary) and its launcher; calling it needs a CUDA device."""

    def __init__(self, binary, traced, desc: dict):
        self.binary, self.traced, self.desc = binary, traced, desc
        self.launcher = KernelLaunch(binary.binary or binary.assembly.encode() + b"\0", binary.kernel,
                                     binary.grid, binary.block, binary.shared_bytes,
                                     traced.input_views, traced.output_views, traced.dtype)

    ptx = property(lambda self: self.binary.assembly)
    cubin = property(lambda self: self.binary.binary)
    ptxas = property(lambda self: self.binary.resources)

    def report(self) -> str:
        return self.binary.report()

    def __repr__(self):
        return f"<girflow nvidia kernel {self.report()}>"

    def __call__(self, *args, out=None):
        ok, why = gpu_available()
        if not ok:
            raise RuntimeError(f"cannot run on target '{self.desc['name']}': {why}")
        return self.launcher(*args, out=out)


def build(module_text: str, traced, desc: dict, options: str = "", **launch) -> NvidiaFunction:
    """The backend entry point registered for kind "nvidia"; `launch`: rows_per_block /
    block_threads / column_split / launch ("model" unless given: DEFAULT_LAUNCH)."""
    from girflow.passes.gpu.compile import compile_gpu  # the compiler (MLIR) only where kernels are built

    launch.setdefault("launch", DEFAULT_LAUNCH)
    return NvidiaFunction(compile_gpu(module_text, desc, _schedule(options, "auto"), **launch), traced, desc)


register_backend("nvidia", build)


if __name__ == "__main__":  # python -m girflow.runtime.nvidia [ARCH]: ptxas report per kernel; benchmark on a GPU
    from girflow.tools.target_bench import nvidia_main

    nvidia_main()
