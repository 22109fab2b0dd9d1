"""gir-dataflow: builds the instruction-level dataflow graph of a GIR function and annotates it.

For row programs ([rows, cols] view, reductions along axis 1) every op gets
  gir.space = "full" | "row" | "col" | "scalar"   which axes the value varies along
  gir.phase = N                                   the sweep over the row in which it is first computed
A reduction consumed by later ops splits the row into sweeps: phase(reduce) = level of its input,
its result is ready from phase + 1. Column and transpose programs get spaces only.
The analysis is also available to backends as `analyse(func)` (no IR changes).

`sweep_traffic(df)` follows the graph sweep by sweep, as the row code generator executes it: a
sweep evaluates its reductions' inputs (and, the last one, the outputs) element by element,
recomputing full-row values from the inputs unless a value is kept in a row buffer
(`gir.materialize`) by an earlier sweep. The pass records, for row programs,
  func gir.loads    = [n, ...]  per argument: the sweeps that read it (1 = read once)
  op   gir.computed = n         sweeps that compute this full-row value (1 = never recomputed)
  op   gir.reused   = n         later sweeps that read it back from its row buffer
which is what gir-sweep-fusion, gir-sweep-reuse and gir-redundant-elim change.
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
        try:
            return self.infos[op]
        except KeyError:        # the bindings may hand out another Python object for the same op
            return next(i for o, i in self.infos.items() if o == op)


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


@dataclasses.dataclass
class SweepTraffic:
    loads: list          # per argument: sweeps that read it element by element
    computed: dict       # result name -> sweeps computing it
    reused: dict         # result name -> later sweeps loading it from its row buffer


def sweep_traffic(df: Dataflow) -> SweepTraffic:
    body = df.func.regions[0].blocks[0]
    args = list(body.arguments)
    ops = list(df.infos)
    ret = [o.operation for o in body.operations][-1]
    loads = [0] * len(args)
    names = [op.results[0].get_name() for op in ops]    # Operation objects do not hash stably
    computed = {n: 0 for n in names}
    reused = {n: 0 for n in names}
    if df.form != "row":
        return SweepTraffic([1] * len(args), {n: 1 for n in names}, reused)
    by_name = dict(zip(names, ops))
    kept = {op.results[0].get_name() for op in ops if "gir.materialize" in op.attributes}
    reductions = [op for op in ops if op.name == "gir.reduce" and df.info(op).space == "row"]
    last = max([df.info(r).phase for r in reductions] + [-1]) + 1
    for sweep in range(last + 1):
        roots = [r.operands[0] for r in reductions if df.info(r).phase == sweep]
        if sweep == last:
            roots += list(ret.operands)
        seen_args: set = set()
        seen_ops: set = set()     # result names
        stack = list(roots)
        while stack:
            v = stack.pop()
            owner = v.owner
            if isinstance(owner, ir.Block):
                i = args.index(v)
                if i not in seen_args and shape_of(v)[-1] == df.view[-1]:
                    seen_args.add(i)
                continue
            name = v.get_name()
            op = by_name.get(name)
            if op is None or name in seen_ops:
                continue
            info = df.info(op)
            if info.space not in ("full", "col") or op.name == "gir.reduce":
                continue            # per-row values: computed once per row, not per element
            seen_ops.add(name)
            if name in kept and info.phase < sweep:
                reused[name] += 1   # read back from its row buffer
                continue
            computed[name] += 1
            stack += list(op.operands)
        for i in seen_args:
            loads[i] += 1
    return SweepTraffic(loads, computed, reused)


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
        if df.form == "row":
            traffic = sweep_traffic(df)
            func.attributes["gir.loads"] = ir.DenseI64ArrayAttr.get(traffic.loads)
            for op, info in df.infos.items():
                name = op.results[0].get_name()
                if info.space in ("full", "col") and op.name != "gir.reduce":
                    op.attributes["gir.computed"] = ir.IntegerAttr.get(i64, traffic.computed[name])
                    if traffic.reused[name]:
                        op.attributes["gir.reused"] = ir.IntegerAttr.get(i64, traffic.reused[name])
