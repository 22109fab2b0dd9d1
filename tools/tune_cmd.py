"""`girflow tune`: fill the tuning cache for built-in operators at the shapes you run.

    girflow tune softmax,layernorm --shapes 8x64,128x768,4096x1024
    girflow tune all --shapes 1024x1000 --budget 2 --candidates 6 --force

For each operator and shape the cost model ranks the schedule space, the best few candidates are
compiled and timed side by side on this machine, and the fastest is stored (see
passes/tuning_cache.py). Compiled kernels and `gir-opt --gir-schedule='from-cache=1'` then use it.
"""
from __future__ import annotations


def configure(p):
    p.add_argument("operators", help="comma-separated built-in operators, or 'all'")
    p.add_argument("--shapes", default="8x64,128x768,1024x1000,4096x1024,8192x4096",
                   help="comma-separated ROWSxCOLS (default: %(default)s)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--candidates", type=int, default=5, help="candidates timed per shape (default: %(default)s)")
    p.add_argument("--budget", type=float, default=1.0, help="seconds of timing per shape (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="re-measure shapes the cache already holds")


def run(args) -> int:
    import torch
    from tqdm import tqdm

    import girflow
    from girflow.frontends import ops
    from girflow.passes.schedule_space import describe
    from girflow.runtime.tuner import tune
    from girflow.tools.bench import _parse_shapes
    from girflow.tools.cli import UserError

    names = sorted(ops.OPERATORS) if args.operators == "all" else [n.strip() for n in args.operators.split(",")]
    unknown = [n for n in names if n not in ops.OPERATORS]
    if unknown:
        raise UserError(f"unknown operator(s) {unknown}; known: {', '.join(sorted(ops.OPERATORS))}")
    if args.candidates < 1 or args.budget <= 0:
        raise UserError("--candidates must be at least 1 and --budget positive")
    shapes = _parse_shapes(args.shapes)
    jobs = [(n, s) for s in shapes for n in names]
    results = []
    with tqdm(total=len(jobs) * args.candidates, unit="kernel", desc="tuning") as bar:
        for name, (rows, cols) in jobs:
            bar.set_postfix_str(f"{name} {rows}x{cols}")
            fn, _ = ops.OPERATORS[name]
            traced = girflow.trace(fn, *ops.example_args(name, rows, cols, dtype=getattr(torch, args.dtype)))
            done = [0]

            def step(n, done=done):
                done[0] += n
                bar.update(n)

            entry = tune(traced, "cpu", k=args.candidates, budget_s=args.budget, force=args.force, progress=step)
            bar.update(args.candidates - done[0])   # cached shapes: nothing compiled
            results.append((name, rows, cols, entry, done[0] == 0))
    print(f"{'operator':14s} {'shape':>10s} {'untuned µs':>11s} {'tuned µs':>9s} {'gain':>5s}  schedule")
    for name, rows, cols, e, was_cached in results:
        gain = e["untuned_us"] / e["measured_us"] if e["measured_us"] else float("nan")
        print(f"{name:14s} {rows:>5d}x{cols:<5d} {e['untuned_us']:11.1f} {e['measured_us']:9.1f} {gain:5.2f}  "
              f"{describe(e['schedule'])}{'  (cached)' if was_cached else ''}")
    return 0
