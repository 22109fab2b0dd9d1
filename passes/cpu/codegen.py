"""Builds the CPU kernel of a scheduled GIR function with scf/vector/memref/arith/math op builders.

Row programs: `scf.forall` over tasks (gir.unit = "core"), each task a range of rows; per row one
sweep per phase. A sweep is a vector loop unrolled `unroll` times with independent accumulators,
then a single-vector remainder loop and a 1-wide tail, so any row length works. Reductions stay in
vector registers and are folded once per row; per-row scalars are computed once and broadcast;
values the schedule materialised go to a per-task row buffer (`gir.alloc` at level "local").
Column programs: forall over column blocks, accumulating vectors down the reduced axis.
Transposes: forall over tile rows; each tile moves through registers with vector.transpose.
Constants are made once, at the function's entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch_mlir import ir
from torch_mlir.dialects import arith, func, math, memref, vector

from girflow.dialects import gir
from girflow.passes.cpu import online_reduce as online
from girflow.passes.function_view import KernelGraph
from girflow.passes.ir_builder import Builder, element, i64_attr, set_attrs
from girflow.passes.ir_builder import memref as memref_type
from girflow.passes.ir_builder import vector as vtype

ARITH_BINARY = {"add": "addf", "sub": "subf", "mul": "mulf", "div": "divf", "max": "maximumf", "min": "minimumf"}
MATH_UNARY = {"exp": math.exp, "log": math.log, "tanh": math.tanh, "erf": math.erf, "sqrt": math.sqrt,
              "rsqrt": math.rsqrt, "abs": math.absf, "neg": arith.negf}
CMP = {"lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge", "eq": "oeq", "ne": "une"}
REDUCE_COMBINE = {"sum": "addf", "mean": "addf", "max": "maximumf", "min": "minimumf"}
REDUCE_KIND = {"sum": "ADD", "mean": "ADD", "max": "MAXIMUMF", "min": "MINIMUMF"}
REDUCE_INIT = {"sum": 0.0, "mean": 0.0, "max": float("-inf"), "min": float("inf")}


def emit_op(b: Builder, n, ins, ty: ir.Type) -> ir.Value:
    """The elementwise GIR node `n` on operands `ins` of type `ty` (f32 or a vector of f32)."""
    k = n.kind
    if k in ARITH_BINARY:
        return b.arith(ARITH_BINARY[k], ins[0], ins[1])
    if k in MATH_UNARY:
        return MATH_UNARY[k](ins[0])
    if k == "recip":
        return arith.divf(b.float(1.0, ty), ins[0])
    if k == "sigmoid":
        one = b.float(1.0, ty)
        return arith.divf(one, arith.addf(one, math.exp(arith.negf(ins[0]))))
    if k == "fma":
        return math.fma(ins[0], ins[1], ins[2])
    if k == "cmp":
        return b.cmpf(CMP[n.attrs["predicate"]], ins[0], ins[1])
    if k == "select":
        return arith.select(ins[0], ins[1], ins[2])
    raise ValueError(f"cannot lower gir.{k} on cpu")


def combine(name: str, parts: list) -> ir.Value:
    """Fold `parts` left to right with `arith.<name>`."""
    while len(parts) > 1:
        parts = [Builder.arith(name, parts[0], parts[1])] + parts[2:]
    return parts[0]


def _split_states(values, nstate: list, unroll: int) -> list:
    """Flat loop values (reduction-major, then unrolled step, then state) -> [reduction][step] state lists."""
    values, out, k = list(values), [], 0
    for n in nstate:
        out.append([values[k + u * n:k + (u + 1) * n] for u in range(unroll)])
        k += unroll * n
    return out


def task_range(b: Builder, t: ir.Value, per_task: int, total: int) -> tuple[ir.Value, ir.Value]:
    """[begin, end): task `t`'s share of `total` items, `per_task` each."""
    begin = arith.muli(t, b.index(per_task))
    return begin, arith.minsi(arith.addi(begin, b.index(per_task)), b.index(total))


def dynamic_task_range(b: Builder, t: ir.Value, tasks: int, total: ir.Value) -> tuple[ir.Value, ir.Value]:
    """[begin, end): task `t`'s share of a row count known only at run time, ceil(total / tasks) each."""
    per = arith.ceildivui(total, b.index(tasks))
    begin = arith.muli(t, per)
    return begin, arith.minsi(arith.addi(begin, per), total)


def part_lengths(b: Builder, part: ir.Value, split: int, per_part: int, total: int):
    """Builds the body of part `part` of a split axis once per static length it can have: where
    the last part is shorter, inside `scf.if part == split - 1 {last} else {others}`. Yields the
    length with the insertion point in its branch."""
    last = total - (split - 1) * per_part
    if last == per_part:
        yield per_part
        return
    is_last = b.if_else(b.cmpi("eq", part, b.index(split - 1)))
    for block, length in ((is_last.then_block, last), (is_last.else_block, per_part)):
        with b.branch(block):
            yield length


class KernelFunc:
    """A CPU kernel function: memref parameters, constants at the entry, an `scf.forall` over tasks."""

    def __init__(self, name: str, params: list, tasks: int, combine: bool = False):
        fn = func.FuncOp(name, ir.FunctionType.get(params, []))
        set_attrs(fn, {"gir.target": "cpu", "gir.kernel": None, "gir.tasks": tasks})
        entry = fn.add_entry_block()
        self.func, self.args = fn, list(entry.arguments)
        with ir.InsertionPoint(entry):
            forall, self.task_ip = Builder.forall(tasks, {"gir.unit": "core"})
            if combine:
                func.CallOp([], ir.FlatSymbolRefAttr.get(combine_name(name)), self.args)
            func.ReturnOp([])
        self.task = forall.induction_variables[0]
        self.builder = Builder(hoist=ir.InsertionPoint(forall))


def combine_name(kernel: str) -> str:
    return kernel + "_combine"


class CombineFunc:
    """`@<kernel>_combine(<the kernel's parameters>)`: the serial step after the parallel region of a
    kernel whose reduced axis is split. It folds each result's parts in part order (so the result
    does not depend on which task finished first) and writes the outputs. The kernel calls it after
    its tasks, so the module still runs alone; the runtime calls it after the parallel region."""

    def __init__(self, kernel: str, params: list):
        fn = func.FuncOp(combine_name(kernel), ir.FunctionType.get(params, []))
        set_attrs(fn, {"gir.target": "cpu", "gir.combine_of": kernel})
        entry = fn.add_entry_block()
        self.args = list(entry.arguments)
        with ir.InsertionPoint(entry):
            first = arith.constant(ir.IndexType.get(), 0)
            self.body = ir.InsertionPoint(func.ReturnOp([]))
        self.builder = Builder(hoist=ir.InsertionPoint(first.owner))


@dataclass
class RowState:
    """The values built for one row: an interleaved sweep carries one of these per row it sweeps."""
    r: object                                                   # the row index (an `index` value)
    row_cache: dict = field(default_factory=dict)               # node -> scalar f32 value
    bcast_cache: dict = field(default_factory=dict)             # (node, width) -> broadcast vector
    red_results: dict = field(default_factory=dict)             # reduce node -> scalar f32
    vmemo: dict = field(default_factory=dict)                   # vector loads of the current loop step


class RowKernel:
    """Code generator for one row program (see module docstring)."""

    def __init__(self, g: KernelGraph):
        self.g = g
        self.rows, self.cols = g.view
        s = g.schedule
        self.width = s.get("vector_width", 8)
        self.unroll = s.get("unroll", 4)
        self.tasks = s.get("tasks", 1)
        self.rows_per_task = s.get("rows_per_task", self.rows)
        self.streaming = bool(s.get("streaming_stores", 0))
        self.split = s.get("split", 1)
        self.flat: tuple | None = None    # (inputs, outputs) as 1-D memrefs, for elementwise programs
        self.part_cols = s.get("part_cols", self.cols)
        self.items_per_task = s.get("items_per_task", 1)
        # gir.dynamic_rows: the row count is a trailing `index` argument (the static one is only the
        # shape the program was scheduled at); rows are independent, so nothing else depends on it
        self.dynamic_rows = "gir.dynamic_rows" in g.func.attributes
        self.interleave = s.get("interleave", 1)
        self.row_cache: dict = {}       # node -> scalar f32 value (per row)
        self.bcast_cache: dict = {}     # (node, width) -> broadcast vector
        self.scratch: dict = {}         # node -> row buffer
        self.red_results: dict = {}     # reduce node -> scalar f32

    # -- rows swept together ------------------------------------------------------------------
    def row_state(self, r) -> RowState:
        """Fresh per-row caches for row index `r` (one per row an interleaved sweep carries)."""
        return RowState(r)

    def enter(self, state: RowState) -> None:
        """Make `state`'s row the one values are built for (its caches are shared, not copied)."""
        self.r, self.row_cache, self.bcast_cache = state.r, state.row_cache, state.bcast_cache
        self.red_results, self.vmemo = state.red_results, state.vmemo

    def current_state(self) -> RowState:
        return RowState(self.r, self.row_cache, self.bcast_cache, self.red_results, getattr(self, "vmemo", {}))

    # -- values -----------------------------------------------------------------------------
    def arg_space(self, i):
        shape = self.g.args[i][0]
        return {(True, True): "full", (True, False): "row", (False, True): "col",
                (False, False): "scalar"}[(shape[0] == self.rows, shape[-1] == self.cols)]

    def through_broadcast(self, ref):
        while ref[0] == "node" and self.g.nodes[ref[1]].kind in ("broadcast", "alias"):
            ref = self.g.nodes[ref[1]].operands[0]
        return ref

    def space(self, ref):
        return self.arg_space(ref[1]) if ref[0] == "arg" else self.g.nodes[ref[1]].space

    def row_of(self, shape):
        return self.r if shape[0] == self.rows else self.b.index(0)

    def load_arg(self, i, j, width):
        shape, et = self.g.args[i]
        if self.flat is not None and self.arg_space(i) == "full":
            v = vector.load(vtype(width, et), self.flat[0][i], [j])
        elif shape[-1] == self.cols:
            v = vector.load(vtype(width, et), self.ins[i], [self.row_of(shape), j])
        else:   # per-row or scalar input: one element broadcast
            s = memref.load(self.ins[i], [self.row_of(shape), self.b.index(0)])
            v = vector.broadcast(vtype(width, et), s)
        return v if et == "f32" else arith.extf(vtype(width), v)

    def scalar_of(self, ref, pre: ir.InsertionPoint):
        """Per-row scalar (f32) value of a row/scalar-space ref, built once per row at `pre`."""
        if ref not in self.row_cache:
            with pre:
                self.row_cache[ref] = self._scalar(ref, pre)
        return self.row_cache[ref]

    def _scalar(self, ref, pre):
        if ref[0] == "arg":
            shape, et = self.g.args[ref[1]]
            v = memref.load(self.ins[ref[1]], [self.row_of(shape), self.b.index(0)])
            return v if et == "f32" else arith.extf(element("f32"), v)
        n = self.g.nodes[ref[1]]
        if n.kind == "reduce":
            src = n.operands[0]
            if self.space(src) in ("row", "scalar"):   # reducing a size-1 axis: identity
                return self.scalar_of(src, pre)
            return self.red_results[n.index]
        if n.kind == "splat":
            return self.b.float(n.attrs["value"])
        if n.kind in ("broadcast", "alias"):
            return self.scalar_of(n.operands[0], pre)
        ins = [self.scalar_of(o, pre) for o in n.operands]
        return emit_op(self.b, n, ins, element("f32"))

    def broadcast(self, key, scalar, width, pre):
        """A per-row scalar broadcast to `width` lanes, once per row (at `pre`)."""
        if key not in self.bcast_cache:
            with pre:
                self.bcast_cache[key] = vector.broadcast(vtype(width), scalar())
        return self.bcast_cache[key]

    def vec(self, ref, j, width, pre, phase):
        """Vector value of `ref` at column offset `j` for `width` lanes, built at the current
        insertion point (per-row values at `pre`)."""
        key = (ref, j, width)
        if key not in self.vmemo:
            self.vmemo[key] = self._vec(ref, j, width, pre, phase)
        return self.vmemo[key]

    def _vec(self, ref, j, width, pre, phase):
        v = self._value(ref, j, width, pre, phase)
        if ref[0] == "node" and ref[1] in self.scratch and phase == self.g.nodes[ref[1]].phase:
            vector.store(v, self.scratch[ref[1]], [j])    # every kind kept, broadcasts included
        return v

    def _value(self, ref, j, width, pre, phase):
        if self.space(ref) in ("row", "scalar"):
            return self.broadcast((ref, width), lambda: self.scalar_of(ref, pre), width, pre)
        if ref[0] == "arg":
            return self.load_arg(ref[1], j, width)
        n = self.g.nodes[ref[1]]
        if n.index in self.scratch and phase > n.phase:
            return vector.load(vtype(width), self.scratch[n.index], [j])
        if n.kind in ("broadcast", "alias"):
            return self.vec(n.operands[0], j, width, pre, phase)
        if n.kind == "splat":
            return self.b.float(n.attrs["value"], vtype(width))
        if n.kind == "div" and self.space(self.through_broadcast(n.operands[1])) in ("row", "scalar"):
            # dividing by a per-row value: one reciprocal per row, a multiply per element
            def recip():
                return arith.divf(self.b.float(1.0), self.scalar_of(n.operands[1], pre))
            r = self.broadcast(("recip", n.operands[1], width), recip, width, pre)
            return arith.mulf(self.vec(n.operands[0], j, width, pre, phase), r)
        ins = [self.vec(o, j, width, pre, phase) for o in n.operands]
        return emit_op(self.b, n, ins, vtype(width))

    # -- sweeps -----------------------------------------------------------------------------
    def sweep(self, phase, row: ir.InsertionPoint, reductions, stores, base=None, length=None, states=None):
        """One pass over the row: accumulate `reductions`, write `stores` (refs -> output index).
        A reduction's state is one vector per unrolled step, or two for the online kinds
        (online_reduce.KINDS: logsumexp, var). With `base` (split rows): columns base..base+length
        only, and each reduction's raw partial (a mean's sum) left in `red_results`. With `states`
        (row_state per row), those rows are swept together: each loop step loads the same columns
        of every row, so their memory streams and accumulator chains overlap."""
        W, U = self.width, self.unroll
        C = self.cols if length is None else length
        main_end = (C // (W * U)) * (W * U)
        vec_end = (C // W) * W
        states = states or [self.current_state()]
        partials: list[dict] = [{r.index: [] for r in reductions} for _ in states]   # scalar partial states per row, reduction
        pivots = []
        with row:
            for st in states:
                self.enter(st)
                pivots.append(self.pivots(reductions, row, phase))
        for lo, hi, width, unroll in ((0, main_end, W, U), (main_end, vec_end, W, 1), (vec_end, C, 1, 1)):
            if hi > lo:
                with row:
                    per_row = self.sweep_loop(phase, lo, hi, width, unroll, reductions, stores, pivots, base, states)
                    for part, results in zip(partials, per_row):
                        for r, st in zip(reductions, results):
                            part[r.index].append(st)
        with row:
            for st, part in zip(states, partials):
                self.enter(st)
                for r in reductions:
                    kind = r.attrs["kind"]
                    folded = self.fold(kind, part[r.index], element("f32"))
                    if kind in online.KINDS:
                        self.red_results[r.index] = online.finish(self.b, kind, folded, C)
                        continue
                    v = folded[0]
                    if kind == "mean" and base is None:
                        v = arith.mulf(v, self.b.float(1.0 / C))
                    self.red_results[r.index] = v

    def sweep_loop(self, phase, lo, hi, width, unroll, reductions, stores, pivots, base=None, states=None) -> list:
        """One vector loop over columns lo..hi (after `base`, where given), `unroll` vectors of
        `width` per step for each row of `states` (one pivot dict per row); returns, per row, each
        reduction's scalar partial state over those columns. Per-row values go before the loop."""
        b, ty = self.b, vtype(width)
        states = states or [self.current_state()]
        nstate = [online.STATE if r.attrs["kind"] in online.KINDS else 1 for r in reductions]
        per_row = unroll * sum(nstate)
        inits = [v for _ in states for r in reductions for _u in range(unroll) for v in self.init_state(r, ty)]
        pivot_vecs = [{i: vector.broadcast(ty, p) for i, p in piv.items()} for piv in pivots]
        start, stop = b.index(lo), b.index(hi)
        if base is not None:
            start, stop = arith.addi(base, start), arith.addi(base, stop)
        with b.loop(start, stop, b.index(width * unroll), inits) as loop:
            pre = ir.InsertionPoint(loop.op)
            for st in states:
                st.vmemo = {}
            accs = [_split_states(loop.args[i * per_row:(i + 1) * per_row], nstate, unroll)
                    for i in range(len(states))]
            out: list = [[[] for _ in reductions] for _ in states]
            for u in range(unroll):
                ju = loop.iv if u == 0 else arith.addi(loop.iv, b.index(u * width))
                for i, st in enumerate(states):
                    self.enter(st)
                    for k, r in enumerate(reductions):
                        x = self.vec(r.operands[0], ju, width, pre, phase)
                        kind = r.attrs["kind"]
                        if kind in online.KINDS:
                            out[i][k].append(online.update(kind, accs[i][k][u], x, pivot_vecs[i].get(r.index)))
                        else:
                            out[i][k].append([b.arith(REDUCE_COMBINE[kind], accs[i][k][u][0], x)])
                    for ref, oi in stores:
                        self.store(self.vec(ref, ju, width, pre, phase), oi, ju, width)
                    for mi in self.scratch_writes(phase):   # materialised values nobody reduced here
                        self.vec(("node", mi), ju, width, pre, phase)
            loop.carried = [a for row_out in out for states_ in row_out for st_ in states_ for a in st_]
        results = []
        for i in range(len(states)):
            row_results = []
            for r, parts in zip(reductions, _split_states(loop.results[i * per_row:(i + 1) * per_row], nstate, unroll)):
                kind = r.attrs["kind"]
                st = self.fold(kind, parts, ty)
                if kind in online.KINDS:
                    row_results.append(online.fold_lanes(kind, st, width))
                else:
                    row_results.append([vector.reduction(element("f32"),
                                                         getattr(vector.CombiningKind, REDUCE_KIND[kind]), st[0])])
            results.append(row_results)
        return results

    def init_state(self, r, ty) -> list:
        kind = r.attrs["kind"]
        if kind in online.KINDS:
            return online.init(self.b, kind, ty)
        return [self.b.float(REDUCE_INIT[kind], ty)]

    @staticmethod
    def fold(kind, parts: list, ty) -> list:
        """Combine partial states of a reduction (vectors of type `ty`, or f32 scalars) left to right."""
        while len(parts) > 1:
            left, right = parts[0], parts[1]
            merged = online.merge(kind, left, right) if kind in online.KINDS else \
                [Builder.arith(REDUCE_COMBINE[kind], left[0], right[0])]
            parts = [merged] + parts[2:]
        return parts[0]

    def pivots(self, reductions, row, phase) -> dict:
        """Per-row shift of each `var` reduction: its input at column 0 (a sample of the row)."""
        out = {}
        for r in reductions:
            if r.attrs["kind"] == "var":
                self.vmemo = {}
                v = self.vec(r.operands[0], self.b.index(0), 1, row, phase)
                out[r.index] = vector.extract(v, [], [0])
        return out

    def scratch_writes(self, phase):
        return [i for i in self.scratch if self.g.nodes[i].phase == phase]

    def store(self, x, oi, j, width):
        et = self.g.output_types[oi]
        if et != "f32":
            x = arith.truncf(vtype(width, et), x)
        target, index = (self.outs[oi], [self.r, j]) if self.flat is None else (self.flat[1][oi], [j])
        vector.store(x, target, index, nontemporal=True if self.streaming else None)

    def build(self) -> func.FuncOp:
        g = self.g
        out_spaces = [self.space(ref) for ref in g.outputs]
        if any(sp not in ("full", "row") for sp in out_spaces):
            raise ValueError("row programs must return full-row or per-row values")
        params = [memref_type(s, et) for s, et in g.args]
        params += [memref_type((self.rows, self.cols) if sp == "full" else (self.rows, 1), g.output_types[i])
                   for i, sp in enumerate(out_spaces)]
        nbuf = len(params)
        if self.split > 1:
            return self.build_split(params, out_spaces)
        if self.elementwise(out_spaces):
            return self.build_flat(params)
        kf = KernelFunc(g.name, params + ([ir.IndexType.get()] if self.dynamic_rows else []), self.tasks)
        self.b, self.ins, self.outs = kf.builder, kf.args[:len(g.args)], kf.args[len(g.args):nbuf]
        with kf.task_ip:
            if self.dynamic_rows:
                begin, end = dynamic_task_range(self.b, kf.task, self.tasks, kf.args[nbuf])
            else:
                begin, end = task_range(self.b, kf.task, self.rows_per_task, self.rows)
            for n in g.nodes:
                if n.materialize:
                    self.scratch[n.index] = gir.alloc(memref_type((self.cols,)), "local")
            k = self.interleave if not self.scratch else 1
            if k > 1:   # groups of k rows swept together, then the rest one by one
                b = self.b
                grouped = arith.addi(begin, arith.muli(arith.divui(arith.subi(end, begin), b.index(k)), b.index(k)))
                with b.loop(begin, grouped, b.index(k)) as group:
                    states = [self.row_state(group.iv if i == 0 else arith.addi(group.iv, b.index(i)))
                              for i in range(k)]
                    self.row_body(ir.InsertionPoint.current, out_spaces, states)
                begin = grouped
            with self.b.loop(begin, end, self.b.index(1)) as rows:
                self.enter(self.row_state(rows.iv))
                self.row_body(ir.InsertionPoint.current, out_spaces)
        return kf.func

    def full_reductions(self) -> list:
        return [n for n in self.g.nodes if n.kind == "reduce" and self.space(n.operands[0]) in ("full", "col")]

    def elementwise(self, out_spaces) -> bool:
        """No reduction and no per-row or per-column operand: where rows end does not matter."""
        return (not self.dynamic_rows and all(sp == "full" for sp in out_spaces)
                and not any(n.kind == "reduce" for n in self.g.nodes)
                and all(self.arg_space(i) in ("full", "scalar") for i in range(len(self.g.args))))

    def build_flat(self, params) -> func.FuncOp:
        """An elementwise program over the flattened buffers: each task one contiguous range of
        whole vector steps (the last task the rest), so short rows cost no per-row loop tails."""
        g, step = self.g, self.width * self.unroll
        n = self.rows * self.cols
        per = -(-(-(-n // self.tasks)) // step) * step
        tasks = -(-n // per)
        kf = KernelFunc(g.name, params, tasks)
        b = self.b = kf.builder
        nin = len(g.args)
        self.ins, self.outs = kf.args[:nin], kf.args[nin:]
        groups = ir.ArrayAttr.get([ir.ArrayAttr.get([i64_attr(0), i64_attr(1)])])
        with kf.task_ip:
            self.r = b.index(0)

            def flat(buf, i, et):
                return memref.collapse_shape(memref_type((n,), et), buf, groups) if i is not None else None

            self.flat = ([flat(a, i if self.arg_space(i) == "full" else None, et)
                          for i, (a, (_, et)) in enumerate(zip(self.ins, g.args))],
                         [flat(o, i, et) for i, (o, et) in enumerate(zip(self.outs, g.output_types))])
            stores = [(ref, i) for i, ref in enumerate(g.outputs)]
            base = arith.muli(kf.task, b.index(per))
            for length in part_lengths(b, kf.task, tasks, per, n):
                self.row_cache, self.bcast_cache = {}, {}
                self.sweep(0, ir.InsertionPoint.current, [], stores, base, length)
        return kf.func

    def build_split(self, params, out_spaces) -> func.FuncOp:
        """Rows cut into `split` parts (gir.schedule split/part_cols): a task item is one part of one
        row, which leaves each reduction's partial in a workspace [reductions, rows, split] (the
        kernel's last parameter); the combine function folds them and writes the per-row outputs."""
        g, split, part = self.g, self.split, self.part_cols
        reds = self.full_reductions()
        if "full" in out_spaces or any(n.phase != 0 or n.attrs["kind"] not in REDUCE_COMBINE for n in reds):
            raise ValueError("split rows need per-row outputs of one sweep of sum/mean/max/min reductions")
        params = params + [memref_type((len(reds), self.rows, split))]
        nin, nout = len(g.args), len(out_spaces)
        kf = KernelFunc(g.name, params, self.tasks, combine=True)
        b = self.b = kf.builder
        self.ins, self.outs, ws = kf.args[:nin], kf.args[nin:nin + nout], kf.args[-1]
        with kf.task_ip:
            begin, end = task_range(b, kf.task, self.items_per_task, self.rows * split)
            with b.loop(begin, end, b.index(1)) as item:
                self.r = arith.divui(item.iv, b.index(split))
                p = arith.remui(item.iv, b.index(split))
                base = arith.muli(p, b.index(part))
                for length in part_lengths(b, p, split, part, self.cols):
                    self.row_cache, self.bcast_cache = {}, {}     # per branch: nothing dominates the other
                    self.sweep(0, ir.InsertionPoint.current, reds, [], base, length)
                    for k, n in enumerate(reds):
                        memref.store(self.red_results[n.index], ws, [b.index(k), self.r, p])
        cf = CombineFunc(g.name, params)
        b = self.b = cf.builder
        self.ins, self.outs, ws = cf.args[:nin], cf.args[nin:nin + nout], cf.args[-1]
        self.row_cache, self.bcast_cache = {}, {}
        with cf.body:
            with b.loop(b.index(0), b.index(self.rows), b.index(1)) as rows:
                self.r = rows.iv
                for k, n in enumerate(reds):
                    kind = n.attrs["kind"]
                    v = combine(REDUCE_COMBINE[kind], [memref.load(ws, [b.index(k), self.r, b.index(i)])
                                                       for i in range(split)])
                    self.red_results[n.index] = arith.mulf(v, b.float(1.0 / self.cols)) if kind == "mean" else v
                self.row_outputs(ir.InsertionPoint.current, out_spaces)
        return kf.func

    def row_body(self, row: ir.InsertionPoint, out_spaces, states=None):
        """The sweeps of one row, or of the rows of `states` together, then the per-row outputs."""
        g = self.g
        states = states or [self.current_state()]
        full_reds = self.full_reductions()
        last_phase = max([n.phase for n in full_reds] + [-1]) + 1
        for phase in range(last_phase + 1):
            reds = [n for n in full_reds if n.phase == phase]
            stores = [(ref, i) for i, ref in enumerate(g.outputs) if out_spaces[i] == "full"] if phase == last_phase else []
            if reds or stores:
                self.sweep(phase, row, reds, stores, states=states)
        for st in states:
            self.enter(st)
            self.row_outputs(row, out_spaces)

    def row_outputs(self, row: ir.InsertionPoint, out_spaces):
        """Store the per-row outputs, computed from the row's reduction results."""
        g = self.g
        for i, ref in enumerate(g.outputs):
            if out_spaces[i] == "row":
                s = self.scalar_of(ref, row)
                et = g.output_types[i]
                with row:
                    if et != "f32":
                        s = arith.truncf(element(et), s)
                    memref.store(s, self.outs[i], [self.r, self.b.index(0)])


class ColumnKernel:
    """Code generator for a column program: view [A, K, B], one reduction along K."""

    K_BLOCK = 64   # sums run in blocks of 64 rows, then blocks are added: error grows ~K/64 + 64, not ~K

    def __init__(self, g: KernelGraph):
        self.g = g
        self.A, self.K, self.B = g.view
        sc = g.schedule
        self.width, self.unroll = sc.get("vector_width", 8), sc.get("unroll", 4)
        self.tasks, self.bpt = sc.get("tasks", 1), sc.get("blocks_per_task", 1)
        self.split, self.part_rows = sc.get("split", 1), sc.get("part_rows", self.K)
        self.red = next(n for n in g.nodes if n.kind == "reduce")
        self.kind = self.red.attrs["kind"]

    def val(self, ref, a, k, b, width, memo, red_val):
        """Vector value of `ref` at (a, k, b..b+width), built at the current insertion point."""
        key = (ref, k, b, width)
        if key not in memo:
            memo[key] = self._val(ref, a, k, b, width, memo, red_val)
        return memo[key]

    def _val(self, ref, a, k, b, width, memo, red_val):
        if ref[0] == "arg":
            return self.load(ref[1], [a, k, b], width)
        n = self.g.nodes[ref[1]]
        if n.index == self.red.index:
            return red_val
        if n.kind in ("broadcast", "alias"):
            return self.val(n.operands[0], a, k, b, width, memo, red_val)
        if n.kind == "splat":
            return self.bld.float(n.attrs["value"], vtype(width))
        ins = [self.val(o, a, k, b, width, memo, red_val) for o in n.operands]
        return emit_op(self.bld, n, ins, vtype(width))

    def load(self, i, idx, width):
        shape, et = self.g.args[i]
        idx = [x if shape[d] != 1 else self.bld.index(0) for d, x in enumerate(idx)]
        if shape[2] != 1:
            v = vector.load(vtype(width, et), self.ins[i], idx)
        else:
            v = vector.broadcast(vtype(width, et), memref.load(self.ins[i], idx))
        return v if et == "f32" else arith.extf(vtype(width), v)

    def k_loop(self, a, bs, width, lo, hi) -> list:
        """Accumulate rows lo..hi of the reduced axis into `len(bs)` fresh vector accumulators."""
        b = self.bld
        init = b.float(REDUCE_INIT[self.kind], vtype(width))
        with b.loop(lo, hi, b.index(1), [init] * len(bs)) as loop:
            memo: dict = {}
            loop.carried = [b.arith(REDUCE_COMBINE[self.kind], acc, self.val(self.red.operands[0], a, loop.iv, bu,
                                                                              width, memo, None))
                            for acc, bu in zip(loop.args, bs)]
        return loop.results

    def blocked_totals(self, a, bs, width, base, length: int) -> list:
        """The reduction over rows base..base+length of the reduced axis: blocks of K_BLOCK rows
        summed separately, then the rest."""
        b, comb = self.bld, REDUCE_COMBINE[self.kind]
        kb_end = (length // self.K_BLOCK) * self.K_BLOCK
        totals: list = []
        if kb_end:
            init = b.float(REDUCE_INIT[self.kind], vtype(width))
            with b.loop(b.index(0), b.index(kb_end), b.index(self.K_BLOCK), [init] * len(bs)) as kb:
                lo = arith.addi(base, kb.iv)
                parts = self.k_loop(a, bs, width, lo, arith.addi(lo, b.index(self.K_BLOCK)))
                kb.carried = [b.arith(comb, t, p) for t, p in zip(kb.args, parts)]
            totals = kb.results
        if kb_end < length:
            rest = self.k_loop(a, bs, width, arith.addi(base, b.index(kb_end)), arith.addi(base, b.index(length)))
            totals = [b.arith(comb, t, r) for t, r in zip(totals, rest)] if totals else rest
        return totals

    def block(self, a, b0, width, unroll, part=None):
        """Reduce `unroll` vectors of `width` columns starting at b0, then store the results (or,
        with the reduced axis split, this part's partial results in the workspace)."""
        b = self.bld
        bs = [b0 if u == 0 else arith.addi(b0, b.index(u * width)) for u in range(unroll)]
        if part is None:
            self.finish(a, bs, width, self.blocked_totals(a, bs, width, b.index(0), self.K))
            return
        base = arith.muli(part, b.index(self.part_rows))
        for length in part_lengths(b, part, self.split, self.part_rows, self.K):
            for u, r in enumerate(self.blocked_totals(a, bs, width, base, length)):
                vector.store(r, self.ws, [part, a, bs[u]])

    def finish(self, a, bs, width, totals) -> None:
        """Store the outputs computed from the reduction's totals at columns bs[u]..+width."""
        b = self.bld
        for u, r in enumerate(totals):
            if self.kind == "mean":
                r = arith.mulf(r, b.float(1.0 / self.K, vtype(width)))
            memo: dict = {}
            for oi, ref in enumerate(self.g.outputs):
                v = self.val(ref, a, b.index(0), bs[u], width, memo, r)
                et = self.g.output_types[oi]
                if et != "f32":
                    v = arith.truncf(vtype(width, et), v)
                vector.store(v, self.outs[oi], [a, b.index(0), bs[u]])

    def build(self) -> func.FuncOp:
        g, W, U, split = self.g, self.width, self.unroll, self.split
        params = [memref_type(s, et) for s, et in g.args]
        params += [memref_type((self.A, 1, self.B), et) for et in g.output_types]
        if split > 1:   # partial results of each part of the reduced axis: [split, A, B]
            params.append(memref_type((split, self.A, self.B)))
        nin, nout = len(g.args), len(g.output_types)
        kf = KernelFunc(g.name, params, self.tasks, combine=split > 1)
        b = self.bld = kf.builder
        self.ins, self.outs, self.ws = kf.args[:nin], kf.args[nin:nin + nout], kf.args[-1]
        block = W * U
        nb = -(-self.B // block)
        with kf.task_ip:
            begin, end = task_range(b, kf.task, self.bpt, self.A * nb * split)
            with b.loop(begin, end, b.index(1)) as item:
                part = arith.divui(item.iv, b.index(self.A * nb)) if split > 1 else None
                blk = arith.remui(item.iv, b.index(self.A * nb)) if split > 1 else item.iv
                a = arith.divui(blk, b.index(nb))
                b0 = arith.muli(arith.remui(blk, b.index(nb)), b.index(block))
                bend = arith.addi(b0, b.index(block))
                full = b.if_else(b.cmpi("sle", bend, b.index(self.B)))
                with b.branch(full.then_block):
                    self.block(a, b0, W, U, part)
                with b.branch(full.else_block):
                    with b.loop(b0, arith.minsi(bend, b.index(self.B)), b.index(1)) as col:
                        self.block(a, col.iv, 1, 1, part)
        if split > 1:
            self.combine(params)
        return kf.func

    def combine(self, params) -> None:
        """The combine function: per output vector, the parts added in part order, then the outputs."""
        cf = CombineFunc(self.g.name, params)
        b = self.bld = cf.builder
        nin, nout = len(self.g.args), len(self.g.output_types)
        self.ins, self.outs, self.ws = cf.args[:nin], cf.args[nin:nin + nout], cf.args[-1]
        W, B = self.width, self.B
        with cf.body:
            with b.loop(b.index(0), b.index(self.A), b.index(1)) as arow:
                for lo, hi, width in ((0, (B // W) * W, W), ((B // W) * W, B, 1)):
                    if hi > lo:
                        with b.loop(b.index(lo), b.index(hi), b.index(width)) as col:
                            parts = [vector.load(vtype(width), self.ws, [b.index(p), arow.iv, col.iv])
                                     for p in range(self.split)]
                            self.finish(arow.iv, [col.iv], width, [combine(REDUCE_COMBINE[self.kind], parts)])


class TransposeKernel:
    """Code generator for a 2-D transpose: square register tiles, edges through masked transfers."""

    def __init__(self, g: KernelGraph):
        self.g = g
        self.R, self.C = g.view
        sc = g.schedule
        self.T = sc.get("tile", 8)
        self.tasks, self.tpt = sc.get("tasks", 1), sc.get("tile_rows_per_task", 1)

    COPY_WIDTH = 16    # elements per vector move when the transpose is a copy

    def build(self) -> func.FuncOp:
        T, (_, et) = self.T, self.g.args[0]
        kf = KernelFunc(self.g.name, [memref_type((self.R, self.C), et), memref_type((self.C, self.R), et)],
                        self.tasks)
        b, (src, dst) = kf.builder, kf.args
        if min(self.R, self.C) == 1:
            self.copy(kf, et)
            return kf.func
        tile_t = ir.VectorType.get([T, T], element(et))
        identity = ir.AffineMap.get_identity(2)
        with kf.task_ip:
            pad = arith.constant(element(et), 0.0)
            begin, end = task_range(b, kf.task, self.tpt, -(-self.R // T))
            with b.loop(begin, end, b.index(1)) as ti:
                i0 = arith.muli(ti.iv, b.index(T))
                ifull = b.cmpi("sle", arith.addi(i0, b.index(T)), b.index(self.R))
                with b.loop(b.index(0), b.index(self.C), b.index(T)) as tj:
                    j0 = tj.iv
                    jfull = b.cmpi("sle", arith.addi(j0, b.index(T)), b.index(self.C))
                    full = b.if_else(arith.andi(ifull, jfull))
                    for block, in_bounds in ((full.then_block, [True, True]), (full.else_block, [False, False])):
                        with b.branch(block):
                            tile = vector.transfer_read(tile_t, src, [i0, j0], identity, pad, in_bounds)
                            tt = vector.transpose(tile_t, tile, [1, 0])
                            vector.transfer_write(None, tt, dst, [j0, i0], identity, in_bounds)
        return kf.func


    def copy(self, kf: KernelFunc, et: str) -> None:
        """A transpose with a dimension of 1 keeps every element's offset: a vector copy of the
        flattened buffer, in `tasks` ranges (a tile walk would run only its masked edge path)."""
        b, n, W = kf.builder, self.R * self.C, self.COPY_WIDTH
        flat = memref_type((n,), et)
        groups = ir.ArrayAttr.get([ir.ArrayAttr.get([i64_attr(0), i64_attr(1)])])
        per = -(-(-(-n // self.tasks)) // W) * W
        with kf.task_ip:
            src, dst = (memref.collapse_shape(flat, a, groups) for a in kf.args)
            begin, end = task_range(b, kf.task, per, n)
            whole = arith.addi(begin, arith.muli(arith.divui(arith.subi(end, begin), b.index(W)), b.index(W)))
            for lo, hi, width in ((begin, whole, W), (whole, end, 1)):
                with b.loop(lo, hi, b.index(width)) as j:
                    vector.store(vector.load(vtype(width, et), src, [j.iv]), dst, [j.iv])


KERNELS: dict[str, Any] = {"row": RowKernel, "column": ColumnKernel, "transpose": TransposeKernel}
