"""gir-schedule: picks the memory-access pattern of each GIR function for a target.

The knobs (tasks, unroll, vector width, streaming stores, materialise-or-recompute, transpose tile;
see schedule_space.py) come from explicit options, else from the tuning cache (`from-cache=1`,
filled by `girflow tune` / `girflow.compile(fn, tune=True)`), else from the cost model's first
choice; `gir.schedule_source` records which. Decisions (all recorded as attributes, so the choice is visible and overridable in gir-opt):
  func  gir.target   = the target description's name
        gir.schedule = {tasks, rows_per_task | blocks_per_task, vector_width, unroll}
        (row programs sweeping several rows together: interleave, the rows per loop step)
        (with the reduced axis split: split, and part_cols / part_rows, the columns or rows of
        each part but the last; row programs then give items_per_task, an item a part of a row)
        (row programs also record the `materialize` and `one_pass` knobs, which gir-sweep-reuse and
        gir-sweep-fusion apply)
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
from girflow.passes import schedule_space, tuning_cache
from girflow.passes.dataflow import analyse, gir_functions
from girflow.passes.opt import sweep_reuse
from girflow.passes.options import option
from girflow.passes.registry import PassError, gir_pass


def knobs_for(df, desc: dict, options: dict) -> tuple[dict, str]:
    """The schedule knobs for `df` and where they came from: options given explicitly win, then a
    tuning-cache entry (with `from-cache=1`), then the cost model's first choice."""
    source, knobs = "model", dict(schedule_space.rank(df, desc)[0][1])
    if options.get("from-cache") in ("1", "true"):
        cached = tuning_cache.lookup(df, desc)
        if cached is not None:
            source, knobs = "cache", dict(cached["schedule"])
    explicit = {k: options[k] for k in schedule_space.KNOBS if k in options}
    if "streaming" in explicit and explicit["streaming"] == "auto":
        del explicit["streaming"]
    if "materialize" in explicit:
        explicit["materialize"] = {"auto": 1, "never": 0}.get(explicit["materialize"], explicit["materialize"])
    for k, v in explicit.items():
        try:
            knobs[k] = int(v)
        except ValueError:
            raise ValueError(f"option {k}={v!r} must be an integer") from None
    if explicit:
        source = "options" if source == "model" else source + "+options"
    for k in ("tasks", "unroll", "vector_width", "tile", "split", "interleave"):
        if k in knobs and knobs[k] < 1:
            raise ValueError(f"option {k}={knobs[k]} must be at least 1")
    return knobs, source


def choose(df, desc: dict, knobs: dict):
    """Expand schedule knobs into the `gir.schedule` dict and the ops to materialise."""
    view = df.view
    width = knobs.get("vector_width", desc["vector_bits"] // 32)
    unroll = knobs.get("unroll", 4)
    split = knobs.get("split", 1)
    if split > 1 and desc.get("kind") != "cpu":
        raise ValueError(f"split={split}: splitting the reduced axis is implemented for the cpu only")
    if df.form == "row":
        rows, cols = view
        if split > 1:
            if not schedule_space.splittable(df):
                raise ValueError(f"split={split}: only row programs whose outputs are per-row "
                                 "sum/mean/max/min reductions of one sweep can split their rows")
            part = schedule_space.row_part(cols, split, width * unroll)
            if part * (split - 1) >= cols:
                raise ValueError(f"split={split} leaves a part of the {cols} columns empty at "
                                 f"{width * unroll} columns per step")
            items = rows * split
            ntasks = min(items, knobs.get("tasks", 1))
            sched = {"tasks": ntasks, "split": split, "part_cols": part, "items_per_task": -(-items // ntasks)}
        else:
            ntasks = min(rows, knobs.get("tasks", 1))
            sched = {"tasks": ntasks, "rows_per_task": -(-rows // ntasks)}
    elif df.form == "column":
        a, k, b = view
        nblocks = a * -(-b // (width * unroll))
        if split > k:
            raise ValueError(f"split={split} is more parts than the {k} reduced rows")
        items = nblocks * split
        ntasks = min(items, knobs.get("tasks", 1))
        sched = {"tasks": ntasks, "blocks_per_task": -(-items // ntasks)}
        if split > 1:
            sched.update(split=split, part_rows=-(-k // split))
    else:
        rows, cols = view
        tile = knobs.get("tile", width)
        ntiles = -(-rows // tile)
        ntasks = min(ntiles, knobs.get("tasks", 1))
        sched = {"tasks": ntasks, "tile_rows_per_task": -(-ntiles // ntasks), "tile": tile}
    sched.update(vector_width=width, unroll=unroll)
    if df.form == "row":
        sched["streaming_stores"] = int(knobs.get("streaming", 0))
        sched["materialize"] = int(knobs.get("materialize", 1))
        sched["one_pass"] = int(knobs.get("one_pass", 0))
    materialize = sweep_reuse.decide(df, desc, "auto" if knobs.get("materialize", 1) else "recompute")
    interleave = knobs.get("interleave", 1)
    if interleave > 1:
        if desc.get("kind") != "cpu":
            raise ValueError(f"interleave={interleave}: sweeping rows together is implemented for the cpu only")
        if df.form != "row":
            raise ValueError(f"interleave={interleave}: only row programs sweep several rows together")
        if split > 1:
            raise ValueError(f"interleave={interleave} with split={split}: a split row program's items "
                             "are parts of rows, not rows")
        if not materialize:   # a row buffer holds one row: rows with materialised values go one by one
            sched["interleave"] = min(interleave, view[0])
    return sched, materialize


def _dict_attr(d: dict) -> ir.DictAttr:
    i64 = ir.IntegerType.get_signless(64)
    return ir.DictAttr.get({k: ir.IntegerAttr.get(i64, int(v)) for k, v in d.items()})


@dataclasses.dataclass
class ScheduleOptions:
    target: str = option("cpu", "target description name")
    unroll: int | None = option(None, "vector unroll factor (default: the cost model's or the cache's)")
    tasks: int | None = option(None, "number of parallel tasks")
    vector_width: int | None = option(None, "f32 lanes per vector op")
    tile: int | None = option(None, "transpose tile edge")
    materialize: Literal["auto", "never", "1", "0"] | None = option(
        None, "auto|1: keep reused full-row values in a row buffer where it pays, never|0: recompute them")
    streaming: Literal["auto", "0", "1"] | None = option(
        None, "1: write outputs with non-temporal stores, 0: never, auto: the model's choice")
    one_pass: Literal["0", "1"] | None = option(
        None, "1: fuse the reductions that have a one-pass form (online softmax, one-pass variance; applied "
              "by gir-sweep-fusion), 0: one sweep per reduction level")
    interleave: int | None = option(None, "rows one sweep loop carries together (row programs): each step loads "
                                          "the same columns of every row, overlapping their streams and "
                                          "accumulator chains")
    split: int | None = option(None, "parts the reduced axis is cut into (cpu; column programs and one-sweep "
                                     "row reductions): partial results per task, then one combine step")
    from_cache: bool = option(False, "apply the tuning cache's choice for this program, shape class, dtype, "
                                     "target and CPU (`girflow tune` fills it); without one, the model's first")


@gir_pass("gir-schedule", "choose tasks, vector width, unroll and which intermediates live in local memory",
          ScheduleOptions)
def schedule(module: ir.Operation, options: ScheduleOptions) -> None:
    name = options.target
    try:
        desc = targets.get(name)
    except ValueError as e:
        raise PassError(str(e), module)
    given = {k.replace("_", "-") if k == "from_cache" else k: str(int(v) if isinstance(v, bool) else v)
             for k, v in dataclasses.asdict(options).items() if v is not None and k != "target"}
    for func in gir_functions(module):
        df = analyse(func)
        try:
            knobs, source = knobs_for(df, desc, given)
            sched, materialize = choose(df, desc, knobs)
        except ValueError as e:
            raise PassError(str(e), func) from None
        func.attributes["gir.target"] = ir.StringAttr.get(name)
        func.attributes["gir.schedule"] = _dict_attr(sched)
        func.attributes["gir.schedule_source"] = ir.StringAttr.get(source)
        for op in materialize:
            op.attributes["gir.materialize"] = ir.StringAttr.get("local")
