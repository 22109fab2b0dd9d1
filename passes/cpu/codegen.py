"""Emits the CPU kernel of a scheduled GIR function as scf/vector/memref/arith/math text.

Row programs: `scf.forall` over tasks (gir.unit = "core"), each task a range of rows; per row one
sweep per phase. A sweep is a vector loop unrolled `unroll` times with independent accumulators,
then a single-vector remainder loop and a 1-wide tail, so any row length works. Reductions stay in
vector registers and are folded once per row; per-row scalars are computed once and broadcast;
values the schedule materialised go to a per-task row buffer (`gir.alloc` at level "local").
Column programs: forall over column blocks, accumulating vectors down the reduced axis.
Transposes: forall over tile rows; each tile moves through registers with vector.transpose.
"""
from __future__ import annotations

from typing import Any

from girflow.passes.cpu import online_reduce as online
from girflow.passes.ir_utils import mlir_float as _float_literal
from girflow.passes.kernel_graph import KernelGraph

ARITH_BINARY = {"add": "arith.addf", "sub": "arith.subf", "mul": "arith.mulf", "div": "arith.divf",
                "max": "arith.maximumf", "min": "arith.minimumf"}
MATH_UNARY = {"exp": "math.exp", "log": "math.log", "tanh": "math.tanh", "erf": "math.erf",
              "sqrt": "math.sqrt", "rsqrt": "math.rsqrt", "abs": "math.absf", "neg": "arith.negf"}
CMP = {"lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge", "eq": "oeq", "ne": "une"}
REDUCE_COMBINE = {"sum": "arith.addf", "mean": "arith.addf", "max": "arith.maximumf", "min": "arith.minimumf"}
REDUCE_KIND = {"sum": "add", "mean": "add", "max": "maximumf", "min": "minimumf"}
REDUCE_INIT = {"sum": "0.0", "mean": "0.0", "max": "0xFF800000", "min": "0x7F800000"}


class Emitter:
    """Fresh SSA names, hoisted constants, and nested line buffers."""

    def __init__(self):
        self.count = 0
        self.consts: dict = {}
        self.const_lines: list[str] = []

    def fresh(self, hint="v"):
        self.count += 1
        return f"%{hint}{self.count}"

    def index(self, n: int) -> str:
        key = ("index", n)
        if key not in self.consts:
            name = f"%c{n}" if n >= 0 else f"%cm{-n}"
            self.consts[key] = name
            self.const_lines.append(f"{name} = arith.constant {n} : index")
        return self.consts[key]

    def fconst(self, value: str, vtype: str) -> str:
        key = ("f", value, vtype)
        if key not in self.consts:
            name = self.fresh("cst")
            self.consts[key] = name
            lit = f"dense<{value}>" if vtype.startswith("vector") else value
            self.const_lines.append(f"{name} = arith.constant {lit} : {vtype}")
        return self.consts[key]


def emit_op(e: Emitter, n, ins, ty, out) -> str:
    """Emit the elementwise GIR node `n` on operands `ins` of type `ty` (f32 or a vector of f32)."""
    v = e.fresh()
    k = n.kind
    if k in ARITH_BINARY:
        out.append(f"{v} = {ARITH_BINARY[k]} {ins[0]}, {ins[1]} : {ty}")
    elif k in MATH_UNARY:
        out.append(f"{v} = {MATH_UNARY[k]} {ins[0]} : {ty}")
    elif k == "recip":
        out.append(f"{v} = arith.divf {e.fconst('1.0', ty)}, {ins[0]} : {ty}")
    elif k == "sigmoid":
        one = e.fconst("1.0", ty)
        t1, t2, t3 = e.fresh(), e.fresh(), e.fresh()
        out += [f"{t1} = arith.negf {ins[0]} : {ty}", f"{t2} = math.exp {t1} : {ty}",
                f"{t3} = arith.addf {one}, {t2} : {ty}", f"{v} = arith.divf {one}, {t3} : {ty}"]
    elif k == "fma":
        out.append(f"{v} = math.fma {ins[0]}, {ins[1]}, {ins[2]} : {ty}")
    elif k == "cmp":
        out.append(f"{v} = arith.cmpf {CMP[n.attrs['predicate']]}, {ins[0]}, {ins[1]} : {ty}")
    elif k == "select":
        out.append(f"{v} = arith.select {ins[0]}, {ins[1]}, {ins[2]} : {ty.replace('f32', 'i1')}, {ty}")
    else:
        raise ValueError(f"cannot lower gir.{k} on cpu")
    return v


def vtype(width: int) -> str:
    return f"vector<{width}xf32>"


def task_range(e: Emitter, prefix: str, per_task: int, total: int) -> list[str]:
    """Lines computing [%{prefix}b, %{prefix}e): task %t's share of `total` items, `per_task` each."""
    return [f"%{prefix}b = arith.muli %t, {e.index(per_task)} : index",
            f"%{prefix}e0 = arith.addi %{prefix}b, {e.index(per_task)} : index",
            f"%{prefix}e = arith.minsi %{prefix}e0, {e.index(total)} : index"]


def memref_type(shape, et) -> str:
    return f"memref<{'x'.join(map(str, shape))}x{et}>"


class RowKernel:
    """Code generator for one row program (see module docstring)."""

    def __init__(self, g: KernelGraph):
        self.g = g
        self.e = Emitter()
        self.rows, self.cols = g.view
        s = g.schedule
        self.width = s.get("vector_width", 8)
        self.unroll = s.get("unroll", 4)
        self.tasks = s.get("tasks", 1)
        self.rows_per_task = s.get("rows_per_task", self.rows)
        self.streaming = bool(s.get("streaming_stores", 0))
        self.in_names = [f"%in{i}" for i in range(len(g.args))]
        self.out_names = [f"%out{i}" for i in range(len(g.outputs))]
        self.row_cache: dict = {}       # node -> scalar f32 SSA (per row)
        self.bcast_cache: dict = {}     # (node, width) -> broadcast vector
        self.scratch: dict = {}         # node -> scratch buffer name
        self.red_results: dict = {}     # reduce node -> scalar f32

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

    def load_arg(self, i, j, width, out):
        shape, et = self.g.args[i]
        row = "%r" if shape[0] == self.rows else self.e.index(0)
        if shape[-1] == self.cols:
            v = self.e.fresh("ld")
            out.append(f"{v} = vector.load {self.in_names[i]}[{row}, {j}] : {memref_type(shape, et)}, vector<{width}x{et}>")
        else:   # per-row or scalar input: one element broadcast
            s = self.e.fresh("ld")
            out.append(f"{s} = memref.load {self.in_names[i]}[{row}, {self.e.index(0)}] : {memref_type(shape, et)}")
            v = self.e.fresh("bc")
            out.append(f"{v} = vector.broadcast {s} : {et} to vector<{width}x{et}>")
        if et != "f32":
            c = self.e.fresh("ext")
            out.append(f"{c} = arith.extf {v} : vector<{width}x{et}> to {vtype(width)}")
            v = c
        return v

    def scalar_of(self, ref, pre):
        """Per-row scalar (f32) value of a row/scalar-space ref, emitted once per row into `pre`."""
        key = ref
        if key in self.row_cache:
            return self.row_cache[key]
        if ref[0] == "arg":
            shape, et = self.g.args[ref[1]]
            row = "%r" if shape[0] == self.rows else self.e.index(0)
            v = self.e.fresh("s")
            pre.append(f"{v} = memref.load {self.in_names[ref[1]]}[{row}, {self.e.index(0)}] : {memref_type(shape, et)}")
            if et != "f32":
                c = self.e.fresh("s")
                pre.append(f"{c} = arith.extf {v} : {et} to f32")
                v = c
        else:
            n = self.g.nodes[ref[1]]
            if n.kind == "reduce":
                src = n.operands[0]
                if self.space(src) in ("row", "scalar"):   # reducing a size-1 axis: identity
                    v = self.scalar_of(src, pre)
                else:
                    v = self.red_results[n.index]
            elif n.kind == "splat":
                v = self.e.fconst(_float_literal(n.attrs["value"]), "f32")
            elif n.kind in ("broadcast", "alias"):
                v = self.scalar_of(n.operands[0], pre)
            else:
                ins = [self.scalar_of(o, pre) for o in n.operands]
                v = self.op(n, ins, "f32", pre)
        self.row_cache[key] = v
        return v

    def vec(self, ref, j, width, body, pre, phase):
        """Vector value of `ref` at column offset `j` (SSA index) for `width` lanes."""
        memo = self.vmemo
        if (ref, j, width) in memo:
            return memo[(ref, j, width)]
        sp = self.space(ref)
        if sp in ("row", "scalar"):
            s = self.scalar_of(ref, pre)
            key = (ref, width)
            if key not in self.bcast_cache:
                b = self.e.fresh("bc")
                pre.append(f"{b} = vector.broadcast {s} : f32 to {vtype(width)}")
                self.bcast_cache[key] = b
            v = self.bcast_cache[key]
        elif ref[0] == "arg":
            v = self.load_arg(ref[1], j, width, body)
        else:
            n = self.g.nodes[ref[1]]
            if n.index in self.scratch and phase > n.phase:
                v = self.e.fresh("ml")
                body.append(f"{v} = vector.load {self.scratch[n.index]}[{j}] : memref<{self.cols}xf32>, {vtype(width)}")
            elif n.kind in ("broadcast", "alias"):
                v = self.vec(n.operands[0], j, width, body, pre, phase)
            elif n.kind == "splat":
                v = self.e.fconst(_float_literal(n.attrs["value"]), vtype(width))
            elif n.kind == "div" and self.space(self.through_broadcast(n.operands[1])) in ("row", "scalar"):
                # dividing by a per-row value: one reciprocal per row, a multiply per element
                key = ("recip", n.operands[1], width)
                if key not in self.bcast_cache:
                    s = self.scalar_of(n.operands[1], pre)
                    r, b = self.e.fresh("rcp"), self.e.fresh("bc")
                    pre += [f"{r} = arith.divf {self.e.fconst('1.0', 'f32')}, {s} : f32",
                            f"{b} = vector.broadcast {r} : f32 to {vtype(width)}"]
                    self.bcast_cache[key] = b
                x = self.vec(n.operands[0], j, width, body, pre, phase)
                v = self.e.fresh()
                body.append(f"{v} = arith.mulf {x}, {self.bcast_cache[key]} : {vtype(width)}")
            else:
                ins = [self.vec(o, j, width, body, pre, phase) for o in n.operands]
                v = self.op(n, ins, vtype(width), body)
                if n.index in self.scratch and phase == n.phase:
                    body.append(f"vector.store {v}, {self.scratch[n.index]}[{j}] : memref<{self.cols}xf32>, {vtype(width)}")
        memo[(ref, j, width)] = v
        return v

    def op(self, n, ins, ty, out):
        return emit_op(self.e, n, ins, ty, out)

    # -- sweeps -----------------------------------------------------------------------------
    def sweep(self, phase, pre, reductions, stores):
        """One pass over the row: accumulate `reductions`, write `stores` (refs -> output index).
        A reduction's state is one vector per unrolled step, or two for the online kinds
        (online_reduce.KINDS: logsumexp, var)."""
        W, U, C = self.width, self.unroll, self.cols
        main_end = (C // (W * U)) * (W * U)
        vec_end = (C // W) * W
        partials = {r.index: [] for r in reductions}   # scalar partial states per reduction
        nstate = {r.index: online.STATE if r.attrs["kind"] in online.KINDS else 1 for r in reductions}
        pivots = self.pivots(reductions, pre, phase)
        for lo, hi, width, unroll in ((0, main_end, W, U), (main_end, vec_end, W, 1), (vec_end, C, 1, 1)):
            if hi <= lo:
                continue
            step = width * unroll
            ty = vtype(width)
            body = []
            self.vmemo = {}
            j = self.e.fresh("j")
            accs_in = {r.index: [[self.e.fresh("acc") for _ in range(nstate[r.index])] for _ in range(unroll)]
                       for r in reductions}
            accs_out = {r.index: [] for r in reductions}
            pivot_vecs = {}
            for i, p in pivots.items():
                b = self.e.fresh("bc")
                pre.append(f"{b} = vector.broadcast {p} : f32 to {ty}")
                pivot_vecs[i] = b
            for u in range(unroll):
                ju = j
                if u:
                    ju = self.e.fresh("j")
                    body.append(f"{ju} = arith.addi {j}, {self.e.index(u * width)} : index")
                for r in reductions:
                    x = self.vec(r.operands[0], ju, width, body, pre, phase)
                    kind = r.attrs["kind"]
                    if kind in online.KINDS:
                        accs_out[r.index].append(online.update(self.e, kind, accs_in[r.index][u], x, ty, body,
                                                               pivot_vecs.get(r.index)))
                        continue
                    a = self.e.fresh("acc")
                    body.append(f"{a} = {REDUCE_COMBINE[kind]} {accs_in[r.index][u][0]}, {x} : {ty}")
                    accs_out[r.index].append([a])
                for ref, oi in stores:
                    x = self.vec(ref, ju, width, body, pre, phase)
                    self.store(x, oi, ju, width, body)
                for mi in self.scratch_writes(phase):   # materialised values nobody reduced here
                    self.vec(("node", mi), ju, width, body, pre, phase)
            flat_in = [a for r in reductions for st in accs_in[r.index] for a in st]
            flat_out = [a for r in reductions for st in accs_out[r.index] for a in st]
            loop = []
            if flat_in:
                res = self.e.fresh("res")
                inits = ", ".join(f"{a} = {v}" for r in reductions for st in accs_in[r.index]
                                  for a, v in zip(st, self.init_state(r, ty)))
                types = ", ".join([ty] * len(flat_in))
                loop.append(f"{res}:{len(flat_in)} = scf.for {j} = {self.e.index(lo)} to {self.e.index(hi)} step {self.e.index(step)} iter_args({inits}) -> ({types}) {{")
                loop += ["  " + line for line in body]
                loop.append(f"  scf.yield {', '.join(flat_out)} : {types}")
                loop.append("}")
                k = 0
                for r in reductions:
                    n = nstate[r.index]
                    parts = [[f"{res}#{k + u * n + i}" for i in range(n)] for u in range(unroll)]
                    k += unroll * n
                    kind = r.attrs["kind"]
                    while len(parts) > 1:
                        parts = [self.merge(kind, parts[0], parts[1], ty, loop)] + parts[2:]
                    if kind in online.KINDS:
                        partials[r.index].append(online.fold_lanes(self.e, kind, parts[0], width, loop))
                    else:
                        s = self.e.fresh("red")
                        loop.append(f"{s} = vector.reduction <{REDUCE_KIND[kind]}>, {parts[0][0]} : {ty} into f32")
                        partials[r.index].append([s])
            else:
                loop.append(f"scf.for {j} = {self.e.index(lo)} to {self.e.index(hi)} step {self.e.index(step)} {{")
                loop += ["  " + line for line in body]
                loop.append("}")
            pre.extend(loop)   # the loop follows the per-row values its body needed
        for r in reductions:
            parts = partials[r.index]
            kind = r.attrs["kind"]
            while len(parts) > 1:
                parts = [self.merge(kind, parts[0], parts[1], "f32", pre)] + parts[2:]
            if kind in online.KINDS:
                self.red_results[r.index] = online.finish(self.e, kind, parts[0], C, pre)
                continue
            v = parts[0][0]
            if kind == "mean":
                t = self.e.fresh("mean")
                pre.append(f"{t} = arith.mulf {v}, {self.e.fconst(_float_literal(1.0 / C), 'f32')} : f32")
                v = t
            self.red_results[r.index] = v

    def init_state(self, r, ty):
        kind = r.attrs["kind"]
        if kind in online.KINDS:
            return online.init(self.e, kind, ty)
        return [self.e.fconst(REDUCE_INIT[kind], ty)]

    def merge(self, kind, left, right, ty, out):
        """Combine two partial states of a reduction (vectors of type `ty`, or f32 scalars)."""
        if kind in online.KINDS:
            return online.merge(self.e, kind, left, right, ty, out)
        t = self.e.fresh("acc")
        out.append(f"{t} = {REDUCE_COMBINE[kind]} {left[0]}, {right[0]} : {ty}")
        return [t]

    def pivots(self, reductions, pre, phase):
        """Per-row shift of each `var` reduction: its input at column 0 (a sample of the row)."""
        out = {}
        for r in reductions:
            if r.attrs["kind"] == "var":
                self.vmemo = {}
                v = self.vec(r.operands[0], self.e.index(0), 1, pre, pre, phase)
                s = self.e.fresh("piv")
                pre.append(f"{s} = vector.extract {v}[0] : f32 from {vtype(1)}")
                out[r.index] = s
        return out

    def scratch_writes(self, phase):
        return [i for i in self.scratch if self.g.nodes[i].phase == phase]

    def store(self, x, oi, j, width, body):
        et = self.g.output_types[oi]
        shape = (self.rows, self.cols)
        if et != "f32":
            t = self.e.fresh("tr")
            body.append(f"{t} = arith.truncf {x} : {vtype(width)} to vector<{width}x{et}>")
            x = t
        hint = " {nontemporal = true}" if self.streaming else ""
        body.append(f"vector.store {x}, {self.out_names[oi]}[%r, {j}]{hint} : {memref_type(shape, et)}, vector<{width}x{et}>")

    def emit(self) -> str:
        g = self.g
        out_spaces = [self.space(ref) for ref in g.outputs]
        for sp in out_spaces:
            if sp not in ("full", "row"):
                raise ValueError("row programs must return full-row or per-row values")
        for n in g.nodes:
            if n.materialize:
                self.scratch[n.index] = f"%scratch{n.index}"
        row_body: list[str] = []
        full_reds = [n for n in g.nodes if n.kind == "reduce" and self.space(n.operands[0]) in ("full", "col")]
        last_phase = max([n.phase for n in full_reds] + [-1]) + 1
        for phase in range(last_phase + 1):
            reds = [n for n in full_reds if n.phase == phase]
            stores = [(ref, i) for i, ref in enumerate(g.outputs) if out_spaces[i] == "full"] if phase == last_phase else []
            if reds or stores:
                self.sweep(phase, row_body, reds, stores)
        for i, ref in enumerate(g.outputs):
            if out_spaces[i] == "row":
                s = self.scalar_of(ref, row_body)
                et = g.output_types[i]
                if et != "f32":
                    t = self.e.fresh("tr")
                    row_body.append(f"{t} = arith.truncf {s} : f32 to {et}")
                    s = t
                row_body.append(f"memref.store {s}, {self.out_names[i]}[%r, {self.e.index(0)}] : {memref_type((self.rows, 1), et)}")
        rpt = self.rows_per_task
        task = task_range(self.e, "r", rpt, self.rows)
        for i in self.scratch:
            task.append(f'{self.scratch[i]} = "gir.alloc"() {{level = "local"}} : () -> memref<{self.cols}xf32>')
        task.append(f"scf.for %r = %rb to %re step {self.e.index(1)} {{")
        task += ["  " + line for line in row_body]
        task.append("}")
        return self.wrap(task)

    def wrap(self, task_lines):
        g = self.g
        params = [f"{self.in_names[i]}: {memref_type(s, et)}" for i, (s, et) in enumerate(g.args)]
        out_shapes = [(self.rows, self.cols) if self.space(ref) == "full" else (self.rows, 1) for ref in g.outputs]
        params += [f"{self.out_names[i]}: {memref_type(s, g.output_types[i])}" for i, s in enumerate(out_shapes)]
        return forall_func(g, params, self.e, self.tasks, task_lines)


def forall_func(g, params, e, tasks, task_lines) -> str:
    lines = [f"func.func @{g.name}({', '.join(params)}) attributes {{gir.target = \"cpu\", gir.kernel, gir.tasks = {tasks} : i64}} {{"]
    lines += ["  " + c for c in e.const_lines]
    lines.append(f"  scf.forall (%t) in ({tasks}) {{")
    lines += ["    " + line for line in task_lines]
    lines.append('  } {gir.unit = "core"}')
    lines.append("  return")
    lines.append("}")
    return "\n".join(lines)


class ColumnKernel:
    """Code generator for a column program: view [A, K, B], one reduction along K."""

    def __init__(self, g: KernelGraph):
        self.g = g
        self.e = Emitter()
        self.A, self.K, self.B = g.view
        sc = g.schedule
        self.width, self.unroll = sc.get("vector_width", 8), sc.get("unroll", 4)
        self.tasks, self.bpt = sc.get("tasks", 1), sc.get("blocks_per_task", 1)
        self.red = next(n for n in g.nodes if n.kind == "reduce")
        self.post = self._post_nodes()

    def _post_nodes(self):
        post = {self.red.index}
        for n in self.g.nodes:
            if any(o[0] == "node" and o[1] in post for o in n.operands):
                post.add(n.index)
        return post

    def val(self, ref, a, k, b, width, body, memo, red_val):
        key = (ref, k, b, width)
        if key in memo:
            return memo[key]
        ty = vtype(width)
        if ref[0] == "arg":
            shape, et = self.g.args[ref[1]]
            idx = [a if shape[0] != 1 else self.e.index(0), k if shape[1] != 1 else self.e.index(0),
                   b if shape[2] != 1 else self.e.index(0)]
            mt = memref_type(shape, et)
            if shape[2] != 1:
                v = self.e.fresh("ld")
                body.append(f"{v} = vector.load %in{ref[1]}[{', '.join(idx)}] : {mt}, vector<{width}x{et}>")
            else:
                s = self.e.fresh("ld")
                body.append(f"{s} = memref.load %in{ref[1]}[{', '.join(idx)}] : {mt}")
                v = self.e.fresh("bc")
                body.append(f"{v} = vector.broadcast {s} : {et} to vector<{width}x{et}>")
            if et != "f32":
                c = self.e.fresh("ext")
                body.append(f"{c} = arith.extf {v} : vector<{width}x{et}> to {ty}")
                v = c
        else:
            n = self.g.nodes[ref[1]]
            if n.index == self.red.index:
                v = red_val
            elif n.kind in ("broadcast", "alias"):
                v = self.val(n.operands[0], a, k, b, width, body, memo, red_val)
            elif n.kind == "splat":
                v = self.e.fconst(_float_literal(n.attrs["value"]), ty)
            else:
                ins = [self.val(o, a, k, b, width, body, memo, red_val) for o in n.operands]
                v = emit_op(self.e, n, ins, ty, body)
        memo[key] = v
        return v

    K_BLOCK = 64   # sums run in blocks of 64 rows, then blocks are added: error grows ~K/64 + 64, not ~K

    def _k_loop(self, a, bs, width, lo, hi, out):
        """Accumulate rows lo..hi of the reduced axis into `len(bs)` fresh vector accumulators."""
        kind = self.red.attrs["kind"]
        ty = vtype(width)
        k = self.e.fresh("k")
        accs = [self.e.fresh("acc") for _ in bs]
        body, new, memo = [], [], {}
        for u, bu in enumerate(bs):
            x = self.val(self.red.operands[0], a, k, bu, width, body, memo, None)
            t = self.e.fresh("acc")
            body.append(f"{t} = {REDUCE_COMBINE[kind]} {accs[u]}, {x} : {ty}")
            new.append(t)
        res = self.e.fresh("res")
        init = self.e.fconst(REDUCE_INIT[kind], ty)
        types = ", ".join([ty] * len(bs))
        out.append(f"{res}:{len(bs)} = scf.for {k} = {lo} to {hi} step {self.e.index(1)} "
                   f"iter_args({', '.join(f'{acc} = {init}' for acc in accs)}) -> ({types}) {{")
        out += ["  " + line for line in body]
        out.append(f"  scf.yield {', '.join(new)} : {types}")
        out.append("}")
        return [f"{res}#{u}" for u in range(len(bs))]

    def block(self, a, b0, width, unroll, out):
        """Reduce `unroll` vectors of `width` columns starting at b0, then store the results."""
        kind = self.red.attrs["kind"]
        ty = vtype(width)
        comb = REDUCE_COMBINE[kind]
        bs = []
        for u in range(unroll):
            bu = b0
            if u:
                bu = self.e.fresh("b")
                out.append(f"{bu} = arith.addi {b0}, {self.e.index(u * width)} : index")
            bs.append(bu)
        kb_end = (self.K // self.K_BLOCK) * self.K_BLOCK
        totals = None
        if kb_end:
            kb = self.e.fresh("kb")
            tots = [self.e.fresh("tot") for _ in bs]
            init = self.e.fconst(REDUCE_INIT[kind], ty)
            types = ", ".join([ty] * unroll)
            res = self.e.fresh("res")
            inner = [f"%kbe{kb[1:]} = arith.addi {kb}, {self.e.index(self.K_BLOCK)} : index"]
            parts = self._k_loop(a, bs, width, kb, f"%kbe{kb[1:]}", inner)
            sums = []
            for t, p in zip(tots, parts):
                n = self.e.fresh("tot")
                inner.append(f"{n} = {comb} {t}, {p} : {ty}")
                sums.append(n)
            out.append(f"{res}:{unroll} = scf.for {kb} = {self.e.index(0)} to {self.e.index(kb_end)} "
                       f"step {self.e.index(self.K_BLOCK)} iter_args({', '.join(f'{t} = {init}' for t in tots)}) -> ({types}) {{")
            out += ["  " + line for line in inner]
            out.append(f"  scf.yield {', '.join(sums)} : {types}")
            out.append("}")
            totals = [f"{res}#{u}" for u in range(unroll)]
        if kb_end < self.K:
            rest = self._k_loop(a, bs, width, self.e.index(kb_end), self.e.index(self.K), out)
            if totals is None:
                totals = rest
            else:
                merged = []
                for t, r in zip(totals, rest):
                    n = self.e.fresh("tot")
                    out.append(f"{n} = {comb} {t}, {r} : {ty}")
                    merged.append(n)
                totals = merged
        for u in range(unroll):
            r = totals[u]
            if kind == "mean":
                m = self.e.fresh("mean")
                out.append(f"{m} = arith.mulf {r}, {self.e.fconst(_float_literal(1.0 / self.K), ty)} : {ty}")
                r = m
            memo = {}
            for oi, ref in enumerate(self.g.outputs):
                v = self.val(ref, a, self.e.index(0), bs[u], width, out, memo, r)
                et = self.g.output_types[oi]
                if et != "f32":
                    t = self.e.fresh("tr")
                    out.append(f"{t} = arith.truncf {v} : {ty} to vector<{width}x{et}>")
                    v = t
                out.append(f"vector.store {v}, %out{oi}[{a}, {self.e.index(0)}, {bs[u]}] : "
                           f"{memref_type((self.A, 1, self.B), et)}, vector<{width}x{et}>")

    def emit(self) -> str:
        g, W, U = self.g, self.width, self.unroll
        block = W * U
        nb = -(-self.B // block)
        task = task_range(self.e, "b", self.bpt, self.A * nb) + [
                f"scf.for %blk = %bb to %be step {self.e.index(1)} {{",
                f"  %a = arith.divui %blk, {self.e.index(nb)} : index",
                f"  %bi = arith.remui %blk, {self.e.index(nb)} : index",
                f"  %b0 = arith.muli %bi, {self.e.index(block)} : index",
                f"  %bend = arith.addi %b0, {self.e.index(block)} : index",
                f"  %full = arith.cmpi sle, %bend, {self.e.index(self.B)} : index",
                "  scf.if %full {"]
        full: list = []
        self.block("%a", "%b0", W, U, full)
        task += ["    " + x for x in full]
        task.append("  } else {")
        tail = [f"%bt = arith.minsi %bend, {self.e.index(self.B)} : index",
                f"scf.for %b = %b0 to %bt step {self.e.index(1)} {{"]
        inner: list = []
        self.block("%a", "%b", 1, 1, inner)
        tail += ["  " + x for x in inner] + ["}"]
        task += ["    " + x for x in tail]
        task += ["  }", "}"]
        params = [f"%in{i}: {memref_type(s, et)}" for i, (s, et) in enumerate(g.args)]
        params += [f"%out{i}: {memref_type((self.A, 1, self.B), et)}" for i, et in enumerate(g.output_types)]
        return forall_func(g, params, self.e, self.tasks, task)


class TransposeKernel:
    """Code generator for a 2-D transpose: square register tiles, edges through masked transfers."""

    def __init__(self, g: KernelGraph):
        self.g = g
        self.e = Emitter()
        self.R, self.C = g.view
        sc = g.schedule
        self.T = sc.get("tile", 8)
        self.tasks, self.tpt = sc.get("tasks", 1), sc.get("tile_rows_per_task", 1)

    def emit(self) -> str:
        g, T, e = self.g, self.T, self.e
        (shape, et) = g.args[0]
        it, ot = memref_type((self.R, self.C), et), memref_type((self.C, self.R), et)
        vt, vtt = f"vector<{T}x{T}x{et}>", f"vector<{T}x{T}x{et}>"
        ntr = -(-self.R // T)
        pad = e.fresh("pad")
        task = [f"{pad} = arith.constant 0.0 : {et}"] + task_range(e, "t", self.tpt, ntr) + [
                f"scf.for %ti = %tb to %te step {e.index(1)} {{",
                f"  %i0 = arith.muli %ti, {e.index(T)} : index",
                f"  %iend = arith.addi %i0, {e.index(T)} : index",
                f"  %ifull = arith.cmpi sle, %iend, {e.index(self.R)} : index",
                f"  scf.for %j0 = {e.index(0)} to {e.index(self.C)} step {e.index(T)} {{",
                f"    %jend = arith.addi %j0, {e.index(T)} : index",
                f"    %jfull = arith.cmpi sle, %jend, {e.index(self.C)} : index",
                "    %full = arith.andi %ifull, %jfull : i1",
                "    scf.if %full {",
                f"      %tile = vector.transfer_read %in0[%i0, %j0], {pad} {{in_bounds = [true, true]}} : {it}, {vt}",
                f"      %tt = vector.transpose %tile, [1, 0] : {vt} to {vtt}",
                f"      vector.transfer_write %tt, %out0[%j0, %i0] {{in_bounds = [true, true]}} : {vtt}, {ot}",
                "    } else {",
                f"      %tile2 = vector.transfer_read %in0[%i0, %j0], {pad} : {it}, {vt}",
                f"      %tt2 = vector.transpose %tile2, [1, 0] : {vt} to {vtt}",
                f"      vector.transfer_write %tt2, %out0[%j0, %i0] : {vtt}, {ot}",
                "    }",
                "  }",
                "}"]
        params = [f"%in0: {it}", f"%out0: {ot}"]
        return forall_func(g, params, e, self.tasks, task)


KERNELS: dict[str, Any] = {"row": RowKernel, "column": ColumnKernel, "transpose": TransposeKernel}
