"""`girflow bench --model bert|gpt2|vit|llama --batch 1,8,32 --seq 128`: whole-model inference with
torch.compile(backend="girflow") beside eager and inductor, measured side by side in one process.

Per model and batch it reports
  - end-to-end latency of eager, inductor and girflow (median of interleaved rounds);
  - the time in the memory-bound regions alone: every region girflow found, called on the inputs
    it saw in the model, as GIR kernels, as eager PyTorch, and compiled by inductor;
  - how many regions and GIR ops GIR took, and how many fell back (with `--explain`, why);
  - compile time cold and warm, each in a fresh process: cold with empty caches, warm with the
    caches the cold process filled (AOTAutograd's and girflow's; and, with torch's experimental
    TORCH_CACHING_PRECOMPILE=1, Dynamo's guards and bytecode); beside them the same compile with backend="eager"
    (Dynamo's tracing alone) and "aot_eager" (Dynamo + AOTAutograd), so girflow's own share —
    partitioning and its regions (lowering, kernels, or loading both from the cache) — is explicit.
Writes a CSV and a seaborn chart.
"""
from __future__ import annotations

import csv
import os
import statistics
import time

from girflow.tools.bench import time_round_robin


def _parse_list(text: str, what: str) -> list[int]:
    from girflow.errors import UserError

    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"bad {what} list '{text}': write comma-separated integers, e.g. 1,8,32")
    if not vals or any(v <= 0 for v in vals):
        raise UserError(f"bad {what} list '{text}': values must be positive")
    return vals


def _gir_regions(reports):
    return [r for rep in reports for r in rep.regions]


def _region_times(regions, rounds: int) -> dict:
    """Summed median time of each region's call, as GIR / eager / inductor, on captured inputs."""
    import torch

    totals = {"girflow": 0.0, "eager": 0.0, "inductor": 0.0}
    for r in regions:
        if r.captured is None or all(e.kernel is None for e in r.by_shape.values()):
            continue
        args = r.captured
        opt = torch.compile(r.gm, dynamic=False)
        med = time_round_robin({"girflow": lambda: r(*args), "eager": lambda: r.gm(*args),
                                "inductor": lambda: opt(*args)}, rounds)
        for k, v in med.items():
            totals[k] += v
    return totals


def compile_probe(name: str, batch: int, seq: int, layers: int, backend: str = "girflow") -> dict:
    """In this process: torch.compile(model, backend=...) and its first call, timed. A trivial
    function is compiled first with the same backend, so Dynamo's one-time start-up is not counted
    against the model. For girflow: its own share (partitioning + regions) from its reports."""
    import torch
    import torch._dynamo

    from girflow.frontends.torch import REPORTS, girflow_backend
    from girflow.frontends.torch.models import SIZES, build

    SIZES["base"]["layers"] = layers
    model, make_inputs = build(name, "base")
    inputs = make_inputs(batch, seq)
    chosen = girflow_backend if backend == "girflow" else backend
    with torch.no_grad():
        torch.compile(lambda x: (x * 2.0).sum(-1), backend=chosen)(torch.randn(4, 4))
        torch._dynamo.reset()
        del REPORTS[:]
        t0 = time.perf_counter()
        torch.compile(model, backend=chosen)(*inputs)
        total = time.perf_counter() - t0
    regions = sum(rep.timings.get("compile_s", 0.0) for rep in REPORTS)
    partition = sum(rep.timings.get("partition_s", 0.0) for rep in REPORTS)
    cached = sum(rep.timings.get("cache", 0) for rep in REPORTS)
    return {"total_s": total, "girflow_s": regions + partition, "regions_s": regions,
            "partition_s": partition, "regions_from_cache": cached, "graphs": len(REPORTS)}


def compile_times(name: str, batch: int, seq: int, layers: int) -> dict:
    """Compile times, each in a fresh process, all sharing one new girflow cache folder and one new
    torch cache folder (AOTAutograd's and Dynamo's caches live there):
      cold: nothing cached;
      warm: torch's defaults: Dynamo traces again, AOTAutograd and girflow load from their caches;
      precompile_first: TORCH_CACHING_PRECOMPILE=1 (AOTAutograd's key differs with it on): Dynamo
        and AOTAutograd trace, girflow loads, Dynamo's package is written;
      warm_precompile: TORCH_CACHING_PRECOMPILE=1 again: Dynamo's guards and bytecode load too;
    then Dynamo alone (backend "eager") and Dynamo + AOTAutograd ("aot_eager")."""
    import json
    import subprocess
    import sys
    import tempfile

    code = ("import json, sys; from girflow.tools.bench_model import compile_probe; "
            "print(json.dumps(compile_probe(sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5])))")
    out = {}
    with tempfile.TemporaryDirectory(prefix="girflow-bench-cache-") as cache:
        base = {k: v for k, v in os.environ.items() if k != "TORCH_CACHING_PRECOMPILE"}
        base.update(GIRFLOW_CACHE_DIR=os.path.join(cache, "girflow"),
                    TORCHINDUCTOR_CACHE_DIR=os.path.join(cache, "torch"))
        precompile = {**base, "TORCH_CACHING_PRECOMPILE": "1"}
        for phase, backend, env in (("cold", "girflow", base), ("warm", "girflow", base),
                                    ("precompile_first", "girflow", precompile),
                                    ("warm_precompile", "girflow", precompile), ("dynamo", "eager", base),
                                    ("dynamo_aot", "aot_eager", base)):
            proc = subprocess.run([sys.executable, "-c", code, name, str(batch), str(seq), str(layers), backend],
                                  capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise RuntimeError(f"compile probe for {name} failed: {proc.stderr.strip()[-500:]}")
            out[phase] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def bench_model(name: str, batch: int, seq: int, rounds: int, layers: int):
    import torch
    import torch._dynamo

    from girflow.frontends.torch import REPORTS, girflow_backend
    from girflow.frontends.torch.models import SIZES, build
    from girflow.frontends.torch.region import GirRegion

    SIZES["base"]["layers"] = layers
    model, make_inputs = build(name, "base")
    inputs = make_inputs(batch, seq)
    torch._dynamo.reset()
    with torch.no_grad():
        want = model(*inputs)
        start = len(REPORTS)
        t0 = time.perf_counter()
        gir = torch.compile(model, backend=girflow_backend)
        GirRegion.capture = True
        got = gir(*inputs)
        GirRegion.capture = False
        cold = time.perf_counter() - t0
        reports = REPORTS[start:]
        err = ((got - want).abs().max() / want.abs().max()).item()
        t0 = time.perf_counter()
        ind = torch.compile(model, backend="inductor", dynamic=False)
        ind(*inputs)
        ind_compile = time.perf_counter() - t0
        e2e = time_round_robin({"eager": lambda: model(*inputs), "inductor": lambda: ind(*inputs),
                                "girflow": lambda: gir(*inputs)}, rounds)
        regions = _gir_regions(reports)
        mem = _region_times(regions, rounds)
    on_gir = [r for r in regions if any(e.kernel is not None for e in r.by_shape.values())]
    info = {"regions": len(regions), "gir_regions": len(on_gir),
            "gir_ops": sum(e.replay.num_ops for r in on_gir for e in r.by_shape.values() if e.kernel),
            "fallbacks": [s for r in regions for s in r.status() if "fallback" in s],
            "first_call_s": cold, "inductor_compile_s": ind_compile,
            "rel_err": err}
    return e2e, mem, info


def run(args) -> int:
    import torch

    from girflow.errors import UserError
    from girflow.frontends.torch.models import MODELS

    names = [m.strip() for m in args.model.split(",")]
    bad = [m for m in names if m not in MODELS]
    if bad:
        raise UserError(f"unknown model(s) {bad}; choose from {', '.join(MODELS)}")
    batches = _parse_list(args.batch, "batch")
    seqs = _parse_list(str(args.seq), "sequence")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.layers} layer(s) at base width; "
          f"median of {args.rounds} interleaved rounds (ms)")
    print(f"{'model':6s} {'batch':>5s} {'seq':>4s} {'eager':>9s} {'inductor':>9s} {'girflow':>9s} {'ind/gir':>8s} "
          f"| memory-bound: {'eager':>8s} {'inductor':>9s} {'girflow':>8s} {'ind/gir':>8s} | regions  ops "
          f"| compile: fresh processes, cold / warm (girflow's part) / warm with Dynamo precompile "
          f"| Dynamo alone / + AOTAutograd | load")
    rows = []
    for name in names:
        times = compile_times(name, batches[0], seqs[0], args.layers)
        cold, warm, dyn, aot = times["cold"], times["warm"], times["dynamo"], times["dynamo_aot"]
        pre = times["warm_precompile"]
        for seq in seqs:
            for batch in batches:
                e2e, mem, info = bench_model(name, batch, seq, args.rounds, args.layers)
                load = os.getloadavg()[0]        # the machine may be shared: the figure's context
                info.update(cold_s=cold["total_s"], cold_girflow_s=cold["girflow_s"], warm_s=warm["total_s"],
                            warm_girflow_s=warm["girflow_s"], warm_precompile_s=pre["total_s"],
                            dynamo_s=dyn["total_s"], dynamo_aot_s=aot["total_s"])
                speed = e2e["inductor"] / e2e["girflow"]
                mspeed = mem["inductor"] / mem["girflow"] if mem["girflow"] else float("nan")
                print(f"{name:6s} {batch:5d} {seq:4d} {e2e['eager'] * 1e3:9.2f} {e2e['inductor'] * 1e3:9.2f} "
                      f"{e2e['girflow'] * 1e3:9.2f} {speed:8.2f} | {'':14s}{mem['eager'] * 1e3:8.2f} "
                      f"{mem['inductor'] * 1e3:9.2f} {mem['girflow'] * 1e3:8.2f} {mspeed:8.2f} | "
                      f"{info['gir_regions']:3d}/{info['regions']:<3d} {info['gir_ops']:4d} | "
                      f"{info['cold_s']:6.1f}s ({info['cold_girflow_s']:.2f}s) / {info['warm_s']:5.1f}s "
                      f"({info['warm_girflow_s']:.2f}s) / {info['warm_precompile_s']:5.2f}s | "
                      f"{info['dynamo_s']:5.1f}s / {info['dynamo_aot_s']:5.1f}s "
                      f"| load {load:.1f}", flush=True)
                for why in info["fallbacks"]:
                    print(f"        fallback: {why}")
                for impl in ("eager", "inductor", "girflow"):
                    rows.append({"model": name, "batch": batch, "seq": seq, "impl": impl,
                                 "end_to_end_ms": e2e[impl] * 1e3, "memory_bound_ms": mem[impl] * 1e3,
                                 "regions": info["regions"], "gir_regions": info["gir_regions"],
                                 "gir_ops": info["gir_ops"],
                                 "compile_cold_s": info["cold_s"] if impl == "girflow" else
                                 (info["inductor_compile_s"] if impl == "inductor" else 0.0),
                                 "compile_warm_s": info["warm_s"] if impl == "girflow" else float("nan"),
                                 "compile_warm_precompile_s": info["warm_precompile_s"] if impl == "girflow"
                                 else float("nan"),
                                 "compile_cold_girflow_s": info["cold_girflow_s"] if impl == "girflow" else float("nan"),
                                 "compile_warm_girflow_s": info["warm_girflow_s"] if impl == "girflow" else float("nan"),
                                 "compile_dynamo_only_s": info["dynamo_s"],
                                 "compile_dynamo_aot_s": info["dynamo_aot_s"],
                                 "max_rel_err": info["rel_err"] if impl == "girflow" else 0.0,
                                 "load_avg_1min": load})
    with open(args.csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    _chart(rows, args.chart)
    gm = statistics.geometric_mean
    ratio = [r_i["end_to_end_ms"] / r_g["end_to_end_ms"] for r_i, r_g in
             zip(rows[1::3], rows[2::3])]
    print(f"geometric mean inductor/girflow end to end: {gm(ratio):.2f}x over {len(ratio)} runs")
    print(f"wrote {args.csv} and {args.chart}")
    return 0


def _chart(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    df = pd.DataFrame(rows)
    df["case"] = df["model"] + " b" + df["batch"].astype(str) + " s" + df["seq"].astype(str)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    sns.barplot(data=df, x="case", y="end_to_end_ms", hue="impl", ax=axes[0])
    axes[0].set_title("end-to-end inference latency (ms, lower is better)")
    sns.barplot(data=df, x="case", y="memory_bound_ms", hue="impl", ax=axes[1])
    axes[1].set_title("time in the memory-bound regions (ms)")
    for ax in axes:
        ax.set_xlabel("")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path)
