"""MLU lowering: tensor-level GIR -> the `mlu` dialect (BANG-style primitives), and its checks.

  gir-to-mlu{target=mlu370 schedule=fused|naive}
      fused (GIR's data movement): rows (row form) / (a, b-chunk) units (column form) are spread
      over all tasks (clusters x 4 cores); a task moves a tile of T rows GDRAM->NRAM once, runs every
      op of the program on it in NRAM (all sweeps of a softmax/layernorm reuse the on-chip tile) and
      writes only the outputs back. Operands constant across rows ([1, C] weights, scalars) are
      staged once per cluster GDRAM->SRAM by core 0, `mlu.sync_cluster`, then SRAM->NRAM per core.
      T is the largest tile whose NRAM buffers fit the target's NRAM (64 B aligned buffers, rows padded
      to 128 B vector granules); if even one row does not fit it is a compile error naming the buffer.
      naive (for comparison, no on-chip reuse): one stage per GIR op, each reading its operands from
      GDRAM and writing its result to a GDRAM scratch buffer (what op-by-op execution does).
  mlu-check-capacity
      checks every `mlu.alloc` of a function against the target's NRAM/WRAM/SRAM capacities (sum of
      64 B aligned buffers per core / cluster) and the 128 B vector-row alignment rule.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math

from torch_mlir import ir
from torch_mlir.dialects import arith
from torch_mlir.dialects import func as func_d

from girflow.dialects import mlu, targets
from girflow.passes.function_view import extract, gir_funcs
from girflow.passes.ir_builder import Builder, array_attr, move_before, scratch_module, set_attrs
from girflow.passes.ir_builder import memref as memref_type
from girflow.passes.ir_utils import collect_ops, shape_of, str_attr
from girflow.passes.options import option
from girflow.passes.registry import PassError, gir_pass

ALIGN_BYTES = 64          # buffer start alignment (NRAM/SRAM)
VECTOR_ROW_BYTES = 128    # vector op rows are padded to this
_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "i1": 4}
_ACTIVE = {"exp", "log", "tanh", "erf", "rsqrt", "sqrt", "neg", "abs", "recip", "sigmoid"}
_BIN = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "max": "maximum", "min": "minimum"}


class MluCapacityError(PassError):
    pass


def _pad(n, m):
    return -(-n // m) * m


def buffer_bytes(shape, dtype) -> int:
    return _pad(max(1, math.prod(shape)) * _BYTES.get(dtype, 4), ALIGN_BYTES)


class MluLowering:
    def __init__(self, func, desc, schedule="fused"):
        self.prog = extract(func)
        self.func = func
        self.desc = desc
        self.schedule = schedule
        lv = desc["memory_levels"]
        self.nram_cap = lv["NRAM"]["capacity_bytes"]
        self.sram_cap = lv["SRAM"]["capacity_bytes"]
        u = desc["units"]
        self.cores_per_cluster = int(u["core_per_cluster"])
        self.total_cores = int(u["cluster"]) * self.cores_per_cluster
        p = self.prog
        self.shapes = {n: (s, d) for n, s, d in p.args}
        for op in p.ops:
            self.shapes[op.result] = (op.shape, op.dtype)
        self.defs = {op.result: op for op in p.ops}
        self.alias = {}   # broadcast results -> their operand
        for op in p.ops:
            if op.kind == "broadcast":
                self.alias[op.result] = self.alias.get(op.operands[0], op.operands[0])
        self.outputs = [n for n, _, _ in p.outputs]
        self.pad_elems = VECTOR_ROW_BYTES // 2   # 64 elements: a 128 B granule for 2-byte types too
        self.b = Builder()

    # -- geometry ----------------------------------------------------------------------------
    def real(self, v):
        return self.alias.get(v, v)

    def tile_shape(self, v, T, BC=None):
        s, _ = self.shapes[v]
        p = self.prog
        if p.form == "row":
            return (T if s[0] > 1 else 1, _pad(s[1], self.pad_elems) if s[1] > 1 else 1)
        return (s[1] if s[1] > 1 else 1, _pad(BC, self.pad_elems) if s[2] > 1 else 1)

    def invariant_arg(self, v):
        s, _ = self.shapes[v]
        if self.prog.form == "row":
            return s[0] == 1
        return s[0] == 1 and s[2] == 1

    def invariant(self, v):
        v = self.real(v)
        if v in dict((n, 1) for n, _, _ in self.prog.args):
            return self.invariant_arg(v)
        op = self.defs[v]
        if op.kind == "splat":
            return True
        return all(self.invariant(o) for o in op.operands)

    # -- buffers for one stage ---------------------------------------------------------------
    def stage_buffers(self, ops, inputs):
        """value -> dtype of NRAM buffers the stage needs (inputs loaded, op results)."""
        bufs = {}
        for v in inputs:
            bufs[v] = self.shapes[v][1]
        for op in ops:
            if op.kind == "broadcast" and op.result not in self.outputs:
                continue
            bufs[op.result] = "f32" if op.kind != "cmp" else "f32"
            if op.kind == "cast":
                bufs[op.result] = op.dtype
            if op.kind == "reduce" and op.attrs.get("kind") == "mean":
                bufs[op.result + "_inv_k"] = "f32"
        return bufs

    def share_buffers(self, ops, needed, bufs, stores):
        """value -> NRAM slot (a representative value): values of the unit loop whose live ranges do not
        overlap share one buffer (same shape class and dtype); invariants keep their own."""
        slot_of = {v: v for v in bufs}
        if self.schedule != "fused":
            return slot_of
        body = [op for op in ops if not self.invariant(op.result) and op.result in bufs]
        last = {}
        for i, op in enumerate(body):
            for o in op.operands:
                last[self.real(o)] = i
        for v in stores:
            last[self.real(v)] = len(body)
            last[v] = len(body)
        free: dict = {}
        live: list = [v for v in needed if v in bufs and not self.invariant(v)]

        def key(v):
            return (self.tile_shape(v, -1, -1), bufs[v])
        for i, op in enumerate(body):
            for u in list(live):
                if last.get(u, -1) < i:
                    live.remove(u)
                    free.setdefault(key(u), []).append(slot_of[u])
            v = op.result
            pool = free.get(key(v))
            if pool:
                slot_of[v] = pool.pop()
            live.append(v)
        return slot_of

    def fit_tile(self, bufs, limit, BC=None, what="rows"):
        """Largest T (<= limit) whose buffers fit NRAM; a compile error naming the buffers otherwise."""
        def total(T):
            return sum(buffer_bytes(self.tile_shape_any(v, T, BC), dt) for v, dt in bufs.items())
        if total(1) > self.nram_cap:
            sizes = sorted(((buffer_bytes(self.tile_shape_any(v, 1, BC), dt), v, dt) for v, dt in bufs.items()),
                           reverse=True)
            big = sizes[0]
            shape = self.tile_shape_any(big[1], 1, BC)
            raise MluCapacityError(
                f"NRAM overflow on target '{self.desc['name']}': one tile needs {total(1)} bytes of NRAM "
                f"(capacity {self.nram_cap} bytes per core); largest buffer '{big[1][1:]}' is "
                f"{'x'.join(map(str, shape))} {big[2]} = {big[0]} bytes", self.func)
        lo, hi = 1, max(1, limit)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if total(mid) <= self.nram_cap:
                lo = mid
            else:
                hi = mid - 1
        return lo, total(lo)

    def tile_shape_any(self, v, T, BC=None):
        if v.endswith("_inv_k"):
            return (1, 1)
        return self.tile_shape(v, T, BC)

    # -- building the MLU-form function -------------------------------------------------------
    def build(self) -> func_d.FuncOp:
        """The MLU-form function `@<name>_mlu`, built at the current insertion point."""
        p = self.prog
        if p.form == "transpose":
            return self._transpose()
        params = [memref_type(s, d) for _, s, d in p.args] + [memref_type(s, d) for _, s, d in p.outputs]
        fn, args = self._func(params)
        self.gdram = {n: args[i] for i, (n, _, _) in enumerate(p.args)}
        outs = args[len(p.args):]
        for i, (n, _, _) in enumerate(p.outputs):
            self.gdram.setdefault(n, outs[i])
        self.ntasks = self._ntasks()
        self.tiles: list = []
        with ir.InsertionPoint(fn.entry_block):
            task = _mlu(mlu.ID_OPS["task_id"], ir.IndexType.get()).result
            stages = self._naive_scratch() if self.schedule == "naive" else [list(p.ops)]
            for k, ops in enumerate(stages):
                if ops:
                    self._stage(task, ops, last=(k == len(stages) - 1))
            self._copy_input_outputs(task, outs)
            func_d.ReturnOp([])
        self._launch_attrs(fn, self.tiles or [1])
        return fn

    def _naive_scratch(self) -> list:
        """Naive schedule: every intermediate value in a GDRAM scratch buffer; one stage per op."""
        p = self.prog
        for op in p.ops:
            if op.result in self.gdram or (op.kind == "broadcast" and op.result not in self.outputs):
                continue
            s, d = self.shapes[op.result]
            self.gdram[op.result] = _mlu(mlu.AllocOp, "GDRAM", f"{op.result[1:]}_scratch", memref_type(s, d)).result
        return [[op] for op in p.ops if not (op.kind == "broadcast" and op.result not in self.outputs)]

    def _copy_input_outputs(self, task, outs) -> None:
        """Outputs that are inputs: one GDRAM->GDRAM copy by task 0."""
        b = self.b
        arg_names = {n for n, _, _ in self.prog.args}
        for i, (n, s, d) in enumerate(self.prog.outputs):
            if self.real(n) in arg_names and tuple(self.shapes[self.real(n)][0]) == tuple(s):
                c0, size = b.index(0), b.index(math.prod(s))
                with b.if_(b.cmpi("eq", task, c0)):
                    _mlu(mlu.MemcpyOp, outs[i], self.gdram[self.real(n)], c0, c0, b.index(1), size, size, size,
                         "GDRAM2GDRAM")

    def _func(self, params: list):
        fn = func_d.FuncOp(f"{self.prog.name}_mlu", ir.FunctionType.get(params, []))
        return fn, list(fn.add_entry_block().arguments)

    def _launch_attrs(self, fn, tile) -> None:
        """The launch shape (clusters x cores, tasks) and tile, as attributes of the function."""
        set_attrs(fn, {"mlu.target": self.desc["name"], "mlu.schedule": self.schedule,
                       "mlu.launch": {"clusters": -(-self.ntasks // self.cores_per_cluster),
                                      "cores_per_cluster": self.cores_per_cluster, "tasks": self.ntasks},
                       "mlu.tile": array_attr(tile)})

    def _units(self):
        p = self.prog
        if p.form == "row":
            return p.view[0]
        A, K, B = p.view
        return A * max(1, -(-B // self._bc()))

    def _bc(self):
        """Column-form chunk of B per unit: enough units for every core, 64-element granules, <= 256."""
        A, K, B = self.prog.view
        per_a = max(1, self.total_cores // max(A, 1))
        return min(B, 256, max(64, _pad(-(-B // per_a), self.pad_elems)))

    def _ntasks(self):
        units = self._units()
        # whole clusters (Union1): at most all cores, at least one cluster
        n = min(self.total_cores, units)
        return _pad(n, self.cores_per_cluster)

    # -- one stage: load a tile, compute every op on it, store -----------------------------------
    def _stage(self, task, ops, last):
        needed, stores, bufs_all, slot_of, bufs = self._stage_plan(ops)
        T, BC, extents_inv = self._stage_tile(bufs)
        nb = self._alloc_nram(bufs, bufs_all, slot_of, T, BC)
        b = self.b
        c0 = b.index(0)
        inv_rows, inv_cols = b.index(extents_inv[0]), b.index(extents_inv[1])
        inv_inputs = [v for v in needed if self.invariant(v)]
        for v in inv_inputs:
            self._load_invariant(v, nb)
        hoisted = [op for op in ops if self.invariant(op.result)]
        for op in hoisted:
            self._compute(op, nb, inv_rows, inv_cols)
        with self._unit_loop(task, T, BC) as (rows, cols, pos):
            for v in needed:
                if v not in inv_inputs:
                    s, dt = self.shapes[v]
                    src_off, seg, seglen, stride = self._gdram_geometry(v, pos)
                    self._memcpy(nb[v], (self.gdram[v], s, dt), c0, src_off, seg, seglen, nb[v][1][1], stride,
                                 "GDRAM2NRAM")
            for op in ops:
                if op not in hoisted:
                    self._compute(op, nb, rows, cols)
            for v in stores:
                self._store(v, nb, pos)
        _mlu(mlu.SYNC_OPS["sync"])
        if self.schedule == "naive" and not last:
            _mlu(mlu.SYNC_OPS["launch_boundary"])

    def _stage_plan(self, ops):
        """The stage's inputs, stored values, NRAM buffers (value -> dtype) and their shared slots."""
        produced = {op.result for op in ops}
        needed: list = []
        for op in ops:
            for o in op.operands:
                r = self.real(o)
                if r not in produced and r not in needed:
                    needed.append(r)
        if self.schedule == "naive":
            stores = [ops[0].result]
        else:
            stores = [v for v in self.outputs if self.real(v) in produced or v in produced]
        bufs = self.stage_buffers(ops, needed)
        slot_of = self.share_buffers(ops, needed, bufs, stores)
        slots: dict = {}
        for v, dt in bufs.items():
            slots.setdefault(slot_of[v], dt)
        return needed, stores, bufs, slot_of, slots

    def _stage_tile(self, bufs):
        """Tile rows T (row form) or the B chunk (column form) fitting NRAM, and the invariant extents."""
        p = self.prog
        if p.form == "row":
            R, C = p.view
            T, _ = self.fit_tile(bufs, -(-R // self.ntasks))
            self.tiles.append(T)
            return T, None, (1, C)
        A, K, B = p.view
        BC = self._bc()
        T, _ = self.fit_tile(bufs, 1, BC)
        self.tiles.append(T)
        return T, BC, (K, 1)

    def _alloc_nram(self, bufs, bufs_all, slot_of, T, BC) -> dict:
        """value -> (NRAM buffer, shape, dtype); values sharing a slot share its buffer."""
        nb = {}
        for v, dt in bufs.items():
            shape = self.tile_shape_any(v, T, BC)
            nb[v] = (_mlu(mlu.AllocOp, "NRAM", v[1:], memref_type(shape, dt)).result, shape, dt)
        for v in bufs_all:
            nb[v] = nb[slot_of[v]]
        return nb

    def _load_invariant(self, v, nb) -> None:
        """An input constant across units: once per task (fused: through the cluster's SRAM)."""
        b = self.b
        c0, c1 = b.index(0), b.index(1)
        s, dt = self.shapes[v]
        seg, seglen, stride = self._gdram_geometry_inv(v)
        if self.schedule == "fused" and math.prod(s) > 1:
            sshape = (1, _pad(math.prod(s), self.pad_elems))
            sb = _mlu(mlu.AllocOp, "SRAM", f"{v[1:]}_sram", memref_type(sshape, dt)).result
            core = _mlu(mlu.ID_OPS["core_id"], ir.IndexType.get()).result
            first = b.cmpi("eq", core, c0)
            n = b.index(math.prod(s))
            with b.if_(first):
                _mlu(mlu.MemcpyOp, sb, self.gdram[v], c0, c0, c1, n, n, n, "GDRAM2SRAM")
            _mlu(mlu.SYNC_OPS["sync_cluster"])
            self._memcpy(nb[v], (sb, sshape, dt), c0, c0, seg, seglen, nb[v][1][1], stride, "SRAM2NRAM")
        else:
            self._memcpy(nb[v], (self.gdram[v], s, dt), c0, c0, seg, seglen, nb[v][1][1], stride, "GDRAM2NRAM")

    @contextlib.contextmanager
    def _unit_loop(self, task, T, BC):
        """The loop over this task's units: tiles of T rows (row form) or (a, B chunk) (column form).
        Yields the valid (rows, cols) extents and the unit's position."""
        p, b = self.prog, self.b
        if p.form == "row":
            R, C = p.view
            rpt = -(-R // self.ntasks)
            start = arith.muli(task, b.index(rpt))
            end = arith.minui(arith.addi(start, b.index(rpt)), b.index(R))
            Tc = b.index(T)
            with b.loop(start, end, Tc) as loop:
                n = arith.minui(Tc, arith.subi(end, loop.iv))
                yield n, b.index(C), {"r0": loop.iv, "n": n}
            return
        A, K, B = p.view
        nbc = -(-B // BC)
        with b.loop(task, b.index(A * nbc), b.index(self.ntasks)) as loop:
            a = arith.divui(loop.iv, b.index(nbc))
            b0 = arith.muli(arith.remui(loop.iv, b.index(nbc)), b.index(BC))
            nbv = arith.minui(b.index(BC), arith.subi(b.index(B), b0))
            yield b.index(K), nbv, {"a": a, "b0": b0, "nb": nbv}

    def _store(self, v, nb, pos) -> None:
        r = v if v in nb else self.real(v)
        s, dt = self.shapes[v]
        dst = self.gdram.get(v) or self.gdram[r]
        off, seg, seglen, stride = self._gdram_geometry(v, pos)
        self._memcpy((dst, s, dt), nb[r], off, self.b.index(0), seg, seglen, stride, nb[r][1][1], "NRAM2GDRAM")

    def _gdram_geometry_inv(self, v):
        s, _ = self.shapes[v]
        idx = self.b.index
        if self.prog.form == "row":
            return idx(1), idx(s[1]), idx(s[1])
        return idx(s[1]), idx(1), idx(1)

    def _gdram_geometry(self, v, pos):
        s, _ = self.shapes[v]
        idx = self.b.index
        if self.prog.form == "row":
            if s[0] > 1:
                off = arith.muli(pos["r0"], idx(s[1]))
                return off, pos["n"], idx(s[1]), idx(s[1])
            return idx(0), idx(1), idx(s[1]), idx(s[1])
        a_part = arith.muli(pos["a"], idx(s[1] * s[2])) if s[0] > 1 else idx(0)
        off = arith.addi(a_part, pos["b0"] if s[2] > 1 else idx(0))
        seglen = pos["nb"] if s[2] > 1 else idx(1)
        return off, idx(s[1]), seglen, idx(s[2])

    def _memcpy(self, dst, src, doff, soff, seg, seglen, dstride, sstride, direction):
        dstride = dstride if isinstance(dstride, ir.Value) else self.b.index(dstride)
        sstride = sstride if isinstance(sstride, ir.Value) else self.b.index(sstride)
        _mlu(mlu.MemcpyOp, dst[0], src[0], doff, soff, seg, seglen, dstride, sstride, direction)

    def _compute(self, op, nb, rows, cols):
        """The NRAM vector op(s) of one GIR op over the valid [rows, cols] region."""
        k = op.kind

        def buf(v):
            return (nb[self.real(v)] if self.real(v) in nb else nb[v])[0]
        if k == "broadcast":
            if op.result in nb:
                _mlu(mlu.MOVE_OPS["move"], nb[op.result][0], buf(op.operands[0]), rows, cols)
            return
        d = nb[op.result][0]
        ins = [buf(v) for v in op.operands]
        if k == "splat":
            _mlu(mlu.FillOp, d, float(op.attrs["value"]))
        elif k in _ACTIVE:
            _mlu(mlu.ActiveOp, d, ins[0], rows, cols, k)
        elif k in _BIN:
            _mlu(mlu.BINARY_OPS[_BIN[k]], d, ins[0], ins[1], rows, cols)
        elif k == "cast":
            _mlu(mlu.MOVE_OPS["convert"], d, ins[0], rows, cols)
        elif k == "cmp":
            _mlu(mlu.CmpOp, d, ins[0], ins[1], rows, cols, op.attrs["predicate"])
        elif k == "select":
            _mlu(mlu.SelectOp, d, *ins, rows, cols)
        elif k == "fma":
            _mlu(mlu.BINARY_OPS["mul"], d, ins[0], ins[1], rows, cols)
            _mlu(mlu.BINARY_OPS["add"], d, d, ins[2], rows, cols)
        elif k == "reduce":
            self._reduce(op, d, ins[0], nb, rows, cols)
        else:
            raise PassError(f"gir.{k} has no MLU lowering", self.func)

    def _reduce(self, op, d, src, nb, rows, cols):
        axis = 1 if self.prog.form == "row" else 0
        kind = op.attrs["kind"]
        _mlu(mlu.ReduceOp, d, src, rows, cols, "sum" if kind == "mean" else kind, axis)
        if kind == "mean":
            kb = nb[op.result + "_inv_k"][0]
            _mlu(mlu.FillOp, kb, 1.0 / self.prog.view[1])
            _mlu(mlu.BINARY_OPS["mul"], d, d, kb, rows, cols)

    def _transpose(self):
        """Tiles of T rows x NC columns: GDRAM->NRAM (strided), mlu.transpose, NRAM->GDRAM (strided)."""
        p, b = self.prog, self.b
        (_, (M, N), dt), = p.args
        odt = p.outputs[0][2]
        self.ntasks = _pad(min(self.total_cores, M), self.cores_per_cluster)
        rpt = -(-M // self.ntasks)
        T = max(1, min(rpt, self.pad_elems))
        Tp = _pad(T, self.pad_elems)

        def cost(nc):
            return buffer_bytes((T, _pad(nc, self.pad_elems)), dt) + buffer_bytes((nc, Tp), dt)
        NC = min(_pad(N, self.pad_elems), 4096)
        while NC > self.pad_elems and cost(NC) > self.nram_cap:
            NC -= self.pad_elems
        if cost(NC) > self.nram_cap:
            raise MluCapacityError(f"NRAM overflow on target '{self.desc['name']}': transpose tiles need "
                                   f"{cost(NC)} bytes, capacity {self.nram_cap} bytes", self.func)
        NCp = _pad(NC, self.pad_elems)
        self.tiles = [T, NC]
        fn, (src, out) = self._func([memref_type((M, N), dt), memref_type((N, M), odt)])
        with ir.InsertionPoint(fn.entry_block):
            task = _mlu(mlu.ID_OPS["task_id"], ir.IndexType.get()).result
            ib = _mlu(mlu.AllocOp, "NRAM", "in_tile", memref_type((T, NCp), dt)).result
            ob = _mlu(mlu.AllocOp, "NRAM", "out_tile", memref_type((NC, Tp), dt)).result
            c0 = b.index(0)
            start = arith.muli(task, b.index(rpt))
            end = arith.minui(arith.addi(start, b.index(rpt)), b.index(M))
            Tc, NCc, cN, cM = b.index(T), b.index(NC), b.index(N), b.index(M)
            with b.loop(start, end, Tc) as r:
                n = arith.minui(Tc, arith.subi(end, r.iv))
                with b.loop(c0, cN, NCc) as q:
                    nc = arith.minui(NCc, arith.subi(cN, q.iv))
                    soff = arith.addi(arith.muli(r.iv, cN), q.iv)
                    _mlu(mlu.MemcpyOp, ib, src, c0, soff, n, nc, b.index(NCp), cN, "GDRAM2NRAM")
                    _mlu(mlu.MOVE_OPS["transpose"], ob, ib, n, nc)
                    doff = arith.addi(arith.muli(q.iv, cM), r.iv)
                    _mlu(mlu.MemcpyOp, out, ob, doff, c0, nc, n, cM, b.index(Tp), "NRAM2GDRAM")
            func_d.ReturnOp([])
        self._launch_attrs(fn, [T, NC])
        return fn


def _mlu(cls, *args):
    return Builder.ext_op(cls, *args)


def lower_function(func_op, desc, schedule="fused") -> func_d.FuncOp:
    """The MLU form of one tensor-level GIR function, built at the current insertion point."""
    return MluLowering(func_op, desc, schedule).build()


def resolve(name):
    try:
        desc = targets.get(name)
    except ValueError as e:
        raise PassError(str(e))
    if desc["kind"] != "mlu":
        raise PassError(f"target '{name}' is not an MLU target")
    return desc


def lower_module(module, desc, schedule="fused") -> None:
    for gir_func in gir_funcs(module):
        with scratch_module(module.context, gir_func.location) as scratch:
            with ir.InsertionPoint(scratch.body):
                lower_function(gir_func, desc, schedule)
            move_before(scratch, gir_func)
        gir_func.erase()


@dataclasses.dataclass
class GirToMluOptions:
    target: str = option("mlu370", "MLU target description")
    schedule: str = option("fused", "fused (on-chip reuse) | naive (every op through GDRAM)")


@gir_pass("gir-to-mlu", "GIR -> mlu dialect (BANG-style memcpy / NRAM vector ops / task ids / cluster sync)",
          GirToMluOptions)
def gir_to_mlu(module, options: GirToMluOptions):
    if options.schedule not in ("fused", "naive"):
        raise PassError(f"unknown MLU schedule '{options.schedule}' (fused | naive)")
    lower_module(module, resolve(options.target), options.schedule)


def check_function(func, desc):
    """Capacity and alignment checks of an MLU-form function (raises PassError naming the buffer)."""
    lv = desc["memory_levels"]
    used = {"NRAM": 0, "WRAM": 0, "SRAM": 0}
    for op in collect_ops(func, "mlu."):
        if op.name == "mlu.launch_boundary":
            used = {k: 0 for k in used}
            continue
        if op.name != "mlu.alloc":
            continue
        space = str_attr(op, "space")
        if space == "GDRAM":
            continue
        shape = shape_of(op.results[0])
        et = str(ir.ShapedType(op.results[0].type).element_type)
        size = buffer_bytes(shape, et)
        if len(shape) == 2 and shape[1] > 1 and (shape[1] * _BYTES.get(et, 4)) % VECTOR_ROW_BYTES:
            raise PassError(f"buffer '{str_attr(op, 'name')}' rows of {shape[1]} x {et} are not a multiple of "
                            f"{VECTOR_ROW_BYTES} bytes (vector alignment rule of '{desc['name']}')", op)
        used[space] += size
        cap = lv[space]["capacity_bytes"]
        if used[space] > cap:
            raise PassError(f"{space} overflow: buffer '{str_attr(op, 'name')}' "
                            f"({'x'.join(map(str, shape))} {et} = {size} bytes) brings {space} use to "
                            f"{used[space]} bytes; capacity of '{desc['name']}' is {cap} bytes", op)
    return used


@dataclasses.dataclass
class CapacityOptions:
    target: str | None = option(None, "MLU target description (default: the function's mlu.target, else mlu370)")


@dataclasses.dataclass
class EstimateOptions:
    seed: int = option(0, "random seed for the inputs")


@gir_pass("mlu-check-capacity", "check mlu.alloc buffers against the target's NRAM/WRAM/SRAM capacity and alignment",
          CapacityOptions)
def mlu_check_capacity(module, options: CapacityOptions):
    for func in collect_ops(module, "func.func"):
        name = options.target or str_attr(func, "mlu.target", "mlu370")
        check_function(func, resolve(name))


@gir_pass("mlu-estimate", "run each MLU-form function on the emulator (random inputs) and attach its modelled "
          "time, bytes per memory level and instructions per unit as `mlu.model`",
          EstimateOptions)
def mlu_estimate(module, options: EstimateOptions):
    import numpy as np

    from girflow.passes.emulators.mlu import MluError, emulate_function

    rng = np.random.default_rng(options.seed)
    for func in collect_ops(module, "func.func"):
        if "mlu.launch" not in func.attributes:
            continue
        name = str_attr(func, "mlu.target", "mlu370")
        desc = resolve(name)
        body = func.regions[0].blocks[0]
        outs = sum(1 for a in body.arguments if a.get_name().startswith("%out"))
        ins = [rng.uniform(0.5, 1.5, shape_of(a)).astype(np.float32) for a in list(body.arguments)[:len(body.arguments) - outs]]
        try:
            _, st = emulate_function(func, ins, desc)
        except MluError as e:
            raise PassError(f"emulation failed: {e}", func)
        i64 = ir.IntegerType.get_signless(64, module.context)
        with module.context:
            fields = {"time_ns": ir.IntegerAttr.get(i64, int(round(st.model["time_us"] * 1000))),
                      "bound": ir.StringAttr.get(st.model["bound"])}
            for lvl in ("GDRAM", "SRAM", "NRAM"):
                fields[f"{lvl}_bytes"] = ir.IntegerAttr.get(i64, st.bytes_moved(lvl))
            for unit, n in sorted(st.instructions.items()):
                fields[f"{unit}_instructions"] = ir.IntegerAttr.get(i64, n)
            func.attributes["mlu.model"] = ir.DictAttr.get(fields)


def lower_text(module_text: str, desc: dict, schedule: str = "fused", usage: dict | None = None) -> str:
    """The MLU-form module text of a tensor-level GIR module (runs gir-to-mlu and the capacity check;
    `usage`, if given, receives the on-chip bytes per level)."""
    from girflow.dialects import make_context

    ctx = make_context()
    with ctx, ir.Location.unknown():
        module = ir.Module.parse(module_text)
        lower_module(module.operation, desc, schedule)
        for func in module.body.operations:
            used = check_function(func.operation, desc)
            if usage is not None:
                usage.update(used)
        return str(module)
