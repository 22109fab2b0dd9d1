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
  interleave     rows one sweep loop carries together (row programs with reductions): each step
                 loads the same columns of every row, so their memory streams start together and
                 their accumulator chains overlap
  split          parts the reduced axis is cut into (CPU; column programs, and row programs whose
                 only full-row work is one sweep of plain reductions): each task reduces its part
                 into a partial result, one combine step then folds the parts in order and writes
                 the outputs. It gives tall-narrow column sums and short-wide row sums work for
                 every core, and lets each task stream a contiguous block of rows.

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

KNOBS = ("tasks", "unroll", "vector_width", "streaming", "materialize", "one_pass", "tile", "split", "interleave")
K_BLOCK = 64                    # rows a column sum adds before folding into its total (codegen)
MIN_SPLIT_COLS = 256            # columns of a row part: below this a part is mostly loop tails
TRANSCENDENTAL_OPS = 12.0       # vector ops per exp/log/erf/tanh/sigmoid (polynomial approximations)
ACCUMULATOR_LATENCY = 4         # cycles before a vector add/max can use its own result
STRIDED_WALK = 1.25             # column walks whose rows outgrow half a core's cache: traffic factor
INTERLEAVE = (1, 2, 4)          # rows one row-program sweep carries together
STREAM_START_NS = 90.0          # first lines of a new stream from memory, before the prefetchers follow
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


def splittable(df) -> bool:
    """Whether a row program can reduce parts of each row on different tasks: its outputs are all
    per-row values and its full-row work is one sweep of sum/mean/max/min reductions (a later
    sweep would need the combined result, so it could not start on the parts)."""
    if df.form != "row" or "gir.dynamic_rows" in df.func.attributes:
        return False
    rows, cols = df.view
    ret = list(df.func.regions[0].blocks[0].operations)[-1]
    if any(math.prod(v.type.shape) != rows for v in ret.operands):
        return False
    reduces = [(op, i) for op, i in df.infos.items() if op.name == "gir.reduce"]
    if not reduces:
        return False
    for op, info in reduces:
        kind = str(op.attributes["kind"]).strip('"')
        if info.phase != 0 or kind not in ("sum", "mean", "max", "min"):
            return False
    return True


def split_counts(reduced: int, min_part: int, most: int, kind: str) -> list[int]:
    """1, then powers of two up to 4 x `most` whose parts hold at least `min_part` of the reduced
    axis (CPU targets only: the combine step runs on the host after the parallel region)."""
    if kind != "cpu":
        return [1]
    return [s for s in _pow2_upto(4 * most) if s == 1 or reduced // s >= min_part]


def row_part(cols: int, split: int, step: int) -> int:
    """Columns of each part but the last when a row is cut into `split` parts: a whole number of
    vector steps, so only the last part runs loop tails."""
    return -(-(-(-cols // split)) // step) * step


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
        # more parts than tasks shortens each strided walk down the columns (see model_ns)
        splits = split_counts(k, K_BLOCK, 2 * cores, desc.get("kind", "cpu"))
        for w, u in itertools.product(widths, (1, 2, 4, 8)):
            nblocks = a * -(-b // (w * u))
            for sp in splits:
                for t in _pow2_upto(max(1, min(nblocks * sp, 4 * cores))):
                    cand = {"tasks": t, "unroll": u, "vector_width": w}
                    out.append({**cand, "split": sp} if sp > 1 else cand)
        return out
    rows, cols = df.view
    reusable = any(i.space == "full" and op.name != "gir.reduce" and i.phase < df.num_phases - 1
                   for op, i in df.infos.items())
    one_pass = (0, 1) if fusable(df.func) else (0,)
    splits = split_counts(cols, MIN_SPLIT_COLS, cores, desc.get("kind", "cpu")) if splittable(df) else [1]
    # rows swept together: CPU code generation only (GPU targets map rows onto warps and blocks)
    reduces = desc.get("kind", "cpu") == "cpu" and any(op.name == "gir.reduce" for op in df.infos)
    ret = list(df.func.regions[0].blocks[0].operations)[-1]
    full_out = any(math.prod(v.type.shape) == rows * cols for v in ret.operands)
    stores = (0, 1) if full_out else (0,)     # streaming stores only matter for full-size outputs
    out = []
    for w, u, s, m, o in itertools.product(widths, (1, 2, 4, 8), stores, (1, 0) if reusable else (0,), one_pass):
        if w * u > max(cols, lanes) * 2:      # a step wider than the row only runs the tail loops
            continue
        for sp in splits:
            if sp > 1 and (o or row_part(cols, sp, w * u) * (sp - 1) >= cols):
                continue
            # rows swept together (reductions only: elementwise programs run flat; a materialised
            # row buffer holds one row; split items are parts of rows)
            inter = [k for k in INTERLEAVE if k == 1 or (reduces and sp == 1 and not m and u * k <= 16
                                                          and rows >= 2 * k)]
            for t, k in itertools.product(_pow2_upto(max(1, min(rows * sp, 4 * cores))), inter):
                if sp > 1 and t < sp:
                    continue
                if k > 1 and rows < t * k:     # a task with fewer rows than a group runs none grouped
                    continue
                cand = {"tasks": t, "unroll": u, "vector_width": w, "streaming": s, "materialize": m,
                        "one_pass": o}
                if sp > 1:
                    cand["split"] = sp
                if k > 1:
                    cand["interleave"] = k
                out.append(cand)
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
    reductions = [i.phase for op, i in df.infos.items() if op.name == "gir.reduce"]
    per_sweep = max((reductions.count(p) for p in set(reductions)), default=0)
    return {"reduces": bool(reductions), "accumulators": per_sweep + 1,   # + the loaded vector
            "in": n_full_in, "out": n_full_out, "small_out": n_small_out, "ops": ops_full,
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
    split = cand.get("split", 1)
    items = _work_items(df, cand) * split
    share = min(1.0, waves * -(-items // tasks) / items)   # fraction of the work the busiest thread does
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
        if df.form == "row":
            tail = (cols % step) / max(w, 1) * 0.5 + (cols % w) * 1.0   # remainder vectors, then scalars
        else:
            tail = (cols % step) * 1.0     # columns past the last whole block are reduced one by one
        per_row = cols / eff_lanes + tail
        rows = elements // max(cols, 1)
        sweeps = st["sweeps"] - (st["fused_sweeps"] if cand.get("one_pass") else 0)
        ops = st["ops"] + st["reused_ops"] * (sweeps - 1) * (1 - cand.get("materialize", 0))
        if cand.get("one_pass"):
            ops += st["fused_ops"]
        # reductions wait on their accumulators: unrolled steps and rows swept together
        # (interleave) are independent chains that hide the latency
        inter = cand.get("interleave", 1)
        chains = u * inter
        latency = max(1.0, ACCUMULATOR_LATENCY / chains) if st["reduces"] or df.form == "column" else 1.0
        comp = rows * per_row * max(ops, 1.0) * latency / clock * share
        # accumulators beyond the vector registers (keeping a few for loads and temporaries) spill
        regs = desc.get("register_file_bytes", 512) // max(1, desc["vector_bits"] // 8)
        live = st["accumulators"] * chains * -(-w // lanes)
        if live > regs - 4:
            comp *= 1.0 + 2.0 * (live - (regs - 4)) / (regs - 4)
        traffic = in_bytes + out_bytes
        if df.form == "row":
            if not cand.get("streaming"):
                traffic += out_bytes if working > _cache_bytes(desc) else 0   # read for ownership
            elif working <= _cache_bytes(desc):
                traffic += out_bytes        # streaming past a cache that would have held the output
            row_bytes = 4 * cols * max(st["in"], 1)
            reread = in_bytes * (sweeps - 1)
            local_bw = desc["memory_levels"].get("local", {}).get("bandwidth_gbs", 100.0) * threads
            extra = reread / local_bw if row_bytes * inter * 2 <= _core_cache(desc) else reread / bw
            # each row's input streams start cold (the prefetchers follow a stream only after its
            # first lines); rows swept together start theirs at once, so their waits overlap
            extra += rows * share * max(st["in"], 1) * _stream_start_ns(desc, working) / inter
            if cand.get("materialize"):
                extra += 2 * 4 * elements / local_bw
        else:
            line = desc.get("alignment_bytes", 64)
            traffic = traffic * max(1.0, line / (step * 4))
            # a column block walks down its rows at the row stride; where the rows one walk covers
            # outgrow half a core's cache, the lines and pages a neighbouring block shares with it
            # (misaligned rows, adjacent-line prefetch, TLB entries) are gone before it reuses them
            a, k, b = df.view
            if -(-k // split) * b * 4 > _core_cache(desc) // 2:
                traffic *= STRIDED_WALK
            extra = 0.0
        mem = traffic / bw + extra
        tm = max(mem, comp) + 0.2 * min(mem, comp)
        tm += disp["row_ns"] * rows * (split if df.form == "row" else 1) * share   # a row part is a row
    if split > 1:   # the combine step: one more foreign call, the partial results read once
        local_bw = desc["memory_levels"].get("local", {}).get("bandwidth_gbs", 100.0)
        tm += disp["chunk_ns"] + 4 * split * _combined_values(df, st) / local_bw
    overhead = disp["call_ns"] + (disp["wake_ns"] if threads > 1 else 0) + disp["chunk_ns"] * (tasks if threads > 1 else 1)
    return tm + overhead


def _stream_start_ns(desc: dict, working_bytes: int) -> float:
    """Wait for the first lines of a new stream where a working set lives in memory (caches
    answer within the prefetchers' reach: measured on a 2-core EPYC, rows swept together gained
    nothing on L3-resident 16 MiB, 5-12% on 128 MiB)."""
    if working_bytes <= _cache_bytes(desc):
        return 0.0
    return float(desc["memory_levels"]["global"].get("stream_start_ns", STREAM_START_NS))


def _work_items(df, cand: dict) -> int:
    """Units of work tasks share out (before any split of the reduced axis): rows, column blocks
    or tile rows."""
    if df.form == "row":
        return df.view[0]
    if df.form == "column":
        a, _k, b = df.view
        return a * -(-b // (cand["vector_width"] * cand["unroll"]))
    return -(-df.view[0] // cand.get("tile", 8))


def _combined_values(df, stats: dict) -> int:
    """Values one part of a split reduction leaves for the combine step."""
    if df.form == "column":
        return df.view[0] * df.view[2]
    return df.view[0] * max(1, stats["small_out"])


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
    pass trades a sweep for arithmetic, which the model prices less surely); its best with the
    reduced axis split (or unsplit, where the model chose a split); its best with the other kind of
    stores (streaming or cached); its best with rows swept together (or one by one, where the
    model chose interleave); its best for each further task
    count, up to half of `k`; then the rest in the model's order."""
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
    structural = 0      # picks of another sweep structure or split, beyond the split over cores
    for other in (lambda c: c.get("one_pass", 0) != ranked[0][1].get("one_pass", 0),
                  # splitting the reduced axis trades strided walks for contiguous ones, which
                  # the model does not see
                  lambda c: (c.get("split", 1) > 1) != (ranked[0][1].get("split", 1) > 1),
                  # streaming stores skip the caches: what that costs a later sweep or the next
                  # operator, and whether the output would have stayed cached, is guesswork
                  lambda c: c.get("streaming", 0) != ranked[0][1].get("streaming", 0),
                  # rows swept together trade register pressure for overlapped streams and chains
                  lambda c: (c.get("interleave", 1) > 1) != (ranked[0][1].get("interleave", 1) > 1)):
        pick = next((item for item in ranked if other(item[1])), None)
        if pick is not None:
            structural += 1
            if len(chosen) < k and pick not in chosen:
                chosen.append(pick)
    seen_tasks = {item[1].get("tasks") for item in chosen}
    for item in ranked:
        if len(chosen) >= min(k, max(1, k // 2 + structural)):
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
    """The gir-schedule option text that applies `cand`. Knobs a candidate leaves at their default
    (split and interleave 1: absent from the dict) are written out: options merge over the model's
    first choice, which must not lend a candidate its split or interleave."""
    full = dict(cand)
    if "unroll" in full:                 # row and column programs
        full.setdefault("split", 1)
    if "streaming" in full:              # row programs
        full.setdefault("interleave", 1)
    return " ".join(f"{k}={full[k]}" for k in KNOBS if k in full)


def describe(cand: dict) -> str:
    return ", ".join(f"{k}={cand[k]}" for k in KNOBS if k in cand)
