"""The NVIDIA benchmark over a kernel bundle: girflow's kernels (every launch candidate) against torch
eager, torch.compile (inductor) and a device-to-device copy of the same bytes, on one GPU.

Imports nothing of the compiler (runs where only torch and cuda-python are installed).
Timing is device-side: N launches of a contender are captured in one CUDA graph (girflow's kernels
launch with cuLaunchKernel on the capturing stream), the graph is replayed several times and
timed with CUDA events; the median per launch is kept. Shapes whose data fits in L2 rotate over
enough input/output sets to exceed 3x the L2 size, so every launch reads from device memory.
Bandwidth counts the bytes an operator must move: inputs read once plus outputs written once; the
copy moves the same number of bytes (half read, half written).
"""
from __future__ import annotations

import csv
import math
import os
import statistics
import time
import traceback

CSV_FIELDS = ["op", "shape", "dtype", "contender", "launch", "schedule", "model_rank", "model_first", "default",
              "ms", "gbs", "vs_copy", "vs_eager", "vs_inductor", "registers", "spill_bytes", "check",
              "rotation_sets", "launches_per_graph", "timing", "note"]


def device_summary() -> dict:
    import torch

    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    info = {"name": props.name, "sms": props.multi_processor_count,
            "l2_bytes": int(getattr(props, "L2_cache_size", 0) or 50 * 2**20),
            "memory_gib": round(props.total_memory / 2**30, 1), "torch": torch.__version__,
            "cuda": torch.version.cuda}
    try:
        from cuda.bindings import driver

        from girflow.runtime.cuda_launch import check

        info["driver"] = check(driver.cuDriverGetVersion())
    except Exception as e:  # noqa: BLE001 (informational only)
        info["driver"] = f"unknown ({e})"
    return info


def time_launches(call, sets: int, target_ms: float = 4.0, replays: int = 11, max_launches: int = 1000,
                  bytes_allocated_per_call: int = 0) -> tuple[float, str, int]:
    """Median milliseconds per launch of `call(i)` (i = the rotation set), (ms, method, launches).
    Captures the launches in a CUDA graph; falls back to events around a plain loop when capture
    fails (the method says so)."""
    import torch

    for i in range(sets):
        call(i)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for i in range(sets):
        call(i)
    end.record()
    end.synchronize()
    estimate = max(start.elapsed_time(end) / sets, 1e-4)
    n = sets * max(1, math.ceil(target_ms / (estimate * sets)))
    if bytes_allocated_per_call:
        n = min(n, max(sets, (8 << 30) // bytes_allocated_per_call))
    n = max(sets, min(n, max_launches - max_launches % sets))
    times = []
    try:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for j in range(n):
                call(j % sets)
        graph.replay()
        torch.cuda.synchronize()
        for _ in range(replays):
            start.record()
            graph.replay()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / n)
        method = "cuda-graph"
        del graph
    except Exception as e:  # noqa: BLE001 (a contender that cannot be captured is timed on the stream)
        torch.cuda.synchronize()
        method = f"stream (graph capture failed: {type(e).__name__}: {str(e)[:80]})"
        for _ in range(replays):
            start.record()
            for j in range(n):
                call(j % sets)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / n)
    return statistics.median(times), method, n


def _groups(bundle, ops=None):
    """Bench cases grouped by (op, dtype, shapes), in bundle order."""
    groups: dict = {}
    for c in bundle.group("bench"):
        if ops and c.op not in ops:
            continue
        groups.setdefault((c.op, c.dtype, tuple(tuple(s) for s in c.shapes)), []).append(c)
    return groups


def _close(a, b) -> bool:
    """A sanity check of the timed kernel (tests/gpu/test_cuda_bundle.py holds the precise bounds)."""
    import torch

    tol = 1e-3 if a.dtype == torch.float32 else 3e-2
    try:
        torch.testing.assert_close(a.float().reshape(b.shape), b.float(), rtol=tol, atol=tol)
        return True
    except AssertionError:
        return False


def bench_bundle(bundle, csv_path, budget_s: float = 240.0, inductor: bool = True, ops=None, log=print,
                 summary_path=None) -> list[dict]:
    """Time every bench group of `bundle`; writes CSV rows as each group finishes (a timeout keeps
    what was measured). Returns one summary dict per group."""
    import torch

    from girflow.frontends import ops as operators

    t_end = time.monotonic() + budget_s
    info = device_summary()
    log(f"device: {info}")
    if inductor:
        import torch._inductor.config as inductor_config

        inductor_config.compile_threads = min(16, max(1, os.cpu_count() or 1))
    l2 = info["l2_bytes"]
    summaries: list[dict] = []
    with open(csv_path, "w", newline="") as f, torch.no_grad():
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        f.flush()
        for (op, dtype, shapes), cases in _groups(bundle, ops).items():
            left = t_end - time.monotonic()
            shape = "x".join(str(d) for d in shapes[0])
            if left < 5:
                log(f"budget spent: {op} {shape} and later groups not measured")
                break
            try:
                moved = cases[0].bytes
                sets = max(1, math.ceil(3 * l2 / moved))
                while sets > 1 and sets * moved > (2 << 30):
                    sets -= 1
                note = f"rotating {sets} buffer sets (data {moved / 2**20:.1f} MiB < 3x L2)" if sets > 1 else ""
                xs = [cases[0].make_inputs(seed=i) for i in range(sets)]
                ref = operators.reference(op)
                want = ref(*xs[0])
                want = list(want) if isinstance(want, (tuple, list)) else [want]
                rows, base = [], {"op": op, "shape": shape, "dtype": dtype, "rotation_sets": sets, "note": note}

                def timed(contender, call, alloc=0, **extra):
                    ms, method, n = time_launches(call, sets, bytes_allocated_per_call=alloc)
                    row = {**base, "contender": contender, "ms": ms, "gbs": moved / ms / 1e6,
                           "launches_per_graph": n, "timing": method, **extra}
                    rows.append(row)
                    return row

                for c in cases:
                    launch = c.launcher()
                    launch.load()
                    views = [[x.reshape(v) for x, v in zip(s, c.input_views)] for s in xs]
                    outs = [launch.new_outputs() for _ in range(sets)]
                    ptrs = [[t.data_ptr() for t in (*views[i], *outs[i])] for i in range(sets)]
                    launch(*views[0], out=outs[0])
                    torch.cuda.synchronize()
                    ok = all(_close(o, r) for o, r in zip(outs[0], want))
                    timed("girflow", lambda i, L=launch, P=ptrs: L.launch_pointers(P[i], torch.cuda.current_stream().cuda_stream),
                          launch=_launch_text(c.launch), schedule=c.schedule, model_rank=c.model["rank"],
                          model_first=c.model["first"], default=c.default, registers=c.ptxas["registers"],
                          spill_bytes=c.ptxas["spill_stores"] + c.ptxas["spill_loads"], check="ok" if ok else "MISMATCH")
                out_bytes = sum(math.prod(v) for v in cases[0].output_views) * xs[0][0].element_size()
                timed("eager", lambda i: ref(*xs[i]), alloc=out_bytes)
                inductor_ms = None
                if inductor and t_end - time.monotonic() > 30:
                    t0 = time.perf_counter()
                    try:
                        compiled = torch.compile(ref, dynamic=False)
                        got = compiled(*xs[0])
                        torch.cuda.synchronize()
                        compile_s = time.perf_counter() - t0
                        got = list(got) if isinstance(got, (tuple, list)) else [got]
                        ok = all(_close(g, r) for g, r in zip(got, want))
                        inductor_ms = timed("inductor", lambda i: compiled(*xs[i]), alloc=out_bytes,
                                            check="ok" if ok else "MISMATCH",
                                            note=f"compiled in {compile_s:.1f} s")["ms"]
                    except Exception as e:  # noqa: BLE001
                        log(f"{op} {shape}: torch.compile failed: {type(e).__name__}: {str(e)[:200]}")
                elif inductor:
                    log(f"{op} {shape}: torch.compile skipped (budget)")
                # the copy moves the same bytes, rounded down to whole 16 KiB (torch's copy of 4M + 512
                # floats ran 40% slower than of 4M on an H200, run 2); compared by GB/s
                n_copy = max(4096, moved // 2 // 4 // 4096 * 4096)
                copy_bytes = 2 * 4 * n_copy
                srcs = [torch.randn(n_copy, device="cuda") for _ in range(sets)]
                dsts = [torch.empty_like(s) for s in srcs]
                copy_ms = timed("copy", lambda i: dsts[i].copy_(srcs[i]))["ms"] * moved / copy_bytes
                # the same contender timed twice in a row: their difference is this measurement's noise
                copy_again = timed("copy (repeat)", lambda i: dsts[i].copy_(srcs[i]))["ms"] * moved / copy_bytes
                for r in rows[-2:]:   # the copy rows: their own bytes; ms scaled to the operator's bytes
                    r["gbs"] = copy_bytes / (r["ms"] * 1e6)
                    r["note"] = (r.get("note", "") + f"; copies {copy_bytes} B, ms scaled to {moved} B").lstrip("; ")
                    r["ms"] = r["ms"] * moved / copy_bytes
                eager_ms = next(r["ms"] for r in rows if r["contender"] == "eager")
                for r in rows:
                    r["vs_copy"] = copy_ms / r["ms"]
                    r["vs_eager"] = eager_ms / r["ms"]
                    r["vs_inductor"] = inductor_ms / r["ms"] if inductor_ms else ""
                    w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
                f.flush()
                gir = [r for r in rows if r["contender"] == "girflow"]
                best = min(gir, key=lambda r: r["ms"])
                first = next((r for r in gir if r["model_first"]), None)
                default = next((r for r in gir if r["default"]), None)
                s = {"op": op, "shape": shape, "dtype": dtype, "best": best, "model_first": first, "default": default,
                     "eager_ms": eager_ms, "inductor_ms": inductor_ms, "copy_ms": copy_ms, "copy_gbs": moved / copy_ms / 1e6,
                     "sets": sets, "candidates": len(gir), "mismatch": [r["launch"] for r in gir if r["check"] != "ok"],
                 "copy_spread": abs(copy_again - copy_ms) / min(copy_again, copy_ms)}
                summaries.append(s)
                log(_summary_line(s))
            except Exception as e:  # noqa: BLE001 (one broken case must not cost the others)
                log(f"{op} {shape}: FAILED {type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}")
                w.writerow({"op": op, "shape": shape, "dtype": dtype, "contender": "error",
                            "note": f"{type(e).__name__}: {str(e)[:200]}"})
                f.flush()
            xs = srcs = dsts = []   # free this case's buffers before the next
            torch.cuda.empty_cache()
    if summary_path:
        write_summary(summaries, summary_path)
    log(summary_table(summaries, info))
    return summaries


def _launch_text(launch: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in launch.items()) or "fixed"


def _summary_line(s) -> str:
    b = s["best"]
    ind = f"{s['inductor_ms'] * 1e3:.1f}" if s["inductor_ms"] else "-"
    return (f"{s['op']:14s} {s['shape']:>10s} {s['dtype']:8s} best {b['ms'] * 1e3:8.1f} us {b['gbs']:6.0f} GB/s ({b['launch']}) "
            f"eager {s['eager_ms'] * 1e3:.1f} inductor {ind} copy {s['copy_ms'] * 1e3:.1f} us "
            f"(repeat differs {s['copy_spread']:.0%}) {s['candidates']} launches timed"
            + (f" [rotating {s['sets']} buffer sets: data < 3x L2]" if s["sets"] > 1 else "")
            + (f"  MISMATCH {s['mismatch']}" if s["mismatch"] else ""))


def summary_table(summaries, info) -> str:
    """Markdown table: per group, the best measured candidate, the model's choice and the default."""
    head = (f"\nGPU: {info['name']} ({info['sms']} SMs, L2 {info['l2_bytes'] / 2**20:.0f} MiB), torch {info['torch']}\n"
            "| op | shape | dtype | girflow best us | GB/s | of copy | vs eager | vs inductor | best launch | model's choice "
            "(us) | default (us) | regs | copy GB/s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for s in summaries:
        b, m, d = s["best"], s["model_first"], s["default"]
        ind = f"{s['inductor_ms'] / b['ms']:.2f}" if s["inductor_ms"] else "-"
        lines.append(f"| {s['op']} | {s['shape']} | {s['dtype']} | {b['ms'] * 1e3:.1f} | {b['gbs']:.0f} | {s['copy_ms'] / b['ms']:.2f} | "
                     f"{s['eager_ms'] / b['ms']:.2f} | {ind} | {b['launch']} | "
                     f"{(m['launch'] + ' (%.1f)' % (m['ms'] * 1e3)) if m else '-'} | "
                     f"{(d['launch'] + ' (%.1f)' % (d['ms'] * 1e3)) if d else '-'} | {b['registers']} | {s['copy_gbs']:.0f} |")
    ratios = [s["inductor_ms"] / s["best"]["ms"] for s in summaries if s["inductor_ms"]]
    if ratios:
        lines.append(f"geomean vs inductor (best launch): {math.exp(sum(map(math.log, ratios)) / len(ratios)):.3f} "
                     f"over {len(ratios)} cases")
    dflt = [s["inductor_ms"] / s["default"]["ms"] for s in summaries if s["inductor_ms"] and s["default"]]
    if dflt:
        lines.append(f"geomean vs inductor (default launch): {math.exp(sum(map(math.log, dflt)) / len(dflt)):.3f}")
    return "\n".join(lines)


def write_summary(summaries, path) -> None:
    fields = ["op", "shape", "dtype", "best_us", "best_gbs", "best_launch", "of_copy", "vs_eager", "vs_inductor",
              "model_launch", "model_us", "default_launch", "default_us", "eager_us", "inductor_us", "copy_us",
              "registers", "rotation_sets"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for s in summaries:
            b, m, d = s["best"], s["model_first"], s["default"]
            w.writerow({"op": s["op"], "shape": s["shape"], "dtype": s["dtype"], "best_us": b["ms"] * 1e3,
                        "best_gbs": b["gbs"], "best_launch": b["launch"], "of_copy": s["copy_ms"] / b["ms"],
                        "vs_eager": s["eager_ms"] / b["ms"],
                        "vs_inductor": s["inductor_ms"] / b["ms"] if s["inductor_ms"] else "",
                        "model_launch": m["launch"] if m else "", "model_us": m["ms"] * 1e3 if m else "",
                        "default_launch": d["launch"] if d else "", "default_us": d["ms"] * 1e3 if d else "",
                        "eager_us": s["eager_ms"] * 1e3, "inductor_us": s["inductor_ms"] * 1e3 if s["inductor_ms"] else "",
                        "copy_us": s["copy_ms"] * 1e3, "registers": b["registers"], "rotation_sets": s["sets"]})
