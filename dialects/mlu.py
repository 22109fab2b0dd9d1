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
Structure (loops over tiles) uses upstream scf/arith ops. Execution: girflow.runtime.mlu (emulator).
"""
from __future__ import annotations

from . import register_dialect

ACTIVE_FNS = ["exp", "log", "tanh", "erf", "rsqrt", "sqrt", "neg", "abs", "recip", "sigmoid"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum"]
SPACES = ["NRAM", "WRAM", "SRAM", "GDRAM"]
DIRECTIONS = ["GDRAM2NRAM", "NRAM2GDRAM", "GDRAM2SRAM", "SRAM2NRAM", "NRAM2SRAM", "SRAM2GDRAM",
              "NRAM2NRAM", "GDRAM2GDRAM"]
REDUCE_KINDS = ["sum", "max", "min"]
PREDICATES = ["lt", "le", "gt", "ge", "eq", "ne"]


def _enum(var, values):
    lines = [f'    %{var}_{i} = irdl.is "{v}"' for i, v in enumerate(values)]
    lines.append(f"    %{var} = irdl.any_of({', '.join(f'%{var}_{i}' for i in range(len(values)))})")
    return "\n".join(lines)


def _irdl_source() -> str:
    ops = []
    for name in ["task_id", "task_dim", "cluster_id", "core_id"]:
        ops.append(f"""  irdl.operation @{name} {{
    %i = irdl.any
    irdl.results(id: %i)
  }}""")
    ops.append(f"""  irdl.operation @alloc {{
    %m = irdl.any
    %s = irdl.base "#builtin.string"
{_enum("space", SPACES)}
    irdl.results(buffer: %m)
    irdl.attributes {{"space" = %space, "name" = %s}}
  }}""")
    ops.append(f"""  irdl.operation @memcpy {{
    %a = irdl.any
    %b = irdl.any
    %i = irdl.any
{_enum("dir", DIRECTIONS)}
    irdl.operands(dst: %a, src: %b, dst_offset: %i, src_offset: %i, segments: %i, seg_len: %i, dst_stride: %i, src_stride: %i)
    irdl.results()
    irdl.attributes {{"direction" = %dir}}
  }}""")
    ops.append("""  irdl.operation @fill {
    %a = irdl.any
    %f = irdl.base "#builtin.float"
    irdl.operands(dst: %a)
    irdl.results()
    irdl.attributes {"value" = %f}
  }""")
    for name in BINARY:
        ops.append(f"""  irdl.operation @{name} {{
    %a = irdl.any
    %b = irdl.any
    %c = irdl.any
    %i = irdl.any
    irdl.operands(dst: %a, lhs: %b, rhs: %c, rows: %i, cols: %i)
    irdl.results()
  }}""")
    ops.append(f"""  irdl.operation @active {{
    %a = irdl.any
    %b = irdl.any
    %i = irdl.any
{_enum("fn", ACTIVE_FNS)}
    irdl.operands(dst: %a, src: %b, rows: %i, cols: %i)
    irdl.results()
    irdl.attributes {{"fn" = %fn}}
  }}""")
    ops.append(f"""  irdl.operation @reduce {{
    %a = irdl.any
    %b = irdl.any
    %i = irdl.any
    %ax = irdl.base "#builtin.integer"
{_enum("kind", REDUCE_KINDS)}
    irdl.operands(dst: %a, src: %b, rows: %i, cols: %i)
    irdl.results()
    irdl.attributes {{"kind" = %kind, "axis" = %ax}}
  }}""")
    ops.append(f"""  irdl.operation @cmp {{
    %a = irdl.any
    %b = irdl.any
    %c = irdl.any
    %i = irdl.any
{_enum("pred", PREDICATES)}
    irdl.operands(dst: %a, lhs: %b, rhs: %c, rows: %i, cols: %i)
    irdl.results()
    irdl.attributes {{"predicate" = %pred}}
  }}""")
    ops.append("""  irdl.operation @select {
    %a = irdl.any
    %b = irdl.any
    %c = irdl.any
    %d = irdl.any
    %i = irdl.any
    irdl.operands(dst: %a, cond: %b, on_true: %c, on_false: %d, rows: %i, cols: %i)
    irdl.results()
  }""")
    for name in ["convert", "move", "transpose"]:
        ops.append(f"""  irdl.operation @{name} {{
    %a = irdl.any
    %b = irdl.any
    %i = irdl.any
    irdl.operands(dst: %a, src: %b, rows: %i, cols: %i)
    irdl.results()
  }}""")
    for name in ["sync_cluster", "sync", "launch_boundary"]:
        ops.append(f"""  irdl.operation @{name} {{
    irdl.operands()
    irdl.results()
  }}""")
    return "irdl.dialect @mlu {\n" + "\n".join(ops) + "\n}\n"


IRDL_SOURCE = _irdl_source()
register_dialect("mlu", IRDL_SOURCE)
