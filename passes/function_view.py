"""The one plain-Python view of a tensor-level GIR function, shared by every target's code generator.

Generators walk this view (ops in program order, operands by name or reference) rather than the MLIR
objects, so that each backend only decides how to emit an op. One walk of the function body feeds two
forms: `extract` (value-numbered names and dtypes, for the GPU and MLU generators, with `levels`) and
`build_graph` (operands as references plus the dataflow facts: iteration space and sweep phase, with
the storage casts at the edges folded away, for the CPU generator).
"""
from __future__ import annotations

import dataclasses

from torch_mlir import ir

from girflow.dialects.ops import decode_attrs
from girflow.passes.dataflow import analyse, gir_functions
from girflow.passes.ir_utils import collect_ops, element_type, shape_of, str_attr
from girflow.passes.registry import PassError

_SCHEDULE_KEYS = ("tasks", "rows_per_task", "streaming_stores", "blocks_per_task", "tile_rows_per_task",
                  "tile", "vector_width", "unroll", "split", "part_cols", "part_rows", "items_per_task",
                  "interleave")


@dataclasses.dataclass
class GOp:
    kind: str
    result: str
    operands: list
    shape: tuple
    dtype: str
    attrs: dict


@dataclasses.dataclass
class GProgram:
    name: str
    form: str
    view: tuple
    args: list        # (name, shape, dtype)
    ops: list         # GOp in program order
    outputs: list     # (value name, shape, dtype)


@dataclasses.dataclass
class GNode:
    index: int
    kind: str                 # GIR op name without "gir."
    operands: list            # ("arg", i) or ("node", j)
    shape: tuple
    space: str                # full | row | col | scalar
    phase: int
    ready: int
    attrs: dict
    materialize: bool
    op: ir.Operation


@dataclasses.dataclass
class KernelGraph:
    name: str
    form: str
    view: tuple
    args: list                # (shape, element type str) per input
    nodes: list
    outputs: list             # refs of returned values (after edge casts are stripped)
    output_types: list        # storage element type str per output
    num_phases: int
    schedule: dict
    func: ir.Operation

    def node(self, ref):
        return self.nodes[ref[1]] if ref[0] == "node" else None


def dtype_of(value_or_type) -> str:
    """The element type of a tensor (or the type of a scalar), as printed: 'f32', 'bf16'."""
    return str(element_type(value_or_type))


def gir_funcs(module) -> list:
    """Tensor-level GIR functions: those with GIR ops, or a `gir.form` (an identity has no ops)."""
    found = gir_functions(module)
    for f in collect_ops(module, "func.func"):
        if "gir.form" in f.attributes and f not in found:
            found.append(f)
    return found


def _body(func: ir.Operation) -> tuple[list, list, list]:
    """The entry block's arguments, its GIR ops in order and the values it returns."""
    block = func.regions[0].blocks[0]
    ops, returned = [], []
    for op in block.operations:
        op = op.operation
        if op.name in ("func.return", "return"):
            returned = list(op.operands)
        elif op.name.startswith("gir."):
            ops.append(op)
        else:
            raise PassError(f"unexpected op '{op.name}' in a GIR function", op)
    return list(block.arguments), ops, returned


def _name(func: ir.Operation) -> str:
    return str_attr(func, "sym_name", "kernel")


# ---- value-numbered view (GPU, MLU) ----

def extract(func: ir.Operation) -> GProgram:
    """The value-numbered view: op kinds, value names, shapes, dtypes and scalar attributes."""
    arguments, body_ops, returned = _body(func)
    args = [(a.get_name(), tuple(shape_of(a)), dtype_of(a)) for a in arguments]
    ops, same = _value_number(body_ops)
    outputs = [(same.get(v.get_name(), v.get_name()), tuple(shape_of(v)), dtype_of(v)) for v in returned]
    return GProgram(_name(func), str_attr(func, "gir.form", "row"), _full_shape(args, func), args, ops, outputs)


def _value_number(body_ops: list) -> tuple[list, dict]:
    """GIR ops are pure, so a repeated (op, operands, attributes) is the same value: keep the first."""
    ops: list = []
    seen: dict = {}
    same: dict = {}
    for op in body_ops:
        attrs = decode_attrs(op, scalars_only=True)
        r = op.results[0]
        g = GOp(op.name[4:], r.get_name(), [same.get(v.get_name(), v.get_name()) for v in op.operands],
                tuple(shape_of(r)), dtype_of(r), attrs)
        key = (g.kind, tuple(g.operands), tuple(sorted(attrs.items())), g.shape, g.dtype)
        if key in seen:
            same[g.result] = seen[key]
            continue
        seen[key] = g.result
        ops.append(g)
    return ops, same


def _full_shape(args: list, func: ir.Operation) -> tuple:
    """The largest extent of every axis over the arguments: the full iteration space."""
    full: tuple | None = None
    for _, s, _ in args:
        full = s if full is None else tuple(max(x, y) for x, y in zip(full, s))
    if full is None:
        raise PassError("a GIR function needs at least one tensor argument", func)
    return tuple(full)


def levels(prog: GProgram) -> tuple[dict, dict]:
    """value -> sweep level at which it is available; value -> depends on the reduced (inner) axis."""
    level, inner = {}, {}
    for name, shape, _ in prog.args:
        level[name] = 0
        inner[name] = len(shape) > 1 and shape[1] == prog.view[1]
    for op in prog.ops:
        ins = op.operands
        lv = max((level[v] for v in ins), default=0)
        if op.kind == "reduce":
            level[op.result], inner[op.result] = lv + 1, False
        elif op.kind == "splat":
            level[op.result], inner[op.result] = 0, False
        else:
            level[op.result] = lv
            inner[op.result] = any(inner[v] for v in ins)
    return level, inner


# ---- dataflow graph view (CPU) ----

def build_graph(func: ir.Operation) -> KernelGraph:
    """The reference-based view with each op's iteration space and phase (passes/dataflow.py)."""
    df = analyse(func)
    arguments, body_ops, returned = _body(func)
    refs = {a.get_name(): ("arg", i) for i, a in enumerate(arguments)}
    nodes: list = []
    for op in body_ops:
        nodes.append(_node(op, len(nodes), refs, df.info(op)))
    outputs = [_strip_edge_cast(refs[v.get_name()], nodes) for v in returned]
    args = [(tuple(shape_of(a)), dtype_of(a)) for a in arguments]
    return KernelGraph(_name(func), df.form, df.view, args, nodes, outputs, [dtype_of(v) for v in returned],
                       df.num_phases, _schedule(func), func)


def _node(op: ir.Operation, index: int, refs: dict, info) -> GNode:
    """The graph node of `op`; records the reference its result is known by in `refs`."""
    operands = [refs[v.get_name()] for v in op.operands]
    shape = tuple(shape_of(op.results[0]))
    if op.name == "gir.cast" and operands[0][0] == "arg":
        # input edge cast: loads convert to f32 themselves, so the node aliases the argument
        refs[op.results[0].get_name()] = operands[0]
        return GNode(index, "alias", operands, shape, info.space, info.phase, info.ready, {}, False, op)
    attrs = {k: v for k, v in decode_attrs(op).items() if not k.startswith("gir.")}
    refs[op.results[0].get_name()] = ("node", index)
    return GNode(index, op.name[4:], operands, shape, info.space, info.phase, info.ready, attrs,
                 "gir.materialize" in op.attributes, op)


def _strip_edge_cast(ref: tuple, nodes: list) -> tuple:
    """Output storage cast at the edge: stores convert from f32 themselves, so return its input."""
    n = nodes[ref[1]] if ref[0] == "node" else None
    return n.operands[0] if n is not None and n.kind == "cast" else ref


def _schedule(func: ir.Operation) -> dict:
    """The integer fields of the function's `gir.schedule` dictionary."""
    if "gir.schedule" not in func.attributes:
        return {}
    d = ir.DictAttr(func.attributes["gir.schedule"])
    return {k: ir.IntegerAttr(d[k]).value for k in _SCHEDULE_KEYS if k in d}
