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

import ctypes
import functools

from girflow.passes.gpu.compile import GpuBinary, compile_gpu
from girflow.runtime.backends import register_backend
from girflow.runtime.backends import schedule_option as _schedule

_TORCH_DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


@functools.lru_cache(maxsize=None)
def gpu_available() -> tuple[bool, str]:
    """Whether a CUDA device can run girflow kernels here, and why not."""
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA device (torch.cuda.is_available() is False)"
    try:
        from cuda.bindings import driver  # noqa: F401
    except ImportError:
        return False, "cuda-python (cuda.bindings.driver) is not installed"
    return True, ""


def _check(result):
    err = result[0] if isinstance(result, tuple) else result
    from cuda.bindings import driver

    if err != driver.CUresult.CUDA_SUCCESS:
        _, name = driver.cuGetErrorName(err)
        raise RuntimeError(f"CUDA driver error {name.decode() if isinstance(name, bytes) else name}")
    if isinstance(result, tuple):
        return result[1] if len(result) == 2 else result[1:]
    return None


class CudaModule:
    """A loaded cubin/PTX image in torch's (primary) context of the current device."""

    def __init__(self, image: bytes, kernel: str):
        import torch
        from cuda.bindings import driver

        torch.cuda.init()
        _check(driver.cuInit(0))
        dev = _check(driver.cuDeviceGet(torch.cuda.current_device()))
        ctx = _check(driver.cuDevicePrimaryCtxRetain(dev))
        _check(driver.cuCtxSetCurrent(ctx))
        self.module = _check(driver.cuModuleLoadData(image))
        self.function = _check(driver.cuModuleGetFunction(self.module, kernel.encode()))

    def launch(self, grid, block, shared_bytes, pointers, stream):
        from cuda.bindings import driver

        params = (tuple(pointers), tuple(ctypes.c_void_p for _ in pointers))
        _check(driver.cuLaunchKernel(self.function, *grid, *block, shared_bytes, driver.CUstream(stream), params, 0))


class NvidiaFunction:
    def __init__(self, binary: GpuBinary, traced, desc: dict):
        self.binary, self.traced, self.desc = binary, traced, desc
        self._module = None

    ptx = property(lambda self: self.binary.assembly)
    cubin = property(lambda self: self.binary.binary)
    ptxas = property(lambda self: self.binary.resources)

    def report(self) -> str:
        return self.binary.report()

    def __repr__(self):
        return f"<girflow nvidia kernel {self.report()}>"

    def __call__(self, *args):
        ok, why = gpu_available()
        if not ok:
            raise RuntimeError(f"cannot run on target '{self.desc['name']}': {why}")
        import torch

        views = self.traced.input_views
        if len(args) != len(views):
            raise TypeError(f"expected {len(views)} inputs, got {len(args)}")
        dtype = getattr(torch, _TORCH_DTYPES[self.traced.dtype])
        for i, (a, v) in enumerate(zip(args, views)):
            if not (isinstance(a, torch.Tensor) and a.is_cuda):
                raise TypeError(f"input {i}: expected a torch CUDA tensor")
            if tuple(a.shape) != tuple(v) or a.dtype != dtype or not a.is_contiguous():
                raise ValueError(f"input {i}: expected a contiguous {dtype} tensor of shape {tuple(v)}, "
                                 f"got {a.dtype} {tuple(a.shape)}")
        dev = args[0].device if args else torch.device("cuda")
        outs = [torch.empty(tuple(v), dtype=dtype, device=dev) for v in self.traced.output_views]
        if self._module is None:
            self._module = CudaModule(self.binary.binary or self.binary.assembly.encode() + b"\0",
                                      self.binary.kernel)
        stream = torch.cuda.current_stream(dev).cuda_stream
        self._module.launch(self.binary.grid, self.binary.block, self.binary.shared_bytes,
                            [t.data_ptr() for t in (*args, *outs)], stream)
        return outs[0] if len(outs) == 1 else tuple(outs)


def build(module_text: str, traced, desc: dict, options: str = "") -> NvidiaFunction:
    """The backend entry point registered for kind "nvidia"."""
    return NvidiaFunction(compile_gpu(module_text, desc, _schedule(options, "auto")), traced, desc)


register_backend("nvidia", build)


if __name__ == "__main__":  # python -m girflow.runtime.nvidia [ARCH]: ptxas report per kernel; benchmark on a GPU
    from girflow.tools.target_bench import nvidia_main

    nvidia_main()
