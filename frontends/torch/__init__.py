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

from girflow.frontends.torch.partition import decompose, is_layout_change, propose_regions, why_not
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
    import time

    t0 = time.perf_counter()
    report = GraphReport(kind)
    gm = decompose(gm)
    regions = propose_regions(gm)
    in_region = {n for p in regions for n in p}
    for n in gm.graph.nodes:
        if n.op == "call_function" and n not in in_region:
            reason = why_not(n) or "a view only (no data moves)"
            report.kept.append((_op_name(n), reason))
    if regions:
        gm, report.regions = fuse_regions(gm, regions, "gir_region_", report.timings)
    report.timings["partition_s"] = time.perf_counter() - t0
    REPORTS.append(report)
    return gm


def fuse_regions(gm: torch.fx.GraphModule, regions: list, prefix: str, timings: dict):
    """`gm` with each region (a set of nodes) replaced by a GirRegion call; (gm, the GirRegions)."""
    from torch.fx.passes.utils.fuser_utils import fuse_by_partitions

    ops_of = [[_op_name(n) for n in gm.graph.nodes if n in p] for p in regions]
    gm = fuse_by_partitions(gm, [{n: None for n in p} for p in regions], prefix=prefix)
    made = []
    for i, ops in enumerate(ops_of):
        name = f"{prefix}{i}"
        region = GirRegion(getattr(gm, name), name.replace("_piece_", "."), ops, timings)
        setattr(gm, name, region)
        made.append(region)
    gm.recompile()
    return gm, made


def split_at_layout(gm: torch.fx.GraphModule, name: str, timings: dict):
    """A region GIR cannot take whole (a transpose or permute inside it, a reshape between two
    computations) cut at its views, reshapes, transposes and permutes: those run in PyTorch (a view,
    or PyTorch's copy where a piece needs its input contiguous) and each piece between them is a
    GirRegion of its own. (graph module, pieces), or None when there is nothing to cut at."""
    import copy

    if not any(is_layout_change(n) for n in gm.graph.nodes):
        return None
    gm = copy.deepcopy(gm)
    pieces = propose_regions(gm, layout=False)
    if not pieces:
        return None
    return fuse_regions(gm, pieces, f"{name}_piece_", timings)


def _compiler(kind):
    from torch._functorch.aot_autograd import SerializableAOTDispatchCompiler

    from girflow.frontends.torch.artifact import GirGraph

    def compile_graph(gm, example_inputs):
        return GirGraph(gm, kind)

    return SerializableAOTDispatchCompiler(GirGraph, compile_graph)


def girflow_backend(gm: torch.fx.GraphModule, example_inputs, **kwargs):
    """The torch.compile backend (name "girflow")."""
    from torch._dynamo.backends.common import aot_autograd

    # bundled: AOTAutograd's cache stores girflow's own (serialisable) graphs, not inductor's keys
    with torch._functorch.config.patch(bundled_autograd_cache=True):
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
        n_gir = sum(r.kernels_running() for r in rep.regions)
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
