"""The measured half of the schedule search: compile the cost model's best few candidates, time
them side by side on this machine within a time budget, and remember the winner.

    entry = tune(traced, "cpu", k=5, budget_s=1.0)     # {"schedule": {...}, "candidates": [...]}

Candidates are timed round-robin on the same buffers, in a fresh order each round, so machine
noise and cache state hit all alike; each is scored by the lower quartile of its turns, which
tracks the kernel rather than a preempted call on a busy machine, and the model's first choice
stays unless another candidate beats it clearly (CLEAR_WIN).
"""
from __future__ import annotations

import functools
import statistics
import time

import numpy as np
from torch_mlir import ir

from girflow.dialects import make_context, targets
from girflow.passes import schedule_space, tuning_cache
from girflow.passes.dataflow import analyse, gir_functions
from girflow.runtime.buffers import aligned_empty


def analysed(traced):
    """(context, module, dataflow) of a traced program; keep the context alive while using them."""
    ctx = make_context()
    with ctx, ir.Location.unknown():
        module = ir.Module.parse(traced.mlir)
        df = analyse(gir_functions(module.operation)[0])
    return ctx, module, df


def ranked(traced, target: str = "cpu") -> list[tuple[float, dict]]:
    """(modelled ns, knobs) for every candidate, cheapest first."""
    _ctx, _module, df = analysed(traced)
    return schedule_space.rank(df, targets.get(target))


def cached(traced, target: str = "cpu") -> dict | None:
    _ctx, _module, df = analysed(traced)
    return tuning_cache.lookup(df, targets.get(target))


def _buffers(traced):
    rng = np.random.default_rng(0)
    keep, pointers = [], []
    storage = {"float32": np.float32, "float16": np.float16, "bfloat16": np.uint16}[traced.dtype]
    for view in traced.input_views:
        owner, arr = aligned_empty(view, storage)
        data = rng.standard_normal(view).astype(np.float32)
        arr[...] = (data.view(np.uint32) >> 16).astype(np.uint16) if storage is np.uint16 else data
        keep.append(owner)
        pointers.append(arr.ctypes.data)
    for view in traced.output_views:
        owner, arr = aligned_empty(view, storage)
        keep.append(owner)
        pointers.append(arr.ctypes.data)
    return keep, pointers


def timed_turn(fn, calls: int) -> list[float]:
    """Seconds of each of `calls` timed calls of `fn`, after one untimed call: torch's OpenMP workers
    spin for a while after a parallel region and parked thread pools take time to wake; neither is
    charged to the timed calls. One turn of a round-robin (the tuner here, `girflow bench`)."""
    fn()
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def measure(kernels: list, traced, budget_s: float, min_rounds: int = 5, calls: int = 2) -> list[float]:
    """Seconds per call of each kernel (objects with .run(pointers)): rounds until the budget is
    spent, the kernels in a fresh order each round (a kernel runs where its inputs were left by
    whichever ran before it; a fixed order would charge that to the same kernel every round), each
    turn an untimed call then `calls` timed ones, the turn scored by its median. A kernel's time is
    the lower quartile of its turns: a turn preempted on a busy machine falls above it."""
    import random

    keep, pointers = _buffers(traced)
    for k in kernels:          # warm up: first-touch page faults, code in the caches
        k.run(pointers)
    turns: list[list[float]] = [[] for _ in kernels]
    order = list(range(len(kernels)))
    rng = random.Random(0)
    start = time.perf_counter()
    while True:
        rng.shuffle(order)
        for i in order:
            turns[i].append(statistics.median(timed_turn(functools.partial(kernels[i].run, pointers), calls)))
        if len(turns[0]) >= min_rounds and time.perf_counter() - start > budget_s:
            break
        if len(turns[0]) >= 10000:
            break
    del keep
    return [statistics.quantiles(ts, n=4)[0] if len(ts) >= 4 else min(ts) for ts in turns]


CLEAR_WIN = 0.04    # a measured candidate replaces the model's first choice only if this much faster


def pick(seconds: list[float]) -> int:
    """Index of the winner: the fastest, unless it beats the model's first choice (index 0) by less
    than CLEAR_WIN, a margin a loaded machine's noise can produce (then the model's choice stays)."""
    best = min(range(len(seconds)), key=lambda i: (seconds[i], i))
    return best if seconds[best] < seconds[0] * (1 - CLEAR_WIN) else 0


def tune(traced, target: str = "cpu", k: int = 5, budget_s: float = 1.0, force: bool = False,
         progress=None) -> dict:
    """The tuning-cache entry for `traced` on `target`, measuring the model's top `k` unless the
    cache already holds one (or `force`). `progress(n)` is called as candidates compile."""
    from girflow.runtime.backends import get_backend

    desc = targets.get(target)
    if desc["kind"] != "cpu":
        raise ValueError(f"tuning measures on this machine: target '{target}' is not the host CPU")
    ctx, _module, df = analysed(traced)
    with ctx:
        if not force:
            hit = tuning_cache.lookup(df, desc)
            if hit is not None:
                return hit
        top = schedule_space.shortlist(schedule_space.rank(df, desc), k, int(desc["units"]["core"]))
    build = get_backend("cpu")
    kernels = []
    for _ns, cand in top:
        kernels.append(build(traced.mlir, traced, desc, schedule_space.as_options(cand)))
        if progress:
            progress(1)
    seconds = measure(kernels, traced, budget_s)
    best = pick(seconds)
    entry = {"schedule": top[best][1], "measured_us": seconds[best] * 1e6,
             "untuned_us": seconds[0] * 1e6, "budget_s": budget_s,
             "candidates": [{"schedule": c, "model_us": ns / 1e3, "measured_us": s * 1e6}
                            for (ns, c), s in zip(top, seconds)]}
    with ctx:
        entry["path"] = tuning_cache.store(df, desc, entry)
    return entry
