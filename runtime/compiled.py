"""`girflow.compile`: a callable that traces on first use per shape/dtype, compiles for its target,
caches the kernel, and runs it on NumPy arrays or torch CPU tensors without copying them.
"""
from __future__ import annotations

import functools
import hashlib
import math
import threading

import numpy as np
from torch_mlir import ir

from girflow.dialects import targets
from girflow.dialects.gir import STORAGE_DTYPES as DTYPES
from girflow.runtime.backends import get_backend
from girflow.runtime.buffers import POOL, POOL_MIN_BYTES

_KERNELS: dict = {}          # (sha of GIR text, target, options) -> compiled kernel, shared by all callers
_LOCK = threading.Lock()


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _describe(x, i: int, host: bool = True):
    """(shape, dtype name) of argument `i`, or a clear error; `host`: the target reads host memory."""
    if isinstance(x, np.ndarray):
        if not x.flags.c_contiguous:
            raise ValueError(f"argument {i} is not C-contiguous (strides {x.strides}); "
                             "pass np.ascontiguousarray(x)")
        dtype = str(x.dtype)
    elif _is_torch(x):
        if host and x.device.type != "cpu":
            raise ValueError(f"argument {i} is on device '{x.device}'; this target takes CPU tensors")
        if not x.is_contiguous():
            raise ValueError(f"argument {i} is not contiguous (strides {tuple(x.stride())}); pass x.contiguous()")
        dtype = str(x.dtype).replace("torch.", "")
    else:
        raise TypeError(f"argument {i} is a {type(x).__name__}; expected a NumPy array or a torch tensor")
    if dtype not in DTYPES:
        raise TypeError(f"argument {i} has dtype {dtype}; supported: {', '.join(DTYPES)}")
    if dtype == "bfloat16" and not _is_torch(x):
        raise TypeError("bfloat16 is supported for torch tensors only")
    return tuple(x.shape), dtype


def torch_data_ptr():
    """The unbound `Tensor.data_ptr` (one C call per tensor, no attribute lookup)."""
    import torch

    return torch.Tensor.data_ptr


def _pointer(x) -> int:
    return x.ctypes.data if isinstance(x, np.ndarray) else x.data_ptr()


def _empty_like_kind(x, shape, dtype: str):
    if _is_torch(x):
        import torch

        if dtype == "bfloat16":
            return torch.empty(shape, dtype=torch.bfloat16)
        return torch.from_numpy(POOL.empty(shape, dtype))
    return POOL.empty(shape, dtype)


def _check_out(out, shape, dtype, like):
    sig = _describe(out, -1)
    if sig != (tuple(shape), dtype) or _is_torch(out) != _is_torch(like):
        raise ValueError(f"out= must be a contiguous {'torch tensor' if _is_torch(like) else 'NumPy array'} "
                         f"of shape {tuple(shape)} and dtype {dtype}, got shape {sig[0]} dtype {sig[1]}")
    return out.reshape(shape) if not _is_torch(out) else out.view(shape)


def _tensor_guard(args):
    """A C-level check that `args` are torch tensors with the same dtype, device, dispatch keys
    (requires_grad included), sizes and strides as these: torch's own guard object (what
    torch.compile checks its compiled graphs with), ~0.15 µs per tensor against ~0.6 µs for the
    attribute reads of `_fast_key`. None where it is unavailable."""
    try:
        from torch._C._dynamo.guards import TensorGuards

        guard = TensorGuards(*args, dynamic_dims_sizes=[list(a.size()) for a in args],
                             dynamic_dims_strides=[list(a.stride()) for a in args])
    except (ImportError, TypeError, RuntimeError):
        return None
    return guard.check


def _fast_key(x):
    """What decides the kernel and the call path of argument `x`, read in ~0.5 µs: type, shape,
    dtype, contiguity (and for torch, that it lives on the CPU). `size()` is torch's cheapest
    shape read."""
    if type(x) is np.ndarray:
        return (np.ndarray, x.shape, x.dtype, x.flags.c_contiguous)
    return (type(x), x.size(), x.dtype, x.is_contiguous(), x.is_cpu)


class _HostEntry:
    """A steady-state call of a host kernel for one argument signature: everything but the buffer
    addresses is resolved once (output allocators of the user's shapes, the native entry point).
    A call reads one address per array and allocates the outputs, nothing else: measured at 8x64,
    `torch.empty(shape, dtype=...)` costs ~2.6 µs against ~1.2 µs for `torch.empty_like` of a
    template tensor, and each Python-level layer ~0.1 µs, so the common case (no out=, one output)
    is one straight-line method."""

    def __init__(self, traced, kernel, args):
        self.run = kernel.run
        self.torch_io = _is_torch(args[0])
        self.all_torch = all(_is_torch(a) for a in args)
        self.dtype = traced.dtype
        # outputs are allocated in the user's shape: the kernel's view has the same contiguous layout
        self.makers = [self._maker(shape) for shape in traced.output_shapes]
        self.shapes = traced.output_shapes
        self.single = len(self.shapes) == 1
        self.make_single = self.makers[0] if self.single else None
        self.out_keys = [_fast_key(make()) for make in self.makers]
        self.torch_ptr = torch_data_ptr() if self.all_torch and self.torch_io else None
        self.guard = _tensor_guard(args) if self.torch_ptr is not None else None
        # the whole call of torch tensors the guard passed, in C (runtime/native/launch.c); the
        # Python path below stays for out= and for kernels without the native launcher
        bound = getattr(kernel, "bound_call", None)
        self.fast = None
        if self.guard is not None and bound is not None:
            self.fast = bound(tuple(self.makers), self.torch_ptr, self._python_call)

    def _maker(self, shape):
        """A no-argument allocator of one output: small ones fresh, large ones from the pool."""
        small = math.prod(shape) * 4 < POOL_MIN_BYTES
        if self.torch_io:
            import torch

            if self.dtype == "bfloat16" or small:
                template = torch.empty(shape, dtype=getattr(torch, self.dtype))
                return functools.partial(torch.empty_like, template)
            return lambda: torch.from_numpy(POOL.empty(shape, self.dtype))
        if small:
            return functools.partial(np.empty, shape, np.dtype(self.dtype))
        return functools.partial(POOL.empty, shape, self.dtype)

    def _python_call(self, args, out):
        return _HostEntry.__call__(self, args, out)

    def __call__(self, args, out):
        if out is None and self.torch_ptr is not None:      # the common case: torch in and out
            ptr = self.torch_ptr
            if self.single:
                o = self.make_single()
                pointers = [*map(ptr, args), ptr(o)]
                self.run(pointers)
                return o
            outs = [make() for make in self.makers]
            self.run([*map(ptr, args), *map(ptr, outs)])
            return tuple(outs)
        if out is None:
            outs = [make() for make in self.makers]
        else:
            outs = list(out) if isinstance(out, (tuple, list)) else [out]
            self._check_out(outs)
        if self.all_torch:
            pointers = [a.data_ptr() for a in args]
        else:
            pointers = [_pointer(a) for a in args]
        pointers += [o.data_ptr() for o in outs] if self.torch_io else [o.ctypes.data for o in outs]
        self.run(pointers)
        if out is not None:
            return out
        return outs[0] if self.single else tuple(outs)

    def _check_out(self, outs) -> None:
        if len(outs) != len(self.shapes):
            raise ValueError(f"out= needs {len(self.shapes)} array(s), got {len(outs)}")
        for o, shape, key in zip(outs, self.shapes, self.out_keys):
            try:
                ok = _fast_key(o) == key
            except AttributeError:
                ok = False
            if not ok:
                kind = "torch tensor" if self.torch_io else "NumPy array"
                raise ValueError(f"out= must be a contiguous {kind} of shape {tuple(shape)} and dtype "
                                 f"{self.dtype}, got {type(o).__name__} {getattr(o, 'shape', '')} "
                                 f"{getattr(o, 'dtype', '')}")


def layout_only(traced) -> bool:
    """Whether the program's one result holds its input's elements at the same offsets: a
    transpose with a dimension of 1 (its row-major order is the input's). Such a result is a view
    of the input, as `x.T` (and `x.T.contiguous()`) is in PyTorch and NumPy: no kernel, no copy."""
    return (traced.form == "transpose" and len(traced.input_views) == 1
            and min(traced.input_views[0]) == 1)


class _ViewEntry:
    """The call of a layout-only program (see `layout_only`): the input viewed in the result's
    shape; with `out=`, the elements copied into it."""

    def __init__(self, traced, args):
        self.shape = tuple(traced.output_shapes[0])
        self.torch_io = _is_torch(args[0])
        self.guard = _tensor_guard(args) if self.torch_io and all(_is_torch(a) for a in args) else None
        # a 2-D result that is the input's shape reversed: `x.t()`, what `x.t().contiguous()` returns
        # in PyTorch (the same strides; a unit dimension keeps it contiguous), ~40% cheaper than
        # `x.view(shape)` with a shape tuple; one plain function after the guard, no method frame
        self.transposed = len(self.shape) == 2 and tuple(args[0].shape) == self.shape[::-1]
        self.fast = functools.partial(_transposed_view, self) if self.torch_io and self.transposed else None

    def __call__(self, args, out):
        x = args[0]
        if self.torch_io:
            view = x.t() if self.transposed else x.view(*self.shape)
        else:
            view = x.reshape(self.shape)
        if out is None:
            return view
        o = out[0] if isinstance(out, (tuple, list)) else out
        if _describe(o, -1) != (tuple(self.shape), _describe(x, 0)[1]) or _is_torch(o) != self.torch_io:
            raise ValueError(f"out= must be a contiguous {'torch tensor' if self.torch_io else 'NumPy array'} "
                             f"of shape {tuple(self.shape)} and dtype {_describe(x, 0)[1]}")
        if self.torch_io:
            o.copy_(view)
        else:
            o[...] = view
        return out


def _transposed_view(entry, args, out):
    """The guarded steady-state call of a layout-only 2-D transpose of one torch tensor."""
    if out is None:
        return args[0].t()
    return entry(args, out)


def kernel_for(mlir: str, traced, target: str, options: str = ""):
    desc = targets.get(target)
    key = (hashlib.sha256(mlir.encode()).hexdigest(), target, options)
    with _LOCK:
        if key not in _KERNELS:
            build = get_backend(desc["kind"])
            try:
                _KERNELS[key] = build(mlir, traced, desc, options) if options else build(mlir, traced, desc)
            except ir.MLIRError as e:
                notes = "; ".join(d.message for d in e.error_diagnostics) or str(e)
                raise ValueError(f"cannot compile '{traced.name}' for target '{target}': {notes}") from None
        return _KERNELS[key]


_TRACER = None


def _never(*args) -> bool:
    return False


def register_tracer(tracer) -> None:
    """The frontend's `trace_program(fn, *args)`, used by CompiledFunction unless given another."""
    global _TRACER
    _TRACER = tracer


class CompiledFunction:
    """What `girflow.compile(fn, target)` returns. `tracer(fn, *args)` turns the function into a traced
    GIR program; by default the one the array-API frontend registered (the runtime never imports a
    frontend). `tune=True` times the cost model's best schedules on the first call per shape."""

    def __init__(self, fn, target: str = "cpu", options: str = "", *, tracer=None, tune: bool = False):
        self.kind = targets.get(target)["kind"]  # fails early on an unknown target
        if tracer is None and _TRACER is None:
            raise RuntimeError("no tracer: import girflow.frontends.array_api (or pass tracer=)")
        if tune and self.kind != "cpu":
            raise ValueError(f"tune=True measures on this machine; target '{target}' is not the host CPU")
        self.fn, self.target, self.options, self.tracer = fn, target, options, tracer or _TRACER
        self.tune = tune
        self._by_signature: dict = {}
        self._entries: dict = {}      # fast key of the arguments -> _HostEntry (host kernels only)
        self._last = (_never, None)   # (torch-argument guard, entry) of the last signature: one
                                      # tuple, so a concurrent caller never pairs one with the other

    def specialise(self, *args):
        """(traced program, kernel) for these arguments, compiling on first use."""
        sig = tuple(_describe(a, i, host=self.kind != "nvidia") for i, a in enumerate(args))
        hit = self._by_signature.get(sig)
        if hit is None:
            traced = self.tracer(self.fn, *args)
            options = self.options
            if self.tune:   # measure the model's best candidates once; the cache remembers the winner
                from girflow.passes.schedule_space import as_options
                from girflow.runtime.tuner import tune

                options = f"{as_options(tune(traced, self.target)['schedule'])} {options}".strip()
            hit = (traced, kernel_for(traced.mlir, traced, self.target, options))
            self._by_signature[sig] = hit
        return hit

    def __call__(self, *args, out=None):
        """Run on `args`; `out` (an array or a tuple of arrays of the result shapes) is written in place."""
        guard, last = self._last
        try:
            if guard(*args):          # torch tensors of the last signature: one C-level check
                return last(args, out)
        except TypeError:             # another number of arguments
            pass
        try:
            entry = self._entries.get(tuple(map(_fast_key, args)))
        except AttributeError:        # not an array: the full check below names the problem
            entry = None
        if entry is None:
            traced, kernel = self.specialise(*args)
            if not hasattr(kernel, "run"):
                return self._call_array_kernel(traced, kernel, args, out)
            entry = _ViewEntry(traced, args) if layout_only(traced) else _HostEntry(traced, kernel, args)
            self._entries[tuple(map(_fast_key, args))] = entry
        if entry.guard is not None:
            self._last = (entry.guard, entry.fast or entry)
        return entry(args, out)

    def _call_array_kernel(self, traced, kernel, args, out):
        """Backends whose kernels take arrays in the kernel's view shapes and return their outputs."""
        views = [a.reshape(v) for a, v in zip(args, traced.input_views)]
        got = kernel(*views)
        got = got if isinstance(got, tuple) else (got,)
        results = tuple(g.reshape(shape) for g, shape in zip(got, traced.output_shapes))
        if out is not None:
            outs = out if isinstance(out, (tuple, list)) else (out,)
            for o, r in zip(outs, results):
                o[...] = r
            return out
        return results[0] if len(results) == 1 else results
