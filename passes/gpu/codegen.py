"""GIR (tensor level) -> upstream `gpu` dialect kernels, as MLIR text (shared by NVIDIA and AMD).

Parallel strategy (recorded on the kernel as `gir.schedule` and `gir.launch`):
  row form, C <= ROW_PER_WARP_MAX_COLS  row-per-warp: a block holds WARPS_PER_BLOCK warps (wavefronts on
                                        AMD), each warp owns one row, lanes stride over its columns;
                                        row reductions are a `gpu.shuffle xor` butterfly in registers.
  row form, longer rows                 row-per-block: BLOCK threads per row; warp shuffles, then one
                                        partial per warp in shared memory (`gpu.func` workgroup
                                        attribution, the "shared" level), `gpu.barrier`, final combine.
  column form [A, K, B]                 one thread per (a, b) output column (coalesced along b), a
                                        sequential sweep over K per reduction phase, accumulators in
                                        registers.
  transpose                             32x32 tiles staged through a 32x33 shared tile (no bank
                                        conflicts), block 32x8, coalesced loads and stores.
Rows whose length is a multiple of 4 use 128-bit `vector.load`/`vector.store` (4 x f32, aligned 16).
Each sweep over a row recomputes full-row values from global memory (L1/L2 resident); values that
are constant along the row (reduction results, per-row operands) live in registers.

Transcendentals: on NVIDIA `math.*` ops become libdevice calls (`__nv_expf`, ...; libdevice is
linked by the PTX stage); on AMD they are written with LLVM intrinsics (`llvm.intr.exp`, `.log`,
`.sqrt`, `.fabs`) that the AMDGPU backend selects natively, and tanh/erf/sigmoid are expanded
from exp (no device library needed).
"""
from __future__ import annotations

import dataclasses
import math

from girflow.passes.function_view import GProgram, levels
from girflow.passes.registry import PassError

ROW_PER_WARP_MAX_COLS = 1024
WARPS_PER_BLOCK = 4
_BLOCK_THREADS = 256
COLUMN_BLOCK = 256
REGISTER_ROW_ELEMENTS = 32   # rows of up to 32 elements per thread stay in registers across sweeps


class Emitter:
    """SSA text builder."""

    def __init__(self, vendor: str):
        self.vendor = vendor
        self.lines: list[str] = []
        self.n = 0
        self.indent = 4

    def fresh(self, hint="v"):
        self.n += 1
        return f"%{hint}{self.n}"

    def emit(self, line):
        self.lines.append(" " * self.indent + line)

    def op(self, text, hint="v"):
        v = self.fresh(hint)
        self.emit(f"{v} = {text}")
        return v

    def const(self, value, ty="f32"):
        if ty == "index":
            return self.op(f"arith.constant {int(value)} : index", "c")
        if ty == "i32":
            return self.op(f"arith.constant {int(value)} : i32", "c")
        if math.isinf(value):
            lit = "0x7F800000" if value > 0 else "0xFF800000"
        elif math.isnan(value):
            lit = "0x7FC00000"
        else:
            lit = f"{float(value):.9e}"
        return self.op(f"arith.constant {lit} : f32", "c")

    # -- scalar f32 math ---------------------------------------------------------------------
    def bin(self, name, a, b):
        return self.op(f"arith.{name} {a}, {b} : f32")

    def intr(self, name, x):
        if self.vendor == "nvidia":
            return self.op(f"math.{name} {x} : f32")
        llname = {"absf": "fabs"}.get(name, name)
        return self.op(f"llvm.intr.{llname}({x}) : (f32) -> f32")

    def exp(self, x):
        return self.intr("exp", x)

    def unary(self, kind, x):
        one = self.const(1.0)
        if kind == "exp":
            return self.exp(x)
        if kind == "log":
            return self.intr("log", x)
        if kind == "sqrt":
            return self.intr("sqrt", x)
        if kind == "rsqrt":
            if self.vendor == "nvidia":
                return self.op(f"math.rsqrt {x} : f32")
            return self.bin("divf", one, self.intr("sqrt", x))
        if kind == "abs":
            return self.intr("absf", x)
        if kind == "neg":
            return self.op(f"arith.negf {x} : f32")
        if kind == "recip":
            return self.bin("divf", one, x)
        if kind == "sigmoid":
            e = self.exp(self.op(f"arith.negf {x} : f32"))
            return self.bin("divf", one, self.bin("addf", one, e))
        if kind == "tanh":
            if self.vendor == "nvidia":
                return self.op(f"math.tanh {x} : f32")
            # tanh(x) = sign(x) * (1 - e) / (1 + e), e = exp(-2|x|)
            ax = self.intr("absf", x)
            e = self.exp(self.bin("mulf", self.const(-2.0), ax))
            t = self.bin("divf", self.bin("subf", one, e), self.bin("addf", one, e))
            return self.op(f"math.copysign {t}, {x} : f32")
        if kind == "erf":
            if self.vendor == "nvidia":
                return self.op(f"math.erf {x} : f32")
            # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
            ax = self.intr("absf", x)
            t = self.bin("divf", one, self.bin("addf", one, self.bin("mulf", self.const(0.3275911), ax)))
            p = self.const(1.061405429)
            for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
                p = self.bin("addf", self.bin("mulf", p, t), self.const(c))
            p = self.bin("mulf", p, t)
            e = self.exp(self.op(f"arith.negf {self.bin('mulf', ax, ax)} : f32"))
            y = self.bin("subf", one, self.bin("mulf", p, e))
            return self.op(f"math.copysign {y}, {x} : f32")
        raise PassError(f"unsupported unary op gir.{kind} on the GPU")

    def binary(self, kind, a, b):
        name = {"add": "addf", "sub": "subf", "mul": "mulf", "div": "divf",
                "max": "maximumf", "min": "minimumf"}[kind]
        return self.bin(name, a, b)


_REDUCE_INIT = {"sum": 0.0, "mean": 0.0, "max": float("-inf"), "min": float("inf")}
_REDUCE_COMBINE = {"sum": "addf", "mean": "addf", "max": "maximumf", "min": "minimumf"}
_CMP = {"lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge", "eq": "oeq", "ne": "une"}


def _memref(shape, dtype):
    return f"memref<{'x'.join(map(str, shape))}x{dtype}>"


def _wg_memref(shape, dtype):
    return f"memref<{'x'.join(map(str, shape))}x{dtype}, #gpu.address_space<workgroup>>"


@dataclasses.dataclass
class Kernel:
    text: str              # the gpu.func
    name: str
    grid: tuple
    block: tuple
    shared_bytes: int
    schedule: str
    vector_width: int


def choose_schedule(prog: GProgram, desc: dict, schedule: str = "auto") -> str:
    if prog.form == "transpose":
        return "transpose-tile"
    if prog.form == "column":
        return "column-per-thread"
    if schedule in ("warp", "block"):
        return f"row-per-{schedule}"
    return "row-per-warp" if prog.view[1] <= ROW_PER_WARP_MAX_COLS else "row-per-block"


def launch_shape(desc: dict, sched: str, rows_per_block: int | None = None,
                 block_threads: int | None = None) -> tuple[int, int]:
    """(rows per block for row-per-warp, threads per row for row-per-block): the given values,
    checked against the target (whole warps, at most max_threads_per_block), else the defaults."""
    warp = int(desc["units"]["warp_size"])
    most = int(desc["units"].get("max_threads_per_block", _BLOCK_THREADS))
    rpb = WARPS_PER_BLOCK if rows_per_block is None else rows_per_block
    bt = min(_BLOCK_THREADS, most) if block_threads is None else block_threads
    if rpb < 1 or rpb * warp > most:
        raise PassError(f"rows_per_block={rpb}: a block of {rpb} warps of {warp} exceeds the target's "
                        f"{most} threads per block" if rpb >= 1 else "rows_per_block must be at least 1")
    if bt < warp or bt % warp or bt > most:
        raise PassError(f"block_threads={bt} must be a multiple of the warp size {warp}, at most {most}")
    return rpb, bt


def gen_kernel(prog: GProgram, desc: dict, vendor: str, schedule: str = "auto",
               rows_per_block: int | None = None, block_threads: int | None = None) -> Kernel:
    warp = int(desc["units"]["warp_size"])
    sched = choose_schedule(prog, desc, schedule)
    if sched == "transpose-tile":
        return _gen_transpose(prog, desc, vendor)
    rpb, bt = launch_shape(desc, sched, rows_per_block, block_threads)
    return _gen_reduce_form(prog, desc, vendor, sched, warp, rpb, bt)


def _signature(prog: GProgram):
    params = [f"{n}: {_memref(s, d)}" for n, s, d in prog.args]
    outs = [f"%out{i}: {_memref(s, d)}" for i, (_, s, d) in enumerate(prog.outputs)]
    return ", ".join(params + outs)


def _gen_reduce_form(prog, desc, vendor, sched, warp, WARPS_PER_BLOCK=WARPS_PER_BLOCK,
                     BLOCK_THREADS=_BLOCK_THREADS) -> Kernel:
    E = Emitter(vendor)
    level, inner = levels(prog)
    defs = {op.result: op for op in prog.ops}
    argshape = {n: (s, d) for n, s, d in prog.args}
    row_form = prog.form == "row"
    if row_form:
        R, C = prog.view
        outer_count, K = R, C
    else:
        A, K, B = prog.view
        outer_count = A * B
    # widest global access of the target (128-bit: 4 x f32) when rows split into whole vectors
    width = max(1, int(desc.get("vector_bits", 128)) // 32)
    vec = width if row_form and C % width == 0 and C >= width else 1
    nwarps = BLOCK_THREADS // warp
    if sched == "row-per-warp":
        block = (warp * WARPS_PER_BLOCK, 1, 1)
        grid = (-(-R // WARPS_PER_BLOCK), 1, 1)
    elif sched == "row-per-block":
        block = (BLOCK_THREADS, 1, 1)
        grid = (R, 1, 1)
    else:
        block = (COLUMN_BLOCK, 1, 1)
        grid = (-(-outer_count // COLUMN_BLOCK), 1, 1)
    reduces = [op for op in prog.ops if op.kind == "reduce"]
    shared_bytes = 4 * nwarps * max(1, len(reduces)) if (sched == "row-per-block" and reduces) else 0

    # -- prologue: ids ---------------------------------------------------------------------------
    tid = E.op("gpu.thread_id x", "tid")
    bid = E.op("gpu.block_id x", "bid")
    c0 = E.const(0, "index")
    if sched == "row-per-warp":
        wsz = E.const(warp, "index")
        lane = E.op(f"arith.remui {tid}, {wsz} : index", "lane")
        wid = E.op(f"arith.divui {tid}, {wsz} : index", "warp")
        wpb = E.const(WARPS_PER_BLOCK, "index")
        outer = E.op(f"arith.addi {E.op(f'arith.muli {bid}, {wpb} : index')}, {wid} : index", "row")
        t_in, nthr = lane, wsz
    elif sched == "row-per-block":
        outer, t_in, nthr = bid, tid, E.const(BLOCK_THREADS, "index")
        wsz = E.const(warp, "index")
        lane = E.op(f"arith.remui {tid}, {wsz} : index", "lane")
        wid = E.op(f"arith.divui {tid}, {wsz} : index", "warp")
    else:
        bs = E.const(COLUMN_BLOCK, "index")
        outer = E.op(f"arith.addi {E.op(f'arith.muli {bid}, {bs} : index')}, {tid} : index", "col")
        t_in, nthr = c0, E.const(1, "index")
    limit = E.const(outer_count, "index")
    inb = E.op(f"arith.cmpi ult, {outer}, {limit} : index", "inb")
    E.emit(f"scf.if {inb} {{")
    E.indent += 2
    if row_form:
        idx_outer = {0: outer}
    else:
        bsz = E.const(B, "index")
        idx_outer = {0: E.op(f"arith.divui {outer}, {bsz} : index", "a"),
                     2: E.op(f"arith.remui {outer}, {bsz} : index", "b")}

    outer_vals: dict[str, str] = {}

    def index_list(shape, inner_idx):
        out = []
        for d, n in enumerate(shape):
            if n == 1:
                out.append(c0)
            elif d == 1:
                out.append(inner_idx)
            else:
                out.append(idx_outer[d])
        return out

    def load_scalar(name, inner_idx):
        shape, dt = argshape[name]
        v = E.op(f"memref.load {name}[{', '.join(index_list(shape, inner_idx))}] : {_memref(shape, dt)}")
        return _to_f32(E, v, dt)

    def compute(name, get):
        """Emit `name` (an op result) given `get(operand)`; shared by outer and inner contexts."""
        op = defs[name]
        k = op.kind
        if k == "splat":
            return E.const(op.attrs["value"])
        ins = [get(v) for v in op.operands]
        if k in ("broadcast",):
            return ins[0]
        if k == "cast":
            src = _value_dtype(prog, op.operands[0])
            if op.dtype == "f32" or src == op.dtype:
                return ins[0]
            return ins[0]  # stored narrow at the edge (see store)
        if k == "cmp":
            return E.op(f"arith.cmpf {_CMP[op.attrs['predicate']]}, {ins[0]}, {ins[1]} : f32")
        if k == "select":
            return E.op(f"arith.select {ins[0]}, {ins[1]}, {ins[2]} : f32")
        if k == "fma":
            return E.op(f"math.fma {ins[0]}, {ins[1]}, {ins[2]} : f32")
        if len(ins) == 1:
            return E.unary(k, ins[0])
        return E.binary(k, ins[0], ins[1])

    def get_outer(name):
        if name in outer_vals:
            return outer_vals[name]
        if name in argshape:
            v = load_scalar(name, c0)
        else:
            v = compute(name, get_outer)
        outer_vals[name] = v
        return v

    def make_getter(lane_i, j0, memo, vec_loaded):
        def get_inner(name):
            if not inner.get(name, False):
                return get_outer(name)
            if name in memo:
                return memo[name]
            if name in argshape:
                shape, dt = argshape[name]
                if vec > 1:
                    if name not in vec_loaded:
                        vt = f"vector<{vec}x{dt}>"
                        vec_loaded[name] = E.op(
                            f"vector.load {name}[{', '.join(index_list(shape, j0))}] {{alignment = {vec * _bytes(dt)}}}"
                            f" : {_memref(shape, dt)}, {vt}")
                    v = E.op(f"vector.extract {vec_loaded[name]}[{lane_i}] : {dt} from vector<{vec}x{dt}>")
                    v = _to_f32(E, v, dt)
                else:
                    v = load_scalar(name, j0)
            else:
                v = compute(name, get_inner)
            memo[name] = v
            return v
        return get_inner

    nlevels = max([level[o.result] for o in reduces] + [0]) + 1
    reg_groups = []
    row_threads = {"row-per-warp": warp, "row-per-block": BLOCK_THREADS}.get(sched, 0)
    groups_per_lane = -(-(K // vec) // row_threads) if row_threads else 0
    if row_threads and nlevels > 1 and groups_per_lane * vec <= REGISTER_ROW_ELEMENTS:
        ng = K // vec
        last = E.const(ng - 1, "index")
        for g in range(groups_per_lane):
            itg = E.op(f"arith.addi {t_in}, {E.const(g * row_threads, 'index')} : index", "it")
            valid = None
            if (g + 1) * row_threads > ng:   # a last group not covering every thread: clamp + mask
                valid = E.op(f"arith.cmpi ult, {itg}, {E.const(ng, 'index')} : index", "valid")
                itg = E.op(f"arith.minui {itg}, {last} : index", "it")
            j0g = E.op(f"arith.muli {itg}, {E.const(vec, 'index')} : index", "j") if vec > 1 else itg
            vl: dict[str, str] = {}
            reg_groups.append((j0g, valid, [make_getter(l, j0g, {}, vl) for l in range(vec)]))
    out_specs = [(i, n, s, d) for i, (n, s, d) in enumerate(prog.outputs)]
    for L in range(nlevels):
        sweep_reduces = [op for op in reduces if level[op.operands[0]] == L and inner[op.operands[0]]]
        sweep_outs = [o for o in out_specs if inner.get(o[1], False) and level[o[1]] == L]
        # reductions over a value that does not vary along the axis: x * K (sum) or x
        for op in reduces:
            if level[op.operands[0]] == L and not inner[op.operands[0]]:
                v = get_outer(op.operands[0])
                if op.attrs["kind"] == "sum":
                    v = E.bin("mulf", v, E.const(float(K)))
                outer_vals[op.result] = v
        if not sweep_reduces and not sweep_outs:
            continue
        # values constant along the row that this sweep needs: computed once, outside the loop
        needed = _inner_deps([op.operands[0] for op in sweep_reduces] + [o[1] for o in sweep_outs],
                             defs, inner)
        for name in [o.result for o in prog.ops if o.result in needed] + [a for a in argshape if a in needed]:
            get_outer(name)
        inits = [E.const(_REDUCE_INIT[op.attrs["kind"]]) for op in sweep_reduces]
        if reg_groups:
            # "register" level: the row's groups are unrolled and every loaded / computed full-row value
            # stays in registers (SSA values) across sweeps, so later sweeps re-read nothing
            new_accs = list(inits)
            for g, (j0g, valid, getters) in enumerate(reg_groups):
                for lane_i in range(vec):
                    for r_i, op in enumerate(sweep_reduces):
                        x = getters[lane_i](op.operands[0])
                        nv = E.bin(_REDUCE_COMBINE[op.attrs["kind"]], new_accs[r_i], x)
                        new_accs[r_i] = nv if valid is None else E.op(f"arith.select {valid}, {nv}, {new_accs[r_i]} : f32")
                stores = []
                for i, name, shape, dt in sweep_outs:
                    stores.append((i, shape, dt, [_from_f32(E, getters[l](name), dt) for l in range(vec)]))
                if stores:
                    if valid is not None:
                        E.emit(f"scf.if {valid} {{")
                        E.indent += 2
                    for i, shape, dt, vals in stores:
                        _emit_store(E, i, shape, dt, vals, index_list(shape, j0g), vec)
                    if valid is not None:
                        E.indent -= 2
                        E.emit("}")
            red_vals = new_accs
        else:
            ngroups = E.const(K // vec, "index")
            it = E.fresh("it")
            accs = [E.fresh("acc") for _ in sweep_reduces]
            res = E.fresh("red") if sweep_reduces else None
            iter_args = ""
            if sweep_reduces:
                iter_args = " iter_args(" + ", ".join(f"{a} = {i}" for a, i in zip(accs, inits)) + ")"
                iter_args += " -> (" + ", ".join("f32" for _ in accs) + ")"
            lhs = f"{res}:{len(accs)} = " if sweep_reduces else ""
            E.emit(f"{lhs}scf.for {it} = {t_in} to {ngroups} step {nthr}{iter_args} {{")
            E.indent += 2
            j0 = E.op(f"arith.muli {it}, {E.const(vec, 'index')} : index", "j") if vec > 1 else it
            vec_loaded: dict[str, str] = {}
            getters = [make_getter(lane_i, j0, {}, vec_loaded) for lane_i in range(vec)]
            new_accs = list(accs)
            for lane_i in range(vec):
                for r_i, op in enumerate(sweep_reduces):
                    x = getters[lane_i](op.operands[0])
                    new_accs[r_i] = E.bin(_REDUCE_COMBINE[op.attrs["kind"]], new_accs[r_i], x)
            for i, name, shape, dt in sweep_outs:
                vals = [_from_f32(E, getters[l](name), dt) for l in range(vec)]
                _emit_store(E, i, shape, dt, vals, index_list(shape, j0), vec)
            if sweep_reduces:
                E.emit(f"scf.yield {', '.join(new_accs)} : {', '.join('f32' for _ in new_accs)}")
            E.indent -= 2
            E.emit("}")
            red_vals = [f"{res}#{r_i}" for r_i in range(len(sweep_reduces))]
        # cross-thread combine
        for r_i, op in enumerate(sweep_reduces):
            comb = _REDUCE_COMBINE[op.attrs["kind"]]
            v = red_vals[r_i]
            if sched in ("row-per-warp", "row-per-block"):
                v = _warp_reduce(E, v, comb, warp)
            if sched == "row-per-block":
                v = _block_reduce(E, v, comb, lane, wid, nwarps, r_i,
                                  _wg_memref((max(1, len(reduces)) * nwarps,), "f32"))
            if op.attrs["kind"] == "mean":
                v = E.bin("divf", v, E.const(float(K)))
            outer_vals[op.result] = v
    # outputs constant along the reduced axis ([R,1] / [A,1,B]) are written by thread 0 of the row
    for i, name, shape, dt in out_specs:
        if inner.get(name, False):
            continue
        v = _from_f32(E, get_outer(name), dt)
        first = E.op(f"arith.cmpi eq, {t_in}, {c0} : index")
        E.emit(f"scf.if {first} {{")
        E.emit(f"  memref.store {v}, %out{i}[{', '.join(index_list(shape, c0))}] : {_memref(shape, dt)}")
        E.emit("}")
    E.indent -= 2
    E.emit("}")
    E.emit("gpu.return")
    name = f"{prog.name}_kernel"
    wg = ""
    if shared_bytes:
        wg = f" workgroup(%smem : {_wg_memref((max(1, len(reduces)) * nwarps,), 'f32')})"
    attrs = (f"gpu.known_block_size = array<i32: {block[0]}, {block[1]}, {block[2]}>, "
             f"gir.schedule = \"{sched}\", gir.vector_width = {vec} : i64, "
             + (f"gir.rows_per_block = {WARPS_PER_BLOCK} : i64, " if sched == "row-per-warp" else "")
             + (f"gir.block_threads = {BLOCK_THREADS} : i64, " if sched == "row-per-block" else "")
             +
             f"gir.row_cache = \"{'register' if reg_groups else 'none'}\", "
             f"gir.launch = {{grid = array<i64: {grid[0]}, {grid[1]}, {grid[2]}>, "
             f"block = array<i64: {block[0]}, {block[1]}, {block[2]}>, shared_bytes = {shared_bytes} : i64}}")
    text = (f"  gpu.func @{name}({_signature(prog)}){wg} kernel attributes {{{attrs}}} {{\n"
            + "\n".join(E.lines) + "\n  }\n")
    return Kernel(text, name, grid, block, shared_bytes, sched, vec)


def _emit_store(E, i, shape, dt, vals, idx_list, vec):
    idx = ", ".join(idx_list)
    if vec > 1:
        vt = f"vector<{vec}x{dt}>"
        vv = E.op(f"vector.from_elements {', '.join(vals)} : {vt}")
        E.emit(f"vector.store {vv}, %out{i}[{idx}] {{alignment = {vec * _bytes(dt)}}} : {_memref(shape, dt)}, {vt}")
    else:
        E.emit(f"memref.store {vals[0]}, %out{i}[{idx}] : {_memref(shape, dt)}")


def _inner_deps(names, defs, inner):
    """Non-inner values (and args) used by the inner computation of `names`."""
    seen, out, stack = set(), set(), list(names)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if not inner.get(n, False):
            out.add(n)
            continue
        if n in defs:
            stack.extend(defs[n].operands)
    return out


def _value_dtype(prog, name):
    for n, _, d in prog.args:
        if n == name:
            return d
    for op in prog.ops:
        if op.result == name:
            return op.dtype
    return "f32"


def _bytes(dt):
    return {"f32": 4, "f16": 2, "bf16": 2, "i1": 1}[dt]


def _to_f32(E, v, dt):
    return v if dt == "f32" else E.op(f"arith.extf {v} : {dt} to f32")


def _from_f32(E, v, dt):
    return v if dt == "f32" else E.op(f"arith.truncf {v} : f32 to {dt}")


def _warp_reduce(E, v, comb, warp):
    width = E.const(warp, "i32")
    off = warp // 2
    while off >= 1:
        o = E.const(off, "i32")
        s = E.fresh("sh")
        E.emit(f"{s}, %{s[1:]}_ok = gpu.shuffle xor {v}, {o}, {width} : f32")
        v = E.bin(comb, v, s)
        off //= 2
    return v


def _block_reduce(E, v, comb, lane, wid, nwarps, slot, smem_t):
    c0 = E.const(0, "index")
    base = E.const(slot * nwarps, "index")
    first = E.op(f"arith.cmpi eq, {lane}, {c0} : index")
    at = E.op(f"arith.addi {base}, {wid} : index")
    E.emit(f"scf.if {first} {{")
    E.emit(f"  memref.store {v}, %smem[{at}] : {smem_t}")
    E.emit("}")
    E.emit("gpu.barrier")
    acc = None
    for w in range(nwarps):
        i = E.const(slot * nwarps + w, "index")
        x = E.op(f"memref.load %smem[{i}] : {smem_t}")
        acc = x if acc is None else E.bin(comb, acc, x)
    E.emit("gpu.barrier")
    return acc


def _gen_transpose(prog, desc, vendor) -> Kernel:
    E = Emitter(vendor)
    (src, (M, N), in_dt), = prog.args
    out_dt = prog.outputs[0][2]
    T, ROWS = 32, 8
    tx = E.op("gpu.thread_id x", "tx")
    ty = E.op("gpu.thread_id y", "ty")
    bx = E.op("gpu.block_id x", "bx")
    by = E.op("gpu.block_id y", "by")
    c0, cT, cR = E.const(0, "index"), E.const(T, "index"), E.const(ROWS, "index")
    cM, cN = E.const(M, "index"), E.const(N, "index")
    bxT = E.op(f"arith.muli {bx}, {cT} : index")
    byT = E.op(f"arith.muli {by}, {cT} : index")
    sm = _wg_memref((T, T + 1), "f32")
    # load tile [by*32 .. +32) x [bx*32 .. +32) into shared
    E.emit(f"scf.for %i = {c0} to {cT} step {cR} {{")
    E.indent += 2
    ry = E.op(f"arith.addi {ty}, %i : index")
    r = E.op(f"arith.addi {byT}, {ry} : index")
    c = E.op(f"arith.addi {bxT}, {tx} : index")
    ok = E.op(f"arith.andi {E.op(f'arith.cmpi ult, {r}, {cM} : index')}, {E.op(f'arith.cmpi ult, {c}, {cN} : index')} : i1")
    E.emit(f"scf.if {ok} {{")
    v = E.op(f"memref.load {src}[{r}, {c}] : {_memref((M, N), in_dt)}")
    v = _to_f32(E, v, in_dt)
    E.emit(f"memref.store {v}, %tile[{ry}, {tx}] : {sm}")
    E.emit("}")
    E.indent -= 2
    E.emit("}")
    E.emit("gpu.barrier")
    E.emit(f"scf.for %i = {c0} to {cT} step {cR} {{")
    E.indent += 2
    ry = E.op(f"arith.addi {ty}, %i : index")
    r = E.op(f"arith.addi {bxT}, {ry} : index")   # output row (over N)
    c = E.op(f"arith.addi {byT}, {tx} : index")   # output col (over M)
    ok = E.op(f"arith.andi {E.op(f'arith.cmpi ult, {r}, {cN} : index')}, {E.op(f'arith.cmpi ult, {c}, {cM} : index')} : i1")
    E.emit(f"scf.if {ok} {{")
    v = E.op(f"memref.load %tile[{tx}, {ry}] : {sm}")
    v = _from_f32(E, v, out_dt)
    E.emit(f"memref.store {v}, %out0[{r}, {c}] : {_memref((N, M), out_dt)}")
    E.emit("}")
    E.indent -= 2
    E.emit("}")
    E.emit("gpu.return")
    grid, block = (-(-N // T), -(-M // T), 1), (T, ROWS, 1)
    shared = T * (T + 1) * 4
    name = f"{prog.name}_kernel"
    attrs = (f"gpu.known_block_size = array<i32: {T}, {ROWS}, 1>, gir.schedule = \"transpose-tile\", "
             f"gir.vector_width = 1 : i64, gir.launch = {{grid = array<i64: {grid[0]}, {grid[1]}, 1>, "
             f"block = array<i64: {T}, {ROWS}, 1>, shared_bytes = {shared} : i64}}")
    text = (f"  gpu.func @{name}({_signature(prog)}) workgroup(%tile : {sm}) kernel attributes {{{attrs}}} {{\n"
            + "\n".join(E.lines) + "\n  }\n")
    return Kernel(text, name, grid, block, shared, "transpose-tile", 1)


def gpu_module_text(prog: GProgram, desc: dict, vendor: str, schedule: str = "auto",
                    rows_per_block: int | None = None, block_threads: int | None = None) -> tuple[str, Kernel]:
    k = gen_kernel(prog, desc, vendor, schedule, rows_per_block, block_threads)
    text = k.text
    arch = desc.get("arch", "")
    mod = (f"gpu.module @{prog.name}_gpu attributes {{gir.target = \"{desc['name']}\", gir.arch = \"{arch}\"}} {{\n"
           f"{text}}}\n")
    return mod, k
