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

import dataclasses
import math

from torch_mlir import ir

from girflow.dialects import targets
from girflow.passes.function_view import extract, gir_funcs
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


def _flt(v: float) -> str:
    """An MLIR f32 literal (hex for inf/nan)."""
    v = float(v)
    if math.isinf(v):
        return "0x7F800000" if v > 0 else "0xFF800000"
    if math.isnan(v):
        return "0x7FC00000"
    return f"{v:.9e}"


def _mt(shape, dt):
    return f"memref<{'x'.join(map(str, shape))}x{dt}>"


class _Text:
    def __init__(self):
        self.lines, self.n, self.ind = [], 0, 2
        self.consts = {}

    def emit(self, s):
        self.lines.append(" " * self.ind + s)

    def op(self, s, hint="v"):
        self.n += 1
        v = f"%{hint}{self.n}"
        self.emit(f"{v} = {s}")
        return v

    def idx(self, k):
        return self.op(f"arith.constant {int(k)} : index", "c")


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

    # -- text generation ---------------------------------------------------------------------
    def lower(self) -> str:
        p = self.prog
        if p.form == "transpose":
            return self._transpose()
        X = _Text()
        args = [f"{n}: {_mt(s, d)}" for n, s, d in p.args]
        outs = [f"%out{i}: {_mt(s, d)}" for i, (_, s, d) in enumerate(p.outputs)]
        self.gdram = {n: n for n, _, _ in p.args}
        for i, (n, _, _) in enumerate(p.outputs):
            self.gdram.setdefault(n, f"%out{i}")
        task = X.op('"mlu.task_id"() : () -> index', "task")
        if self.schedule == "naive":
            # every intermediate value lives in a GDRAM scratch buffer
            for op in p.ops:
                if op.result in self.gdram or (op.kind == "broadcast" and op.result not in self.outputs):
                    continue
                s, d = self.shapes[op.result]
                self.gdram[op.result] = X.op(f'"mlu.alloc"() {{space = "GDRAM", name = "{op.result[1:]}_scratch"}} '
                                             f': () -> {_mt(s, d)}', "g")
            stages = [[op] for op in p.ops if not (op.kind == "broadcast" and op.result not in self.outputs)]
        else:
            stages = [list(p.ops)]
        self.ntasks = self._ntasks()
        self.tiles: list = []
        for k, ops in enumerate(stages):
            if ops:
                self._stage(X, task, ops, k, last=(k == len(stages) - 1))
        # outputs that are inputs: one GDRAM->GDRAM copy by task 0
        arg_names = {n for n, _, _ in p.args}
        for i, (n, s, d) in enumerate(p.outputs):
            if self.real(n) in arg_names and tuple(self.shapes[self.real(n)][0]) == tuple(s):
                c0, size = X.idx(0), X.idx(math.prod(s))
                first = X.op(f"arith.cmpi eq, {task}, {c0} : index")
                X.emit(f"scf.if {first} {{")
                X.emit(f'  "mlu.memcpy"(%out{i}, {self.real(n)}, {c0}, {c0}, {X.idx(1)}, {size}, {size}, {size}) '
                       f'{{direction = "GDRAM2GDRAM"}} : ({_mt(s, d)}, {_mt(s, d)}, {", ".join(["index"] * 6)}) -> ()')
                X.emit("}")
        X.emit("return")
        return self._func_text(p.name, args + outs, self.tiles or [1], X.lines)

    def _func_text(self, name, params, tile, lines) -> str:
        """The MLU-form function: launch shape (clusters x cores, tasks) and tile as attributes."""
        attrs = (f'mlu.target = "{self.desc["name"]}", mlu.schedule = "{self.schedule}", '
                 f'mlu.launch = {{clusters = {-(-self.ntasks // self.cores_per_cluster)} : i64, '
                 f'cores_per_cluster = {self.cores_per_cluster} : i64, tasks = {self.ntasks} : i64}}, '
                 f'mlu.tile = array<i64: {", ".join(map(str, tile))}>')
        return f"func.func @{name}_mlu({', '.join(params)}) attributes {{{attrs}}} {{\n" + "\n".join(lines) + "\n}\n"

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

    def _stage(self, X, task, ops, k, last):
        p = self.prog
        produced = {op.result for op in ops}
        needed = []
        for op in ops:
            for o in op.operands:
                r = self.real(o)
                if r not in produced and r not in needed:
                    needed.append(r)
        stores = [v for v in (self.outputs if self.schedule == "fused" else [ops[0].result])
                  if self.real(v) in produced or v in produced]
        if self.schedule == "naive":
            stores = [ops[0].result]
        bufs = self.stage_buffers(ops, needed)
        slot_of = self.share_buffers(ops, needed, bufs, stores)
        slots = {}
        for v, dt in bufs.items():
            slots.setdefault(slot_of[v], dt)
        bufs_all, bufs = bufs, slots
        if p.form == "row":
            R, C = p.view
            rpt = -(-R // self.ntasks)
            T, nbytes = self.fit_tile(bufs, rpt)
            BC = None
            extents_inv = (1, C)
        else:
            A, K, B = p.view
            BC = self._bc()
            T, nbytes = self.fit_tile(bufs, 1, BC)
            extents_inv = (K, 1)
        self.tiles.append(T)
        X.emit(f"// stage {k}: {', '.join(op.kind for op in ops)}; tile {T} x "
               f"{'x'.join(map(str, self.tile_shape(ops[-1].result, T, BC)))}, {nbytes} bytes NRAM per core")
        nb = {}
        for v, dt in bufs.items():
            shape = self.tile_shape_any(v, T, BC)
            nb[v] = (X.op(f'"mlu.alloc"() {{space = "NRAM", name = "{v[1:]}"}} : () -> {_mt(shape, dt)}', "n"),
                     shape, dt)
        for v in bufs_all:
            nb[v] = nb[slot_of[v]]
        c0, c1 = X.idx(0), X.idx(1)
        inv_rows, inv_cols = X.idx(extents_inv[0]), X.idx(extents_inv[1])
        # invariant inputs: once per task (fused: through the cluster's SRAM)
        inv_inputs = [v for v in needed if self.invariant(v)]
        for v in inv_inputs:
            s, dt = self.shapes[v]
            seg, seglen, stride = self._gdram_geometry_inv(X, v)
            if self.schedule == "fused" and math.prod(s) > 1:
                sshape = (1, _pad(math.prod(s), self.pad_elems))
                sb = X.op(f'"mlu.alloc"() {{space = "SRAM", name = "{v[1:]}_sram"}} : () -> {_mt(sshape, dt)}', "s")
                core = X.op('"mlu.core_id"() : () -> index', "core")
                first = X.op(f"arith.cmpi eq, {core}, {c0} : index")
                n = X.idx(math.prod(s))
                X.emit(f"scf.if {first} {{")
                X.emit(f'  "mlu.memcpy"({sb}, {self.gdram[v]}, {c0}, {c0}, {c1}, {n}, {n}, {n}) '
                       f'{{direction = "GDRAM2SRAM"}} : ({_mt(sshape, dt)}, {_mt(s, dt)}, {", ".join(["index"] * 6)}) -> ()')
                X.emit("}")
                X.emit('"mlu.sync_cluster"() : () -> ()')
                self._memcpy(X, nb[v], (sb, sshape, dt), c0, c0, seg, seglen, nb[v][1][1], stride, "SRAM2NRAM")
            else:
                self._memcpy(X, nb[v], (self.gdram[v], s, dt), c0, c0, seg, seglen, nb[v][1][1], stride,
                             "GDRAM2NRAM")
        hoisted = [op for op in ops if self.invariant(op.result)]
        for op in hoisted:
            self._compute(X, op, nb, inv_rows, inv_cols)
        # the unit loop
        if p.form == "row":
            R, C = p.view
            rpt = -(-R // self.ntasks)
            start = X.op(f"arith.muli {task}, {X.idx(rpt)} : index")
            end = X.op(f"arith.minui {X.op(f'arith.addi {start}, {X.idx(rpt)} : index')}, {X.idx(R)} : index")
            Tc = X.idx(T)
            X.emit(f"scf.for %r0_{k} = {start} to {end} step {Tc} {{")
            X.ind += 2
            r0 = f"%r0_{k}"
            n = X.op(f"arith.minui {Tc}, {X.op(f'arith.subi {end}, {r0} : index')} : index", "rows")
            rows, cols = n, X.idx(C)
            pos = {"r0": r0, "n": n}
        else:
            A, K, B = p.view
            nbc = -(-B // BC)
            units = X.idx(A * nbc)
            X.emit(f"scf.for %u_{k} = {task} to {units} step {X.idx(self.ntasks)} {{")
            X.ind += 2
            u = f"%u_{k}"
            a = X.op(f"arith.divui {u}, {X.idx(nbc)} : index", "a")
            b0 = X.op(f"arith.muli {X.op(f'arith.remui {u}, {X.idx(nbc)} : index')}, {X.idx(BC)} : index", "b0")
            nbv = X.op(f"arith.minui {X.idx(BC)}, {X.op(f'arith.subi {X.idx(B)}, {b0} : index')} : index", "nb")
            rows, cols = X.idx(K), nbv
            pos = {"a": a, "b0": b0, "nb": nbv}
        for v in needed:
            if v in inv_inputs:
                continue
            s, dt = self.shapes[v]
            src_off, seg, seglen, stride = self._gdram_geometry(X, v, pos)
            self._memcpy(X, nb[v], (self.gdram[v], s, dt), c0, src_off, seg, seglen, nb[v][1][1], stride,
                         "GDRAM2NRAM")
        for op in ops:
            if op in hoisted:
                continue
            self._compute(X, op, nb, rows, cols)
        for v in stores:
            r = v if v in nb else self.real(v)
            s, dt = self.shapes[v]
            dst = self.gdram.get(v) or self.gdram[r]
            off, seg, seglen, stride = self._gdram_geometry(X, v, pos)
            self._memcpy(X, (dst, s, dt), nb[r], off, c0, seg, seglen, stride, nb[r][1][1], "NRAM2GDRAM")
        X.ind -= 2
        X.emit("}")
        X.emit('"mlu.sync"() : () -> ()')
        if self.schedule == "naive" and not last:
            X.emit('"mlu.launch_boundary"() : () -> ()')

    def _gdram_geometry_inv(self, X, v):
        s, _ = self.shapes[v]
        if self.prog.form == "row":
            return X.idx(1), X.idx(s[1]), X.idx(s[1])
        return X.idx(s[1]), X.idx(1), X.idx(1)

    def _gdram_geometry(self, X, v, pos):
        s, _ = self.shapes[v]
        if self.prog.form == "row":
            if s[0] > 1:
                off = X.op(f"arith.muli {pos['r0']}, {X.idx(s[1])} : index")
                return off, pos["n"], X.idx(s[1]), X.idx(s[1])
            return X.idx(0), X.idx(1), X.idx(s[1]), X.idx(s[1])
        a_part = X.op(f"arith.muli {pos['a']}, {X.idx(s[1] * s[2])} : index") if s[0] > 1 else X.idx(0)
        off = X.op(f"arith.addi {a_part}, {pos['b0'] if s[2] > 1 else X.idx(0)} : index")
        seglen = pos["nb"] if s[2] > 1 else X.idx(1)
        return off, X.idx(s[1]), seglen, X.idx(s[2])

    def _memcpy(self, X, dst, src, doff, soff, seg, seglen, dstride, sstride, direction):
        dstride = dstride if isinstance(dstride, str) else X.idx(dstride)
        sstride = sstride if isinstance(sstride, str) else X.idx(sstride)
        X.emit(f'"mlu.memcpy"({dst[0]}, {src[0]}, {doff}, {soff}, {seg}, {seglen}, {dstride}, {sstride}) '
               f'{{direction = "{direction}"}} : ({_mt(dst[1], dst[2])}, {_mt(src[1], src[2])}, '
               f'{", ".join(["index"] * 6)}) -> ()')

    def _compute(self, X, op, nb, rows, cols):
        k = op.kind

        def b(v):
            return nb[self.real(v)] if self.real(v) in nb else nb[v]

        def ty(*bs):
            return ", ".join(_mt(x[1], x[2]) for x in bs)
        if k == "broadcast":
            if op.result in nb:
                d, s = nb[op.result], b(op.operands[0])
                X.emit(f'"mlu.move"({d[0]}, {s[0]}, {rows}, {cols}) : ({ty(d, s)}, index, index) -> ()')
            return
        d = nb[op.result]
        if k == "splat":
            X.emit(f'"mlu.fill"({d[0]}) {{value = {_flt(op.attrs["value"])} : f32}} : ({ty(d)}) -> ()')
        elif k in _ACTIVE:
            s = b(op.operands[0])
            X.emit(f'"mlu.active"({d[0]}, {s[0]}, {rows}, {cols}) {{fn = "{k}"}} : ({ty(d, s)}, index, index) -> ()')
        elif k in _BIN:
            l, r = b(op.operands[0]), b(op.operands[1])
            X.emit(f'"mlu.{_BIN[k]}"({d[0]}, {l[0]}, {r[0]}, {rows}, {cols}) : ({ty(d, l, r)}, index, index) -> ()')
        elif k == "cast":
            s = b(op.operands[0])
            X.emit(f'"mlu.convert"({d[0]}, {s[0]}, {rows}, {cols}) : ({ty(d, s)}, index, index) -> ()')
        elif k == "cmp":
            l, r = b(op.operands[0]), b(op.operands[1])
            X.emit(f'"mlu.cmp"({d[0]}, {l[0]}, {r[0]}, {rows}, {cols}) {{predicate = "{op.attrs["predicate"]}"}} '
                   f': ({ty(d, l, r)}, index, index) -> ()')
        elif k == "select":
            c, t, f = (b(v) for v in op.operands)
            X.emit(f'"mlu.select"({d[0]}, {c[0]}, {t[0]}, {f[0]}, {rows}, {cols}) : ({ty(d, c, t, f)}, index, index) -> ()')
        elif k == "fma":
            a_, b_, c_ = (b(v) for v in op.operands)
            X.emit(f'"mlu.mul"({d[0]}, {a_[0]}, {b_[0]}, {rows}, {cols}) : ({ty(d, a_, b_)}, index, index) -> ()')
            X.emit(f'"mlu.add"({d[0]}, {d[0]}, {c_[0]}, {rows}, {cols}) : ({ty(d, d, c_)}, index, index) -> ()')
        elif k == "reduce":
            s = b(op.operands[0])
            axis = 1 if self.prog.form == "row" else 0
            kind = op.attrs["kind"]
            X.emit(f'"mlu.reduce"({d[0]}, {s[0]}, {rows}, {cols}) {{axis = {axis} : i64, '
                   f'kind = "{"sum" if kind == "mean" else kind}"}} : ({ty(d, s)}, index, index) -> ()')
            if kind == "mean":
                kb = nb[op.result + "_inv_k"]
                n = self.prog.view[1]
                X.emit(f'"mlu.fill"({kb[0]}) {{value = {_flt(1.0 / n)} : f32}} : ({ty(kb)}) -> ()')
                X.emit(f'"mlu.mul"({d[0]}, {d[0]}, {kb[0]}, {rows}, {cols}) : ({ty(d, d, kb)}, index, index) -> ()')
        else:
            raise PassError(f"gir.{k} has no MLU lowering", self.func)

    def _transpose(self):
        """Tiles of T rows x NC columns: GDRAM->NRAM (strided), mlu.transpose, NRAM->GDRAM (strided)."""
        p = self.prog
        (src, (M, N), dt), = p.args
        odt = p.outputs[0][2]
        X = _Text()
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
        task = X.op('"mlu.task_id"() : () -> index', "task")
        ib = X.op(f'"mlu.alloc"() {{space = "NRAM", name = "in_tile"}} : () -> {_mt((T, NCp), dt)}', "n")
        ob = X.op(f'"mlu.alloc"() {{space = "NRAM", name = "out_tile"}} : () -> {_mt((NC, Tp), dt)}', "n")
        c0 = X.idx(0)
        start = X.op(f"arith.muli {task}, {X.idx(rpt)} : index")
        end = X.op(f"arith.minui {X.op(f'arith.addi {start}, {X.idx(rpt)} : index')}, {X.idx(M)} : index")
        Tc, NCc, cN, cM = X.idx(T), X.idx(NC), X.idx(N), X.idx(M)
        X.emit(f"scf.for %r0 = {start} to {end} step {Tc} {{")
        X.ind += 2
        n = X.op(f"arith.minui {Tc}, {X.op(f'arith.subi {end}, %r0 : index')} : index", "rows")
        X.emit(f"scf.for %q0 = {c0} to {cN} step {NCc} {{")
        X.ind += 2
        nc = X.op(f"arith.minui {NCc}, {X.op(f'arith.subi {cN}, %q0 : index')} : index", "cols")
        soff = X.op(f"arith.addi {X.op(f'arith.muli %r0, {cN} : index')}, %q0 : index")
        X.emit(f'"mlu.memcpy"({ib}, {src}, {c0}, {soff}, {n}, {nc}, {X.idx(NCp)}, {cN}) {{direction = "GDRAM2NRAM"}} '
               f': ({_mt((T, NCp), dt)}, {_mt((M, N), dt)}, {", ".join(["index"] * 6)}) -> ()')
        X.emit(f'"mlu.transpose"({ob}, {ib}, {n}, {nc}) : ({_mt((NC, Tp), dt)}, {_mt((T, NCp), dt)}, index, index) -> ()')
        doff = X.op(f"arith.addi {X.op(f'arith.muli %q0, {cM} : index')}, %r0 : index")
        X.emit(f'"mlu.memcpy"(%out0, {ob}, {doff}, {c0}, {nc}, {n}, {cM}, {X.idx(Tp)}) {{direction = "NRAM2GDRAM"}} '
               f': ({_mt((N, M), odt)}, {_mt((NC, Tp), dt)}, {", ".join(["index"] * 6)}) -> ()')
        X.ind -= 2
        X.emit("}")
        X.ind -= 2
        X.emit("}")
        X.emit("return")
        return self._func_text(p.name, [f"{src}: {_mt((M, N), dt)}", f"%out0: {_mt((N, M), odt)}"], [T, NC], X.lines)


def lower_function(func, desc, schedule="fused") -> str:
    return MluLowering(func, desc, schedule).lower()


def resolve(name):
    try:
        desc = targets.get(name)
    except ValueError as e:
        raise PassError(str(e))
    if desc["kind"] != "mlu":
        raise PassError(f"target '{name}' is not an MLU target")
    return desc


def lower_module(module, desc, schedule="fused"):
    out = []
    for func in gir_funcs(module):
        text = lower_function(func, desc, schedule)
        try:
            parsed = ir.Module.parse(text, context=module.context)
        except Exception as e:
            raise PassError(f"internal error: generated MLU form does not parse: {e}\n{text}", func)
        for op in list(parsed.body.operations):
            op.operation.move_before(func)
        func.erase()
        out.append(text)
    return out


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
