"""gir-schedule: searches the memory-access pattern of each GIR function for a target.

Decisions (all recorded as attributes, so the choice is visible and overridable in gir-opt):
  func  gir.target   = the target description's name
        gir.schedule = {tasks, rows_per_task | blocks_per_task, vector_width, unroll}
  op    gir.materialize = "local"  on a full-row value computed in one sweep and reused in a later
        sweep, when keeping it in a per-core row buffer costs less than recomputing it (the buffer
        must fit the target's "local" level); otherwise later sweeps recompute it from the inputs,
        which stay cache-resident because a row tile is sized to the local level.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from torch_mlir import ir

from girflow.dialects import targets
from girflow.passes.dataflow import analyse, gir_functions
from girflow.passes.options import option
from girflow.passes.registry import PassError, gir_pass

# Relative costs per element on a SIMD core: an L1/L2-resident load+store vs one vector op.
LOCAL_TRAFFIC_COST = 2.0
MIN_ELEMENTS_PER_TASK = 1 << 15   # below this a second thread costs more than it saves


def _users_in_later_phase(df, op) -> bool:
    info = df.info(op)
    for other, oinfo in df.infos.items():
        if oinfo.phase > info.phase and any(
                not isinstance(v.owner, ir.Block) and v.owner == op for v in other.operands):
            return True
    return False


def choose(df, desc: dict, unroll: int | None = None, tasks: int | None = None, streaming: str = "auto"):
    width = desc["vector_bits"] // 32
    cores = int(desc["units"]["core"])
    local_cap = targets.capacity(desc, "local") or 1 << 62
    view = df.view
    elements = 1
    for d in view:
        elements *= d
    if df.form == "row":
        rows, cols = view
        want = max(1, min(cores, elements // MIN_ELEMENTS_PER_TASK))
        ntasks = tasks or min(rows, want)
        sched = {"tasks": ntasks, "rows_per_task": -(-rows // ntasks)}
    elif df.form == "column":
        a, k, b = view
        block = width * (unroll or 4)
        nblocks = a * -(-b // block)
        want = max(1, min(cores, elements // MIN_ELEMENTS_PER_TASK))
        ntasks = tasks or min(nblocks, want)
        sched = {"tasks": ntasks, "blocks_per_task": -(-nblocks // ntasks)}
    else:
        rows, cols = view
        tile = width
        ntiles = -(-rows // tile)
        want = max(1, min(cores, elements // MIN_ELEMENTS_PER_TASK))
        ntasks = tasks or min(ntiles, want)
        sched = {"tasks": ntasks, "tile_rows_per_task": -(-ntiles // ntasks), "tile": tile}
    sched.update(vector_width=width, unroll=unroll or 4)
    if df.form == "row":
        # Streaming (non-temporal) stores skip the read-for-ownership of output lines that will not
        # be read again soon: worth it once the output cannot stay in the cache hierarchy.
        out_bytes = elements * 4
        cache = (targets.capacity(desc, "local") or 0) * cores
        sched["streaming_stores"] = int(streaming == "1" or (streaming == "auto" and out_bytes > 4 * cache))
    materialize = []
    if df.form == "row":
        row_bytes = view[1] * 4
        budget = local_cap
        for op, info in df.infos.items():
            if info.space != "full" or op.name == "gir.reduce":
                continue
            if info.cost > LOCAL_TRAFFIC_COST and _users_in_later_phase(df, op) and row_bytes <= budget:
                materialize.append(op)
                budget -= row_bytes
    return sched, materialize


def _dict_attr(d: dict) -> ir.DictAttr:
    i64 = ir.IntegerType.get_signless(64)
    return ir.DictAttr.get({k: ir.IntegerAttr.get(i64, int(v)) for k, v in d.items()})


@dataclasses.dataclass
class ScheduleOptions:
    target: str = option("cpu", "target description name")
    unroll: int | None = option(None, "vector unroll factor (default: chosen per target)")
    tasks: int | None = option(None, "number of parallel tasks (default: cores)")
    materialize: Literal["auto", "never"] = option("auto", "never: recompute every full-row value")
    streaming: Literal["auto", "0", "1"] = option(
        "auto", "1: write outputs with non-temporal stores, 0: never, auto: when they exceed the caches")


@gir_pass("gir-schedule", "choose tasks, vector width, unroll and which intermediates live in local memory",
          ScheduleOptions)
def schedule(module: ir.Operation, options: ScheduleOptions) -> None:
    name = options.target
    try:
        desc = targets.get(name)
    except ValueError as e:
        raise PassError(str(e), module)
    unroll, tasks = options.unroll, options.tasks
    for func in gir_functions(module):
        df = analyse(func)
        sched, materialize = choose(df, desc, unroll, tasks, options.streaming)
        if options.materialize == "never":
            materialize = []
        func.attributes["gir.target"] = ir.StringAttr.get(name)
        func.attributes["gir.schedule"] = _dict_attr(sched)
        for op in materialize:
            op.attributes["gir.materialize"] = ir.StringAttr.get("local")
