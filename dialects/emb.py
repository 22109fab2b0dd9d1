"""The `emb` dialect: embedding tables with per-row dimensions (FIITED), beside `gir`.

Ops (IRDL, generic form), destination-passing on memrefs, tables as i64 runtime handles:
  %t = "emb.table"() {rows, max_dim, chunk, init_dim : i64, optimizer = "sgd"|"adagrad", lr : f64, seed}
  "emb.lookup"(%t, %ids, %offsets, %out) {mode = "sum"|"mean"}          pooled lookup into %out[B, D]
  "emb.apply_gradients"(%t, %ids, %offsets, %grad) {mode}                sparse optimiser step
  "emb.adjust_dims"(%t, %ids, %dims)                                     set rows' dimensions (0 prunes)
  "emb.destroy"(%t)
`emb-lower-to-runtime` rewrites them into `func.call`s on the runtime's C ABI.
"""
from __future__ import annotations

from torch_mlir import ir

from . import register_dialect

POOLING_MODES = ["sum", "mean"]
OPTIMIZERS = ["sgd", "adagrad"]


def _enum(var: str, values: list[str]) -> str:
    lines = [f'    %{var}_{i} = irdl.is "{v}"' for i, v in enumerate(values)]
    lines.append(f"    %{var} = irdl.any_of({', '.join(f'%{var}_{i}' for i in range(len(values)))})")
    return "\n".join(lines)


IRDL_SOURCE = f"""irdl.dialect @emb {{
  irdl.operation @table {{
    %rows = irdl.base "#builtin.integer"
    %max_dim = irdl.base "#builtin.integer"
    %chunk = irdl.base "#builtin.integer"
    %init_dim = irdl.base "#builtin.integer"
    %seed = irdl.base "#builtin.integer"
    %lr = irdl.base "#builtin.float"
{_enum("opt", OPTIMIZERS)}
    %h = irdl.is i64
    irdl.results(table: %h)
    irdl.attributes {{"rows" = %rows, "max_dim" = %max_dim, "chunk" = %chunk, "init_dim" = %init_dim, "optimizer" = %opt, "lr" = %lr, "seed" = %seed}}
  }}
  irdl.operation @lookup {{
    %h = irdl.is i64
    %m0 = irdl.base "!builtin.memref"
    %m1 = irdl.base "!builtin.memref"
    %m2 = irdl.base "!builtin.memref"
{_enum("mode", POOLING_MODES)}
    irdl.operands(table: %h, ids: %m0, offsets: %m1, out: %m2)
    irdl.results()
    irdl.attributes {{"mode" = %mode}}
  }}
  irdl.operation @apply_gradients {{
    %h = irdl.is i64
    %m0 = irdl.base "!builtin.memref"
    %m1 = irdl.base "!builtin.memref"
    %m2 = irdl.base "!builtin.memref"
{_enum("mode", POOLING_MODES)}
    irdl.operands(table: %h, ids: %m0, offsets: %m1, grad: %m2)
    irdl.results()
    irdl.attributes {{"mode" = %mode}}
  }}
  irdl.operation @adjust_dims {{
    %h = irdl.is i64
    %m0 = irdl.base "!builtin.memref"
    %m1 = irdl.base "!builtin.memref"
    irdl.operands(table: %h, ids: %m0, dims: %m1)
    irdl.results()
  }}
  irdl.operation @destroy {{
    %h = irdl.is i64
    irdl.operands(table: %h)
    irdl.results()
  }}
}}
"""
register_dialect("emb", IRDL_SOURCE)


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
