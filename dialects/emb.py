"""The `emb` dialect: embedding tables with per-row dimensions (FIITED), beside `gir`.

Ops (Python classes via torch_mlir.dialects.ext, emitted as IRDL; generic form), destination-passing on memrefs, tables as i64 runtime handles:
  %t = "emb.table"() {rows, max_dim, chunk, init_dim : i64, optimizer = "sgd"|"adagrad", lr : f64, seed}
  "emb.lookup"(%t, %ids, %offsets, %out) {mode = "sum"|"mean"}          pooled lookup into %out[B, D]
  "emb.apply_gradients"(%t, %ids, %offsets, %grad) {mode}                sparse optimiser step
  "emb.adjust_dims"(%t, %ids, %dims)                                     set rows' dimensions (0 prunes)
  "emb.destroy"(%t)
`emb-lower-to-runtime` rewrites them into `func.call`s on the runtime's C ABI.
"""
# No `from __future__ import annotations`: ext reads the op annotations as live objects.
from torch_mlir import ir
from torch_mlir.dialects import ext

from . import register_dialect
from .ops import enum

POOLING_MODES = ["sum", "mean"]
OPTIMIZERS = ["sgd", "adagrad"]


I64 = ir.IntegerType[64]
Memref = ir.MemRefType


class Emb(ext.Dialect, name="emb"):
    pass


class TableOp(Emb.Operation, name="table"):
    rows: ir.IntegerAttr
    max_dim: ir.IntegerAttr
    chunk: ir.IntegerAttr
    init_dim: ir.IntegerAttr
    optimizer: enum(*OPTIMIZERS)
    lr: ir.FloatAttr
    seed: ir.IntegerAttr
    table: ext.Result[I64]


class LookupOp(Emb.Operation, name="lookup"):
    table: ext.Operand[I64]
    ids: ext.Operand[Memref]
    offsets: ext.Operand[Memref]
    out: ext.Operand[Memref]
    mode: enum(*POOLING_MODES)


class ApplyGradientsOp(Emb.Operation, name="apply_gradients"):
    table: ext.Operand[I64]
    ids: ext.Operand[Memref]
    offsets: ext.Operand[Memref]
    grad: ext.Operand[Memref]
    mode: enum(*POOLING_MODES)


class AdjustDimsOp(Emb.Operation, name="adjust_dims"):
    table: ext.Operand[I64]
    ids: ext.Operand[Memref]
    dims: ext.Operand[Memref]


class DestroyOp(Emb.Operation, name="destroy"):
    table: ext.Operand[I64]


register_dialect("emb", Emb)


# Python builders, used inside an active `ir.InsertionPoint` and `ir.Location`.
def table(rows: int, max_dim: int, chunk: int = 8, init_dim: int | None = None, optimizer: str = "adagrad",
          lr: float = 0.01, seed: int = 0) -> ir.Value:
    i64 = ir.IntegerType.get_signless(64)
    attrs = {"rows": ir.IntegerAttr.get(i64, rows), "max_dim": ir.IntegerAttr.get(i64, max_dim),
             "chunk": ir.IntegerAttr.get(i64, chunk),
             "init_dim": ir.IntegerAttr.get(i64, max_dim if init_dim is None else init_dim),
             "optimizer": ir.StringAttr.get(optimizer), "lr": ir.FloatAttr.get(ir.F64Type.get(), lr),
             "seed": ir.IntegerAttr.get(i64, seed)}
    return ir.Operation.create("emb.table", results=[i64], attributes=attrs).results[0]


def lookup(t: ir.Value, ids: ir.Value, offsets: ir.Value, out: ir.Value, mode: str = "sum") -> ir.Operation:
    return ir.Operation.create("emb.lookup", results=[], operands=[t, ids, offsets, out],
                               attributes={"mode": ir.StringAttr.get(mode)})


def apply_gradients(t: ir.Value, ids: ir.Value, offsets: ir.Value, grad: ir.Value, mode: str = "sum") -> ir.Operation:
    return ir.Operation.create("emb.apply_gradients", results=[], operands=[t, ids, offsets, grad],
                               attributes={"mode": ir.StringAttr.get(mode)})


def adjust_dims(t: ir.Value, ids: ir.Value, dims: ir.Value) -> ir.Operation:
    return ir.Operation.create("emb.adjust_dims", results=[], operands=[t, ids, dims])


def destroy(t: ir.Value) -> ir.Operation:
    return ir.Operation.create("emb.destroy", results=[], operands=[t])
