"""The GIR dialect: computation, data movement between memory levels, and parallel strategy.

Ops are Python classes (`torch_mlir.dialects.ext`, emitted as IRDL), so they print in generic form, e.g.
`"gir.exp"(%x)`, parse into these classes and have typed accessors (`op.axis`, `op.level`). Shape rules
IRDL cannot state live with each op as `check_shapes()`; the `gir-verify` pass runs them (gir-opt runs
it after parsing). Structure (loops, parallel mapping) lives in upstream ops such as `scf.forall`
carrying GIR attributes:
  `gir.unit = "core" | "block" | "warp" | "lane" | "cluster" | ...` on a forall says which hardware unit
  its iterations map to; `gir.target`, `gir.schedule` on a func record the target and chosen schedule.
"""
# No `from __future__ import annotations`: ext reads the op annotations as live objects.
import types
from collections.abc import Sequence
from typing import Any, TypeVar

from torch_mlir import ir
from torch_mlir.dialects import ext

from . import register_dialect
from .ops import DenseArrayAttr, enum, shape_of

UNARY = ["exp", "log", "tanh", "erf", "rsqrt", "sqrt", "neg", "abs", "recip", "sigmoid"]
BINARY = ["add", "sub", "mul", "div", "max", "min"]
REDUCE_KINDS = ["sum", "max", "min", "mean", "logsumexp", "var"]   # the last two: see passes/cpu/online_reduce.py
CMP_PREDICATES = ["lt", "le", "gt", "ge", "eq", "ne"]
MEMORY_LEVELS = ["global", "shared", "cluster", "local", "register"]
# Storage dtypes of GIR programs (NumPy/torch name -> MLIR element type); compute is in f32.
STORAGE_DTYPES = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}



class ShapeError(ValueError):
    """A GIR op whose shapes break its rule (reported by gir-verify at the op)."""


T, A, B = TypeVar("T"), TypeVar("A"), TypeVar("B")


class Gir(ext.Dialect, name="gir"):
    pass


class GirOp(Gir.Operation):
    """Base of every gir op: no shape rule beyond IRDL's constraint variables."""

    def check_shapes(self) -> None:
        pass


def _elementwise(name: str, fields: dict) -> type:
    return types.new_class(f"{name.capitalize()}Op", (GirOp,), {"name": name},
                           lambda ns: ns.update(__annotations__=fields))


# Same-type operands and result: IRDL's shared constraint variable (T) enforces it.
UNARY_OPS = {n: _elementwise(n, {"x": ext.Operand[T], "result": ext.Result[T]}) for n in UNARY}
BINARY_OPS = {n: _elementwise(n, {"lhs": ext.Operand[T], "rhs": ext.Operand[T], "result": ext.Result[T]})
              for n in BINARY}


class CmpOp(GirOp, name="cmp"):
    lhs: ext.Operand[T]
    rhs: ext.Operand[T]
    predicate: enum(*CMP_PREDICATES)
    result: ext.Result[Any]

    def check_shapes(self) -> None:
        if shape_of(self.lhs) != shape_of(self.result):
            raise ShapeError("cmp result must have the operand shape")


class SelectOp(GirOp, name="select"):
    cond: ext.Operand[Any]
    on_true: ext.Operand[T]
    on_false: ext.Operand[T]
    result: ext.Result[T]


class FmaOp(GirOp, name="fma"):
    a: ext.Operand[T]
    b: ext.Operand[T]
    c: ext.Operand[T]
    result: ext.Result[T]


class CastOp(GirOp, name="cast"):
    x: ext.Operand[A]
    result: ext.Result[B]


class SplatOp(GirOp, name="splat"):
    value: ir.FloatAttr
    result: ext.Result[Any]


class BroadcastOp(GirOp, name="broadcast"):
    x: ext.Operand[A]
    result: ext.Result[B]

    def check_shapes(self) -> None:
        src, dst = shape_of(self.x), shape_of(self.result)
        if len(src) != len(dst) or any(s not in (1, d) for s, d in zip(src, dst)):
            raise ShapeError(f"cannot broadcast {src} to {dst}: ranks must match and each dim be 1 or equal")


class TransposeOp(GirOp, name="transpose"):
    x: ext.Operand[A]
    permutation: DenseArrayAttr
    result: ext.Result[B]

    def check_shapes(self) -> None:
        src, dst = shape_of(self.x), shape_of(self.result)
        perm = list(ir.DenseI64ArrayAttr(self.permutation))
        if sorted(perm) != list(range(len(src))):
            raise ShapeError(f"permutation {perm} is not a permutation of 0..{len(src) - 1}")
        if [src[p] for p in perm] != dst:
            raise ShapeError(f"transpose of {src} by {perm} gives {[src[p] for p in perm]}, not {dst}")


class ReduceOp(GirOp, name="reduce"):
    x: ext.Operand[A]
    kind: enum(*REDUCE_KINDS)
    axis: ir.IntegerAttr
    result: ext.Result[B]

    def check_shapes(self) -> None:
        src, dst = shape_of(self.x), shape_of(self.result)
        axis = ir.IntegerAttr(self.axis).value
        if not -len(src) <= axis < len(src):
            raise ShapeError(f"reduction axis {axis} is out of range for rank {len(src)}")
        axis %= len(src)
        keep, drop = src[:axis] + [1] + src[axis + 1:], src[:axis] + src[axis + 1:]
        if dst not in (keep, drop):
            raise ShapeError(f"reduce along axis {axis} of {src} must give {keep} or {drop}, not {dst}")


# Data movement: buffers at a named memory level, tile loads/stores/copies between levels.
class AllocOp(GirOp, name="alloc"):
    level: enum(*MEMORY_LEVELS)
    buffer: ext.Result[Any]


class LoadOp(GirOp, name="load"):
    source: ext.Operand[Any]
    offsets: Sequence[ext.Operand[T]]
    level: enum(*MEMORY_LEVELS)
    tile: ext.Result[Any]


class StoreOp(GirOp, name="store"):
    tile: ext.Operand[Any]
    dest: ext.Operand[Any]
    offsets: Sequence[ext.Operand[T]]


class CopyOp(GirOp, name="copy"):
    source: ext.Operand[A]
    dest: ext.Operand[B]


def _trailing_operands(first: int):
    """The variadic tail of a single-variadic op (generic IR carries no operandSegmentSizes)."""
    return property(lambda self: list(self.operation.operands)[first:])


LoadOp.offsets = _trailing_operands(1)
StoreOp.offsets = _trailing_operands(2)

register_dialect("gir", Gir)


# ----------------------------------------------------------------------------------------------
# Python builders: one per op, used inside an active `ir.InsertionPoint` and `ir.Location`.
# ----------------------------------------------------------------------------------------------
def _i64(v: int) -> ir.IntegerAttr:
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), v)


def unary(name: str, x: ir.Value) -> ir.Value:
    return UNARY_OPS[name](x, result=x.type).result


def binary(name: str, lhs: ir.Value, rhs: ir.Value) -> ir.Value:
    return BINARY_OPS[name](lhs, rhs, result=lhs.type).result


def cmp(predicate: str, lhs: ir.Value, rhs: ir.Value) -> ir.Value:
    i1 = ir.RankedTensorType.get(shape_of(lhs), ir.IntegerType.get_signless(1))
    return CmpOp(lhs, rhs, ir.StringAttr.get(predicate), result=i1).result


def select(cond: ir.Value, on_true: ir.Value, on_false: ir.Value) -> ir.Value:
    return SelectOp(cond, on_true, on_false, result=on_true.type).result


def fma(a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
    return FmaOp(a, b, c, result=a.type).result


def cast(x: ir.Value, result_type: ir.Type) -> ir.Value:
    return CastOp(x, result=result_type).result


def splat(value: float, result_type: ir.Type) -> ir.Value:
    return SplatOp(ir.FloatAttr.get(ir.F32Type.get(), float(value)), result=result_type).result


def broadcast(x: ir.Value, result_type: ir.Type) -> ir.Value:
    return BroadcastOp(x, result=result_type).result


def transpose(x: ir.Value, permutation: list[int], result_type: ir.Type) -> ir.Value:
    return TransposeOp(x, ir.DenseI64ArrayAttr.get(list(permutation)), result=result_type).result


def reduce(kind: str, x: ir.Value, axis: int, result_type: ir.Type) -> ir.Value:
    return ReduceOp(x, ir.StringAttr.get(kind), _i64(axis), result=result_type).result


def alloc(buffer_type: ir.Type, level: str) -> ir.Value:
    return AllocOp(ir.StringAttr.get(level), buffer=buffer_type).result


def load(source: ir.Value, offsets: list[ir.Value], tile_type: ir.Type, level: str) -> ir.Value:
    op = ir.Operation.create("gir.load", results=[tile_type], operands=[source, *offsets],
                             attributes={"level": ir.StringAttr.get(level)})
    return op.results[0]


def store(tile: ir.Value, dest: ir.Value, offsets: list[ir.Value]) -> ir.Operation:
    return ir.Operation.create("gir.store", results=[], operands=[tile, dest, *offsets])


def copy(source: ir.Value, dest: ir.Value) -> ir.OpView:
    return CopyOp(source, dest)
