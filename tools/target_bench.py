"""Per-target benchmarks on the standard operators: NVIDIA (CUDA events, ptxas report) and the
emulated MLU (modelled time and traffic, fused vs naive). Entry points of `python -m
girflow.runtime.nvidia` / `python -m girflow.runtime.mlu` and of `girflow bench --target`."""
from __future__ import annotations

import sys

import numpy as np

import girflow
from girflow.dialects import targets
from girflow.runtime import mlu, nvidia


def standard_ops(rows=1024, cols=4096):
    """(name, fn, shapes) for the operators every target is measured on."""
    def softmax(x):
        e = (x - x.max(axis=-1, keepdims=True)).exp()
        return e / e.sum(axis=-1, keepdims=True)

    def layernorm(x, w, b):
        d = x - x.mean(axis=-1, keepdims=True)
        return d * ((d * d).mean(axis=-1, keepdims=True) + 1e-5).rsqrt() * w + b

    def rmsnorm(x, w):
        return x * ((x * x).mean(axis=-1, keepdims=True) + 1e-6).rsqrt() * w

    def gelu(x):
        return 0.5 * x * (1.0 + (x * 0.7071067811865476).erf())

    return [("softmax", softmax, [(rows, cols)]), ("layernorm", layernorm, [(rows, cols), (cols,), (cols,)]),
            ("rmsnorm", rmsnorm, [(rows, cols), (cols,)]), ("gelu", gelu, [(rows, cols)]),
            ("colsum", lambda x: x.sum(axis=0, keepdims=True), [(rows, cols)]),
            ("transpose", lambda x: x.T, [(rows, cols)])]


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
    ok, why = nvidia.gpu_available()
    if not ok:
        raise RuntimeError(f"GPU benchmark unavailable: {why}")
    import torch

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
        kfn = nvidia.build(traced.mlir, traced, desc)
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


def benchmark_mlu(ops, target: str = "mlu370", print_table: bool = True, seed: int = 0):
    """For each (name, fn, shapes): modelled time and bytes per level of GIR's fused schedule next to
    the naive one (every op through GDRAM), on the emulator. Returns a list of dict rows."""
    desc = targets.get(target)
    rng = np.random.default_rng(seed)
    rows = []
    for name, fn, shapes in ops:
        tr = girflow.trace(fn, *shapes)
        xs = [rng.standard_normal(v).astype(np.float32) for v in tr.input_views]
        row = {"op": name}
        for sched in ("fused", "naive"):
            f = mlu.MluFunction(tr.mlir, tr, desc, sched)
            f(*xs)
            s = f.stats
            row[sched] = {"time_us": s.model["time_us"], "bound": s.model["bound"],
                          "GDRAM": s.bytes_moved("GDRAM"), "SRAM": s.bytes_moved("SRAM"),
                          "NRAM": s.bytes_moved("NRAM"), "instructions": dict(s.instructions)}
        rows.append(row)
        if print_table:
            fu, na = row["fused"], row["naive"]
            print(f"{name:14s} fused {fu['time_us']:9.2f} us GDRAM {fu['GDRAM']:>10d} B SRAM {fu['SRAM']:>8d} B "
                  f"NRAM {fu['NRAM']:>10d} B | naive {na['time_us']:9.2f} us GDRAM {na['GDRAM']:>10d} B "
                  f"NRAM {na['NRAM']:>10d} B | GDRAM saved {1 - fu['GDRAM'] / max(na['GDRAM'], 1):.0%}, "
                  f"speed-up {na['time_us'] / max(fu['time_us'], 1e-9):.2f}x")
    return rows


def nvidia_main(argv=None):
    """ptxas registers/spills per kernel of the standard operators; timings when a GPU is present."""
    argv = sys.argv[1:] if argv is None else argv
    arch = argv[0] if argv else "sm_90"
    desc = targets.get({"sm_80": "nvidia_sm80", "sm_90": "nvidia_sm90"}.get(arch, arch))
    ops = standard_ops(4096, 1024)
    for name, fn, shapes in ops:
        tr = girflow.trace(fn, *shapes)
        print(f"{name:10s} {nvidia.build(tr.mlir, tr, desc).report()}")
    if nvidia.gpu_available()[0]:
        benchmark_gpu(ops, target=desc["name"])
    else:
        print(f"(no GPU benchmark: {nvidia.gpu_available()[1]})")


def mlu_main(argv=None):
    """Modelled MLU time and traffic of the standard operators, fused vs naive."""
    argv = sys.argv[1:] if argv is None else argv
    r, c = (int(v) for v in argv[:2]) if len(argv) >= 2 else (1024, 4096)
    benchmark_mlu(standard_ops(r, c))
