"""`girflow fiited ...`: gen-data (synthetic Criteo TSV), train (one method), eval (budget sweep +
seaborn plot of AUC against embedding memory), bench (pooled-lookup throughput vs nn.EmbeddingBag)."""
from __future__ import annotations

import argparse
import json
import os

from girflow.errors import UserError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="fiited_command", metavar="ACTION")
    g = sub.add_parser("gen-data", help="write synthetic Criteo-format TSV (power-law ids, planted signal, drift)")
    g.add_argument("output")
    g.add_argument("--samples", type=int, default=1_000_000)
    g.add_argument("--table-sizes", default=None, help="26 comma-separated sizes (default: 10^2..10^6)")
    g.add_argument("--seed", type=int, default=0)

    def common(p):
        p.add_argument("data", help="Criteo TSV (real or from gen-data)")
        p.add_argument("--table-sizes", default=None, help="26 comma-separated hash sizes")
        p.add_argument("--max-rows", type=int, default=None)
        p.add_argument("--dim", type=int, default=32)
        p.add_argument("--chunk", type=int, default=8)
        p.add_argument("--batch-size", type=int, default=2048)
        p.add_argument("--epochs", type=int, default=1)
        p.add_argument("--emb-lr", type=float, default=0.05)
        p.add_argument("--adjust-every", type=int, default=50, help="FIITED: steps between dimension adjustments")
        p.add_argument("--anneal", type=int, default=4, help="FIITED: adjustments to reach the budget")
        p.add_argument("--decay", type=float, default=0.5, help="FIITED: importance decay per adjustment")
        p.add_argument("--json", default=None, help="also write the results as JSON here")
        p.add_argument("--no-progress", action="store_true")

    t = sub.add_parser("train", help="train DLRM with FIITED or a baseline and report AUC / memory / step time")
    common(t)
    t.add_argument("--method", choices=["fiited", "full", "pep", "all"], default="fiited")
    t.add_argument("--budget", type=float, default=0.3, help="FIITED memory budget, fraction of full dimension")
    t.add_argument("--threshold", type=float, default=None, help="use an importance threshold instead of a budget")
    t.add_argument("--pep-init", type=float, default=-8.0)

    e = sub.add_parser("eval", help="sweep FIITED budgets and PEP thresholds; plot AUC vs embedding memory")
    common(e)
    e.add_argument("--budgets", default="0.35,0.2,0.1,0.05")
    e.add_argument("--pep-inits", default="-10,-8", help="PEP threshold inits s (threshold = sigmoid(s))")
    e.add_argument("--plot", default="fiited_auc_vs_memory.png")

    b = sub.add_parser("bench", help="runtime vs nn.EmbeddingBag at full dimension: pooled lookup (sum/mean, "
                       "skewed/uniform ids), sparse Adagrad, index bytes per row")
    b.add_argument("--rows", type=int, default=1_000_000)
    b.add_argument("--dim", type=int, default=32)
    b.add_argument("--bags", type=int, default=4096)
    b.add_argument("--bag-size", type=int, default=20)


def _sizes(text):
    from .data import DEFAULT_TABLE_SIZES, NUM_SPARSE

    if not text:
        return DEFAULT_TABLE_SIZES
    try:
        sizes = [int(x) for x in text.split(",")]
    except ValueError:
        raise UserError(f"--table-sizes must be comma-separated integers, got {text!r}")
    if len(sizes) != NUM_SPARSE or min(sizes) <= 0:
        raise UserError(f"--table-sizes needs {NUM_SPARSE} positive sizes, got {len(sizes)}")
    return sizes


def _load(args):
    from .data import load

    if not os.path.exists(args.data):
        raise UserError(f"no such data file: {args.data}")
    sizes = _sizes(args.table_sizes)
    try:
        return (*load(args.data, sizes, args.max_rows), sizes)
    except ValueError as e:
        raise UserError(str(e))


def _config(args, **over):
    from .train import TrainConfig

    base = dict(embedding_dim=args.dim, chunk_size=args.chunk, batch_size=args.batch_size, epochs=args.epochs,
                emb_lr=args.emb_lr, adjust_every=args.adjust_every, anneal=args.anneal, decay=args.decay, progress=not args.no_progress)
    base.update(over)
    if args.dim % args.chunk:
        raise UserError(f"--dim {args.dim} must be a multiple of --chunk {args.chunk}")
    return TrainConfig(**base)


def _print(r: dict) -> None:
    line = (f"{r['method']:>6} budget={r['budget'] if r['budget'] is not None else '-':>5}  AUC={r['auc']:.5f}  "
            f"logloss={r['logloss']:.5f}  emb={r['embedding_bytes'] / 2**20:8.1f} MiB "
            f"({100 * r['memory_fraction']:5.1f}% of full)  step={r['step_time_ms']:.1f} ms  "
            f"RSS+={r['rss_growth_bytes'] / 2**20:.0f} MiB")
    if "runtime_mapped_bytes" in r:
        line += f"  runtime: chunks+state+importance={r['runtime_chunk_bytes'] / 2**20:.1f} MiB mapped={r['runtime_mapped_bytes'] / 2**20:.1f} MiB index={r['runtime_index_bytes'] / 2**20:.1f} MiB"
    print(line, flush=True)


def _compare(results: list[dict]) -> None:
    full = next((r for r in results if r["method"] == "full"), None)
    if not full:
        return
    print("\nagainst full dimension:")
    for r in results:
        if r is full:
            continue
        print(f"  {r['method']:>6} budget={r['budget']}: memory saved {100 * (1 - r['embedding_bytes'] / full['embedding_bytes']):.1f}%  "
              f"AUC drop {full['auc'] - r['auc']:+.5f}  step time x{r['step_time_ms'] / full['step_time_ms']:.2f}")


def run(args) -> int:
    cmd = getattr(args, "fiited_command", None)
    if cmd is None:
        raise UserError("choose an action: gen-data, train, eval, bench")
    if cmd == "gen-data":
        from tqdm import tqdm

        from .data import generate

        if args.samples <= 0:
            raise UserError("--samples must be positive")
        with tqdm(total=args.samples, unit="line", desc="gen-data") as bar:
            generate(args.output, args.samples, _sizes(args.table_sizes), args.seed, progress=bar.update)
        print(f"wrote {args.samples} lines to {args.output}")
        return 0
    if cmd == "bench":
        from .bench import report

        if min(args.rows, args.dim, args.bags, args.bag_size) <= 0:
            raise UserError("--rows, --dim, --bags and --bag-size must be positive")
        print(report(args.rows, args.dim, bags=args.bags, bag_size=args.bag_size))
        return 0
    from .train import train

    dense, sparse, label, sizes = _load(args)
    results = []
    if cmd == "train":
        methods = ["full", "pep", "fiited"] if args.method == "all" else [args.method]
        for m in methods:
            budget = None if args.threshold is not None else args.budget
            results.append(train(_config(args, method=m, budget=budget, threshold=args.threshold,
                                         pep_init=args.pep_init), dense, sparse, label, sizes))
            _print(results[-1])
    else:
        results.append(train(_config(args, method="full"), dense, sparse, label, sizes))
        _print(results[-1])
        for b in [float(x) for x in args.budgets.split(",")]:
            results.append(train(_config(args, method="fiited", budget=b), dense, sparse, label, sizes))
            _print(results[-1])
        for p in [float(x) for x in args.pep_inits.split(",") if x]:
            results.append(train(_config(args, method="pep", pep_init=p), dense, sparse, label, sizes))
            _print(results[-1])
        _plot(results, args.plot)
        print(f"plot: {args.plot}")
    _compare(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def _plot(results: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    import seaborn as sns

    df = pd.DataFrame([{"method": r["method"], "embedding MiB": r["embedding_bytes"] / 2**20, "AUC": r["auc"]} for r in results])
    ax = sns.lineplot(data=df.sort_values("embedding MiB"), x="embedding MiB", y="AUC", hue="method", marker="o")
    ax.set_xscale("log")
    ax.set_title("AUC against embedding memory")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
