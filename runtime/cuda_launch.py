"""Launching compiled NVIDIA kernels (cubin / PTX) with cuda-python on torch's CUDA context.

Needs torch, cuda-python (`cuda.bindings.driver`) and nothing of the compiler: kernels built on
one machine (`girflow gpu bundle`) run on another that has a GPU but no MLIR.

    gpu_available() -> (bool, reason)
    KernelLaunch(image, kernel, grid, block, shared_bytes, input_views, output_views, dtype)
        launch(*inputs, out=None) -> outputs   checked torch CUDA tensors in, new (or given) ones out
        launch_pointers(pointers, stream)      the raw launch (inputs then outputs, by pointer)

Arguments are passed by pointer (the bare-pointer memref convention of the GPU lowering), so
inputs are never copied; a non-contiguous or mis-shaped input is an error, not a silent copy.
"""
from __future__ import annotations

import ctypes
import functools
import math

TORCH_DTYPES = ("float32", "float16", "bfloat16")


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


class CudaError(RuntimeError):
    pass


def check(result):
    """The value(s) of a cuda.bindings call; raises CudaError naming the driver error."""
    from cuda.bindings import driver

    err = result[0] if isinstance(result, tuple) else result
    if err != driver.CUresult.CUDA_SUCCESS:
        _, name = driver.cuGetErrorName(err)
        raise CudaError(f"CUDA driver error {name.decode() if isinstance(name, bytes) else name}")
    if isinstance(result, tuple):
        return result[1] if len(result) == 2 else result[1:]
    return None


class CudaModule:
    """A loaded cubin/PTX image in torch's (primary) context of the current device."""

    def __init__(self, image: bytes, kernel: str):
        import torch
        from cuda.bindings import driver

        torch.cuda.init()
        check(driver.cuInit(0))
        dev = check(driver.cuDeviceGet(torch.cuda.current_device()))
        ctx = check(driver.cuDevicePrimaryCtxRetain(dev))
        check(driver.cuCtxSetCurrent(ctx))
        self.module = check(driver.cuModuleLoadData(image))
        self.function = check(driver.cuModuleGetFunction(self.module, kernel.encode()))

    def launch(self, grid, block, shared_bytes, pointers, stream):
        from cuda.bindings import driver

        params = (tuple(pointers), tuple(ctypes.c_void_p for _ in pointers))
        check(driver.cuLaunchKernel(self.function, *grid, *block, shared_bytes, driver.CUstream(stream), params, 0))


class KernelLaunch:
    """One kernel with its launch shape and its argument views: checks and launches."""

    def __init__(self, image: bytes, kernel: str, grid, block, shared_bytes: int,
                 input_views, output_views, dtype: str):
        if dtype not in TORCH_DTYPES:
            raise ValueError(f"dtype {dtype!r} is not one of {', '.join(TORCH_DTYPES)}")
        self.image, self.kernel = image, kernel
        self.grid, self.block = tuple(int(v) for v in grid), tuple(int(v) for v in block)
        self.shared_bytes = int(shared_bytes)
        self.input_views = tuple(tuple(int(d) for d in v) for v in input_views)
        self.output_views = tuple(tuple(int(d) for d in v) for v in output_views)
        self.dtype = dtype
        if len(self.grid) != 3 or len(self.block) != 3 or min(self.grid + self.block) < 1:
            raise ValueError(f"{kernel}: bad launch shape grid={self.grid} block={self.block}")
        if math.prod(self.block) > 1024:
            raise ValueError(f"{kernel}: {math.prod(self.block)} threads per block exceed 1024")
        self._module: CudaModule | None = None

    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)

    def check_inputs(self, args) -> None:
        import torch

        if len(args) != len(self.input_views):
            raise TypeError(f"expected {len(self.input_views)} inputs, got {len(args)}")
        dtype = self.torch_dtype()
        for i, (a, v) in enumerate(zip(args, self.input_views)):
            if not (isinstance(a, torch.Tensor) and a.is_cuda):
                raise TypeError(f"input {i}: expected a torch CUDA tensor")
            if tuple(a.shape) != v or a.dtype != dtype or not a.is_contiguous():
                raise ValueError(f"input {i}: expected a contiguous {dtype} tensor of shape {v}, "
                                 f"got {a.dtype} {tuple(a.shape)}")

    def new_outputs(self, device=None) -> list:
        import torch

        return [torch.empty(v, dtype=self.torch_dtype(), device=device or "cuda") for v in self.output_views]

    def load(self) -> CudaModule:
        """Load the image into the current context (once); do it before any CUDA-graph capture."""
        if self._module is None:
            self._module = CudaModule(self.image, self.kernel)
        return self._module

    def launch_pointers(self, pointers, stream) -> None:
        self.load().launch(self.grid, self.block, self.shared_bytes, pointers, stream)

    def __call__(self, *args, out=None):
        import torch

        self.check_inputs(args)
        dev = args[0].device if args else torch.device("cuda")
        outs = self.new_outputs(dev) if out is None else list(out)
        if len(outs) != len(self.output_views):
            raise TypeError(f"expected {len(self.output_views)} output buffers, got {len(outs)}")
        for i, (o, v) in enumerate(zip(outs, self.output_views)):
            if tuple(o.shape) != v or o.dtype != self.torch_dtype() or not o.is_contiguous() or not o.is_cuda:
                raise ValueError(f"output {i}: expected a contiguous CUDA {self.dtype} tensor of shape {v}")
        stream = torch.cuda.current_stream(dev).cuda_stream
        self.launch_pointers([t.data_ptr() for t in (*args, *outs)], stream)
        return outs[0] if len(outs) == 1 else tuple(outs)
