"""NVIDIA backend: GIR -> gpu -> NVVM -> PTX (llvmlite) -> cubin (ptxas), launched with cuda-python.

    build(module_text, traced, desc) -> NvidiaFunction
        compiles at build time (no GPU needed: the PTX is assembled by ptxas from the
        nvidia-cuda-nvcc-cu12 wheel and `fn.report()` prints registers / shared memory per kernel);
        calling it needs a CUDA device: it takes torch CUDA tensors in the traced input-view shapes
        and returns new torch CUDA tensors in the output-view shapes. Arguments are passed to the
        kernel by pointer (bare-pointer memref convention), so there are no copies; non-contiguous
        inputs are rejected rather than silently copied.
    gpu_available() -> (bool, reason)
    benchmark_gpu(ops, ...) -> rows of timings: girflow vs torch eager vs torch.compile vs device copy
"""
from __future__ import annotations

import ctypes
import functools

from girflow.runtime.backends import register_backend, schedule_option as _schedule
from girflow.passes.gpu_compile import GpuBinary, compile_gpu

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


class _Eager:
    """A torch tensor behind girflow's array API, so an operator written for girflow runs eagerly."""

    def __init__(self, t):
        self.t = t

    @staticmethod
    def _u(o):
        return o.t if isinstance(o, _Eager) else o

    shape = property(lambda self: tuple(self.t.shape))
    T = property(lambda self: _Eager(self.t.T))

    def __getattr__(self, name):
        import torch

        if name in ("exp", "log", "tanh", "erf", "rsqrt", "sqrt", "abs", "sigmoid", "reciprocal"):
            return lambda: _Eager(getattr(torch, name)(self.t))
        if name in ("sum", "mean", "max", "min"):
            red = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin}[name]
            return lambda axis, keepdims=False: _Eager(red(self.t, dim=axis, keepdim=keepdims))
        raise AttributeError(name)

    def __neg__(self): return _Eager(-self.t)
    def __abs__(self): return _Eager(self.t.abs())


for _name, _op in [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
                   ("truediv", lambda a, b: a / b), ("lt", lambda a, b: a < b), ("le", lambda a, b: a <= b),
                   ("gt", lambda a, b: a > b), ("ge", lambda a, b: a >= b)]:
    setattr(_Eager, f"__{_name}__", (lambda op: lambda self, o: _Eager(op(self.t, _Eager._u(o))))(_op))
    if _name in ("add", "sub", "mul", "truediv"):
        setattr(_Eager, f"__r{_name}__", (lambda op: lambda self, o: _Eager(op(_Eager._u(o), self.t)))(_op))


def torch_eager(fn):
    """`fn` (written with girflow's array API) as a function of torch tensors, run by torch eagerly."""
    def run(*ts):
        out = fn(*[_Eager(t) for t in ts])
        return tuple(o.t for o in out) if isinstance(out, (tuple, list)) else out.t
    return run


def benchmark_gpu(ops, target: str = "nvidia", repeats: int = 50, warmup: int = 5, print_table: bool = True,
                  inductor: bool = True):
    """GPU mode of the benchmark. `ops`: (name, fn, shapes) or (name, fn, shapes, torch_fn) with fn
    (operators using girflow.ops.maximum/minimum/where need the explicit torch_fn)
    written with girflow's array API. Median milliseconds (CUDA events) of the girflow kernel, torch
    eager, torch.compile (inductor) and a device-to-device copy of the inputs (the memory roofline),
    plus achieved GB/s and ptxas registers. Needs a CUDA device; raises RuntimeError otherwise."""
    ok, why = gpu_available()
    if not ok:
        raise RuntimeError(f"GPU benchmark unavailable: {why}")
    import torch

    import girflow
    from girflow.dialects import targets

    desc = targets.get(target)

    def timeit(f):
        for _ in range(warmup):
            f()
        torch.cuda.synchronize()
        times = []
        for _ in range(repeats):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            f()
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
        times.sort()
        return times[len(times) // 2]

    rows = []
    for entry in ops:
        name, fn, shapes = entry[:3]
        eager = entry[3] if len(entry) > 3 else torch_eager(fn)
        xs = [torch.randn(*s, device="cuda") for s in shapes]
        traced = girflow.trace(fn, *shapes)
        kfn = build(traced.mlir, traced, desc)
        views = [x.reshape(v) for x, v in zip(xs, traced.input_views)]
        got = kfn(*views)
        got = got if isinstance(got, tuple) else (got,)
        want = eager(*xs)
        want = want if isinstance(want, tuple) else (want,)
        for g, w in zip(got, want):
            torch.testing.assert_close(g.reshape(w.shape), w, rtol=1e-4, atol=1e-4)
        nbytes = sum(x.numel() * 4 for x in xs) + sum(g.numel() * g.element_size() for g in got)
        row = {"op": name, "shapes": shapes, "girflow_ms": timeit(lambda: kfn(*views)),
               "eager_ms": timeit(lambda: eager(*xs)), "copy_ms": timeit(lambda: [x.clone() for x in xs]),
               "registers": sum(v["registers"] for v in kfn.ptxas.values()), "schedule": kfn.binary.schedule}
        if inductor:
            compiled = torch.compile(eager)
            row["compile_ms"] = timeit(lambda: compiled(*xs))
        row["girflow_gbs"] = nbytes / row["girflow_ms"] / 1e6
        rows.append(row)
        if print_table:
            print(f"{name:24s} girflow {row['girflow_ms']:.3f} ms ({row['girflow_gbs']:.0f} GB/s, "
                  f"{row['schedule']}, {row['registers']} regs)  eager {row['eager_ms']:.3f} ms  "
                  f"torch.compile {row.get('compile_ms', float('nan')):.3f} ms  copy {row['copy_ms']:.3f} ms")
    return rows


if __name__ == "__main__":  # python -m girflow.runtime.nvidia [ARCH]: ptxas report per kernel; benchmark on a GPU
    import sys

    import girflow
    from girflow.dialects import targets
    from girflow.runtime.mlu import _standard_ops

    desc = targets.get({"sm_80": "nvidia_sm80", "sm_90": "nvidia_sm90"}.get(sys.argv[1] if len(sys.argv) > 1 else "sm_90"))
    ops = _standard_ops(4096, 1024)
    for name, fn, shapes in ops:
        tr = girflow.trace(fn, *shapes)
        print(f"{name:10s} {build(tr.mlir, tr, desc).report()}")
    if gpu_available()[0]:
        benchmark_gpu(ops, target=desc["name"])
    else:
        print(f"(no GPU benchmark: {gpu_available()[1]})")
