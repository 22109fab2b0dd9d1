"""An FX region -> raised GIR, through MLIR: torch-mlir's FX importer (torch dialect), the upstream
torch-backend-to-linalg-on-tensors pipeline, then girflow's `gir-from-linalg` and canonicalize.

The raised module text is cached on disk (runtime.cache_dir) under a key of the region's graph and
argument shapes, so a warm start skips the import and the lowering (they cost most of compile time).
"""
from __future__ import annotations

import functools
import hashlib
import time

import torch
from torch_mlir import ir, passmanager
from torch_mlir.dialects import torch as torch_d
from torch_mlir.extras.fx_importer import FxImporter

from girflow.dialects import make_context
from girflow.passes.from_linalg import is_pure_gir, raise_function
from girflow.passes.ir_utils import collect_ops
from girflow.passes.registry import run_pipeline
from girflow.runtime.cache_dir import cache_dir
from girflow.runtime.kernel_cache import source_fingerprint

TORCH_TO_BACKEND = ("builtin.module(func.func(torch-match-quantized-custom-ops),"
                    "torchdynamo-export-to-torch-backend-pipeline{ extra-library=})")
BACKEND_TO_LINALG = "builtin.module(torch-backend-to-linalg-on-tensors-backend-pipeline{allow-non-finites=true})"
RAISE = "gir-from-linalg,canonicalize,cse"
CACHE_VERSION = "4"


class LoweringError(ValueError):
    """The region cannot become a pure GIR function; the message says which op stopped it."""


def structure(gm: torch.fx.GraphModule) -> str:
    """The graph's ops and wiring without node names: the same layer repeated gives the same text,
    and so does the same graph with its nodes listed in another topological order (torch's
    partitioner orders a fused region's nodes differently from one run to the next)."""
    nodes = list(gm.graph.nodes)
    index: dict[torch.fx.Node, int] = {}
    lines: list[str] = []

    def ref(a):
        if isinstance(a, torch.fx.Node):
            return f"%{index[a]}"
        if isinstance(a, (tuple, list)):
            return "(" + ",".join(ref(x) for x in a) + ")"
        if isinstance(a, dict):
            return "{" + ",".join(f"{k}:{ref(v)}" for k, v in sorted(a.items())) + "}"
        return repr(a)

    def emit(n):
        index[n] = len(lines)
        lines.append(f"{n.op} {n.target if n.op != 'placeholder' else ''} {ref(n.args)} {ref(n.kwargs)}")

    for n in nodes:                     # placeholders in call order: they bind the arguments
        if n.op == "placeholder":
            emit(n)
    # the rest in one canonical order: depth-first from the output, operands left to right
    stack = [(n, False) for n in reversed(nodes) if n.op == "output" or not n.users]
    while stack:
        n, ready = stack.pop()
        if n in index:
            continue
        if ready:
            emit(n)
            continue
        stack.append((n, True))
        for a in reversed(_flat_nodes((n.args, n.kwargs))):
            if a not in index:
                stack.append((a, False))
    return "\n".join(lines)


def _flat_nodes(args) -> list:
    found: list = []

    def keep(n):
        found.append(n)
        return n

    torch.fx.node.map_arg(args, keep)
    return found


def signature_of(args) -> tuple:
    """The shape class of a region call: each tensor's shape and dtype, other arguments as they are."""
    return tuple((tuple(a.shape), str(a.dtype)) if isinstance(a, torch.Tensor) else a for a in args)


def graph_key(gm: torch.fx.GraphModule, signature) -> str:
    """Names a region's lowering on disk: its graph, shapes, torch's version and girflow's sources
    that lower it (a changed lowering never reuses an older result)."""
    sources = source_fingerprint("frontends/torch", "frontends/array_api.py", "passes", "dialects")
    text = "|".join([CACHE_VERSION, torch.__version__, sources, structure(gm), repr(signature)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def concrete_graph(gm: torch.fx.GraphModule, args) -> torch.fx.GraphModule:
    """The region traced at these arguments' shapes (ints baked in), with fake-tensor metadata."""
    from torch.fx.experimental.proxy_tensor import make_fx

    tensor_pos = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]

    def closure(*tensors):
        full = list(args)
        for i, t in zip(tensor_pos, tensors):
            full[i] = t
        out = gm(*full)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    return make_fx(closure, decomposition_table=_decompositions(), tracing_mode="fake")(
        *[args[i] for i in tensor_pos])


@functools.lru_cache(maxsize=1)
def _decompositions():
    """ATen's own decompositions of the ops torch-mlir cannot lower to linalg (backward kernels)."""
    from torch._decomp import get_decompositions

    aten = torch.ops.aten
    table = get_decompositions([aten.native_layer_norm_backward, aten._softmax_backward_data,
                                aten._log_softmax_backward_data])
    table[aten.sum.dim_IntList] = _reduce_adjacent_axes(aten.sum.dim_IntList)
    table[aten.mean.dim] = _reduce_adjacent_axes(aten.mean.dim)
    return table


def _reduce_adjacent_axes(op):
    """A reduction over several adjacent axes of a contiguous tensor as one over their flattened
    axis (e.g. a bias gradient summed over batch and sequence): a GIR kernel reduces one axis."""
    def reduce(x, dim=None, keepdim=False, *, dtype=None):
        rank = x.dim()
        dims = sorted({d % rank for d in dim}) if dim else []
        if len(dims) < 2 or dims != list(range(dims[0], dims[-1] + 1)) or not x.is_contiguous():
            return NotImplemented
        a, b = dims[0], dims[-1] + 1
        flat = x.reshape(*x.shape[:a], -1, *x.shape[b:])
        out = op(flat, [a], keepdim, dtype=dtype)
        return out.reshape(*x.shape[:a], *[1] * (b - a), *x.shape[b:]) if keepdim else out

    return reduce


def to_linalg(graph: torch.fx.GraphModule, ctx: ir.Context, name: str = "region") -> ir.Module:
    torch_d.register_dialect(ctx)
    importer = FxImporter(context=ctx)
    importer.import_stateless_graph(graph.graph, func_name=name)
    module = importer.module
    with ctx:
        passmanager.PassManager.parse(TORCH_TO_BACKEND).run(module.operation)
        passmanager.PassManager.parse(BACKEND_TO_LINALG).run(module.operation)
    return module


def raise_to_gir(module: ir.Module):
    """Runs gir-from-linalg on `module`; returns its one function, or LoweringError with the reasons."""
    funcs = collect_ops(module.operation, "func.func")
    left = []
    for f in funcs:
        left += raise_function(f)
    run_pipeline(module, "canonicalize,cse")
    func = funcs[0]
    if not is_pure_gir(func):
        ops = sorted({op.operation.name for op in func.regions[0].blocks[0].operations
                      if not op.operation.name.startswith(("gir.", "tensor.", "func.", "arith.constant"))})
        why = "; ".join(f"{n}: {r}" for n, r in left[:2]) or "unraised ops"
        raise LoweringError(f"{', '.join(ops)} left after gir-from-linalg ({why})")
    return func


def region_to_gir(gm: torch.fx.GraphModule, args, timings: dict | None = None):
    """(context, raised GIR func) for region `gm` at `args`; cached on disk by graph and shapes."""
    signature = signature_of(args)
    path = cache_dir("torch-regions") / f"{graph_key(gm, signature)}.mlir"
    ctx = make_context()
    t0 = time.perf_counter()
    if path.exists():
        with ctx, ir.Location.unknown():
            module = ir.Module.parse(path.read_text())
        if timings is not None:
            timings["cache"] = timings.get("cache", 0) + 1
        return ctx, module, collect_ops(module.operation, "func.func")[0]
    graph = concrete_graph(gm, args)
    try:
        module = to_linalg(graph, ctx)
    except Exception as e:  # noqa: BLE001 - an import/lowering failure is a fallback reason
        first = str(e).strip().splitlines()
        raise LoweringError(f"torch-mlir could not lower it: {first[0] if first else type(e).__name__}") from None
    t1 = time.perf_counter()
    with ctx, ir.Location.unknown():
        func = raise_to_gir(module)
    if timings is not None:
        timings["import_lower_s"] = timings.get("import_lower_s", 0.0) + t1 - t0
        timings["raise_s"] = timings.get("raise_s", 0.0) + time.perf_counter() - t1
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(module))
    tmp.replace(path)
    return ctx, module, func
