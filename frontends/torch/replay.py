"""Replays a raised GIR function (the output of gir-from-linalg) as an array-API program.

The array API (`girflow.frontends.array_api`) owns the canonical kernel forms (row / column /
transpose views) and the GIR the backends compile, so a raised region goes through exactly the
path `girflow.compile` takes. Reshapes may only sit at the edges of a region: an argument read
through a reshape is handed to the kernel in the reshaped shape, a result returned through a
reshape is reshaped back by the caller (both are views of contiguous tensors).
"""
from __future__ import annotations

import dataclasses
import math

from torch_mlir import ir

from girflow.frontends import array_api as xp
from girflow.passes.ir_utils import shape_of

RESHAPES = ("tensor.expand_shape", "tensor.collapse_shape")


class ReplayError(ValueError):
    """The raised function has a shape the array API cannot express; the region falls back."""


@dataclasses.dataclass
class Replay:
    fn: object                 # fn(*arrays) -> tuple of arrays (the computed results)
    inputs: list               # (function argument index, shape the kernel reads it in)
    outputs: list              # per function result: ("kernel", i) | ("input", arg index) | ("const", value)
    num_ops: int               # GIR compute ops in the region


def _owner(v):
    return None if isinstance(v.owner, ir.Block) else v.owner.operation


def _through_edges(v):
    """Strip casts and reshapes: (root value, [ops stripped])."""
    ops = []
    while (o := _owner(v)) is not None and (o.name in RESHAPES or o.name == "gir.cast"):
        ops.append(o)
        v = o.operands[0]
    return v, ops


def _feeds_compute(op) -> bool:
    """Whether a reshape's result reaches a GIR compute op (not only casts, reshapes, the return)."""
    for use in op.results[0].uses:
        u = use.owner.operation if hasattr(use.owner, "operation") else use.owner
        if u.name in RESHAPES or u.name == "gir.cast":
            if _feeds_compute(u):
                return True
        elif u.name != "func.return":
            return True
    return False


def build_replay(func) -> Replay:
    body = func.regions[0].blocks[0]
    args = list(body.arguments)
    ops = [o.operation for o in body.operations]
    ret = ops[-1]
    # arguments: the kernel reads each in the shape its (single) reshape gives it
    arg_shape = {}
    for i, a in enumerate(args):
        shapes = set()
        for use in a.uses:
            u = use.owner.operation if hasattr(use.owner, "operation") else use.owner
            v = a
            while u.name in RESHAPES or u.name == "gir.cast":
                v = u.results[0]
                users = [x.owner for x in v.uses]
                if len(users) != 1:
                    break
                u = users[0].operation if hasattr(users[0], "operation") else users[0]
            if u.name != "func.return":
                shapes.add(tuple(shape_of(v)))
        if len(shapes) > 1:
            raise ReplayError(f"argument {i} is read in several shapes {sorted(shapes)}")
        if shapes:
            arg_shape[i] = shapes.pop()
    compute_inputs = sorted(arg_shape)

    def fn(*arrays):
        env = {args[i]: arrays[k] for k, i in enumerate(compute_inputs)}
        for op in ops[:-1]:
            name = op.name
            if name in RESHAPES or name == "gir.cast":
                src = op.operands[0]
                if src not in env:
                    continue
                if name in RESHAPES and _through_edges(src)[0] not in args and _feeds_compute(op):
                    raise ReplayError("a reshape between two computations inside the region")
                env[op.results[0]] = env[src]
                continue
            if name == "arith.constant":
                continue
            if not name.startswith("gir."):
                raise ReplayError(f"{name} is not GIR")
            env[op.results[0]] = _apply(op, [env[v] for v in op.operands])
        return tuple(env[r] for r, (kind, _) in zip(ret.operands, outputs) if kind == "kernel")

    outputs, k = [], 0
    for r in ret.operands:
        root, _ = _through_edges(r)
        o = _owner(root)
        if o is None:
            outputs.append(("input", args.index(root)))
        elif o.name == "gir.splat":
            outputs.append(("const", ir.FloatAttr(o.attributes["value"]).value))
        else:
            outputs.append(("kernel", k))
            k += 1
    if k == 0:
        raise ReplayError("the region computes nothing (only views)")
    num_ops = sum(1 for o in ops if o.name.startswith("gir.") and o.name not in ("gir.cast", "gir.splat",
                                                                                   "gir.broadcast"))
    return Replay(fn, [(i, arg_shape[i]) for i in compute_inputs], outputs, num_ops)


SCALAR = {"exp": math.exp, "log": math.log, "tanh": math.tanh, "erf": math.erf, "sqrt": math.sqrt,
          "rsqrt": lambda x: 1.0 / math.sqrt(x), "abs": abs, "neg": lambda x: -x, "recip": lambda x: 1.0 / x,
          "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x)), "max": max, "min": min,
          "fma": lambda a, b, c: a * b + c}


def _apply(op, ins):
    name = op.name[len("gir."):]
    if name == "splat":
        return ir.FloatAttr(op.attributes["value"]).value
    if name in SCALAR and all(isinstance(v, float) for v in ins):   # constants fold
        return float(SCALAR[name](*ins))
    if name in ("add", "sub", "mul", "div"):
        return {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
                "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[name](*ins)
    if name == "max":
        return xp.maximum(*ins)
    if name == "min":
        return xp.minimum(*ins)
    if name == "neg":
        return -ins[0]
    if name == "recip":
        return ins[0].reciprocal()
    if name in ("exp", "log", "tanh", "erf", "rsqrt", "sqrt", "abs", "sigmoid"):
        return getattr(ins[0], name)()
    if name == "fma":
        return ins[0] * ins[1] + ins[2]
    if name == "cmp":
        return xp._cmp(ir.StringAttr(op.attributes["predicate"]).value, ins[0], ins[1])
    if name == "select":
        return xp.where(*ins)
    if name == "broadcast":
        return ins[0]                       # the array API broadcasts operands where they are used
    if name == "reduce":
        axis = ir.IntegerAttr(op.attributes["axis"]).value
        kind = ir.StringAttr(op.attributes["kind"]).value
        keep = len(shape_of(op.results[0])) == len(shape_of(op.operands[0]))
        return getattr(ins[0], kind)(axis=axis, keepdims=keep)
    if name == "transpose":
        return ins[0].transpose(*ir.DenseI64ArrayAttr(op.attributes["permutation"]))
    raise ReplayError(f"gir.{name} has no array-API form")
