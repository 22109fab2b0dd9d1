"""GIR (tensor level) -> upstream `gpu` dialect kernels, built with the op builders (shared by NVIDIA and AMD).

Parallel strategy (recorded on the kernel as `gir.schedule` and `gir.launch`):
  row form, C <= ROW_PER_WARP_MAX_COLS  row-per-warp: a block holds WARPS_PER_BLOCK warps (wavefronts on
                                        AMD), each warp owns one row, lanes stride over its columns;
                                        row reductions are a `gpu.shuffle xor` butterfly in registers.
  row form, longer rows                 row-per-block: BLOCK threads per row; warp shuffles, then one
                                        partial per warp in shared memory (`gpu.func` workgroup
                                        attribution, the "shared" level), `gpu.barrier`, final combine.
  column form [A, K, B]                 column-per-block: a block of warp x S threads holds a warp's
                                        width of (a, b) columns (coalesced along b); the S thread rows
                                        split the reduced axis K (thread row y sweeps k = y, y+S, ...),
                                        partials meet in shared memory after each reduction phase.
                                        S (`column_split`) fills the device: enough threads for about
                                        half its resident warps (column_split() below), at most 32.
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

from torch_mlir import ir
from torch_mlir.dialects import arith, gpu, llvm, math, memref, vector

from girflow.passes.function_view import GProgram, levels
from girflow.passes.gpu.launch_space import REGISTER_ROW_ELEMENTS  # shared with the launch model
from girflow.passes.ir_builder import Builder, array_attr, element, set_attrs
from girflow.passes.ir_builder import memref as memref_type
from girflow.passes.registry import PassError

ROW_PER_WARP_MAX_COLS = 1024
WARPS_PER_BLOCK = 4
_BLOCK_THREADS = 256
COLUMN_UNROLL = 4            # rows per thread per round in column programs: loads in flight per thread

_REDUCE_INIT = {"sum": 0.0, "mean": 0.0, "max": float("-inf"), "min": float("inf")}
_REDUCE_COMBINE = {"sum": "addf", "mean": "addf", "max": "maximumf", "min": "minimumf"}
_CMP = {"lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge", "eq": "oeq", "ne": "une"}
_BINARY = {"add": "addf", "sub": "subf", "mul": "mulf", "div": "divf", "max": "maximumf", "min": "minimumf"}
_AMD_INTRINSIC = {"exp": llvm.intr_exp, "log": llvm.intr_log, "sqrt": llvm.intr_sqrt, "absf": llvm.intr_fabs}


class DeviceMath:
    """Scalar f32 math of one vendor: `math.*` on NVIDIA, LLVM intrinsics and exp-based forms on AMD.
    Constants are made in place (the GPU pipelines fold them)."""

    def __init__(self, vendor: str):
        self.vendor = vendor
        self.b = Builder()

    def const(self, value: float) -> ir.Value:
        return self.b.float(value)

    def index(self, n: int) -> ir.Value:
        return self.b.index(n)

    def bin(self, name: str, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.arith(name, a, b)

    def intr(self, name: str, x: ir.Value) -> ir.Value:
        if self.vendor == "nvidia":
            return getattr(math, name)(x)
        return _AMD_INTRINSIC[name](x)

    def unary(self, kind: str, x: ir.Value) -> ir.Value:
        if kind in ("exp", "log", "sqrt"):
            return self.intr(kind, x)
        if kind == "abs":
            return self.intr("absf", x)
        if kind == "neg":
            return arith.negf(x)
        if kind == "recip":
            return self.bin("divf", self.const(1.0), x)
        if kind == "sigmoid":
            one = self.const(1.0)
            return self.bin("divf", one, self.bin("addf", one, self.intr("exp", arith.negf(x))))
        if kind in ("rsqrt", "tanh", "erf") and self.vendor == "nvidia":
            return getattr(math, kind)(x)
        if kind == "rsqrt":
            return self.bin("divf", self.const(1.0), self.intr("sqrt", x))
        if kind == "tanh":
            return self.tanh(x)
        if kind == "erf":
            return self.erf(x)
        raise PassError(f"unsupported unary op gir.{kind} on the GPU")

    def tanh(self, x: ir.Value) -> ir.Value:
        """tanh(x) = sign(x) * (1 - e) / (1 + e), e = exp(-2|x|)."""
        one = self.const(1.0)
        e = self.intr("exp", self.bin("mulf", self.const(-2.0), self.intr("absf", x)))
        return math.copysign(self.bin("divf", self.bin("subf", one, e), self.bin("addf", one, e)), x)

    def erf(self, x: ir.Value) -> ir.Value:
        """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)."""
        one = self.const(1.0)
        ax = self.intr("absf", x)
        t = self.bin("divf", one, self.bin("addf", one, self.bin("mulf", self.const(0.3275911), ax)))
        p = self.const(1.061405429)
        for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
            p = self.bin("addf", self.bin("mulf", p, t), self.const(c))
        p = self.bin("mulf", p, t)
        e = self.intr("exp", arith.negf(self.bin("mulf", ax, ax)))
        return math.copysign(self.bin("subf", one, self.bin("mulf", p, e)), x)

    def binary(self, kind: str, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.bin(_BINARY[kind], a, b)


@dataclasses.dataclass
class Kernel:
    func: ir.Operation
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
        return "column-per-block"
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


def column_split(view: tuple, desc: dict) -> int:
    """Thread rows sharing a column program's reduced axis: a power of two giving the launch about
    half the device's resident threads (warps_per_sm / 2 per SM), at most 32 and at most K."""
    A, K, B = view
    units = desc["units"]
    warp, sms = int(units["warp_size"]), int(units.get("sm", units.get("cu", 1)))
    want = sms * int(units.get("warps_per_sm", 64)) // 2 * warp
    most = min(32, int(units.get("max_threads_per_block", 1024)) // warp, 1 << max(0, (K.bit_length() - 1)))
    blocks = -(-(A * B) // warp)
    split = 1
    while split * 2 <= most and blocks * warp * split < want:
        split *= 2
    return split


def gen_kernel(prog: GProgram, desc: dict, vendor: str, schedule: str = "auto",
               rows_per_block: int | None = None, block_threads: int | None = None,
               split: int | None = None) -> Kernel:
    """Build the kernel of `prog` at the current insertion point (inside a gpu.module)."""
    warp = int(desc["units"]["warp_size"])
    sched = choose_schedule(prog, desc, schedule)
    if sched == "transpose-tile":
        return _gen_transpose(prog, vendor)
    rpb, bt = launch_shape(desc, sched, rows_per_block, block_threads)
    if sched == "column-per-block":
        most = int(desc["units"].get("max_threads_per_block", 1024)) // warp
        split = column_split(prog.view, desc) if split is None else split
        if split < 1 or split > most:
            raise PassError(f"column_split={split}: must be between 1 and {most} (threads per block / warp size)")
    return ReduceKernel(prog, desc, vendor, sched, warp, rpb, bt, split or 1).build()


def _gpu_func(prog: GProgram, workgroup: list, block: tuple, grid: tuple, shared: int, attrs: dict):
    """A `gpu.func` kernel taking the program's inputs and outputs as memrefs (and `workgroup`
    shared-memory attributions), with the launch shape as attributes; returns it and its entry block."""
    types = [memref_type(s, d) for _, s, d in prog.args] + [memref_type(s, d) for _, s, d in prog.outputs]
    # generic build: GPUFuncOp's Python constructor sets `kernel` as a discardable `gpu.kernel`
    # attribute, which the NVVM/ROCDL conversions then add a second time
    inherent = {"function_type": ir.TypeAttr.get(ir.FunctionType.get(types, [])),
                "sym_name": ir.StringAttr.get(f"{prog.name}_kernel"), "kernel": ir.UnitAttr.get()}
    if workgroup:
        inherent["workgroup_attributions"] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), len(workgroup))
    fn = ir.Operation.create("gpu.func", regions=1, attributes=inherent)
    set_attrs(fn, {"gpu.known_block_size": array_attr(block, 32), **attrs,
                   "gir.launch": {"grid": array_attr(grid), "block": array_attr(block), "shared_bytes": shared}})
    return fn, fn.regions[0].blocks.append(*types, *workgroup)


class ReduceKernel:
    """Row and column programs: threads over the outer axis, sweeps over the reduced one."""

    def __init__(self, prog: GProgram, desc: dict, vendor: str, sched: str, warp: int,
                 rows_per_block: int = WARPS_PER_BLOCK, block_threads: int = _BLOCK_THREADS, split: int = 1):
        self.prog, self.sched, self.warp, self.split = prog, sched, warp, split
        self.store_guard = None
        self.rows_per_block, self.block_threads = rows_per_block, block_threads
        self.m = DeviceMath(vendor)
        self.level, self.inner = levels(prog)
        self.defs = {op.result: op for op in prog.ops}
        self.argshape = {n: (s, d) for n, s, d in prog.args}
        self.row_form = prog.form == "row"
        if self.row_form:
            R, self.K = prog.view
            self.outer_count = R
        else:
            A, self.K, self.B = prog.view
            self.outer_count = A * self.B
        # widest global access of the target (128-bit: 4 x f32) when rows split into whole vectors
        width = max(1, int(desc.get("vector_bits", 128)) // 32)
        self.vec = width if self.row_form and self.K % width == 0 and self.K >= width else 1
        self.nwarps = self.block_threads // warp
        self.reduces = [op for op in prog.ops if op.kind == "reduce"]
        if sched == "row-per-block" and self.reduces:
            self.smem_elems = self.nwarps * len(self.reduces)
        elif sched == "column-per-block" and self.reduces and split > 1:
            self.smem_elems = warp * split * len(self.reduces)
        else:
            self.smem_elems = 0
        self.shared_bytes = 4 * self.smem_elems
        self.outer_vals: dict = {}

    def launch(self) -> tuple[tuple, tuple]:
        if self.sched == "row-per-warp":
            return (self.warp * self.rows_per_block, 1, 1), (-(-self.outer_count // self.rows_per_block), 1, 1)
        if self.sched == "row-per-block":
            return (self.block_threads, 1, 1), (self.outer_count, 1, 1)
        return (self.warp * self.split, 1, 1), (-(-self.outer_count // self.warp), 1, 1)

    def build(self) -> Kernel:
        block, grid = self.launch()
        smem_t = memref_type((max(1, self.smem_elems),), "f32", "workgroup")
        workgroup = [smem_t] if self.shared_bytes else []
        launch = {"row-per-warp": {"gir.rows_per_block": self.rows_per_block},
                  "row-per-block": {"gir.block_threads": self.block_threads},
                  "column-per-block": {"gir.column_split": self.split}}.get(self.sched, {})
        fn, entry = _gpu_func(self.prog, workgroup, block, grid, self.shared_bytes, {
            "gir.schedule": self.sched, "gir.vector_width": self.vec, **launch, "gir.row_cache": "none"})
        n_in = len(self.prog.args)
        self.args = {n: entry.arguments[i] for i, (n, _, _) in enumerate(self.prog.args)}
        self.outs = list(entry.arguments)[n_in:n_in + len(self.prog.outputs)]
        self.smem = entry.arguments[-1] if workgroup else None
        with ir.InsertionPoint(entry):
            inb = self.thread_ids()
            with self.m.b.if_(inb):
                self.outer_index()
                self.reg_groups = self.register_groups()
                for L in range(max([self.level[o.result] for o in self.reduces] + [0]) + 1):
                    self.sweep(L)
                self.store_outer_outputs()
            gpu.return_([])
        if self.reg_groups:
            fn.attributes["gir.row_cache"] = ir.StringAttr.get("register")
        return Kernel(fn, f"{self.prog.name}_kernel", grid, block, self.shared_bytes, self.sched, self.vec)

    # -- thread mapping ------------------------------------------------------------------------
    def thread_ids(self) -> ir.Value:
        """Lane / warp / outer index of this thread; returns whether its outer index is in range."""
        m = self.m
        tid, bid = gpu.thread_id(gpu.Dimension.x), gpu.block_id(gpu.Dimension.x)
        self.c0 = m.index(0)
        if self.sched == "row-per-warp":
            wsz = m.index(self.warp)
            self.lane, self.wid = arith.remui(tid, wsz), arith.divui(tid, wsz)
            self.outer = arith.addi(arith.muli(bid, m.index(self.rows_per_block)), self.wid)
            self.t_in, self.nthr = self.lane, wsz
        elif self.sched == "row-per-block":
            self.outer, self.t_in, self.nthr = bid, tid, m.index(self.block_threads)
            wsz = m.index(self.warp)
            self.lane, self.wid = arith.remui(tid, wsz), arith.divui(tid, wsz)
        if self.sched != "column-per-block":
            return m.b.cmpi("ult", self.outer, m.index(self.outer_count))
        # column-per-block: the block's warp-wide run of columns, its thread rows split K
        wsz = m.index(self.warp)
        self.col, self.t_in, self.nthr = arith.remui(tid, wsz), arith.divui(tid, wsz), m.index(self.split)
        outer = arith.addi(arith.muli(bid, wsz), self.col)
        if self.split == 1:
            self.outer = outer
            return m.b.cmpi("ult", outer, m.index(self.outer_count))
        # every thread takes part in the shared-memory combines (barriers): columns past the end
        # compute on the last column and store nothing
        self.store_guard = m.b.cmpi("ult", outer, m.index(self.outer_count))
        self.outer = arith.minui(outer, m.index(self.outer_count - 1))
        return arith.constant(ir.IntegerType.get_signless(1), 1)

    def outer_index(self) -> None:
        if self.row_form:
            self.idx_outer = {0: self.outer}
        else:
            bsz = self.m.index(self.B)
            self.idx_outer = {0: arith.divui(self.outer, bsz), 2: arith.remui(self.outer, bsz)}

    def index_list(self, shape, inner_idx) -> list:
        return [self.c0 if n == 1 else inner_idx if d == 1 else self.idx_outer[d] for d, n in enumerate(shape)]

    # -- values ------------------------------------------------------------------------------
    def load_scalar(self, name, inner_idx) -> ir.Value:
        shape, dt = self.argshape[name]
        return _to_f32(memref.load(self.args[name], self.index_list(shape, inner_idx)), dt)

    def compute(self, name, get) -> ir.Value:
        """`name` (an op result) given `get(operand)`; shared by outer and inner contexts."""
        op, m = self.defs[name], self.m
        if op.kind == "splat":
            return m.const(op.attrs["value"])
        ins = [get(v) for v in op.operands]
        if op.kind in ("broadcast", "cast"):   # casts: values are f32 inside, stored narrow at the edge
            return ins[0]
        if op.kind == "cmp":
            return m.b.cmpf(_CMP[op.attrs["predicate"]], ins[0], ins[1])
        if op.kind == "select":
            return arith.select(ins[0], ins[1], ins[2])
        if op.kind == "fma":
            return math.fma(ins[0], ins[1], ins[2])
        if len(ins) == 1:
            return m.unary(op.kind, ins[0])
        return m.binary(op.kind, ins[0], ins[1])

    def get_outer(self, name) -> ir.Value:
        """A value constant along the reduced axis, built once (where first needed)."""
        if name not in self.outer_vals:
            self.outer_vals[name] = (self.load_scalar(name, self.c0) if name in self.argshape
                                     else self.compute(name, self.get_outer))
        return self.outer_vals[name]

    def make_getter(self, lane_i, j0, memo, vec_loaded):
        """get(name) at element `lane_i` of the vector group starting at column `j0`."""
        def get_inner(name):
            if not self.inner.get(name, False):
                return self.get_outer(name)
            if name not in memo:
                memo[name] = self.load_inner(name, lane_i, j0, vec_loaded) if name in self.argshape \
                    else self.compute(name, get_inner)
            return memo[name]
        return get_inner

    def load_inner(self, name, lane_i, j0, vec_loaded) -> ir.Value:
        shape, dt = self.argshape[name]
        if self.vec == 1:
            return self.load_scalar(name, j0)
        if name not in vec_loaded:
            vec_loaded[name] = vector.load(ir.VectorType.get([self.vec], element(dt)), self.args[name],
                                           self.index_list(shape, j0), alignment=self.vec * _bytes(dt))
        return _to_f32(vector.extract(vec_loaded[name], [], [lane_i]), dt)

    # -- sweeps ------------------------------------------------------------------------------
    def register_groups(self) -> list:
        """Rows short enough for registers: (start column, validity mask, getters) per vector group."""
        m = self.m
        row_threads = {"row-per-warp": self.warp, "row-per-block": self.block_threads}.get(self.sched, 0)
        nlevels = max([self.level[o.result] for o in self.reduces] + [0]) + 1
        if not row_threads or nlevels <= 1:
            return []
        ng = self.K // self.vec
        groups_per_lane = -(-ng // row_threads)
        if groups_per_lane * self.vec > REGISTER_ROW_ELEMENTS:
            return []
        last = m.index(ng - 1)
        groups = []
        for g in range(groups_per_lane):
            itg = arith.addi(self.t_in, m.index(g * row_threads))
            valid = None
            if (g + 1) * row_threads > ng:   # a last group not covering every thread: clamp + mask
                valid = m.b.cmpi("ult", itg, m.index(ng))
                itg = arith.minui(itg, last)
            j0g = arith.muli(itg, m.index(self.vec)) if self.vec > 1 else itg
            vl: dict = {}
            groups.append((j0g, valid, [self.make_getter(lane, j0g, {}, vl) for lane in range(self.vec)]))
        return groups

    def sweep(self, L: int) -> None:
        """Sweep level L: the reductions whose input is available at L, and the outputs it writes."""
        level, inner = self.level, self.inner
        sweep_reduces = [op for op in self.reduces if level[op.operands[0]] == L and inner[op.operands[0]]]
        sweep_outs = [(i, n, s, d) for i, (n, s, d) in enumerate(self.prog.outputs)
                      if inner.get(n, False) and level[n] == L]
        # reductions over a value that does not vary along the axis: x * K (sum) or x
        for op in self.reduces:
            if level[op.operands[0]] == L and not inner[op.operands[0]]:
                v = self.get_outer(op.operands[0])
                if op.attrs["kind"] == "sum":
                    v = self.m.bin("mulf", v, self.m.const(float(self.K)))
                self.outer_vals[op.result] = v
        if not sweep_reduces and not sweep_outs:
            return
        # values constant along the row that this sweep needs: computed once, outside the loop
        needed = _inner_deps([op.operands[0] for op in sweep_reduces] + [o[1] for o in sweep_outs],
                             self.defs, inner)
        for name in [o.result for o in self.prog.ops if o.result in needed] + [a for a in self.argshape if a in needed]:
            self.get_outer(name)
        inits = [self.m.const(_REDUCE_INIT[op.attrs["kind"]]) for op in sweep_reduces]
        sweep = self.sweep_registers if self.reg_groups else \
            self.sweep_column if self.sched == "column-per-block" else self.sweep_loop
        red_vals = sweep(sweep_reduces, sweep_outs, inits)
        for r_i, op in enumerate(sweep_reduces):
            self.outer_vals[op.result] = self.combine_threads(op, red_vals[r_i], r_i)

    def accumulate(self, reduces, accs, getters, lane_i, valid=None) -> list:
        out = list(accs)
        for r_i, op in enumerate(reduces):
            nv = self.m.bin(_REDUCE_COMBINE[op.attrs["kind"]], out[r_i], getters[lane_i](op.operands[0]))
            out[r_i] = nv if valid is None else arith.select(valid, nv, out[r_i])
        return out

    def sweep_registers(self, reduces, outs, inits) -> list:
        """The "register" level: the row's groups are unrolled and every loaded / computed full-row value
        stays in registers (SSA values) across sweeps, so later sweeps re-read nothing."""
        accs = list(inits)
        for j0g, valid, getters in self.reg_groups:
            for lane_i in range(self.vec):
                accs = self.accumulate(reduces, accs, getters, lane_i, valid)
            stores = [(i, shape, dt, [_from_f32(getters[lane](name), dt) for lane in range(self.vec)])
                      for i, name, shape, dt in outs]
            if not stores:
                continue
            if valid is None:
                self.store_groups(stores, j0g)
            else:
                with self.m.b.if_(valid):
                    self.store_groups(stores, j0g)
        return accs

    def store_groups(self, stores, j0) -> None:
        for i, shape, dt, vals in stores:
            self.store(i, shape, dt, vals, self.index_list(shape, j0))

    def sweep_loop(self, reduces, outs, inits) -> list:
        """Rows too long for registers: a loop over vector groups strided by the row's threads."""
        m = self.m
        with m.b.loop(self.t_in, m.index(self.K // self.vec), self.nthr, inits) as loop:
            j0 = arith.muli(loop.iv, m.index(self.vec)) if self.vec > 1 else loop.iv
            vec_loaded: dict = {}
            getters = [self.make_getter(lane_i, j0, {}, vec_loaded) for lane_i in range(self.vec)]
            accs = loop.args
            for lane_i in range(self.vec):
                accs = self.accumulate(reduces, accs, getters, lane_i)
            for i, name, shape, dt in outs:
                vals = [_from_f32(getters[lane](name), dt) for lane in range(self.vec)]
                self.store(i, shape, dt, vals, self.index_list(shape, j0))
            loop.carried = accs
        return loop.results

    def sweep_column(self, reduces, outs, inits) -> list:
        """Column programs: rounds of COLUMN_UNROLL rows per thread row (rows y + (r*U + u)*S), so U
        independent loads are in flight per thread; the round count is the same for every thread
        (no divergence), rows past K are clamped to the last row and masked."""
        m, U, S = self.m, COLUMN_UNROLL, self.split
        rounds = -(-self.K // (U * S))
        exact = self.K % (U * S) == 0
        last = m.index(self.K - 1)
        with m.b.loop(self.c0, m.index(rounds), m.index(1), inits) as loop:
            base = arith.addi(arith.muli(loop.iv, m.index(U * S)), self.t_in)
            accs = loop.args
            for u in range(U):
                k = arith.addi(base, m.index(u * S))
                valid = None if exact else m.b.cmpi("ult", k, m.index(self.K))
                kc = k if exact else arith.minui(k, last)
                getters = [self.make_getter(0, kc, {}, {})]
                accs = self.accumulate(reduces, accs, getters, 0, valid)
                stores = [(i, shape, dt, [_from_f32(getters[0](name), dt)]) for i, name, shape, dt in outs]
                if not stores:
                    continue
                if valid is None:
                    self.store_groups(stores, kc)
                else:
                    with m.b.if_(valid):
                        self.store_groups(stores, kc)
            loop.carried = accs
        return loop.results

    def combine_threads(self, op, v, slot) -> ir.Value:
        """A reduction's per-thread partial -> the row's value (shuffles, then shared memory)."""
        comb = _REDUCE_COMBINE[op.attrs["kind"]]
        if self.sched in ("row-per-warp", "row-per-block"):
            v = _warp_reduce(self.m, v, comb, self.warp)
        if self.sched == "row-per-block":
            v = _block_reduce(self.m, v, comb, self.lane, self.wid, self.nwarps, slot, self.smem)
        if self.sched == "column-per-block" and self.split > 1:
            v = _column_reduce(self.m, v, comb, self.col, self.t_in, self.warp, self.split, slot, self.smem)
        if op.attrs["kind"] == "mean":
            v = self.m.bin("divf", v, self.m.const(float(self.K)))
        return v

    # -- outputs -----------------------------------------------------------------------------
    def store(self, i, shape, dt, vals, idx) -> None:
        if self.store_guard is not None:
            with self.m.b.if_(self.store_guard):
                self._store(i, shape, dt, vals, idx)
        else:
            self._store(i, shape, dt, vals, idx)

    def _store(self, i, shape, dt, vals, idx) -> None:
        if self.vec > 1:
            vv = vector.from_elements(ir.VectorType.get([self.vec], element(dt)), vals)
            vector.store(vv, self.outs[i], idx, alignment=self.vec * _bytes(dt))
        else:
            memref.store(vals[0], self.outs[i], idx)

    def store_outer_outputs(self) -> None:
        """Outputs constant along the reduced axis ([R,1] / [A,1,B]) are written by thread 0 of the row."""
        for i, (name, shape, dt) in enumerate(self.prog.outputs):
            if self.inner.get(name, False):
                continue
            v = _from_f32(self.get_outer(name), dt)
            first = self.m.b.cmpi("eq", self.t_in, self.c0)
            with self.m.b.if_(first if self.store_guard is None else arith.andi(first, self.store_guard)):
                memref.store(v, self.outs[i], self.index_list(shape, self.c0))


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


def _bytes(dt):
    return {"f32": 4, "f16": 2, "bf16": 2, "i1": 1}[dt]


def _to_f32(v, dt):
    return v if dt == "f32" else arith.extf(element("f32"), v)


def _from_f32(v, dt):
    return v if dt == "f32" else arith.truncf(element(dt), v)


def _warp_reduce(m: DeviceMath, v, comb, warp):
    width = m.b.integer(warp, 32)
    off = warp // 2
    while off >= 1:
        s = gpu.shuffle(v, m.b.integer(off, 32), width, gpu.ShuffleMode.XOR)[0]
        v = m.bin(comb, v, s)
        off //= 2
    return v


def _block_reduce(m: DeviceMath, v, comb, lane, wid, nwarps, slot, smem):
    c0 = m.index(0)
    base = m.index(slot * nwarps)
    first = m.b.cmpi("eq", lane, c0)
    at = arith.addi(base, wid)
    with m.b.if_(first):
        memref.store(v, smem, [at])
    gpu.barrier()
    acc = None
    for w in range(nwarps):
        x = memref.load(smem, [m.index(slot * nwarps + w)])
        acc = x if acc is None else m.bin(comb, acc, x)
    gpu.barrier()
    return acc


def _column_reduce(m: DeviceMath, v, comb, col, row, width, split, slot, smem):
    """Combine the `split` thread rows' partials of each column through shared memory
    ([slot][row][col]: a warp writes and reads consecutive words, no bank conflicts)."""
    base = slot * split * width
    memref.store(v, smem, [arith.addi(m.index(base), arith.addi(arith.muli(row, m.index(width)), col))])
    gpu.barrier()
    acc = None
    for r in range(split):
        x = memref.load(smem, [arith.addi(m.index(base + r * width), col)])
        acc = x if acc is None else m.bin(comb, acc, x)
    gpu.barrier()
    return acc


def _gen_transpose(prog, vendor) -> Kernel:
    m = DeviceMath(vendor)
    (src, (M, N), in_dt), = prog.args
    out_dt = prog.outputs[0][2]
    T, ROWS = 32, 8
    grid, block = (-(-N // T), -(-M // T), 1), (T, ROWS, 1)
    shared = T * (T + 1) * 4
    fn, entry = _gpu_func(prog, [memref_type((T, T + 1), "f32", "workgroup")], block, grid, shared,
                          {"gir.schedule": "transpose-tile", "gir.vector_width": 1})
    x, out, tile = entry.arguments
    with ir.InsertionPoint(entry):
        tx, ty = gpu.thread_id(gpu.Dimension.x), gpu.thread_id(gpu.Dimension.y)
        bx, by = gpu.block_id(gpu.Dimension.x), gpu.block_id(gpu.Dimension.y)
        c0, cT, cR = m.index(0), m.index(T), m.index(ROWS)
        cM, cN = m.index(M), m.index(N)
        bxT, byT = arith.muli(bx, cT), arith.muli(by, cT)

        def inside(r, c, rows, cols):
            return arith.andi(m.b.cmpi("ult", r, rows), m.b.cmpi("ult", c, cols))
        # load tile [by*32 .. +32) x [bx*32 .. +32) into shared
        with m.b.loop(c0, cT, cR) as i:
            ry = arith.addi(ty, i.iv)
            r, c = arith.addi(byT, ry), arith.addi(bxT, tx)
            with m.b.if_(inside(r, c, cM, cN)):
                memref.store(_to_f32(memref.load(x, [r, c]), in_dt), tile, [ry, tx])
        gpu.barrier()
        with m.b.loop(c0, cT, cR) as i:
            ry = arith.addi(ty, i.iv)
            r = arith.addi(bxT, ry)   # output row (over N)
            c = arith.addi(byT, tx)   # output col (over M)
            with m.b.if_(inside(r, c, cN, cM)):
                memref.store(_from_f32(memref.load(tile, [tx, ry]), out_dt), out, [r, c])
        gpu.return_([])
    return Kernel(fn, f"{prog.name}_kernel", grid, block, shared, "transpose-tile", 1)


def build_gpu_module(prog: GProgram, desc: dict, vendor: str, schedule: str = "auto",
                     rows_per_block: int | None = None, block_threads: int | None = None,
                     column_split: int | None = None) -> Kernel:
    """A `gpu.module` holding the kernel of `prog`, built at the current insertion point."""
    mod = gpu.GPUModuleOp(f"{prog.name}_gpu")
    set_attrs(mod, {"gir.target": desc["name"], "gir.arch": desc.get("arch", "")})
    with ir.InsertionPoint(mod.bodyRegion.blocks.append()):
        return gen_kernel(prog, desc, vendor, schedule, rows_per_block, block_threads, column_split)
