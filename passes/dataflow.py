"""gir-dataflow: builds the instruction-level dataflow graph of a GIR function and annotates it.

For row programs ([rows, cols] view, reductions along axis 1) every op gets
  gir.space = "full" | "row" | "col" | "scalar"   which axes the value varies along
  gir.phase = N                                   the sweep over the row in which it is first computed
A reduction consumed by later ops splits the row into sweeps: phase(reduce) = level of its input,
its result is ready from phase + 1. Column and transpose programs get spaces only.
The analysis is also available to backends as `analyse(func)` (no IR changes).
"""
from __future__ import annotations

import dataclasses

from torch_mlir import ir

from girflow.passes.ir_utils import collect_ops, shape_of, str_attr
from girflow.passes.registry import PassError, gir_pass

TRANSCENDENTAL = {"exp", "log", "tanh", "erf", "sigmoid"}


@dataclasses.dataclass
class OpInfo:
    op: ir.Operation
    space: str
    phase: int          # sweep that computes it
    ready: int          # first sweep in which its value can be used
    cost: float         # vector ops to recompute it from inputs (for schedule decisions)


@dataclasses.dataclass
class Dataflow:
    func: ir.Operation
    form: str
    view: tuple          # kernel view of the iteration space
    infos: dict          # op -> OpInfo (keyed by ir.Operation)
    num_phases: int

    def info(self, op) -> OpInfo:
        return self.infos[op]


def _space(shape, full) -> str:
    rows = shape[0] == full[0]
    cols = shape[-1] == full[-1]
    return {(True, True): "full", (True, False): "row", (False, True): "col", (False, False): "scalar"}[(rows, cols)]


def _form(func) -> str:
    return str_attr(func, "gir.form", "row")


def analyse(func: ir.Operation) -> Dataflow:
    form = _form(func)
    body = func.regions[0].blocks[0]
    args = list(body.arguments)
    full: list[int] | None = None
    for a in args:
        s = shape_of(a)
        full = s if full is None else [max(x, y) for x, y in zip(full, s)]
    if full is None:
        raise PassError("a GIR function needs at least one tensor argument", func)
    infos: dict = {}
    value_info: dict = {}
    num_phases = 1

    def vinfo(v):
        if isinstance(v.owner, ir.Block) or v.owner is None or v in [*args]:
            return (0, 0.0)
        return value_info.get(v.get_name(), (0, 0.0))

    for op in body.operations:
        op = op.operation
        if not op.name.startswith("gir."):
            continue
        kind = op.name[4:]
        ins = [vinfo(v) for v in op.operands]
        ready = max((r for r, _ in ins), default=0)
        cost = sum(c for _, c in ins) + (20.0 if kind in TRANSCENDENTAL else 1.0)
        space = _space(shape_of(op.results[0]), full) if form != "transpose" else "full"
        if kind == "reduce" and form == "row":   # a row reduction never varies along the row
            space = "row" if space in ("full", "row") else "scalar"
        phase = ready
        if kind == "reduce" and form == "row":
            out_ready = ready + 1
            num_phases = max(num_phases, out_ready + 1)
            cost = 1.0
        else:
            out_ready = ready
        infos[op] = OpInfo(op, space, phase, out_ready, cost)
        for r in op.results:
            value_info[r.get_name()] = (out_ready, cost)
    return Dataflow(func, form, tuple(full), infos, num_phases)


def gir_functions(module: ir.Operation) -> list[ir.Operation]:
    return [f for f in collect_ops(module, "func.func")
            if any(o.operation.name.startswith("gir.") for o in f.regions[0].blocks[0].operations)]


@gir_pass("gir-dataflow", "annotate GIR ops with their iteration space and row sweep (phase)")
def dataflow(module: ir.Operation, options: dict) -> None:
    i64 = ir.IntegerType.get_signless(64)
    for func in gir_functions(module):
        df = analyse(func)
        for op, info in df.infos.items():
            op.attributes["gir.space"] = ir.StringAttr.get(info.space)
            if df.form == "row":
                op.attributes["gir.phase"] = ir.IntegerAttr.get(i64, info.phase)
        func.attributes["gir.phases"] = ir.IntegerAttr.get(i64, df.num_phases)
