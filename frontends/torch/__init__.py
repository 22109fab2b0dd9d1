"""`torch.compile(model, backend="girflow")`: memory-bound regions of a model run as GIR kernels.

    import torch
    model = torch.compile(model, backend="girflow")   # registered through torch's entry point
    girflow.explain(model_or_fn, *inputs)              # what ran where, and why each fallback

Dynamo's graph goes through AOTAutograd (ATen ops, parameters as inputs); in inference graphs the
partitioner hands memory-bound regions to GIR (each through torch-mlir ->
linalg -> gir-from-linalg -> the GIR CPU pipeline) and leaves the rest to PyTorch.
"""
from __future__ import annotations

import dataclasses

import torch

from girflow.frontends.torch.partition import decompose, propose_regions, why_not
from girflow.frontends.torch.region import GirRegion


@dataclasses.dataclass
class GraphReport:
    """What one compiled graph does: its GIR regions and the ops PyTorch keeps (with reasons)."""
    kind: str                                    # "forward" | "backward" | "inference"
    regions: list = dataclasses.field(default_factory=list)     # GirRegion
    kept: list = dataclasses.field(default_factory=list)        # (op, reason)
    timings: dict = dataclasses.field(default_factory=dict)


REPORTS: list[GraphReport] = []


def _op_name(node) -> str:
    t = node.target
    return str(getattr(t, "overloadpacket", getattr(t, "__name__", t))).replace("aten.", "")


def partition_graph(gm: torch.fx.GraphModule, kind: str) -> torch.fx.GraphModule:
    """Replace each memory-bound region of `gm` by a GirRegion; record the report."""
    from torch.fx.passes.utils.fuser_utils import fuse_by_partitions

    report = GraphReport(kind)
    gm = decompose(gm)
    regions = propose_regions(gm)
    in_region = {n for p in regions for n in p}
    for n in gm.graph.nodes:
        if n.op == "call_function" and n not in in_region:
            reason = why_not(n) or "a view only (no data moves)"
            report.kept.append((_op_name(n), reason))
    if regions:
        ops_of = [[_op_name(n) for n in gm.graph.nodes if n in p] for p in regions]
        gm = fuse_by_partitions(gm, [{n: None for n in p} for p in regions], prefix="gir_region_")
        for i, ops in enumerate(ops_of):
            name = f"gir_region_{i}"
            sub = getattr(gm, name)
            region = GirRegion(sub, name, ops, report.timings)
            setattr(gm, name, region)
            report.regions.append(region)
        gm.recompile()
    REPORTS.append(report)
    return gm


def _compiler(kind):
    def compile_graph(gm, example_inputs):
        from functorch.compile import make_boxed_func

        return make_boxed_func(partition_graph(gm, kind).forward)

    return compile_graph


def girflow_backend(gm: torch.fx.GraphModule, example_inputs, **kwargs):
    """The torch.compile backend (name "girflow")."""
    from torch._dynamo.backends.common import aot_autograd

    return aot_autograd(fw_compiler=_compiler("forward"), bw_compiler=_compiler("backward"),
                        inference_compiler=_compiler("inference"))(gm, example_inputs)


def explain(model, *inputs, file=None) -> str:
    """Compile `model` with girflow, run it once on `inputs`, print and return what ran where."""
    import torch._dynamo

    start = len(REPORTS)
    compiled = torch.compile(model, backend=girflow_backend)
    with torch.no_grad():
        compiled(*inputs)
    text = format_reports(REPORTS[start:])
    print(text, file=file)
    return text


def format_reports(reports) -> str:
    lines = []
    for gi, rep in enumerate(reports):
        n_gir = sum(1 for r in rep.regions for e in r.by_shape.values() if e.kernel is not None)
        lines.append(f"graph {gi} ({rep.kind}): {len(rep.regions)} memory-bound region(s), "
                     f"{n_gir} running in GIR; {len(rep.kept)} op(s) kept in PyTorch")
        for r in rep.regions:
            lines.append(f"  {r.name}: {' -> '.join(r.ops)}")
            for s in r.status() or ["not run yet"]:
                lines.append(f"    {s}")
        counts: dict = {}
        for op, why in rep.kept:
            counts[(op, why)] = counts.get((op, why), 0) + 1
        for (op, why), c in counts.items():
            lines.append(f"  PyTorch: {op}{f' x{c}' if c > 1 else ''}: {why}")
    return "\n".join(lines)
