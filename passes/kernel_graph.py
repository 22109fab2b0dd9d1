"""A plain-Python view of a tensor-level GIR function, shared by the code generators.

Code generators walk this graph (ops in program order, operands as references) rather than the
MLIR objects, so that each backend only decides how to emit a node at a given width/place.
"""
from __future__ import annotations

import dataclasses

from torch_mlir import ir

from girflow.dialects.ops import decode_attrs
from girflow.passes.dataflow import analyse
from girflow.passes.ir_utils import element_type, shape_of
from girflow.passes.registry import PassError


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


def et_str(t: ir.Type) -> str:
    return str(element_type(t))


def build_graph(func: ir.Operation) -> KernelGraph:
    df = analyse(func)
    block = func.regions[0].blocks[0]
    refs = {a.get_name(): ("arg", i) for i, a in enumerate(block.arguments)}
    args = [(tuple(shape_of(a)), et_str(a.type)) for a in block.arguments]
    nodes: list = []
    outputs: list = []
    out_types: list = []
    for op in block.operations:
        op = op.operation
        if op.name == "func.return":
            for v in op.operands:
                ref = refs[v.get_name()]
                out_types.append(et_str(v.type))
                # strip the storage cast at the edge: stores convert from f32 themselves
                n = nodes[ref[1]] if ref[0] == "node" else None
                if n is not None and n.kind == "cast":
                    ref = n.operands[0]
                outputs.append(ref)
            continue
        if not op.name.startswith("gir."):
            raise PassError(f"unexpected op '{op.name}' in a GIR kernel", op)
        info = df.info(op)
        kind = op.name[4:]
        operands = [refs[v.get_name()] for v in op.operands]
        if kind == "cast" and operands[0][0] == "arg":
            # input edge cast: loads convert to f32 themselves, so the node aliases the argument
            refs[op.results[0].get_name()] = operands[0]
            nodes.append(GNode(len(nodes), "alias", operands, tuple(shape_of(op.results[0])), info.space,
                               info.phase, info.ready, {}, False, op))
            continue
        attrs = {k: v for k, v in decode_attrs(op).items() if not k.startswith("gir.")}
        node = GNode(len(nodes), kind, operands, tuple(shape_of(op.results[0])), info.space, info.phase,
                     info.ready, attrs, "gir.materialize" in op.attributes, op)
        nodes.append(node)
        refs[op.results[0].get_name()] = ("node", node.index)
    sched = {}
    if "gir.schedule" in func.attributes:
        d = ir.DictAttr(func.attributes["gir.schedule"])
        sched = {k: ir.IntegerAttr(d[k]).value for k in
                 ("tasks", "rows_per_task", "streaming_stores", "blocks_per_task", "tile_rows_per_task", "tile", "vector_width", "unroll")
                 if k in d}
    name = ir.StringAttr(func.attributes["sym_name"]).value
    return KernelGraph(name, df.form, df.view, args, nodes, outputs, out_types, df.num_phases, sched, func)
