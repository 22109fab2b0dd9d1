"""Per-target benchmarks on the standard operators: NVIDIA (kernel bundles timed in CUDA graphs,
ptxas report; tools/gpu_bench.py) and the emulated MLU (modelled time and traffic, fused vs naive). Entry points of `python -m
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


def benchmark_gpu(ops=None, shapes=((8192, 4096), (4096, 1024), (1024, 1000)), target: str = "nvidia_sm90",
                  inductor: bool = True, candidates: int = 4, csv_path: str = "gpu_bench.csv",
                  summary_path: str | None = "gpu_bench_summary.csv", budget_s: float = 1e9):
    """GPU mode of the benchmark, where the compiler and a CUDA GPU are on one machine: builds a
    kernel bundle of the built-in operators `ops` (default: the standard set) at `shapes` in a
    temporary folder and times it like `girflow gpu bench` (tools/gpu_bench.py). Needs a CUDA
    device; raises RuntimeError otherwise."""
    import tempfile

    from girflow.runtime.cuda_bundle import load_bundle
    from girflow.tools.gpu_bench import bench_bundle
    from girflow.tools.gpu_bundle import BENCH_OPS, bench_cases, build_bundle

    ok, why = nvidia.gpu_available()
    if not ok:
        raise RuntimeError(f"GPU benchmark unavailable: {why}")
    with tempfile.TemporaryDirectory() as d:
        build_bundle(d, bench_cases(tuple(ops or BENCH_OPS), shapes, candidates), target)
        return bench_bundle(load_bundle(d), csv_path, budget_s, inductor, summary_path=summary_path)


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
    for name, fn, shapes in standard_ops(4096, 1024):
        tr = girflow.trace(fn, *shapes)
        print(f"{name:10s} {nvidia.build(tr.mlir, tr, desc).report()}")
    if nvidia.gpu_available()[0]:
        benchmark_gpu(shapes=[(4096, 1024)], target=desc["name"])
    else:
        print(f"(no GPU benchmark: {nvidia.gpu_available()[1]})")


def mlu_main(argv=None):
    """Modelled MLU time and traffic of the standard operators, fused vs naive."""
    argv = sys.argv[1:] if argv is None else argv
    r, c = (int(v) for v in argv[:2]) if len(argv) >= 2 else (1024, 4096)
    benchmark_mlu(standard_ops(r, c))
