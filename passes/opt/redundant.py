"""gir-redundant-elim: redundant load and store elimination on tensor-level GIR.

Every GIR value op is pure, so in the dataflow graph
  - two ops with the same kind, operands, attributes and type compute the same value: the second
    is replaced by the first (its loads and arithmetic are done once per sweep, not twice);
  - a broadcast or cast to the type the value already has moves nothing: it is dropped;
  - an op whose result nobody uses is dead: it goes, and with it the loads only it needed;
  - a `gir.materialize` on a value no later sweep reads would store a row buffer nobody loads:
    the attribute goes.
Frontends that trace user code produce all of these (a subexpression written twice, a keepdims
broadcast of a full value). Memory ops (gir.alloc/load/store/copy) are left alone.
"""
from __future__ import annotations

from torch_mlir import ir

from girflow.passes.dataflow import analyse, gir_functions
from girflow.passes.opt.graph import erase_dead, gir_ops
from girflow.passes.opt.sweep_reuse import used_in_later_sweep
from girflow.passes.registry import gir_pass

EFFECTS = {"gir.alloc", "gir.load", "gir.store", "gir.copy"}


def _key(op, names: dict) -> tuple:
    attrs = tuple(sorted((n, str(op.attributes[n])) for n in op.attributes if not n.startswith("gir.")))
    operands = tuple(names.get(v.get_name(), v.get_name()) for v in op.operands)
    return op.name, operands, attrs, tuple(str(r.type) for r in op.results)


def eliminate(func) -> int:
    """Apply the rewrites above to `func`; returns how many ops went."""
    before = len(gir_ops(func))
    seen: dict = {}
    for op in gir_ops(func):
        if op.name in EFFECTS or len(op.results) != 1:
            continue
        result = op.results[0]
        if op.name in ("gir.broadcast", "gir.cast") and op.operands[0].type == result.type:
            result.replace_all_uses_with(op.operands[0])
            continue
        key = _key(op, {})
        if key in seen:
            result.replace_all_uses_with(seen[key])
            continue
        seen[key] = result
    erase_dead(func)
    df = analyse(func)
    for op in df.infos:
        if "gir.materialize" in op.attributes and not used_in_later_sweep(df, op):
            del op.attributes["gir.materialize"]
    return before - len(gir_ops(func))


@gir_pass("gir-redundant-elim", "merge duplicate GIR values, drop no-op broadcasts/casts, dead ops and row "
                                "buffers no later sweep reads")
def redundant_elim(module: ir.Operation, options) -> None:
    for func in gir_functions(module):
        eliminate(func)
