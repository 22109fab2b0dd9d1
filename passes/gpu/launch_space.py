"""The GPU part of the schedule search: how many rows a block holds (row-per-warp) or how many
threads share a row (row-per-block), priced from the target description.

A candidate is a dict of gir-to-gpu options, e.g. {"schedule": "warp", "rows_per_block": 4} or
{"schedule": "block", "block_threads": 512}; `gir-to-gpu{launch=model}` applies the model's first
choice and the kernel records it (`gir.rows_per_block` / `gir.block_threads`, `gir.launch`).
The model: HBM time for the bytes moved (plus the re-reads of sweeps over rows that neither stay in
registers nor fit in L2), derated when too few warps are in flight to hide memory latency
(MIN_WARPS_PER_SM per SM); plus, per wave of resident warps, the serial work of one row
(vector iterations per sweep, shuffle steps and a barrier per reduction); idle lanes when a row
is shorter than the threads given to it.
"""
from __future__ import annotations

import math

MIN_WARPS_PER_SM = 16        # warps in flight per SM that hide HBM latency with 128-bit loads
BLOCKS_PER_SM = 32           # resident-block limit (sm_80/sm_90; AMD CUs allow as many)
SHUFFLE_CYCLES = 30
BARRIER_CYCLES = 120
ITERATION_CYCLES = 40        # one 128-bit load, its math and the loop per lane
REGISTER_ROW_ELEMENTS = 32   # a thread's share of a row up to this many elements stays in registers across
                             # sweeps (passes/gpu/codegen.py); longer shares re-read the row in each sweep
LOOP_DERATE = 0.85           # longer shares are swept by a loop issuing one vector load per iteration, where
                             # the register path issues all of a thread's loads at once (H200, run 2: the
                             # loop ran 10-18% slower than the best register launch for bias_gelu / swiglu
                             # at 8192x4096)


def candidates(view: tuple, desc: dict) -> list[dict]:
    """Every launch shape for a row program of `view` = (rows, cols) on GPU target `desc`."""
    warp = int(desc["units"]["warp_size"])
    most = int(desc["units"].get("max_threads_per_block", 1024))
    out = [{"schedule": "warp", "rows_per_block": r} for r in (1, 2, 4, 8, 16, 32) if r * warp <= most]
    t = warp * 2
    while t <= most:
        out.append({"schedule": "block", "block_threads": t})
        t *= 2
    return out


def model_ns(view: tuple, desc: dict, cand: dict, full_arrays: int = 2, sweeps: int = 2, reductions: int = 1) -> float:
    """Modelled nanoseconds of one launch; `full_arrays` counts full-size inputs plus outputs."""
    rows, cols = view
    units = desc["units"]
    warp, sms = int(units["warp_size"]), int(units.get("sm", units.get("cu", 1)))
    warps_per_sm = int(units.get("warps_per_sm", 64))
    clock = float(desc.get("clock_ghz", 1.7))
    lanes = max(1, int(desc.get("vector_bits", 128)) // 32)
    bw = float(desc["memory_levels"]["global"]["bandwidth_gbs"])     # bytes per ns
    if cand["schedule"] == "warp":
        per_row_threads, rows_per_block = warp, cand["rows_per_block"]
        blocks = -(-rows // rows_per_block)
        total_warps = rows                     # warps of a partly filled last block have no row
        resident = sms * min(warps_per_sm, BLOCKS_PER_SM * rows_per_block)
        sync = 0.0
    else:
        per_row_threads = cand["block_threads"]
        blocks = rows
        total_warps = rows * per_row_threads // warp
        resident = sms * min(warps_per_sm, BLOCKS_PER_SM * per_row_threads // warp)
        sync = BARRIER_CYCLES
    in_flight = min(total_warps, resident)
    saturation = min(1.0, in_flight / (sms * MIN_WARPS_PER_SM))
    busy_sms = min(sms, blocks)
    saturation = min(saturation, busy_sms / sms * 4)      # few blocks: few SMs pull from memory
    # sweeps after the first re-read the row unless a thread's share stays in registers; the re-reads
    # hit L2 only while the rows in flight fit in (half of) it, else they come from device memory again
    # (row-per-warp at 8192x4096: 8192 rows x 16 KiB in flight, 2.3x the bytes; seen on an H200)
    reread = 0.0
    looped = math.ceil(cols / (per_row_threads * lanes)) * lanes > REGISTER_ROW_ELEMENTS
    if looped:
        saturation *= LOOP_DERATE
    if sweeps > 1 and looped:
        rows_in_flight = in_flight * warp // per_row_threads
        l2 = float(desc["memory_levels"].get("local", {}).get("capacity_bytes") or 0.0)
        working = rows_in_flight * cols * 4.0
        hit = min(1.0, 0.5 * l2 / working)
        reread = 4.0 * rows * cols * (sweeps - 1) * (1.0 - hit)
    mem = (4.0 * rows * cols * full_arrays + reread) / (bw * max(saturation, 1e-3))
    iterations = math.ceil(cols / (per_row_threads * lanes))
    used = min(1.0, cols / (per_row_threads * lanes))       # lanes with work in the last step
    per_row = sweeps * iterations * ITERATION_CYCLES + reductions * (math.log2(warp) * SHUFFLE_CYCLES + sync)
    waves = math.ceil(total_warps / resident)
    latency = waves * per_row / clock / max(used, 0.05) ** 0.25
    return max(mem, latency) + 0.3 * min(mem, latency)


def program_stats(prog) -> dict:
    """What the model needs from a GProgram (passes/function_view.py): full-size arrays moved,
    sweeps over a row, reductions."""
    from girflow.passes.function_view import levels

    full = [s for _, s, _ in prog.args + prog.outputs if math.prod(s) == math.prod(prog.view)]
    level, _inner = levels(prog)
    reductions = [op for op in prog.ops if op.kind == "reduce"]
    sweeps = max([level[op.result] for op in reductions] + [0]) + 1
    return {"full_arrays": max(1, len(full)), "sweeps": sweeps, "reductions": len(reductions)}


def rank(view: tuple, desc: dict, schedule: str = "auto", **program) -> list[tuple[float, dict]]:
    """(modelled ns, candidate), cheapest first (ties: enumeration order); `schedule` = warp|block
    keeps that strategy's candidates only."""
    cands = [c for c in candidates(view, desc) if schedule in ("auto", c["schedule"])]
    scored = [(model_ns(view, desc, c, **program), i, c) for i, c in enumerate(cands)]
    scored.sort(key=lambda x: (x[0], x[1]))
    return [(ns, c) for ns, _, c in scored]
