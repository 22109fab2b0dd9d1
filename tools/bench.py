"""`girflow bench`: GIR operators against torch eager, torch.compile (inductor) and a plain copy.

Every candidate is timed in the same process, round-robin (one call of each per round), and the
median per candidate is kept, so machine noise hits all of them alike. Bandwidth counts the bytes
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
    p.add_argument("--csv", default="girflow-bench.csv", help="CSV output path")
    p.add_argument("--chart", default="girflow-bench.png", help="bar chart path (.png or .svg)")
    p.add_argument("--model", default=None,
                   help="benchmark whole models instead: bert,gpt2,vit with torch.compile(backend='girflow') "
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


def time_round_robin(candidates: dict, rounds: int) -> dict:
    """name -> median seconds, interleaving the candidates each round."""
    for fn in candidates.values():   # warm up (compiles, page faults, caches)
        fn()
        fn()
    times = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            # one untimed call first: torch's OpenMP workers spin for a while after a parallel
            # region, and parked thread pools take time to wake; neither is charged to the next
            # candidate's timed call
            fn()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def bench_operator(name, rows, cols, rounds, inductor=True):
    import torch

    import girflow
    from girflow.frontends import ops

    fn, _ = ops.OPERATORS[name]
    args = ops.example_args(name, rows, cols)
    ref = ops.reference(name)
    compiled = girflow.compile(fn)
    expected = ref(*args)
    outs = expected if isinstance(expected, tuple) else (expected,)
    out_buffers = tuple(torch.empty_like(o) for o in outs)
    moved = _nbytes(args) + _nbytes(outs)
    src = torch.randn(max(a.numel() for a in args))
    dst = torch.empty_like(src)
    candidates = {
        "girflow": lambda: compiled(*args),
        "girflow(out=)": lambda: compiled(*args, out=out_buffers if len(out_buffers) > 1 else out_buffers[0]),
        "eager": lambda: ref(*args),
        "copy": lambda: dst.copy_(src),
    }
    if inductor:
        opt = torch.compile(ref, dynamic=False)
        candidates["inductor"] = lambda: opt(*args)
    got = compiled(*args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), outs):
        torch.testing.assert_close(g, w, atol=1e-4, rtol=1e-4)   # sanity check; tests hold the precise bounds
    med = time_round_robin(candidates, rounds)
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
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.rounds} interleaved rounds")
    rows_out = []
    header = f"{'operator':14s} {'shape':>10s} " + " ".join(f"{k:>14s}" for k in
             ["girflow", "girflow(out=)", "eager", "inductor", "copy"]) + f" {'gir/ind':>8s} {'gir/copy':>9s} {'out=/copy':>9s}"
    print("GB/s:")
    print(header)
    ratios = {}
    for rows, cols in shapes:
        for name in names:
            med, gbs = bench_operator(name, rows, cols, args.rounds, inductor=not args.no_inductor)
            ind = gbs.get("inductor", float("nan"))
            r_ind = gbs["girflow"] / ind if ind == ind else float("nan")
            r_copy, r_out = gbs["girflow"] / gbs["copy"], gbs["girflow(out=)"] / gbs["copy"]
            ratios.setdefault((rows, cols), []).append(r_ind)
            print(f"{name:14s} {rows:>5d}x{cols:<5d}" + " ".join(
                f"{gbs.get(k, float('nan')):14.2f}" for k in ["girflow", "girflow(out=)", "eager", "inductor", "copy"])
                + f" {r_ind:8.2f} {r_copy:9.2f} {r_out:9.2f}", flush=True)
            for impl, v in gbs.items():
                rows_out.append({"operator": name, "rows": rows, "cols": cols, "impl": impl,
                                 "seconds": med[impl], "gbps": v})
    for shape, rs in ratios.items():
        rs = [r for r in rs if r == r and r > 0]
        if rs:
            print(f"geometric mean girflow/inductor at {shape[0]}x{shape[1]}: "
                  f"{math.exp(sum(map(math.log, rs)) / len(rs)):.2f}x over {len(rs)} operators")
    with open(args.csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows_out[0]))
        w.writeheader()
        w.writerows(rows_out)
    _chart(rows_out, shapes[0], args.chart)
    print(f"wrote {args.csv} and {args.chart}")
    return 0


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

        table = [(n, ops.OPERATORS[n][0], _shapes_for(n, r, c), ops.reference(n))
                 for r, c in shapes for n in names]
        try:
            benchmark_gpu(table, inductor=inductor)
        except RuntimeError as e:
            raise UserError(str(e))
    else:
        from girflow.tools.target_bench import benchmark_mlu

        for r, c in shapes:
            benchmark_mlu([(n, ops.OPERATORS[n][0], _shapes_for(n, r, c)) for n in names])
    return 0
