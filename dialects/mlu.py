"""The `mlu` dialect: BANG-style primitives of a Cambricon MLU (as IntelliGen / BANG C target it).

A kernel is a `func.func` whose memref arguments live in GDRAM; it runs once per task
(`mlu.task_id` = cluster_id * cores_per_cluster + core_id, Union1-style launch over whole clusters).
  mlu.task_id / mlu.task_dim / mlu.cluster_id / mlu.core_id        -> index
  mlu.alloc {space = "NRAM"|"WRAM"|"SRAM"|"GDRAM", name}         buffer memref<T0xT1xf32>
                                                                   (NRAM/WRAM per core, SRAM per cluster)
  mlu.memcpy(dst, src, dst_offset, src_offset, segments, seg_len, dst_stride, src_stride)
        {direction = "GDRAM2NRAM"|"NRAM2GDRAM"|"GDRAM2SRAM"|"SRAM2NRAM"|"NRAM2SRAM"|"SRAM2GDRAM"|"NRAM2NRAM"}
                                                                   2-D strided DMA (BANG __memcpy with
                                                                   stride/segnum), offsets in elements
                                                                   of the flattened buffers
  vector ops on NRAM, all (dst, operands..., rows, cols): operands broadcast NumPy-style over the
  [rows, cols] valid region of the tile (a [T,1] buffer is per-row, [1,C] per-column, [1,1] scalar):
  mlu.add sub mul div maximum minimum (__bang_add, __bang_cycle_* for broadcasts), mlu.active {fn}
  (__bang_active_exp/log/tanh/...), mlu.reduce {kind, axis} (__bang_reduce_sum/max/min),
  mlu.cmp {predicate}, mlu.select, mlu.fill {value} (__bang_write_value), mlu.convert (f16/bf16 <->
  f32), mlu.move (broadcasting copy), mlu.transpose (__bang_transpose)
  mlu.sync_cluster (__sync_cluster), mlu.sync (__sync: this core's DMA and compute queues)
  mlu.launch_boundary: the end of one kernel launch in a sequence of launches (op-by-op execution):
  every task finishes, and the on-chip buffers allocated since the previous boundary are released
Structure (loops over tiles) uses upstream scf/arith ops. Execution: passes/emulators/mlu.py.
"""
# No `from __future__ import annotations`: ext reads the op annotations as live objects.
import types
from typing import Any, TypeVar

from torch_mlir import ir
from torch_mlir.dialects import ext

from . import register_dialect
from .ops import enum

ACTIVE_FNS = ["exp", "log", "tanh", "erf", "rsqrt", "sqrt", "neg", "abs", "recip", "sigmoid"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum"]
SPACES = ["NRAM", "WRAM", "SRAM", "GDRAM"]
DIRECTIONS = ["GDRAM2NRAM", "NRAM2GDRAM", "GDRAM2SRAM", "SRAM2NRAM", "NRAM2SRAM", "SRAM2GDRAM",
              "NRAM2NRAM", "GDRAM2GDRAM"]
REDUCE_KINDS = ["sum", "max", "min"]
PREDICATES = ["lt", "le", "gt", "ge", "eq", "ne"]


I = TypeVar("I")   # every index operand of one op has the same type


class Mlu(ext.Dialect, name="mlu"):
    pass


def _op(name: str, fields: dict) -> type:
    cls_name = "".join(p.capitalize() for p in name.split("_")) + "Op"
    return types.new_class(cls_name, (Mlu.Operation,), {"name": name}, lambda ns: ns.update(__annotations__=fields))


def _rows_cols(**operands) -> dict:
    return {**{k: ext.Operand[Any] for k in operands}, "rows": ext.Operand[I], "cols": ext.Operand[I]}


ID_OPS = {n: _op(n, {"id": ext.Result[Any]}) for n in ["task_id", "task_dim", "cluster_id", "core_id"]}


class AllocOp(Mlu.Operation, name="alloc"):
    space: enum(*SPACES)
    name: ir.StringAttr
    buffer: ext.Result[Any]


# `name` is the buffer's name attribute; the op's own name stays `op.name` as on every OpView.
AllocOp.buffer_name = property(lambda self: ir.StringAttr(self.attributes["name"]).value)
AllocOp.name = ir.OpView.name


class MemcpyOp(Mlu.Operation, name="memcpy"):
    dst: ext.Operand[Any]
    src: ext.Operand[Any]
    dst_offset: ext.Operand[I]
    src_offset: ext.Operand[I]
    segments: ext.Operand[I]
    seg_len: ext.Operand[I]
    dst_stride: ext.Operand[I]
    src_stride: ext.Operand[I]
    direction: enum(*DIRECTIONS)


class FillOp(Mlu.Operation, name="fill"):
    dst: ext.Operand[Any]
    value: ir.FloatAttr


BINARY_OPS = {n: _op(n, _rows_cols(dst=1, lhs=1, rhs=1)) for n in BINARY}
ActiveOp = _op("active", {**_rows_cols(dst=1, src=1), "fn": enum(*ACTIVE_FNS)})
ReduceOp = _op("reduce", {**_rows_cols(dst=1, src=1), "kind": enum(*REDUCE_KINDS), "axis": ir.IntegerAttr})
CmpOp = _op("cmp", {**_rows_cols(dst=1, lhs=1, rhs=1), "predicate": enum(*PREDICATES)})
SelectOp = _op("select", _rows_cols(dst=1, cond=1, on_true=1, on_false=1))
MOVE_OPS = {n: _op(n, _rows_cols(dst=1, src=1)) for n in ["convert", "move", "transpose"]}
SYNC_OPS = {n: _op(n, {}) for n in ["sync_cluster", "sync", "launch_boundary"]}

register_dialect("mlu", Mlu)
