"""Cambricon MLU emulator: runs the `mlu` dialect form on the CPU with NumPy.

    emulate(mlu_text, inputs, desc) -> (outputs, Stats)
        `Stats`: bytes per memory level, instructions per unit, modelled time

Execution model. Tasks = clusters x 4 cores (Union1). Clusters run one after another; the 4 cores
of a cluster run in order, each until it reaches `mlu.sync_cluster` (round-robin), so SRAM staging by
core 0 is visible to its siblings after the barrier exactly as on hardware. NRAM/WRAM are private per
core, SRAM per cluster, GDRAM global. Every `mlu.alloc` is 64 B aligned and counted against its level's
capacity (an overflow raises MluCapacityError naming the buffer); vector ops require rows of a
multiple of 128 B in their buffers; memcpys are bounds-checked.

Cost model (roofline style, documented in `Stats.model`):
  per core   compute = sum over vector instructions of (issue_cycles + ceil(padded elements / lanes))
             lanes = vector_flops_per_cycle (add/mul/max/...) or sfu_flops_per_cycle (exp/log/...)
             dma     = sum over its memcpys of latency_cycles(far level) + bytes / per-core share of
                       that level's bandwidth
             core time = max(compute, dma)  (DMA and compute queues overlap)
  GDRAM      total GDRAM bytes / GDRAM bandwidth (shared by the chip)
  SRAM       per cluster: SRAM bytes / SRAM bandwidth
  time = max(slowest core, GDRAM, slowest cluster's SRAM)
"""
from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

import numpy as np

from girflow.dialects.ops import decode_attrs
from girflow.passes.emulators.semantics import eval_integer_op, is_integer_op

ALIGN = 64
VECTOR_ROW_BYTES = 128
_NP = {"f32": np.float32, "f16": np.float16, "bf16": np.float32, "i1": np.float32}
_ITEM = {"f32": 4, "f16": 2, "bf16": 2, "i1": 4}
SFU = {"exp", "log", "tanh", "erf", "rsqrt", "sqrt", "sigmoid", "recip"}


class MluError(RuntimeError):
    pass


class MluCapacityError(MluError):
    pass


def _bf16_round(a):
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = a.view(np.uint32)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return r.view(np.float32)


@dataclasses.dataclass
class Buffer:
    name: str
    space: str
    dtype: str
    shape: tuple
    data: np.ndarray          # 2-D (on chip) or N-D (GDRAM); flat view used by memcpy

    @property
    def flat(self):
        return self.data.reshape(-1)

    @property
    def nbytes(self):
        return -(-max(1, math.prod(self.shape)) * _ITEM[self.dtype] // ALIGN) * ALIGN


@dataclasses.dataclass
class Stats:
    bytes_read: dict = dataclasses.field(default_factory=lambda: defaultdict(int))
    bytes_written: dict = dataclasses.field(default_factory=lambda: defaultdict(int))
    instructions: dict = dataclasses.field(default_factory=lambda: defaultdict(int))  # unit -> count
    core_compute_cycles: dict = dataclasses.field(default_factory=lambda: defaultdict(float))
    core_dma_cycles: dict = dataclasses.field(default_factory=lambda: defaultdict(float))
    cluster_sram_bytes: dict = dataclasses.field(default_factory=lambda: defaultdict(int))
    peak_bytes: dict = dataclasses.field(default_factory=lambda: defaultdict(int))  # level -> per core/cluster peak
    model: dict = dataclasses.field(default_factory=dict)

    def bytes_moved(self, level):
        return self.bytes_read[level] + self.bytes_written[level]

    def summary(self) -> str:
        m = self.model
        lv = " ".join(f"{k}={self.bytes_moved(k)}" for k in ("GDRAM", "SRAM", "NRAM"))
        ins = " ".join(f"{k}={v}" for k, v in sorted(self.instructions.items()))
        return (f"modelled {m.get('time_us', 0):.3f} us (bound: {m.get('bound', '?')}); bytes moved {lv}; "
                f"instructions {ins}")


class _Emulator:
    def __init__(self, func, desc, gdram_args):
        from torch_mlir import ir

        self.ir = ir
        self.desc = desc
        self.stats = Stats()
        self.gdram_args = gdram_args
        self.state = ir.AsmState(func)
        self.body = self._convert(func.regions[0].blocks[0])
        self.args = [self._name(a) for a in func.regions[0].blocks[0].arguments]
        self.levels = desc["memory_levels"]
        th = desc["throughput"]
        self.clock = desc["clock_ghz"] * 1e9
        self.lanes = th["vector_flops_per_cycle"]
        self.sfu_lanes = th["sfu_flops_per_cycle"]
        self.issue = th["instr_issue_cycles"]
        self.cpc = int(desc["units"]["core_per_cluster"])
        self.gdram_scratch = {}

    def _name(self, v):
        return v.get_name(self.state)

    def _attrs(self, op):
        return decode_attrs(op)

    def _convert(self, block):
        ir = self.ir
        instrs = []
        for op in block.operations:
            op = op.operation
            regions = []
            for r in op.regions:
                if len(r.blocks):
                    b = r.blocks[0]
                    regions.append(([self._name(a) for a in b.arguments], self._convert(b)))
                else:
                    regions.append(([], []))
            res = [self._name(r) for r in op.results]
            rtypes = [r.type for r in op.results]
            extra = None
            if op.name == "mlu.alloc":
                t = ir.MemRefType(rtypes[0])
                extra = (tuple(t.shape), str(t.element_type))
            instrs.append((op.name, res, [self._name(v) for v in op.operands], self._attrs(op), regions, extra))
        return instrs

    # -- execution ------------------------------------------------------------------------------
    def run(self, ntasks):
        clusters = -(-ntasks // self.cpc)
        for cl in range(clusters):
            sram = {}
            cores = []
            for c in range(self.cpc):
                task = cl * self.cpc + c
                if task >= ntasks:
                    break
                env = dict(zip(self.args, self.gdram_args))
                core = {"task": task, "cluster": cl, "core": c, "ntasks": ntasks, "sram": sram,
                        "used": defaultdict(int), "id": task}
                cores.append(self._block(self.body, env, core))
            active = list(cores)
            while active:
                nxt = []
                for g in active:
                    try:
                        next(g)          # runs to the next cluster barrier
                        nxt.append(g)
                    except StopIteration:
                        pass
                if nxt and len(nxt) != len(active):
                    raise MluError("mlu.sync_cluster reached by only some cores of a cluster (deadlock)")
                active = nxt

    def _block(self, instrs, env, core):
        for name, res, ops, attrs, regions, extra in instrs:
            if name == "arith.constant":
                env[res[0]] = attrs["value"]
            elif name.startswith("arith."):
                env[res[0]] = self._arith(name, [env[o] for o in ops], attrs)
                self.stats.instructions["scalar"] += 1
            elif name == "scf.for":
                lb, ub, step = (env[o] for o in ops[:3])
                carried = [env[o] for o in ops[3:]]
                (bargs, body), = regions
                for i in range(lb, ub, step):
                    env[bargs[0]] = i
                    for a, v in zip(bargs[1:], carried):
                        env[a] = v
                    yield from self._block(body, env, core)
                    carried = env.pop("__yield__", [])
                for r, v in zip(res, carried):
                    env[r] = v
            elif name == "scf.if":
                if env[ops[0]]:
                    yield from self._block(regions[0][1], env, core)
                elif len(regions) > 1 and regions[1][1]:
                    yield from self._block(regions[1][1], env, core)
            elif name == "scf.yield":
                env["__yield__"] = [env[o] for o in ops]
            elif name in ("func.return", "return"):
                return
            elif name == "mlu.sync_cluster":
                self.stats.instructions["sync"] += 1
                yield "sync"
            elif name == "mlu.sync":
                self.stats.instructions["sync"] += 1
            elif name == "mlu.launch_boundary":
                core["used"].clear()
                core["sram"].clear()
                yield "launch"
            elif name in ("mlu.task_id", "mlu.task_dim", "mlu.cluster_id", "mlu.core_id"):
                env[res[0]] = {"mlu.task_id": core["task"], "mlu.task_dim": core["ntasks"],
                               "mlu.cluster_id": core["cluster"], "mlu.core_id": core["core"]}[name]
            elif name == "mlu.alloc":
                env[res[0]] = self._alloc(attrs, extra, core)
            elif name == "mlu.memcpy":
                self._memcpy(attrs["direction"], [env[o] for o in ops], core)
            elif name.startswith("mlu."):
                self._vector(name[4:], [env[o] for o in ops], attrs, core)
            else:
                raise MluError(f"the MLU emulator cannot execute '{name}'")

    @staticmethod
    def _arith(name, v, attrs):
        if not is_integer_op(name):
            raise MluError(f"the MLU emulator cannot execute '{name}'")
        return eval_integer_op(name, v, attrs)

    def _alloc(self, attrs, extra, core):
        shape, et = extra
        space, name = attrs["space"], attrs["name"]
        if space == "GDRAM":
            if name not in self.gdram_scratch:
                self.gdram_scratch[name] = Buffer(name, "GDRAM", et, shape, np.zeros(shape, _NP[et]))
            return self.gdram_scratch[name]
        if space == "SRAM" and name in core["sram"]:
            return core["sram"][name]
        if len(shape) == 2 and shape[1] > 1 and (shape[1] * _ITEM[et]) % VECTOR_ROW_BYTES:
            raise MluError(f"alignment: buffer '{name}' rows of {shape[1]} x {et} are not a multiple of "
                           f"{VECTOR_ROW_BYTES} bytes")
        buf = Buffer(name, space, et, shape, np.zeros(shape, _NP[et]))
        key = space if space != "SRAM" else "SRAM"
        used = core["used"] if space != "SRAM" else core["sram"].setdefault("__used__", defaultdict(int))
        used[key] += buf.nbytes
        cap = self.levels[space]["capacity_bytes"]
        if used[key] > cap:
            raise MluCapacityError(
                f"{space} overflow on core {core['task']}: buffer '{name}' ({'x'.join(map(str, shape))} {et} = "
                f"{buf.nbytes} bytes) brings {space} use to {used[key]} bytes, capacity {cap} bytes")
        self.stats.peak_bytes[space] = max(self.stats.peak_bytes[space], used[key])
        if space == "SRAM":
            core["sram"][name] = buf
        return buf

    def _memcpy(self, direction, v, core):
        dst, src, doff, soff, seg, seglen, dstride, sstride = v
        if dst.dtype != src.dtype and {dst.dtype, src.dtype} != {"f32", "bf16"}:
            raise MluError(f"memcpy between {src.dtype} '{src.name}' and {dst.dtype} '{dst.name}'")
        d, s = dst.flat, src.flat
        if seg > 0 and seglen > 0:
            if doff + (seg - 1) * dstride + seglen > d.size or soff + (seg - 1) * sstride + seglen > s.size:
                raise MluError(f"memcpy {direction} out of bounds: {seg} x {seglen} from '{src.name}'+{soff} "
                               f"(stride {sstride}, size {s.size}) to '{dst.name}'+{doff} (stride {dstride}, "
                               f"size {d.size})")
            if seg == 1 or (dstride == seglen and sstride == seglen):
                d[doff:doff + seg * seglen] = s[soff:soff + seg * seglen]
            else:
                dv = np.lib.stride_tricks.as_strided(d[doff:], (seg, seglen), (dstride * d.itemsize, d.itemsize))
                sv = np.lib.stride_tricks.as_strided(s[soff:], (seg, seglen), (sstride * s.itemsize, s.itemsize))
                dv[...] = sv
        n = seg * seglen * _ITEM[src.dtype]
        a, b = direction.split("2")
        st = self.stats
        st.bytes_read[a] += n
        st.bytes_written[b] += n
        st.instructions["dma"] += 1
        far = a if a in ("GDRAM", "SRAM") else b
        if far == "GDRAM" and "GDRAM" in (a, b):
            bw = self.levels["GDRAM"]["bandwidth_gbs"] * 1e9 / int(self.desc["units"]["core"])
        elif "SRAM" in (a, b):
            far = "SRAM"
            bw = self.levels["SRAM"]["bandwidth_gbs"] * 1e9 / self.cpc
            st.cluster_sram_bytes[core["cluster"]] += n
        else:
            bw = self.levels["NRAM"]["bandwidth_gbs"] * 1e9
        lat = self.levels[far].get("latency_cycles", 0) if far in self.levels else 0
        st.core_dma_cycles[core["task"]] += lat + n / bw * self.clock

    def _view(self, buf, rows, cols):
        r = rows if buf.shape[0] > 1 else 1
        c = cols if len(buf.shape) > 1 and buf.shape[1] > 1 else 1
        if r > buf.shape[0] or (len(buf.shape) > 1 and c > buf.shape[1]):
            raise MluError(f"vector op extent {rows}x{cols} exceeds buffer '{buf.name}' {buf.shape}")
        return buf.data[:r, :c]

    def _vector(self, op, v, attrs, core):
        if op == "fill":
            (dst,) = v
            dst.data[...] = attrs["value"]
            self._cost(core, dst.data.size, "vector")
            return
        rows, cols = v[-2], v[-1]
        dst, srcs = v[0], v[1:-2]
        for b in (dst, *srcs):
            if b.space not in ("NRAM", "WRAM"):
                raise MluError(f"vector op mlu.{op}: operand '{b.name}' is in {b.space}, not NRAM")
        ins = [self._view(b, rows, cols).astype(np.float32) for b in srcs]
        if op == "transpose":
            out = ins[0].T
            dst.data[:out.shape[0], :out.shape[1]] = out
            self._cost(core, rows * -(-cols // 32) * 32, "vector")
            return
        if op == "reduce":
            axis = attrs["axis"]
            fn = {"sum": np.sum, "max": np.max, "min": np.min}[attrs["kind"]]
            out = fn(ins[0], axis=axis, keepdims=True)
        elif op == "active":
            out = _active(attrs["fn"], ins[0])
        elif op in ("add", "sub", "mul", "div", "maximum", "minimum"):
            out = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
                   "maximum": np.maximum, "minimum": np.minimum}[op](ins[0], ins[1])
        elif op == "cmp":
            out = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
                   "eq": np.equal, "ne": np.not_equal}[attrs["predicate"]](ins[0], ins[1]).astype(np.float32)
        elif op == "select":
            out = np.where(ins[0] != 0, ins[1], ins[2])
        elif op in ("convert", "move"):
            out = ins[0]
        else:
            raise MluError(f"unknown mlu vector op '{op}'")
        dv = self._view(dst, rows, cols)
        out = np.broadcast_to(out, dv.shape)
        if dst.dtype == "bf16":
            out = _bf16_round(out)
        with np.errstate(all="ignore"):
            dv[...] = out
        unit = "sfu" if op == "active" and attrs.get("fn") in SFU else "vector"
        self._cost(core, dv.shape[0] * (-(-max(dv.shape[1], 1) // 32) * 32), unit)

    def _cost(self, core, elems, unit):
        lanes = self.sfu_lanes if unit == "sfu" else self.lanes
        self.stats.instructions[unit] += 1
        self.stats.core_compute_cycles[core["task"]] += self.issue + -(-elems // lanes)

    def finish(self):
        st, lv = self.stats, self.levels
        core_cycles = {t: max(st.core_compute_cycles[t], st.core_dma_cycles[t])
                       for t in set(st.core_compute_cycles) | set(st.core_dma_cycles)}
        core_s = max(core_cycles.values(), default=0) / self.clock
        gdram_s = st.bytes_moved("GDRAM") / (lv["GDRAM"]["bandwidth_gbs"] * 1e9)
        sram_s = max(st.cluster_sram_bytes.values(), default=0) / (lv["SRAM"]["bandwidth_gbs"] * 1e9)
        parts = {"core": core_s, "GDRAM": gdram_s, "SRAM": sram_s}
        bound = max(parts, key=parts.get)
        st.model = {"time_us": parts[bound] * 1e6, "bound": bound, "core_us": core_s * 1e6,
                    "gdram_us": gdram_s * 1e6, "sram_us": sram_s * 1e6,
                    "compute_cycles_max": max(st.core_compute_cycles.values(), default=0),
                    "dma_cycles_max": max(st.core_dma_cycles.values(), default=0)}
        return st


def _active(fn, x):
    with np.errstate(all="ignore"):
        if fn == "exp":
            return np.exp(x)
        if fn == "log":
            return np.log(x)
        if fn == "tanh":
            return np.tanh(x)
        if fn == "erf":
            import torch

            return torch.erf(torch.from_numpy(np.ascontiguousarray(x))).numpy()
        if fn == "rsqrt":
            return 1.0 / np.sqrt(x)
        if fn == "sqrt":
            return np.sqrt(x)
        if fn == "neg":
            return -x
        if fn == "abs":
            return np.abs(x)
        if fn == "recip":
            return 1.0 / x
        if fn == "sigmoid":
            return 1.0 / (1.0 + np.exp(-x))
    raise MluError(f"unknown active function '{fn}'")


def emulate(mlu_text: str, inputs, desc: dict, output_specs=None):
    """Run the MLU form on `inputs` (NumPy arrays in the kernel's argument shapes)."""
    from torch_mlir import ir

    from girflow.dialects import make_context

    ctx = make_context()
    with ctx, ir.Location.unknown():
        module = ir.Module.parse(mlu_text)
        func = next(op.operation for op in module.body.operations if op.operation.name == "func.func")
        return emulate_function(func, inputs, desc)


def emulate_function(func, inputs, desc: dict):
    """Run one MLU-form `func.func` op (in its own context) on `inputs`; returns (outputs, Stats)."""
    from torch_mlir import ir

    with func.context, ir.Location.unknown():
        ftype = ir.FunctionType(ir.TypeAttr(func.attributes["function_type"]).value)
        args = []
        outs: list = []
        for i, t in enumerate(ftype.inputs):
            mt = ir.MemRefType(t)
            et = str(mt.element_type)
            shape = tuple(mt.shape)
            if i < len(inputs):
                a = np.ascontiguousarray(inputs[i], dtype=_NP[et]).reshape(shape)
                if et == "bf16":
                    a = _bf16_round(a).reshape(shape)
                args.append(Buffer(f"arg{i}", "GDRAM", et, shape, a.copy()))
            else:
                b = Buffer(f"out{len(outs)}", "GDRAM", et, shape, np.zeros(shape, _NP[et]))
                args.append(b)
                outs.append(b)
        launch = func.attributes["mlu.launch"]
        ntasks = ir.IntegerAttr(ir.DictAttr(launch)["tasks"]).value
        em = _Emulator(func, desc, args)
    em.run(ntasks)
    return [o.data for o in outs], em.finish()
