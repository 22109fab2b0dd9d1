"""gir-sweep-reuse: for each full-row value computed in one sweep and used in a later one, keep it
(in a per-core row buffer at the target's "local" level) or recompute it from the inputs.

Keeping costs a store and a load per element through the local level; recomputing costs the
value's vector ops again (transcendental ops count as many). `mode=auto` keeps a value when its
recompute cost exceeds the local traffic and the schedule's `materialize` knob allows it (the knob
the search tunes); `keep` keeps every reused value whose buffer fits the local level; `recompute`
keeps none. The decision is `gir.materialize = "local"` on the op: the CPU code generator then
allocates the row buffer, stores the value in its sweep and loads it in later ones. Values not
used in a later sweep lose the attribute (a buffer nobody reads is a redundant store).
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from torch_mlir import ir

from girflow.dialects import targets
from girflow.passes.dataflow import analyse, gir_functions
from girflow.passes.ir_utils import str_attr
from girflow.passes.options import option
from girflow.passes.registry import PassError, gir_pass

# Relative costs per element on a SIMD core: an L1/L2-resident load+store vs one vector op.
LOCAL_TRAFFIC_COST = 2.0


def used_in_later_sweep(df, op) -> bool:
    info = df.info(op)
    for other, oinfo in df.infos.items():
        if oinfo.phase > info.phase and any(
                not isinstance(v.owner, ir.Block) and v.owner == op for v in other.operands):
            return True
    return False


def decide(df, desc: dict, mode: str) -> list:
    """The ops of analysed function `df` to keep in a row buffer under `mode` (auto|keep|recompute)."""
    if df.form != "row" or mode == "recompute":
        return []
    budget = targets.capacity(desc, "local") or 1 << 62
    row_bytes = df.view[1] * 4
    keep = []
    for op, info in df.infos.items():
        if info.space != "full" or op.name == "gir.reduce" or not used_in_later_sweep(df, op):
            continue
        if (mode == "keep" or info.cost > LOCAL_TRAFFIC_COST) and row_bytes <= budget:
            keep.append(op)
            budget -= row_bytes
    return keep


def apply(func, desc: dict, mode: str) -> list:
    """Set `gir.materialize` on exactly the ops `decide` keeps; returns them."""
    df = analyse(func)
    keep = decide(df, desc, mode)
    for op in df.infos:
        if "gir.materialize" in op.attributes and op not in keep:
            del op.attributes["gir.materialize"]
    for op in keep:
        op.attributes["gir.materialize"] = ir.StringAttr.get("local")
    return keep


def materialize_knob(func) -> int:
    if "gir.schedule" not in func.attributes:
        return 1
    d = ir.DictAttr(func.attributes["gir.schedule"])
    return ir.IntegerAttr(d["materialize"]).value if "materialize" in d else 1


@dataclasses.dataclass
class SweepReuseOptions:
    mode: Literal["auto", "keep", "recompute"] = option(
        "auto", "auto: keep where recomputing costs more (and the schedule's materialize knob allows); "
                "keep: every reused value that fits; recompute: none")
    target: str = option("", "target description (default: the function's gir.target, else cpu)")


@gir_pass("gir-sweep-reuse", "keep each value reused by a later sweep in a local row buffer, or recompute it",
          SweepReuseOptions)
def sweep_reuse(module: ir.Operation, options: SweepReuseOptions) -> None:
    for func in gir_functions(module):
        name = options.target or str_attr(func, "gir.target", "cpu")
        try:
            desc = targets.get(name)
        except ValueError as e:
            raise PassError(str(e), func)
        mode = options.mode
        if mode == "auto" and not materialize_knob(func):
            mode = "recompute"
        apply(func, desc, mode)
