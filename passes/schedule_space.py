"""The schedule search space of a GIR function and a cost model that ranks it.

A *candidate* is a dict of knobs, the same names gir-schedule takes as options and prints in
`gir.schedule`:
  tasks          parallel tasks (threads = min(tasks, cores); more tasks than threads balance load)
  unroll         independent vector accumulators / unrolled vectors per loop step
  vector_width   f32 lanes per vector op
  streaming      1: outputs written with non-temporal stores (row programs)
  materialize    1: reused full-row intermediates kept in a per-core row buffer, 0: recomputed
  one_pass       1: reductions with a one-pass form fused into the sweep before them (online
                 softmax, one-pass variance; gir-sweep-fusion), 0: one sweep per reduction level
  tile           transpose tile edge (transpose programs)

The model prices a candidate from the target description alone: bytes moved at the level the
working set fits in (per-core caches, the shared last-level cache, memory; bandwidth scaled by
threads), vector work (lanes, accumulator latency, loop
tails), and dispatch cost (a call, waking helper threads, one foreign call per chunk). It only has
to rank: the tuner (runtime/tuner.py) times the best few on the machine and keeps the winner.
"""
from __future__ import annotations

import itertools
import math

from girflow.passes.opt.sweep_fusion import fusable

KNOBS = ("tasks", "unroll", "vector_width", "streaming", "materialize", "one_pass", "tile")
TRANSCENDENTAL_OPS = 12.0       # vector ops per exp/log/erf/tanh/sigmoid (polynomial approximations)
ACCUMULATOR_LATENCY = 4         # cycles before a vector add/max can use its own result
DISPATCH_DEFAULTS = {"call_ns": 2500, "wake_ns": 2000, "chunk_ns": 700, "row_ns": 15}


def _pow2_upto(n: int, lo: int = 1) -> list[int]:
    out, v = [], lo
    while v <= n:
        out.append(v)
        v *= 2
    return out


def _level_bandwidth(desc: dict, working_bytes: int, threads: int) -> float:
    """Bytes/ns for a working set: the smallest memory level that holds it, scaled by threads."""
    cores = int(desc["units"]["core"])
    levels = desc["memory_levels"]
    local = levels.get("local", {})
    local_cap = (local.get("capacity_bytes") or 0) * cores
    if working_bytes <= local_cap:
        return local.get("bandwidth_gbs", 100.0) * threads
    shared = levels.get("last_level", {})
    if working_bytes <= (shared.get("capacity_bytes") or 0):
        return shared["bandwidth_gbs"] * threads
    g = levels["global"]["bandwidth_gbs"]
    per_core = desc.get("core_bandwidth_gbs", g)
    return min(g, per_core * threads)


def candidates(df, desc: dict) -> list[dict]:
    """Every candidate schedule of the analysed function `df` on target `desc`."""
    cores = int(desc["units"]["core"])
    lanes = desc["vector_bits"] // 32
    widths = sorted({max(4, lanes // 2), lanes, lanes * 2})
    if df.form == "transpose":
        rows, cols = df.view
        tiles = [t for t in (4, 8, 16) if t <= max(4, min(rows, cols) * 2)]
        ntile_rows = -(-rows // 8)
        tasks = [t for t in _pow2_upto(max(1, min(ntile_rows, 4 * cores)))]
        return [{"tasks": t, "tile": tile} for t in tasks for tile in tiles]
    if df.form == "column":
        a, k, b = df.view
        out = []
        for w, u in itertools.product(widths, (1, 2, 4, 8)):
            nblocks = a * -(-b // (w * u))
            for t in _pow2_upto(max(1, min(nblocks, 4 * cores))):
                out.append({"tasks": t, "unroll": u, "vector_width": w})
        return out
    rows, cols = df.view
    reusable = any(i.space == "full" and op.name != "gir.reduce" and i.phase < df.num_phases - 1
                   for op, i in df.infos.items())
    one_pass = (0, 1) if fusable(df.func) else (0,)
    out = []
    for w, u, s, m, o in itertools.product(widths, (1, 2, 4, 8), (0, 1), (1, 0) if reusable else (0,), one_pass):
        if w * u > max(cols, lanes) * 2:      # a step wider than the row only runs the tail loops
            continue
        for t in _pow2_upto(max(1, min(rows, 4 * cores))):
            out.append({"tasks": t, "unroll": u, "vector_width": w, "streaming": s, "materialize": m,
                        "one_pass": o})
    return out


def _program_stats(df) -> dict:
    """Full-size inputs/outputs, vector ops per element per sweep, and sweeps, from the dataflow graph."""
    func = df.func
    block = func.regions[0].blocks[0]
    full = df.view
    n_full_in = 0
    for a in block.arguments:
        shape = list(a.type.shape) if hasattr(a.type, "shape") else []
        if shape and math.prod(shape) == math.prod(full):
            n_full_in += 1
    ret = [o for o in block.operations][-1]
    n_full_out = sum(1 for v in ret.operands if math.prod(v.type.shape) == math.prod(full))
    n_small_out = len(list(ret.operands)) - n_full_out
    ops_full, ops_reused = 0.0, 0.0
    for op, info in df.infos.items():
        if info.space != "full" or op.name in ("gir.broadcast", "gir.cast"):
            continue
        kind = op.name[4:]
        cost = TRANSCENDENTAL_OPS if kind in ("exp", "log", "tanh", "erf", "sigmoid") else 1.0
        ops_full += cost
        if df.form == "row" and info.phase < df.num_phases - 1 and kind != "reduce":
            ops_reused += cost
    sweeps = df.num_phases if df.form == "row" else 1
    fused = [k for _, k in fusable(func)] if df.form == "row" else []
    # the one-pass forms: a sweep less, more work per element in the fused sweep. logsumexp: a
    # second exp (the rescale) and max/sub/fma on two dependent accumulators; var: a shift and a
    # second accumulator chain. Measured on a 2-core AVX2 machine (tasks=1, 8x64..4096x1024): the
    # online softmax 1.4-2x slower than three sweeps over L1/L2-resident rows, the one-pass
    # variance within noise at small rows and ~1.3x slower at 1000+ columns.
    fused_ops = sum(2 * TRANSCENDENTAL_OPS + 4 if k == "logsumexp" else 4.0 for k in fused)
    return {"in": n_full_in, "out": n_full_out, "small_out": n_small_out, "ops": ops_full,
            "reused_ops": ops_reused, "sweeps": sweeps, "fused_ops": fused_ops, "fused_sweeps": 1 if fused else 0}


def model_ns(df, desc: dict, cand: dict, stats: dict | None = None) -> float:
    """Modelled nanoseconds of one call of `df` under schedule `cand` on target `desc`."""
    st = stats or _program_stats(df)
    cores = int(desc["units"]["core"])
    lanes = desc["vector_bits"] // 32
    clock = desc.get("clock_ghz", 2.5)
    disp = {**DISPATCH_DEFAULTS, **desc.get("dispatch", {})}
    elements = math.prod(df.view)
    tasks = cand["tasks"]
    threads = min(tasks, cores)
    waves = -(-tasks // threads)                     # tasks per thread, rounded up: imbalance
    share = waves / tasks                            # fraction of the work the busiest thread does
    in_bytes = 4 * elements * st["in"]
    out_bytes = 4 * elements * st["out"]
    working = in_bytes + out_bytes
    bw = _level_bandwidth(desc, working, threads)    # bytes per ns, all threads together
    if df.form == "transpose":
        tile = cand["tile"]
        line = desc.get("alignment_bytes", 64)
        partial = max(1.0, line / (tile * 4))        # a column of a tile touches part of a line
        regs = desc.get("register_file_bytes", 512)
        spill = 1.0 + max(0, tile * tile * 4 - regs) / regs   # tiles beyond the register file spill
        mem = (in_bytes + out_bytes * partial) / bw * spill
        comp = elements / lanes / clock * share * threads * (8 / max(tile, 4)) * 0.5
        tm = max(mem, comp * share)
    else:
        w, u = cand["vector_width"], cand["unroll"]
        eff_lanes = min(w, lanes) * min(1.0, 0.5 + 0.5 * u / 4)
        cols = df.view[-1] if df.form == "row" else df.view[2]
        step = w * u
        tail = (cols % step) / max(w, 1) * 0.5 + (cols % w) * 1.0   # remainder vectors, then scalars
        per_row = cols / eff_lanes + tail
        rows = elements // max(cols, 1)
        sweeps = st["sweeps"] - (st["fused_sweeps"] if cand.get("one_pass") else 0)
        ops = st["ops"] + st["reused_ops"] * (sweeps - 1) * (1 - cand.get("materialize", 0))
        if cand.get("one_pass"):
            ops += st["fused_ops"]
        # reductions wait on their accumulators: unroll hides the latency
        latency = max(1.0, ACCUMULATOR_LATENCY / u) if sweeps > 1 or df.form == "column" else 1.0
        comp = rows * per_row * max(ops, 1.0) * latency / clock * share
        traffic = in_bytes + out_bytes
        if df.form == "row":
            if not cand.get("streaming"):
                traffic += out_bytes if working > _cache_bytes(desc) else 0   # read for ownership
            elif working <= _cache_bytes(desc):
                traffic += out_bytes        # streaming past a cache that would have held the output
            row_bytes = 4 * cols * max(st["in"], 1)
            reread = in_bytes * (sweeps - 1)
            local_bw = desc["memory_levels"].get("local", {}).get("bandwidth_gbs", 100.0) * threads
            extra = reread / local_bw if row_bytes * 2 <= _core_cache(desc) else reread / bw
            if cand.get("materialize"):
                extra += 2 * 4 * elements / local_bw
        else:
            line = desc.get("alignment_bytes", 64)
            traffic = traffic * max(1.0, line / (step * 4))
            extra = 0.0
        mem = traffic / bw + extra
        tm = max(mem, comp) + 0.2 * min(mem, comp)
        tm += disp["row_ns"] * rows / threads * share * threads
    overhead = disp["call_ns"] + (disp["wake_ns"] if threads > 1 else 0) + disp["chunk_ns"] * (tasks if threads > 1 else 1)
    return tm + overhead


def _core_cache(desc: dict) -> int:
    return desc["memory_levels"].get("local", {}).get("capacity_bytes") or 1 << 20


def _cache_bytes(desc: dict) -> int:
    """What the caches hold together: an output that fits is better written through them (a
    streaming store would send it to memory) and costs no extra read for ownership."""
    shared = desc["memory_levels"].get("last_level", {}).get("capacity_bytes") or 0
    return max(_core_cache(desc) * int(desc["units"]["core"]), shared)


def rank(df, desc: dict) -> list[tuple[float, dict]]:
    """(modelled ns, candidate), cheapest first; ties keep the enumeration order (deterministic)."""
    stats = _program_stats(df)
    scored = [(model_ns(df, desc, c, stats), i, c) for i, c in enumerate(candidates(df, desc))]
    scored.sort(key=lambda x: (x[0], x[1]))
    return [(ns, c) for ns, _, c in scored]


def shortlist(ranked: list, k: int, cores: int = 2) -> list:
    """The `k` candidates worth timing: the model's best; its best on one thread and on all `cores`
    (how work is split over the cores is what the model knows least: waking helpers, a busy
    machine, caches per core); its best with the other sweep structure (one_pass flipped: one
    pass trades a sweep for arithmetic, which the model prices less surely); its best for each
    further task count, up to half of `k`; then the rest in the model's order."""
    chosen: list = []
    if not ranked:
        return chosen
    chosen.append(ranked[0])

    def threads(item):
        return min(item[1].get("tasks", 1), cores)

    for want in (1, cores):
        if len(chosen) < k and all(threads(item) != want for item in chosen):
            best = next((item for item in ranked if threads(item) == want), None)
            if best is not None:
                chosen.append(best)
    flipped = next((item for item in ranked if item[1].get("one_pass", 0) != ranked[0][1].get("one_pass", 0)), None)
    if flipped is not None and len(chosen) < k and flipped not in chosen:
        chosen.append(flipped)
    seen_tasks = {item[1].get("tasks") for item in chosen}
    for item in ranked:
        if len(chosen) >= max(1, k // 2 + (flipped is not None)):
            break
        if item[1].get("tasks") not in seen_tasks:
            seen_tasks.add(item[1].get("tasks"))
            chosen.append(item)
    for item in ranked:
        if len(chosen) >= k:
            break
        if item not in chosen:
            chosen.append(item)
    chosen.sort(key=lambda item: ranked.index(item))
    return chosen


def as_options(cand: dict) -> str:
    """The gir-schedule option text that applies `cand`."""
    return " ".join(f"{k}={cand[k]}" for k in KNOBS if k in cand)


def describe(cand: dict) -> str:
    return ", ".join(f"{k}={cand[k]}" for k in KNOBS if k in cand)
