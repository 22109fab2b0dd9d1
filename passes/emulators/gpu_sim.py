"""A SIMT reference interpreter for girflow's `gpu`-dialect kernels (the output of gir-to-gpu).

It executes a `gpu.func` on the CPU with NumPy, one thread block at a time, every SSA value an array
over the block's threads (lockstep SIMT with per-thread masks for divergent `scf.for` / `scf.if`),
`gpu.shuffle xor` as a gather across lanes of a warp/wavefront, `gpu.barrier` as the lockstep point,
and workgroup attributions as per-block shared arrays. It exists so the GPU code generator's
indexing, schedules and reductions are tested against PyTorch on machines without a GPU; it is not a
performance model. Supported ops: the subset gir-to-gpu emits.
"""
from __future__ import annotations

import math

import numpy as np
from torch_mlir import ir

from girflow.dialects.ops import decode_attrs
from girflow.passes.emulators.semantics import eval_integer_op, is_integer_op

_NP = {"f32": np.float32, "f16": np.float16, "bf16": np.float32, "index": np.int64, "i32": np.int32,
       "i1": np.bool_}


def _bf16(a):
    b = np.ascontiguousarray(a, np.float32).view(np.uint32)
    return ((b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)


class SimError(RuntimeError):
    pass


def _erf(x):
    import torch

    return torch.erf(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()


class _Kernel:
    def __init__(self, func):
        self.state = ir.AsmState(func)
        body = func.regions[0].blocks[0]
        self.args = [self._n(a) for a in body.arguments]
        self.arg_types = [a.type for a in body.arguments]
        self.body = self._convert(body)

    def _n(self, v):
        return v.get_name(self.state)

    def _convert(self, block):
        out = []
        for op in block.operations:
            op = op.operation
            attrs = decode_attrs(op)
            regions = []
            for r in op.regions:
                if len(r.blocks):
                    b = r.blocks[0]
                    regions.append(([self._n(a) for a in b.arguments], self._convert(b)))
            otypes = [str(v.type) for v in op.operands]
            rtypes = [str(v.type) for v in op.results]
            out.append((op.name, [self._n(r) for r in op.results], [self._n(v) for v in op.operands],
                        attrs, regions, otypes, rtypes))
        return out


def _shape_of(type_str):
    inner = type_str[type_str.index("<") + 1:type_str.rindex(">")]
    inner = inner.split(",")[0]
    parts = inner.split("x")
    return tuple(int(p) for p in parts[:-1]), parts[-1].strip()


def run_kernel(gpu_module_text: str, inputs, output_shapes_dtypes, context=None):
    """Run the single kernel of a gpu.module text on NumPy `inputs`; returns the outputs."""
    ctx = context or ir.Context()
    ctx.allow_unregistered_dialects = True
    with ctx, ir.Location.unknown():
        from girflow.dialects import make_context

        mctx = make_context()
        with mctx:
            module = ir.Module.parse(gpu_module_text, context=mctx)
            gfunc = None

            def visit(op):
                nonlocal gfunc
                if op.name == "gpu.func":
                    gfunc = op.operation if hasattr(op, "operation") else op
                return ir.WalkResult.ADVANCE
            module.operation.walk(visit)
            if gfunc is None:
                raise SimError("no gpu.func in module")
            launch = ir.DictAttr(gfunc.attributes["gir.launch"])
            grid = list(ir.DenseI64ArrayAttr(launch["grid"]))
            block = list(ir.DenseI64ArrayAttr(launch["block"]))
            k = _Kernel(gfunc)
            # workgroup attributions are the block arguments after the memref params
            wg = []
            for i, t in enumerate(k.arg_types):
                if "workgroup" in str(t):
                    wg.append(i)
    mems: list = []
    n_in = len(inputs)
    for i, t in enumerate(k.arg_types):
        if i in wg:
            mems.append(None)
            continue
        shape, et = _shape_of(str(t))
        if len(mems) - 0 < n_in and i < n_in:
            a = np.ascontiguousarray(inputs[i], dtype=_NP[et]).reshape(shape)
            if et == "bf16":
                a = _bf16(a)
            mems.append(a.reshape(-1).copy())
        else:
            mems.append(np.zeros(math.prod(shape), _NP[et]))
    nthreads = block[0] * block[1] * block[2]
    tid = np.arange(nthreads)
    for bz in range(grid[2]):
        for by in range(grid[1]):
            for bx in range(grid[0]):
                env = {}
                for i, name in enumerate(k.args):
                    if i in wg:
                        shape, et = _shape_of(str(k.arg_types[i]))
                        env[name] = np.zeros(math.prod(shape), _NP[et])
                    else:
                        env[name] = mems[i]
                ctxt = {"tid": {"x": tid % block[0], "y": (tid // block[0]) % block[1],
                                "z": tid // (block[0] * block[1])},
                        "bid": {"x": bx, "y": by, "z": bz}, "n": nthreads}
                _exec(k.body, env, np.ones(nthreads, bool), ctxt)
    outs = []
    for j, (shape, dt) in enumerate(output_shapes_dtypes):
        outs.append(mems[n_in + j].reshape(shape))
    return outs


def _flat_index(idx, shape):
    flat = 0
    for i, d in zip(idx, shape):
        flat = flat * d + i
    return flat


def _bcast(v, n):
    v = np.asarray(v)
    if v.ndim == 0:
        return np.full(n, v)
    return v


def _exec(body, env, mask, c):
    n = c["n"]
    for name, res, ops, attrs, regions, otypes, rtypes in body:
        g = [env[o] for o in ops]
        if name == "arith.constant":
            v = attrs["value"]
            t = rtypes[0]
            env[res[0]] = np.full(n, v, dtype=_NP.get(t, np.float32))
        elif name == "gpu.thread_id":
            env[res[0]] = c["tid"][attrs["dimension"].split()[-1].strip(">").split(".")[-1] if "<" in str(attrs["dimension"]) else attrs["dimension"]].astype(np.int64)
        elif name == "gpu.block_id":
            d = attrs["dimension"]
            d = d.split()[-1].strip(">").split(".")[-1] if "<" in str(d) else d
            env[res[0]] = np.full(n, c["bid"][d], np.int64)
        elif name in ("gpu.barrier", "gpu.return", "scf.yield"):
            if name == "scf.yield":
                env["__yield__"] = g
        elif name == "scf.for":
            lb, ub, step = (_bcast(x, n) for x in g[:3])
            carried = [np.array(x, copy=True) for x in g[3:]]
            (bargs, rb), = regions
            i = 0
            while True:
                iv = lb + i * step
                active = mask & (iv < ub)
                if not active.any():
                    break
                env[bargs[0]] = iv
                for a, v in zip(bargs[1:], carried):
                    env[a] = v
                _exec(rb, env, active, c)
                ys = env.pop("__yield__", [])
                carried = [np.where(active if y.ndim == 1 else active[:, None], y, old)
                           for y, old in zip(ys, carried)]
                i += 1
            for r, v in zip(res, carried):
                env[r] = v
        elif name == "scf.if":
            cond = _bcast(g[0], n).astype(bool)
            if (mask & cond).any():
                _exec(regions[0][1], env, mask & cond, c)
            if len(regions) > 1 and (mask & ~cond).any():
                _exec(regions[1][1], env, mask & ~cond, c)
        elif name == "gpu.shuffle":
            v, off, width = g
            off, width = int(_bcast(off, n)[0]), int(_bcast(width, n)[0])
            t = np.arange(n)
            src = (t & ~(width - 1)) | ((t & (width - 1)) ^ off)
            env[res[0]] = v[src]
            env[res[1]] = np.ones(n, bool)
        elif name == "memref.load":
            buf = g[0]
            shape, _ = _shape_of(otypes[0])
            idx = _flat_index([_bcast(x, n) for x in g[1:]], shape) if shape else np.zeros(n, np.int64)
            idx = np.where(mask, idx, 0)
            env[res[0]] = buf[np.clip(idx, 0, buf.size - 1)]
        elif name == "memref.store":
            v, buf = g[0], g[1]
            shape, _ = _shape_of(otypes[1])
            idx = _flat_index([_bcast(x, n) for x in g[2:]], shape)
            m = mask
            if (idx[m] < 0).any() or (idx[m] >= buf.size).any():
                raise SimError("memref.store out of bounds")
            buf[idx[m]] = _bcast(v, n)[m]
        elif name == "vector.load":
            buf = g[0]
            shape, _ = _shape_of(otypes[0])
            w = int(rtypes[0][rtypes[0].index("<") + 1:rtypes[0].index("x")])
            idx = _flat_index([_bcast(x, n) for x in g[1:]], shape)
            if (idx[mask] % w).any():
                raise SimError("misaligned vector.load")
            idx = np.where(mask, idx, 0)
            if (idx + w > buf.size).any():
                raise SimError("vector.load out of bounds")
            env[res[0]] = np.stack([buf[idx + j] for j in range(w)], axis=1)
        elif name == "vector.store":
            v, buf = g[0], g[1]
            shape, _ = _shape_of(otypes[1])
            idx = _flat_index([_bcast(x, n) for x in g[2:]], shape)
            for j in range(v.shape[1]):
                buf[idx[mask] + j] = v[mask, j]
        elif name == "vector.extract":
            pos = attrs["static_position"][0]
            env[res[0]] = g[0][:, pos]
        elif name == "vector.from_elements":
            env[res[0]] = np.stack(g, axis=1)
        else:
            env[res[0]] = _scalar(name, g, attrs, rtypes)


_CMPF = {1: np.equal, 2: np.greater, 3: np.greater_equal, 4: np.less, 5: np.less_equal, 6: np.not_equal,
         13: np.not_equal}


def _scalar(name, g, attrs, rtypes):
    with np.errstate(all="ignore"):
        f = np.float32
        if is_integer_op(name):
            return eval_integer_op(name, g, attrs)
        if name == "arith.cmpf":
            return _CMPF[attrs["predicate"]](g[0], g[1])
        if name == "arith.select":
            return np.where(g[0], g[1], g[2])
        if name == "arith.addf":
            return (g[0] + g[1]).astype(f)
        if name == "arith.subf":
            return (g[0] - g[1]).astype(f)
        if name == "arith.mulf":
            return (g[0] * g[1]).astype(f)
        if name == "arith.divf":
            return (g[0] / g[1]).astype(f)
        if name == "arith.maximumf":
            return np.maximum(g[0], g[1])
        if name == "arith.minimumf":
            return np.minimum(g[0], g[1])
        if name == "arith.negf":
            return -g[0]
        if name == "arith.extf":
            return g[0].astype(f)
        if name == "arith.truncf":
            return _bf16(g[0]) if rtypes[0] == "bf16" else g[0].astype(np.float16)
        if name in ("math.exp", "llvm.intr.exp"):
            return np.exp(g[0]).astype(f)
        if name in ("math.log", "llvm.intr.log"):
            return np.log(g[0]).astype(f)
        if name in ("math.sqrt", "llvm.intr.sqrt"):
            return np.sqrt(g[0]).astype(f)
        if name == "math.rsqrt":
            return (1 / np.sqrt(g[0])).astype(f)
        if name in ("math.absf", "llvm.intr.fabs"):
            return np.abs(g[0])
        if name == "math.tanh":
            return np.tanh(g[0]).astype(f)
        if name == "math.erf":
            return _erf(g[0])
        if name == "math.copysign":
            return np.copysign(g[0], g[1]).astype(f)
        if name == "math.fma":
            return (g[0] * g[1] + g[2]).astype(f)
    raise SimError(f"the gpu simulator does not support '{name}'")


def simulate(module_text: str, traced, desc: dict, inputs, schedule: str = "auto", **launch):
    """Lower tensor-level GIR with gir-to-gpu for `desc` and run the kernel on `inputs` (NumPy);
    `launch`: rows_per_block / block_threads / launch="model" as gir-to-gpu takes them."""
    from girflow.dialects import make_context
    from girflow.passes.gpu.lower import lower_to_gpu

    ctx = make_context()
    with ctx, ir.Location.unknown():
        m = ir.Module.parse(module_text)
        lower_to_gpu(m.operation, desc, schedule, **launch)
        text = str(m)
    outs = run_kernel(text, [np.asarray(x).reshape(v) for x, v in zip(inputs, traced.input_views)],
                      [(v, None) for v in traced.output_views])
    return outs
