"""`girflow bench`: GIR operators against torch eager, torch.compile (inductor) and a plain copy.

Every candidate is timed in the same process, round-robin (one call of each per round, in a fresh
order each round; the reference copy on its own after the rounds, so it never evicts the others'
inputs), and the median per candidate is kept, so machine noise hits all of them alike. Bandwidth counts the bytes
an operator must move (inputs read once + outputs written once); the copy moves the same number
of bytes as the operator's largest input, read and written (torch's multi-threaded `copy_`). Prints a table with ratios, writes a CSV
and a seaborn bar chart.
"""
from __future__ import annotations

import csv
import math
import statistics
import time

DEFAULT_SHAPES = "8192x4096,4096x1024,1024x1000"


def configure(p):
    p.add_argument("--ops", default="all", help="comma-separated operator names (default: all)")
    p.add_argument("--shapes", default=DEFAULT_SHAPES, help="comma-separated ROWSxCOLS (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=15, help="timed rounds per shape (default: %(default)s)")
    p.add_argument("--no-inductor", action="store_true", help="skip torch.compile (it compiles for minutes)")
    p.add_argument("--no-tune", action="store_true",
                   help="skip the tuned column (tuning times the cost model's best schedules once per shape; "
                        "the tuning cache keeps the result)")
    p.add_argument("--csv", default="girflow-bench.csv", help="CSV output path")
    p.add_argument("--chart", default="girflow-bench.png", help="bar chart path (.png or .svg)")
    p.add_argument("--model", default=None,
                   help="benchmark whole models instead: bert,gpt2,vit,llama,mlp with torch.compile(backend='girflow') "
                        "beside eager and inductor (see --batch, --seq, --layers)")
    p.add_argument("--batch", default="1,8,32", help="with --model: comma-separated batch sizes")
    p.add_argument("--seq", default="128", help="with --model: comma-separated sequence lengths")
    p.add_argument("--layers", type=int, default=2, help="with --model: encoder layers at base width")
    p.add_argument("--target", default="cpu", choices=["cpu", "nvidia", "mlu"],
                   help="cpu (this machine), nvidia (a CUDA GPU: CUDA-event timings beside eager, "
                        "torch.compile and a device copy) or mlu (modelled time and traffic, fused vs naive)")


def _parse_shapes(text):
    from girflow.errors import UserError

    shapes = []
    for item in text.split(","):
        try:
            r, c = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise UserError(f"bad shape '{item}': write ROWSxCOLS, e.g. 8192x4096")
        if r <= 0 or c <= 0:
            raise UserError(f"bad shape '{item}': dimensions must be positive")
        shapes.append((r, c))
    return shapes


def _nbytes(ts):
    return sum(t.numel() * t.element_size() for t in ts)


def time_round_robin(candidates: dict, rounds: int, apart: tuple = (), calls: int = 1) -> dict:
    """name -> median seconds, interleaving the candidates each round in a fresh order (seeded by
    the round: reruns compare alike), so no candidate always runs right after the same other one;
    a candidate runs where its inputs were left by whichever ran before it, and a fixed order
    charged that to the same candidate every round (a 16 MiB row sum measured 1.4x slower in the
    slot after a cache-flushing copy than three slots later). Names in `apart` (candidates that
    touch other memory, e.g. a reference copy of as many bytes) are timed after the rounds, on
    their own, so they never evict the others' inputs between their calls. Each turn times `calls`
    calls after an untimed one; the median is over every timed call."""
    import random

    from girflow.runtime.tuner import timed_turn

    for fn in candidates.values():   # warm up (compiles, page faults, caches)
        fn()
        fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    together = [name for name in candidates if name not in apart]
    for r in range(rounds):
        order = together[:]
        random.Random(r).shuffle(order)
        for name in order:
            times[name] += timed_turn(candidates[name], calls)
    for name in apart:
        for _ in range(rounds):
            times[name] += timed_turn(candidates[name], calls)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _untuned(fn, args):
    """girflow.compile as it runs without tuning: the cost model's first choice, never the cache."""
    import girflow
    from girflow.passes.schedule_space import as_options
    from girflow.runtime.compiled import CompiledFunction
    from girflow.runtime.tuner import ranked

    return CompiledFunction(fn, "cpu", as_options(ranked(girflow.trace(fn, *args))[0][1]))


def bench_operator(name, rows, cols, rounds, inductor=True, tuned=True):
    import torch

    import girflow
    from girflow.frontends import ops

    fn, _ = ops.OPERATORS[name]
    args = ops.example_args(name, rows, cols)
    ref = ops.reference(name)
    untuned = _untuned(fn, args)
    compiled = girflow.compile(fn, tune=tuned)
    expected = ref(*args)
    outs = expected if isinstance(expected, tuple) else (expected,)
    out_buffers = tuple(torch.empty_like(o) for o in outs)
    moved = _nbytes(args) + _nbytes(outs)
    src = torch.randn(max(a.numel() for a in args))
    dst = torch.empty_like(src)
    candidates = {
        "girflow": lambda: untuned(*args),
        "tuned": lambda: compiled(*args),
        "girflow(out=)": lambda: compiled(*args, out=out_buffers if len(out_buffers) > 1 else out_buffers[0]),
        "eager": lambda: ref(*args),
        "copy": lambda: dst.copy_(src),
    }
    if inductor:
        opt = torch.compile(ref, dynamic=False)
        candidates["inductor"] = lambda: opt(*args)
    for got in (compiled(*args), untuned(*args)):
        for g, w in zip(got if isinstance(got, tuple) else (got,), outs):
            torch.testing.assert_close(g, w, atol=1e-4, rtol=1e-4)   # sanity check; tests hold the precise bounds
    med = time_round_robin(candidates, rounds, apart=("copy",), calls=3)
    copy_bytes = 2 * src.numel() * src.element_size()
    gbs = {k: (copy_bytes if k == "copy" else moved) / t / 1e9 for k, t in med.items()}
    return med, gbs


def run(args) -> int:
    import torch

    from girflow.errors import UserError
    from girflow.frontends import ops

    if args.model:
        from girflow.tools.bench_model import run as run_models

        if args.csv == "girflow-bench.csv":
            args.csv, args.chart = "girflow-bench-models.csv", "girflow-bench-models.png"
        return run_models(args)
    names = sorted(ops.OPERATORS) if args.ops == "all" else [n.strip() for n in args.ops.split(",")]
    unknown = [n for n in names if n not in ops.OPERATORS]
    if unknown:
        raise UserError(f"unknown operator(s) {unknown}; known: {', '.join(sorted(ops.OPERATORS))}")
    shapes = _parse_shapes(args.shapes)
    if args.target != "cpu":
        return _run_device(args.target, names, shapes, not args.no_inductor)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.rounds} interleaved rounds "
          "(in a fresh order each round, 3 timed calls per turn)")
    impls = ["girflow", "tuned", "girflow(out=)", "eager", "inductor", "copy"]
    print("GB/s (girflow: untuned, the cost model's first choice; tuned: measured search, out= tuned too);")
    print("best: tuned / faster of eager and inductor; copy: tuned as a share of a plain copy's GB/s")
    print(f"{'operator':14s} {'shape':>10s} " + " ".join(f"{k:>13s}" for k in impls)
          + f" {'best':>6s} {'gir/ind':>7s} {'tune/untuned':>12s} {'copy':>5s}")
    rows_out = []
    ratios: dict[tuple[int, int], list[tuple[float, ...]]] = {}  # shape -> ratios of each operator
    for rows, cols in shapes:
        for name in names:
            med, gbs = bench_operator(name, rows, cols, args.rounds, inductor=not args.no_inductor,
                                      tuned=not args.no_tune)
            torch_best = max(gbs["eager"], gbs.get("inductor", 0.0))
            r_best = gbs["tuned"] / torch_best
            r_ind = gbs["tuned"] / gbs["inductor"] if "inductor" in gbs else float("nan")
            r_tune, r_copy = gbs["tuned"] / gbs["girflow"], gbs["tuned"] / gbs["copy"]
            ratios.setdefault((rows, cols), []).append((r_best, r_ind, r_tune, r_copy))
            print(f"{name:14s} {rows:>5d}x{cols:<5d}" + " ".join(f"{gbs.get(k, float('nan')):13.2f}" for k in impls)
                  + f" {r_best:6.2f} {r_ind:7.2f} {r_tune:12.2f} {r_copy:5.2f}", flush=True)
            for impl, v in gbs.items():
                rows_out.append({"operator": name, "rows": rows, "cols": cols, "impl": impl,
                                 "seconds": med[impl], "gbps": v})
    for (r, c), rs in ratios.items():
        cols_ = list(zip(*rs))
        print(f"{r}x{c}: geometric mean over {len(rs)} operators: tuned/best torch {_geomean(cols_[0]):.2f}x "
              f"(worst {min(cols_[0]):.2f}x), tuned/inductor {_geomean(cols_[1]):.2f}x, "
              f"tuned/untuned {_geomean(cols_[2]):.2f}x, share of copy {_geomean(cols_[3]):.2f}")
    print_overhead(names)
    with open(args.csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows_out[0]))
        w.writeheader()
        w.writerows(rows_out)
    _chart(rows_out, shapes[0], args.chart)
    print(f"wrote {args.csv} and {args.chart}")
    return 0


def _geomean(values) -> float:
    vals = [v for v in values if v == v and v > 0]
    return math.exp(sum(map(math.log, vals)) / len(vals)) if vals else float("nan")


def cpu_us_per_call(candidates: dict, calls: int = 200, rounds: int = 40) -> dict:
    """name -> µs of this thread's CPU time per call: short batches of `calls` calls, the candidates
    interleaved batch by batch, the fastest batch of each kept. CPU time ignores waiting for a
    core; interleaving and the minimum over many short batches keep what a busy machine does to
    caches and clocks out of the comparison, so two figures from one run can be subtracted (long
    batches of one candidate after another, as this probe used to run, differed by several µs
    between runs on a shared machine)."""
    for fn in candidates.values():
        for _ in range(50):
            fn()
    best = {name: float("inf") for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            t0 = time.thread_time_ns()
            for _ in range(calls):
                fn()
            best[name] = min(best[name], (time.thread_time_ns() - t0) / calls / 1e3)
    return best


def print_overhead(names, shape=(8, 64)) -> None:
    """Per-call overhead at a tiny shape: a whole `compiled(*args)` against the bare native kernel
    call on prebuilt buffers (see cpu_us_per_call for the method)."""
    import girflow
    from girflow.frontends import ops

    print(f"per-call overhead at {shape[0]}x{shape[1]} (µs of CPU time per call, fastest of 40 interleaved "
          "batches of 200; kernel: the native entry alone):")
    over = []
    for name in names:
        fn, _ = ops.OPERATORS[name]
        args = ops.example_args(name, *shape)
        f = girflow.compile(fn)
        outs = f(*args)
        outs = outs if isinstance(outs, tuple) else (outs,)
        kernel = f.specialise(*args)[1]
        pointers = [a.data_ptr() for a in args] + [o.data_ptr() for o in outs]
        ref = ops.reference(name)
        t = cpu_us_per_call({"call": lambda: f(*args), "kernel": lambda: kernel.run(pointers),
                             "eager": lambda: ref(*args)})
        over.append(t["call"] - t["kernel"])
        print(f"  {name:14s} call {t['call']:6.2f}  kernel {t['kernel']:6.2f}  overhead {over[-1]:5.2f}  "
              f"eager {t['eager']:6.2f}")
    print(f"  median overhead {statistics.median(over):.2f} µs")


def _chart(rows, shape, path):
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    import seaborn as sns

    df = pd.DataFrame([r for r in rows if (r["rows"], r["cols"]) == shape])
    g = sns.catplot(data=df, kind="bar", x="operator", y="gbps", hue="impl", height=4.5, aspect=2.6)
    g.set_axis_labels("", "GB/s (bytes moved / time)")
    g.set_xticklabels(rotation=30, ha="right")
    g.figure.suptitle(f"girflow vs torch on the CPU, float32 {shape[0]}x{shape[1]}")
    g.figure.tight_layout()
    g.savefig(path)


def _shapes_for(name, rows, cols):
    from girflow.frontends import ops

    return [(rows, cols) if kind == "x" else (cols,) for kind in ops.OPERATORS[name][1]]


def _run_device(target, names, shapes, inductor) -> int:
    """GPU and MLU modes: the backends own their timing (CUDA events / the emulator's cost model)."""
    from girflow.errors import UserError
    from girflow.frontends import ops

    if target == "nvidia":
        from girflow.tools.target_bench import benchmark_gpu

        try:
            benchmark_gpu(names, shapes, inductor=inductor)
        except RuntimeError as e:
            raise UserError(str(e))
    else:
        from girflow.tools.target_bench import benchmark_mlu

        for r, c in shapes:
            benchmark_mlu([(n, ops.OPERATORS[n][0], _shapes_for(n, r, c)) for n in names])
    return 0
