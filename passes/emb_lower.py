"""emb-lower-to-runtime: rewrite `emb` ops into `func.call`s on the FIITED runtime's C ABI.

Tables become `!llvm.ptr` handles carried as i64; memrefs are passed as their aligned base pointer
(`memref.extract_aligned_pointer_as_index` -> i64 -> `llvm.inttoptr`) plus sizes from `memref.dim`.
Every runtime status goes to `fiited_record_status`, which the host reads after the program ran
(`girflow.runtime.fiited.take_status`), so a bad id is an error, not a crash.
"""
from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import func as func_d

from girflow.passes.ir_utils import collect_ops, int_attr, str_attr
from girflow.passes.patterns import apply_patterns, replace
from girflow.passes.registry import PassError, gir_pass

# name -> (argument types, result type or None), in MLIR syntax
RUNTIME_DECLS = {
    "fiited_table_create": (["i64", "i64", "i64", "i64", "i64", "f64", "f64", "f64", "i64"], "!llvm.ptr"),
    "fiited_lookup": (["!llvm.ptr", "!llvm.ptr", "i64", "!llvm.ptr", "i64", "i64", "!llvm.ptr"], "i32"),
    "fiited_apply_gradients": (["!llvm.ptr", "!llvm.ptr", "i64", "!llvm.ptr", "i64", "i64", "!llvm.ptr"], "i32"),
    "fiited_resize": (["!llvm.ptr", "!llvm.ptr", "!llvm.ptr", "i64", "i64", "f64"], "i32"),
    "fiited_table_destroy": (["!llvm.ptr"], None),
    "fiited_record_status": (["i32"], None),
}
EMB_OPS = ("emb.table", "emb.lookup", "emb.apply_gradients", "emb.adjust_dims", "emb.destroy")
MODES = {"sum": 0, "mean": 1}
OPTIMIZERS = {"sgd": 0, "adagrad": 1}


class _Builder:
    """Emits runtime calls before an op (inside an active InsertionPoint and Location)."""

    def __init__(self):
        self.i64, self.i32 = ir.IntegerType.get_signless(64), ir.IntegerType.get_signless(32)
        self.index, self.f64 = ir.IndexType.get(), ir.F64Type.get()
        self.ptr = ir.Type.parse("!llvm.ptr")

    def const(self, value, ty) -> ir.Value:
        attr = ir.FloatAttr.get(ty, value) if isinstance(ty, ir.F64Type) else ir.IntegerAttr.get(ty, value)
        return ir.Operation.create("arith.constant", results=[ty], attributes={"value": attr}).results[0]

    def to_ptr(self, i64_value: ir.Value) -> ir.Value:
        return ir.Operation.create("llvm.inttoptr", results=[self.ptr], operands=[i64_value]).results[0]

    def memref_ptr(self, m: ir.Value) -> ir.Value:
        idx = ir.Operation.create("memref.extract_aligned_pointer_as_index", results=[self.index], operands=[m]).results[0]
        return self.to_ptr(self.index_to_i64(idx))

    def index_to_i64(self, v: ir.Value) -> ir.Value:
        return ir.Operation.create("arith.index_cast", results=[self.i64], operands=[v]).results[0]

    def dim(self, m: ir.Value, axis: int) -> ir.Value:
        d = ir.Operation.create("memref.dim", results=[self.index], operands=[m, self.const(axis, self.index)]).results[0]
        return self.index_to_i64(d)

    def call(self, name: str, args: list[ir.Value]) -> ir.Value | None:
        res = RUNTIME_DECLS[name][1]
        op = ir.Operation.create("func.call", results=[ir.Type.parse(res)] if res else [], operands=args,
                                 attributes={"callee": ir.FlatSymbolRefAttr.get(name)})
        return op.results[0] if res else None

    def checked_call(self, name: str, args: list[ir.Value]) -> None:
        self.call("fiited_record_status", [self.call(name, args)])


def _memref(v: ir.Value, rank: int, elem: str, what: str, op) -> ir.MemRefType:
    try:
        t = ir.MemRefType(v.type)
    except ValueError:
        raise PassError(f"{what} must be a memref, got {v.type}", op)
    if t.rank != rank or str(t.element_type) != elem:
        raise PassError(f"{what} must be a rank-{rank} memref of {elem}, got {t}", op)
    if not (isinstance(t.layout, ir.AffineMapAttr) and t.layout.value == ir.AffineMap.get_identity(t.rank)):
        raise PassError(f"{what} must have the identity layout (contiguous), got {t}", op)
    return t


def _table_of(op) -> ir.Operation | None:
    owner = op.operands[0].owner
    return owner if isinstance(owner, ir.Operation) and owner.name == "emb.table" else (
        owner.operation if hasattr(owner, "operation") and owner.operation.name == "emb.table" else None)


def _check_table_attrs(op) -> None:
    rows, dim, chunk, init = (int_attr(op, k) for k in ("rows", "max_dim", "chunk", "init_dim"))
    if rows <= 0 or chunk <= 0 or dim <= 0 or dim % chunk or init < 0 or init > dim or init % chunk:
        raise PassError(f"emb.table needs rows > 0 and max_dim, init_dim multiples of chunk ({chunk}) with "
                        f"0 <= init_dim <= max_dim; got rows={rows} max_dim={dim} init_dim={init}", op)


def _verify(op) -> None:
    """Checks IRDL cannot express; run on every op before any is rewritten."""
    name = op.name
    if name == "emb.table":
        _check_table_attrs(op)
    elif name in ("emb.lookup", "emb.apply_gradients"):
        what = "out" if name == "emb.lookup" else "grad"
        _memref(op.operands[1], 1, "i64", "ids", op)
        _memref(op.operands[2], 1, "i64", "offsets", op)
        dt = _memref(op.operands[3], 2, "f32", what, op)
        decl = _table_of(op)
        if decl is not None and dt.shape[1] >= 0 and dt.shape[1] != int_attr(decl, "max_dim"):
            raise PassError(f"{what} has {dt.shape[1]} columns but the table's max_dim is {int_attr(decl, 'max_dim')}", op)
    elif name == "emb.adjust_dims":
        it = _memref(op.operands[1], 1, "i64", "ids", op)
        dt = _memref(op.operands[2], 1, "i64", "dims", op)
        if it.shape[0] >= 0 and dt.shape[0] >= 0 and it.shape[0] != dt.shape[0]:
            raise PassError(f"ids ({it.shape[0]}) and dims ({dt.shape[0]}) differ in length", op)


def _lower_op(op, b: _Builder) -> list[ir.Value]:
    """The runtime calls replacing one emb op; returns the values replacing its results."""
    name = op.name
    if name == "emb.table":
        lr = ir.FloatAttr(op.attributes["lr"]).value
        rows = int_attr(op, "rows")
        args = [b.const(int_attr(op, k), b.i64) for k in ("rows", "max_dim", "chunk", "init_dim")]
        args += [b.const(OPTIMIZERS[str_attr(op, "optimizer")], b.i64), b.const(lr, b.f64), b.const(1e-10, b.f64),
                 b.const((1.0 / rows) ** 0.5, b.f64), b.const(int_attr(op, "seed"), b.i64)]
        handle = b.call("fiited_table_create", args)
        return [ir.Operation.create("llvm.ptrtoint", results=[b.i64], operands=[handle]).results[0]]
    table = b.to_ptr(op.operands[0])
    if name in ("emb.lookup", "emb.apply_gradients"):
        ids, offsets, dense = op.operands[1], op.operands[2], op.operands[3]
        mode = b.const(MODES[str_attr(op, "mode")], b.i64)
        fn = "fiited_lookup" if name == "emb.lookup" else "fiited_apply_gradients"
        b.checked_call(fn, [table, b.memref_ptr(ids), b.dim(ids, 0), b.memref_ptr(offsets), b.dim(offsets, 0),
                            mode, b.memref_ptr(dense)])
    elif name == "emb.adjust_dims":
        ids, dims = op.operands[1], op.operands[2]
        b.checked_call("fiited_resize", [table, b.memref_ptr(ids), b.memref_ptr(dims), b.dim(ids, 0),
                                         b.const(1, b.i64), b.const(0.25, b.f64)])
    elif name == "emb.destroy":
        b.call("fiited_table_destroy", [table])
    else:
        raise PassError(f"no lowering for {name}", op)
    return []


def _declare_runtime(module_op: ir.Operation) -> None:
    """`func.func private` declarations of the runtime functions the module does not define yet."""
    body = module_op.regions[0].blocks[0]
    existing = {ir.StringAttr(f.attributes["sym_name"]).value for f in collect_ops(module_op, "func.func")}
    first = body.operations[0]
    with ir.InsertionPoint(first), module_op.location:
        for name, (args, res) in RUNTIME_DECLS.items():
            if name not in existing:
                ftype = ir.FunctionType.get([ir.Type.parse(a) for a in args], [ir.Type.parse(res)] if res else [])
                func_d.FuncOp(name, ftype, visibility="private")


@gir_pass("emb-lower-to-runtime", "rewrite emb ops into func.calls on the FIITED runtime C ABI")
def lower_emb_to_runtime(module_op: ir.Operation, options) -> None:
    ops = collect_ops(module_op, "emb.")
    if not ops:
        return
    for op in ops:
        _verify(op)
    b = _Builder()

    def lower(op, rewriter):
        replace(rewriter, op, lambda: _lower_op(op, b))

    apply_patterns(module_op, {name: lower for name in EMB_OPS})
    _declare_runtime(module_op)
