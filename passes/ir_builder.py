"""The one IR-building helper of every target's code generator (CPU, GPU, MLU).

Generators build their kernels with the dialects' op builders at the current `ir.InsertionPoint`;
this module adds what all of them need on top: types by element name, constants (hoisted to one
place and shared, or made where they are used), structured loops and branches as context managers
that close their regions with the right terminator, ops of girflow's own dialects, and a scratch
module to build a function in, so that a generator error leaves the user's module untouched.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator, Sequence

from torch_mlir import ir
from torch_mlir.dialects import arith, gpu, scf

_ELEMENTS = {"f32": ir.F32Type.get, "f16": ir.F16Type.get, "bf16": ir.BF16Type.get,
             "i1": lambda: ir.IntegerType.get_signless(1), "i32": lambda: ir.IntegerType.get_signless(32),
             "i64": lambda: ir.IntegerType.get_signless(64), "index": ir.IndexType.get}


def element(name: str) -> ir.Type:
    """The MLIR element type called `name` (f32, bf16, f16, i1, i32, i64, index)."""
    return _ELEMENTS[name]()


def vector(width: int, et: str = "f32") -> ir.VectorType:
    return ir.VectorType.get([width], element(et))


def memref(shape: Sequence[int], et: str = "f32", space: str | None = None) -> ir.MemRefType:
    """A static memref; `space="workgroup"` puts it in GPU shared memory."""
    ms = None
    if space:   # the bindings' builder of #gpu.address_space<...>
        ms = ir.AttrBuilder.get("gpu.GPU_AddressSpaceAttr")(gpu.AddressSpace[space.capitalize()], ir.Context.current)
    return ir.MemRefType.get(list(shape), element(et), memory_space=ms)


def i64_attr(value: int) -> ir.IntegerAttr:
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(value))


def array_attr(values: Sequence[int], bits: int = 64) -> ir.Attribute:
    return (ir.DenseI64ArrayAttr if bits == 64 else ir.DenseI32ArrayAttr).get([int(v) for v in values])


def attr(value) -> ir.Attribute:
    """An attribute from a Python value: str, bool/int (i64), float (f32), dict, None (unit);
    attributes pass through."""
    if isinstance(value, ir.Attribute):
        return value
    if value is None:
        return ir.UnitAttr.get()
    if isinstance(value, str):
        return ir.StringAttr.get(value)
    if isinstance(value, float):
        return ir.FloatAttr.get(ir.F32Type.get(), value)
    if isinstance(value, dict):
        return ir.DictAttr.get({k: attr(v) for k, v in value.items()})
    return i64_attr(value)


def set_attrs(op: ir.Operation | ir.OpView, fields: dict) -> None:
    """Set discardable attributes on `op` from Python values (see `attr`)."""
    for k, v in fields.items():
        op.attributes[k] = attr(v)


@dataclasses.dataclass
class Loop:
    """An `scf.for` under construction: set `carried` to the values the body yields (one per init)."""
    op: scf.ForOp
    carried: list

    @property
    def iv(self) -> ir.Value:
        return self.op.induction_variable

    @property
    def args(self) -> list:
        return list(self.op.inner_iter_args)

    @property
    def results(self) -> list:
        return list(self.op.results)


class Builder:
    """Constants and structured control flow at the current insertion point.

    `hoist`: where constants go; with it each distinct constant is made once (the CPU kernels keep
    them at the function's entry), without it every request makes a constant in place."""

    def __init__(self, hoist: ir.InsertionPoint | None = None):
        self.hoist = hoist
        self._consts: dict = {}

    # -- constants -------------------------------------------------------------------------------
    def _constant(self, key, ty: ir.Type, value) -> ir.Value:
        if self.hoist is None:
            return arith.constant(ty, value)
        if key not in self._consts:
            self._consts[key] = arith.constant(ty, value, ip=self.hoist)
        return self._consts[key]

    def index(self, n: int) -> ir.Value:
        return self._constant(("index", int(n)), ir.IndexType.get(), int(n))

    def integer(self, n: int, bits: int = 32) -> ir.Value:
        return self._constant((f"i{bits}", int(n)), ir.IntegerType.get_signless(bits), int(n))

    def float(self, value: float, ty: ir.Type | None = None) -> ir.Value:
        """An f32 constant, or an f32 vector splat when `ty` is a vector type."""
        ty = ty or ir.F32Type.get()
        attr = ir.FloatAttr.get(ir.F32Type.get(), float(value))
        if isinstance(ty, ir.VectorType):
            attr = ir.DenseElementsAttr.get_splat(ty, attr)
        return self._constant(("f", repr(float(value)), str(ty)), ty, attr)

    # -- arithmetic --------------------------------------------------------------------------------
    @staticmethod
    def arith(name: str, *operands: ir.Value) -> ir.Value:
        """`arith.<name>` on `operands` (addf, maximumf, muli, minsi, ...)."""
        return getattr(arith, name)(*operands)

    @staticmethod
    def cmpf(predicate: str, lhs: ir.Value, rhs: ir.Value) -> ir.Value:
        return arith.cmpf(getattr(arith.CmpFPredicate, predicate.upper()), lhs, rhs)

    @staticmethod
    def cmpi(predicate: str, lhs: ir.Value, rhs: ir.Value) -> ir.Value:
        return arith.cmpi(getattr(arith.CmpIPredicate, predicate), lhs, rhs)

    # -- structured control flow -------------------------------------------------------------------
    @contextlib.contextmanager
    def loop(self, lo: ir.Value, hi: ir.Value, step: ir.Value, inits: Sequence[ir.Value] = ()) -> Iterator[Loop]:
        """`scf.for lo to hi step step iter_args(inits)`; the body is built inside the `with`."""
        loop = Loop(scf.ForOp(lo, hi, step, list(inits)), [])
        with ir.InsertionPoint(loop.op.body):
            yield loop
            scf.YieldOp(loop.carried)

    @contextlib.contextmanager
    def if_(self, cond: ir.Value) -> Iterator[scf.IfOp]:
        """`scf.if cond { ... }` with no results and no else."""
        op = scf.IfOp(cond)
        with ir.InsertionPoint(op.then_block):
            yield op
            scf.YieldOp([])

    @staticmethod
    def if_else(cond: ir.Value) -> scf.IfOp:
        """`scf.if cond {} else {}`; fill both branches with `Builder.branch(op.then_block)` etc."""
        return scf.IfOp(cond, [], has_else=True)

    @staticmethod
    @contextlib.contextmanager
    def branch(block: ir.Block) -> Iterator[None]:
        with ir.InsertionPoint(block):
            yield
            scf.YieldOp([])

    @staticmethod
    def forall(tasks: int, attributes: dict | None = None) -> tuple[scf.ForallOp, ir.InsertionPoint]:
        """`scf.forall (%t) in (tasks)` and an insertion point for its body (before the terminator)."""
        op = scf.ForallOp([0], [int(tasks)], [1])
        set_attrs(op, attributes or {})
        with ir.InsertionPoint(op.body):
            term = scf.InParallelOp()
        return op, ir.InsertionPoint(term)

    # -- girflow's own dialects ----------------------------------------------------------------------
    @staticmethod
    def ext_op(cls: type, *args) -> ir.OpView:
        """An op of girflow's `ext` dialects (gir, emb, mlu) from its class; arguments in field order,
        Python values (str, int, float) becoming its attributes."""
        return cls(*[a if isinstance(a, (ir.Value, ir.Type)) else attr(a) for a in args])


@contextlib.contextmanager
def scratch_module(context: ir.Context, location: ir.Location) -> Iterator[ir.Module]:
    """A module to build generated IR in (moved into the user's module only when complete)."""
    with context, location:
        yield ir.Module.create()


def move_before(module: ir.Module, anchor: ir.Operation) -> None:
    """Move every top-level op of `module` in front of `anchor`."""
    for op in list(module.body.operations):
        op.operation.move_before(anchor)
