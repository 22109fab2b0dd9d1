"""`girflow fiited ...`: gen-data (synthetic Criteo TSV), train (one method), eval (budget sweep over
seeds: AUC against total training memory, as counters and as RSS, with a seaborn plot), bench
(pooled-lookup throughput vs nn.EmbeddingBag)."""
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
        p.add_argument("data", help="Criteo TSV (real or from gen-data) or Avazu CSV, plain or .gz")
        p.add_argument("--format", choices=["auto", "criteo", "avazu"], default="auto",
                       help="auto: Avazu if the first line is a CSV header with `click`, else Criteo")
        p.add_argument("--table-sizes", default=None, help="comma-separated hash sizes, one per categorical feature")
        p.add_argument("--raw-ids", action="store_true",
                       help="FIITED tables keyed by the raw 32-bit hashes (no modulo; rows created as ids appear)")
        p.add_argument("--max-rows", type=int, default=None)
        p.add_argument("--dim", type=int, default=32)
        p.add_argument("--chunk", type=int, default=8)
        p.add_argument("--batch-size", type=int, default=2048)
        p.add_argument("--epochs", type=int, default=1)
        p.add_argument("--emb-lr", type=float, default=0.05)
        p.add_argument("--emb-optimizer", choices=["adagrad", "chunk_adagrad"], default="adagrad",
                       help="FIITED: Adagrad state per value (as the baselines), or one accumulator per chunk "
                            "(row-wise Adagrad per chunk: 4 bytes of state per chunk)")
        p.add_argument("--adjust-every", type=int, default=None,
                       help="FIITED: steps between dimension adjustments (default: the --anneal adjustments that "
                            "reach the budget end halfway through training)")
        p.add_argument("--anneal", type=int, default=4, help="FIITED: adjustments to reach the budget")
        p.add_argument("--decay", type=float, default=0.5, help="FIITED: importance decay per adjustment")
        p.add_argument("--importance-scope", choices=["global", "table"], default="global",
                       help="FIITED: score chunks against the mean importance and frequency over all tables (features "
                            "whose gradients are weak lose dimension first), or against each table's own (every "
                            "table keeps a share of the budget)")
        p.add_argument("--score", choices=["frequency", "saliency"], default="frequency",
                       help="FIITED: a chunk's score: sqrt(importance) x its row's access frequency, or sqrt(importance "
                            "x mean squared value), the loss zeroing it costs to second order (frequency then counts "
                            "for pruned rows only)")
        p.add_argument("--init-dim", type=int, default=None,
                       help="FIITED: dimension of a row when its id is first seen (a multiple of --chunk; "
                            "default: --dim); rows then grow by importance at adjustments")
        p.add_argument("--evict-after", type=int, default=0,
                       help="FIITED: evict rows untouched for more than this many adjustments (0: never)")
        p.add_argument("--evict-single-after", type=int, default=0,
                       help="FIITED: evict rows touched in one batch only (most ids of a long tail) after this many "
                            "adjustments untouched instead (0: --evict-after), so rows seen repeatedly can live "
                            "longer in the same memory")
        p.add_argument("--seeds", default="0", help="comma-separated model seeds (eval: mean and spread over them)")
        p.add_argument("--json", default=None, help="also write the results as JSON here")
        p.add_argument("--no-progress", action="store_true")

    t = sub.add_parser("train", help="train DLRM with FIITED or a baseline and report AUC / memory / step time")
    common(t)
    t.add_argument("--method", choices=["fiited", "full", "pep", "all"], default="fiited")
    t.add_argument("--budget", type=float, default=0.3, help="FIITED memory budget, fraction of full dimension")
    t.add_argument("--threshold", type=float, default=None, help="use an importance threshold instead of a budget")
    t.add_argument("--pep-init", type=float, default=-8.0)
    t.add_argument("--nproc", type=int, default=1,
                   help="FIITED: train sharded over N processes on this machine, launched through torchrun's "
                        "launcher (gloo); under torchrun or an initialised process group, its ranks are used")
    t.add_argument("--save-tables", default=None,
                   help="FIITED: write the trained tables here (one checkpoint file per table and shard)")

    e = sub.add_parser("eval", help="sweep FIITED budgets and PEP thresholds over seeds; AUC against total "
                       "training memory (values, optimiser state, importance, index) as counters and RSS, plotted")
    common(e)
    e.add_argument("--budgets", default="0.35,0.2,0.1,0.05")
    e.add_argument("--pep-inits", default="-10,-8", help="PEP threshold inits s (threshold = sigmoid(s))")
    e.add_argument("--plot", default="fiited_auc_vs_memory.png")
    e.add_argument("--isolate", action="store_true",
                   help="train every run in a fresh process, so its RSS growth and peak are its own (slower)")

    b = sub.add_parser("bench", help="runtime vs nn.EmbeddingBag at full dimension: pooled lookup (sum/mean, "
                       "skewed/uniform ids), sparse Adagrad, index bytes per row")
    b.add_argument("--rows", type=int, default=1_000_000)
    b.add_argument("--dim", type=int, default=32)
    b.add_argument("--bags", type=int, default=4096)
    b.add_argument("--bag-size", type=int, default=20)
    b.add_argument("--loader-lines", type=int, default=0,
                   help="also time the Criteo loader against pandas read_csv on this many synthetic lines")


def _sizes(text, count: int | None = None):
    from .data import DEFAULT_TABLE_SIZES, NUM_SPARSE

    if not text:
        return DEFAULT_TABLE_SIZES if count in (None, NUM_SPARSE) else None
    try:
        sizes = [int(x) for x in text.split(",")]
    except ValueError:
        raise UserError(f"--table-sizes must be comma-separated integers, got {text!r}")
    want = NUM_SPARSE if count is None else count
    if len(sizes) != want or min(sizes) <= 0:
        raise UserError(f"--table-sizes needs {want} positive sizes, got {len(sizes)}")
    return sizes


def _load(args):
    import sys

    from .data import default_table_sizes, detect_format, load

    if not os.path.exists(args.data):
        raise UserError(f"no such data file: {args.data}")
    if args.table_sizes:
        try:
            [int(x) for x in args.table_sizes.split(",")]
        except ValueError:
            raise UserError(f"--table-sizes must be comma-separated integers, got {args.table_sizes!r}")
    try:
        fmt = detect_format(args.data) if args.format == "auto" else args.format
        sizes = [int(x) for x in args.table_sizes.split(",")] if args.table_sizes else None
        data = load(args.data, sizes, args.max_rows, raw_ids=args.raw_ids, fmt=fmt, progress=not args.no_progress)
    except (ValueError, OSError, EOFError) as e:
        raise UserError(str(e))
    dense, sparse, label = data
    if data.bad_count:
        shown = "; ".join(f"line {n}: {why}" for n, why in data.bad_lines[:5])
        print(f"{args.data}: skipped {data.bad_count} malformed line(s) ({shown}{' ...' if data.bad_count > 5 else ''})",
              file=sys.stderr)
    if args.raw_ids:
        sizes = [0] * sparse.shape[1]
    else:
        sizes = _sizes(args.table_sizes, sparse.shape[1]) or default_table_sizes(fmt, sparse.shape[1])
    return dense, sparse, label, sizes


def _config(args, **over):
    from .train import TrainConfig

    base = dict(embedding_dim=args.dim, chunk_size=args.chunk, batch_size=args.batch_size, epochs=args.epochs,
                emb_lr=args.emb_lr, emb_optimizer=args.emb_optimizer, adjust_every=args.adjust_every, anneal=args.anneal, decay=args.decay,
                importance_scope=args.importance_scope, score=args.score,
                evict_after=args.evict_after, evict_single_after=args.evict_single_after, init_dim=args.init_dim, progress=not args.no_progress)
    base.update(over)
    if args.dim % args.chunk:
        raise UserError(f"--dim {args.dim} must be a multiple of --chunk {args.chunk}")
    if args.init_dim is not None and not (0 <= args.init_dim <= args.dim and args.init_dim % args.chunk == 0):
        raise UserError(f"--init-dim {args.init_dim} must be a multiple of --chunk {args.chunk} in [0, --dim {args.dim}]")
    if args.evict_single_after and not 0 < args.evict_single_after <= args.evict_after:
        raise UserError(f"--evict-single-after {args.evict_single_after} needs --evict-after at least as large "
                        f"(got --evict-after {args.evict_after})")
    return TrainConfig(**base)


def _print(r: dict) -> None:
    line = (f"{r['method']:>6} budget={r['budget'] if r['budget'] is not None else '-':>5} seed={r.get('seed', 0)}  AUC={r['auc']:.5f}  "
            f"logloss={r['logloss']:.5f}  emb={r['embedding_bytes'] / 2**20:8.1f} MiB "
            f"({100 * r['memory_fraction']:5.1f}% of full)  step={r['step_time_ms']:.1f} ms  "
            f"RSS+={r['rss_growth_bytes'] / 2**20:.0f} MiB (peak {r['rss_peak_growth_bytes'] / 2**20:.0f})  "
            f"{r['train_samples_per_s']:.0f} samples/s")
    m = r.get("memory")
    if m:
        line += ("  training memory " + " ".join(f"{k}={v / 2**20:.1f}" for k, v in m.items() if k != "total")
                 + f" total={m['total'] / 2**20:.1f} MiB")
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


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--seeds must be comma-separated integers, got {text!r}")
    if not seeds:
        raise UserError("--seeds needs at least one seed")
    return seeds


def _train_isolated(args_dict: dict, cfg) -> dict:
    """One training run in this (fresh) process: RSS growth and peak are the run's own (in a
    process that trained before, the allocator reuses what that run freed)."""
    from .train import train

    dense, sparse, label, sizes = _load(argparse.Namespace(**args_dict))
    return train(cfg, dense, sparse, label, sizes)


def _run_all(args, configs: list, isolate: bool) -> list[dict]:
    from .train import train

    keep = getattr(args, "save_tables", None)
    results = []
    data = None if isolate else _load(args)
    for cfg in configs:
        if isolate:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
                results.append(ex.submit(_train_isolated, vars(args), cfg).result())
        else:
            assert data is not None  # loaded above when not isolated
            dense, sparse, label, sizes = data
            results.append(train(cfg, dense, sparse, label, sizes, keep_model=bool(keep)))
        if _is_rank0():
            _print(results[-1])
    return results


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

        if min(args.rows, args.dim, args.bags, args.bag_size) <= 0 or args.loader_lines < 0:
            raise UserError("--rows, --dim, --bags and --bag-size must be positive, --loader-lines not negative")
        print(report(args.rows, args.dim, bags=args.bags, bag_size=args.bag_size, loader_lines=args.loader_lines))
        return 0
    seeds = _seeds(args.seeds)
    if cmd == "train" and (args.nproc != 1 or _under_launcher()):
        return _train_distributed(args)
    if args.raw_ids and (cmd == "eval" or args.method != "fiited"):
        raise UserError("--raw-ids gives tables only FIITED can hold: use it with `train --method fiited` "
                        "(eval compares against nn.EmbeddingBag, which needs --table-sizes)")
    if cmd == "eval" and args.isolate:
        _load(args)  # parse (and cache) once, so bad data fails here and each run reads the cache
    configs = []
    if cmd == "train":
        methods = ["full", "pep", "fiited"] if args.method == "all" else [args.method]
        budget = None if args.threshold is not None else args.budget
        configs = [_config(args, method=m, budget=budget, threshold=args.threshold, pep_init=args.pep_init, seed=s)
                   for s in seeds for m in methods]
        results = _run_all(args, configs, isolate=False)
        _compare(results)
        if args.save_tables:
            _save_tables(results, args.save_tables)
    else:
        try:
            budgets = [float(x) for x in args.budgets.split(",") if x]
            peps = [float(x) for x in args.pep_inits.split(",") if x]
        except ValueError:
            raise UserError("--budgets and --pep-inits must be comma-separated numbers")
        for s in seeds:
            configs.append(_config(args, method="full", seed=s))
            configs += [_config(args, method="fiited", budget=b, seed=s) for b in budgets]
            configs += [_config(args, method="pep", pep_init=p, seed=s) for p in peps]
        results = _run_all(args, configs, isolate=args.isolate)
        from .report import summarize, summary_text

        summary = summarize(results)
        print(summary_text(summary))
        _plot(summary, args.plot)
        print(f"plot: {args.plot}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def _plot(summary: list[dict], path: str) -> None:
    """AUC (mean, spread over seeds) against total training memory, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    df = pd.DataFrame([{"method": r["method"], "training MiB": r["training_memory_mean"] / 2**20,
                        "AUC": r["auc_mean"], "sd": r["auc_sd"]} for r in summary]).sort_values("training MiB")
    ax = sns.lineplot(data=df, x="training MiB", y="AUC", hue="method", marker="o")
    for _, row in df.iterrows():
        ax.errorbar(row["training MiB"], row["AUC"], yerr=row["sd"], color="gray", capsize=3, lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("total training memory, MiB (values + optimiser state + importance + index)")
    ax.set_title("AUC against total training memory (mean and sd over seeds)")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    plt.close(ax.figure)


def _under_launcher() -> bool:
    """Started by torchrun (its environment) or inside an initialised process group."""
    import torch.distributed as dist

    return "TORCHELASTIC_RUN_ID" in os.environ or (dist.is_available() and dist.is_initialized())


def _is_rank0() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _save_tables(results: list[dict], directory: str) -> None:
    for r in results:
        model = r.pop("model", None)
        if model is not None and r["method"] == "fiited":
            model.embeddings.save_tables(os.path.join(directory, f"seed{r['seed']}"))
    if _is_rank0():
        print(f"tables: {directory}")


def _train_distributed(args) -> int:
    """`train --nproc N`: FIITED sharded over N processes. Launched here through torchrun's
    launcher (torch.distributed.launcher, as `torchrun --standalone`), or run in the ranks that
    torchrun or the caller already started."""
    if args.method != "fiited":
        raise UserError(f"--nproc trains FIITED tables sharded over processes; --method {args.method} has no sharded form")
    if _under_launcher():
        return _rank_main(vars(args))
    if args.nproc < 1:
        raise UserError("--nproc must be at least 1")
    import uuid

    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    _load(args)  # parse (and cache) once, so bad data fails here and every rank reads the cache
    # as torchrun: the processes share the cores instead of each taking all of them
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.nproc)))
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=args.nproc, run_id=f"girflow-{uuid.uuid4().hex[:8]}",
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, start_method="spawn",
                          monitor_interval=0.1, local_addr="127.0.0.1")  # one node: never depend on the hostname resolving
    rcs = elastic_launch(config, _rank_main)(vars(args))
    return max(rcs.values())


def _rank_main(args_dict: dict) -> int:
    """One rank: join the process group (gloo, from torchrun's environment) unless one is there,
    load the data (rank 0 first, so only it parses), train and report on rank 0."""
    import torch.distributed as dist

    args = argparse.Namespace(**args_dict)
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    try:
        if dist.get_rank() == 0:
            _load(args)
        dist.barrier()
        configs = [_config(args, method="fiited", budget=None if args.threshold is not None else args.budget,
                           threshold=args.threshold, seed=s, progress=not args.no_progress and dist.get_rank() == 0)
                   for s in _seeds(args.seeds)]
        results = _run_all(args, configs, isolate=False)
        if args.save_tables:
            _save_tables(results, args.save_tables)
        if dist.get_rank() == 0:
            for r in results:
                print(f"  {r['processes']} processes: {r['train_samples_per_s']:.0f} training samples/s, "
                      f"{r['bytes_moved_per_step'] / 2**20:.2f} MiB moved between processes per step", flush=True)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(results, f, indent=1)
    finally:
        if "TORCHELASTIC_RUN_ID" in os.environ:
            dist.destroy_process_group()
    return 0
