"""The GIR dialect: computation, data movement between memory levels, and parallel strategy.

Ops are defined in IRDL (so they print in generic form, e.g. `"gir.exp"(%x)`); structure (loops,
parallel mapping) lives in upstream ops such as `scf.forall` carrying GIR attributes:
  `gir.unit = "core" | "block" | "warp" | "lane" | "cluster" | ...` on a forall says which hardware unit
  its iterations map to; `gir.target`, `gir.schedule` on a func record the target and chosen schedule.
Shape rules IRDL cannot express are checked by the `gir-verify` pass (run by gir-opt after parsing).
"""
from __future__ import annotations

from torch_mlir import ir

from . import register_dialect

UNARY = ["exp", "log", "tanh", "erf", "rsqrt", "sqrt", "neg", "abs", "recip", "sigmoid"]
BINARY = ["add", "sub", "mul", "div", "max", "min"]
REDUCE_KINDS = ["sum", "max", "min", "mean"]
CMP_PREDICATES = ["lt", "le", "gt", "ge", "eq", "ne"]
MEMORY_LEVELS = ["global", "shared", "cluster", "local", "register"]
# Storage dtypes of GIR programs (NumPy/torch name -> MLIR element type); compute is in f32.
STORAGE_DTYPES = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}


def _enum(var: str, values: list[str]) -> str:
    lines = [f'    %{var}_{i} = irdl.is "{v}"' for i, v in enumerate(values)]
    lines.append(f"    %{var} = irdl.any_of({', '.join(f'%{var}_{i}' for i in range(len(values)))})")
    return "\n".join(lines)


def _irdl_source() -> str:
    ops = []
    for name in UNARY:
        ops.append(f"""  irdl.operation @{name} {{
    %t = irdl.any
    irdl.operands(x: %t)
    irdl.results(result: %t)
  }}""")
    for name in BINARY:
        ops.append(f"""  irdl.operation @{name} {{
    %t = irdl.any
    irdl.operands(lhs: %t, rhs: %t)
    irdl.results(result: %t)
  }}""")
    ops.append(f"""  irdl.operation @cmp {{
    %t = irdl.any
    %r = irdl.any
{_enum("pred", CMP_PREDICATES)}
    irdl.operands(lhs: %t, rhs: %t)
    irdl.results(result: %r)
    irdl.attributes {{"predicate" = %pred}}
  }}""")
    ops.append("""  irdl.operation @select {
    %c = irdl.any
    %t = irdl.any
    irdl.operands(cond: %c, on_true: %t, on_false: %t)
    irdl.results(result: %t)
  }
  irdl.operation @fma {
    %t = irdl.any
    irdl.operands(a: %t, b: %t, c: %t)
    irdl.results(result: %t)
  }
  irdl.operation @cast {
    %a = irdl.any
    %b = irdl.any
    irdl.operands(x: %a)
    irdl.results(result: %b)
  }
  irdl.operation @splat {
    %f = irdl.base "#builtin.float"
    %t = irdl.any
    irdl.results(result: %t)
    irdl.attributes {"value" = %f}
  }
  irdl.operation @broadcast {
    %a = irdl.any
    %b = irdl.any
    irdl.operands(x: %a)
    irdl.results(result: %b)
  }
  irdl.operation @transpose {
    %a = irdl.any
    %b = irdl.any
    %p = irdl.base "#builtin.dense_array"
    irdl.operands(x: %a)
    irdl.results(result: %b)
    irdl.attributes {"permutation" = %p}
  }""")
    ops.append(f"""  irdl.operation @reduce {{
    %a = irdl.any
    %b = irdl.any
    %i = irdl.base "#builtin.integer"
{_enum("kind", REDUCE_KINDS)}
    irdl.operands(x: %a)
    irdl.results(result: %b)
    irdl.attributes {{"kind" = %kind, "axis" = %i}}
  }}""")
    # Data movement: buffers at a named memory level, tile loads/stores/copies between levels.
    ops.append(f"""  irdl.operation @alloc {{
    %m = irdl.any
{_enum("level", MEMORY_LEVELS)}
    irdl.results(buffer: %m)
    irdl.attributes {{"level" = %level}}
  }}
  irdl.operation @load {{
    %m = irdl.any
    %i = irdl.any
    %t = irdl.any
{_enum("level", MEMORY_LEVELS)}
    irdl.operands(source: %m, offsets: variadic %i)
    irdl.results(tile: %t)
    irdl.attributes {{"level" = %level}}
  }}
  irdl.operation @store {{
    %m = irdl.any
    %i = irdl.any
    %t = irdl.any
    irdl.operands(tile: %t, dest: %m, offsets: variadic %i)
    irdl.results()
  }}
  irdl.operation @copy {{
    %a = irdl.any
    %b = irdl.any
    irdl.operands(source: %a, dest: %b)
    irdl.results()
  }}""")
    return "irdl.dialect @gir {\n" + "\n".join(ops) + "\n}\n"


IRDL_SOURCE = _irdl_source()
register_dialect("gir", IRDL_SOURCE)


# ----------------------------------------------------------------------------------------------
# Python builders: one per op, used inside an active `ir.InsertionPoint` and `ir.Location`.
# ----------------------------------------------------------------------------------------------
def _create(name, result_types, operands=(), attributes=None):
    op = ir.Operation.create(f"gir.{name}", results=list(result_types), operands=list(operands),
                             attributes=attributes or {})
    return op.results[0] if len(op.results) == 1 else op


def unary(name: str, x: ir.Value) -> ir.Value:
    assert name in UNARY, name
    return _create(name, [x.type], [x])


def binary(name: str, lhs: ir.Value, rhs: ir.Value) -> ir.Value:
    assert name in BINARY, name
    return _create(name, [lhs.type], [lhs, rhs])


def cmp(predicate: str, lhs: ir.Value, rhs: ir.Value) -> ir.Value:
    shape = ir.RankedTensorType(lhs.type).shape
    i1 = ir.RankedTensorType.get(shape, ir.IntegerType.get_signless(1))
    return _create("cmp", [i1], [lhs, rhs], {"predicate": ir.StringAttr.get(predicate)})


def select(cond: ir.Value, on_true: ir.Value, on_false: ir.Value) -> ir.Value:
    return _create("select", [on_true.type], [cond, on_true, on_false])


def fma(a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
    return _create("fma", [a.type], [a, b, c])


def cast(x: ir.Value, result_type: ir.Type) -> ir.Value:
    return _create("cast", [result_type], [x])


def splat(value: float, result_type: ir.Type) -> ir.Value:
    return _create("splat", [result_type], [], {"value": ir.FloatAttr.get(ir.F32Type.get(), float(value))})


def broadcast(x: ir.Value, result_type: ir.Type) -> ir.Value:
    return _create("broadcast", [result_type], [x])


def transpose(x: ir.Value, permutation: list[int], result_type: ir.Type) -> ir.Value:
    return _create("transpose", [result_type], [x],
                   {"permutation": ir.DenseI64ArrayAttr.get(list(permutation))})


def reduce(kind: str, x: ir.Value, axis: int, result_type: ir.Type) -> ir.Value:
    assert kind in REDUCE_KINDS, kind
    return _create("reduce", [result_type], [x], {
        "kind": ir.StringAttr.get(kind),
        "axis": ir.IntegerAttr.get(ir.IntegerType.get_signless(64), axis)})


def alloc(buffer_type: ir.Type, level: str) -> ir.Value:
    return _create("alloc", [buffer_type], [], {"level": ir.StringAttr.get(level)})


def load(source: ir.Value, offsets: list[ir.Value], tile_type: ir.Type, level: str) -> ir.Value:
    return _create("load", [tile_type], [source, *offsets], {"level": ir.StringAttr.get(level)})


def store(tile: ir.Value, dest: ir.Value, offsets: list[ir.Value]):
    return _create("store", [], [tile, dest, *offsets])


def copy(source: ir.Value, dest: ir.Value):
    return _create("copy", [], [source, dest])
