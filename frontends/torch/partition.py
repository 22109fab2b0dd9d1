"""Which ATen ops of a graph go to GIR, and the regions they form.

Memory-bound ops (pointwise math, reductions, normalisations, activations, casts, views) are GIR's;
compute-bound ones (matmul, linear, convolution, attention) stay with PyTorch's kernels; anything
else stays with PyTorch too, and `why_not(node)` says why. Regions come from torch's
CapabilityBasedPartitioner; a region of views alone moves no data and is left to PyTorch.
"""
from __future__ import annotations

import operator

import torch
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.operator_support import OperatorSupport

aten = torch.ops.aten
prims = torch.ops.prims

POINTWISE = [
    aten.add, aten.sub, aten.mul, aten.div, aten.neg, aten.exp, aten.log, aten.tanh, aten.erf,
    aten.rsqrt, aten.sqrt, aten.sigmoid, aten.relu, aten.abs, aten.reciprocal, aten.pow, aten.maximum,
    aten.minimum, aten.clamp, aten.clamp_min, aten.clamp_max, aten.where, aten.gelu, aten.silu,
    aten.hardtanh, aten.lt, aten.le, aten.gt, aten.ge, aten.eq, aten.ne, aten.rsub, aten.square,
    aten.leaky_relu, aten.elu, aten.exp2, aten.log1p, aten.expm1, aten.tanh_backward,
    aten.gelu_backward, aten.sigmoid_backward, aten.threshold_backward, aten.fill, aten.full_like,
    aten.zeros_like, aten.ones_like, aten.scalar_tensor,
]
REDUCTIONS = [aten.sum, aten.mean, aten.amax, aten.amin, aten.var, aten.var_mean, aten.max, aten.min]
NORMALISATIONS = [aten._softmax, aten._log_softmax, aten.softmax, aten.log_softmax,
                  aten.native_layer_norm, aten.layer_norm, aten.rms_norm, aten._softmax_backward_data,
                  aten._log_softmax_backward_data, aten.native_layer_norm_backward]
CASTS = [aten._to_copy, prims.convert_element_type, aten.clone, aten.dropout, aten.native_dropout,
         aten.lift_fresh_copy]
VIEWS = [aten.view, aten._unsafe_view, aten.reshape, aten.expand, aten.permute, aten.transpose,
         aten.t, aten.unsqueeze, aten.squeeze, aten.flatten, aten.unflatten, aten.alias, aten.detach]
# Views that pick part of a tensor: PyTorch makes them without moving data; a region reads the part.
SLICING = [aten.split, aten.split_with_sizes, aten.chunk, aten.unbind, aten.slice, aten.select,
           aten.narrow, aten.as_strided, aten.unfold, aten.diagonal]
COMPUTE_BOUND = [aten.mm, aten.addmm, aten.bmm, aten.baddbmm, aten.matmul, aten.linear,
                 aten.convolution, aten._convolution, aten.conv2d, aten.conv1d,
                 aten._scaled_dot_product_flash_attention_for_cpu, aten.scaled_dot_product_attention,
                 aten._scaled_dot_product_efficient_attention, aten._scaled_dot_product_flash_attention,
                 aten._scaled_dot_product_attention_math, aten.einsum]


GIR_OPS = set(POINTWISE + REDUCTIONS + NORMALISATIONS + CASTS + VIEWS)
VIEW_OPS = set(VIEWS) | {operator.getitem}
COMPUTE_OPS = set(COMPUTE_BOUND)
SLICING_OPS = set(SLICING)
REDUCTION_OPS = set(REDUCTIONS)
FLOAT_DTYPES = {torch.float32, torch.bfloat16, torch.float16}


def _packet(target):
    return getattr(target, "overloadpacket", target)


def _tensor_meta_ok(node) -> str | None:
    val = node.meta.get("val")
    vals = val if isinstance(val, (tuple, list)) else [val]
    for v in vals:
        if isinstance(v, torch.Tensor) and v.dtype not in FLOAT_DTYPES and v.dtype != torch.bool:
            return f"produces {v.dtype} (GIR computes on float tensors)"
        if isinstance(v, torch.Tensor) and v.device.type != "cpu":
            return f"runs on {v.device} (the torch frontend targets CPU tensors)"
    return None


def why_not(node) -> str | None:
    """None when `node` can run in GIR, else the reason it stays with PyTorch."""
    if node.op != "call_function":
        return "not an op"
    target = node.target
    if target is operator.getitem:
        return None
    packet = _packet(target)
    if packet in COMPUTE_OPS:
        return "compute-bound: PyTorch's own kernel"
    if packet in SLICING_OPS:
        return "a slicing view: PyTorch makes it without moving data"
    if packet not in GIR_OPS:
        return f"{packet} has no GIR lowering"
    if packet is aten.native_dropout and node.args[2:3] and node.args[2]:
        return "dropout in training mode draws random numbers"
    bad = _tensor_meta_ok(node)
    if bad:
        return bad
    return None


def is_layout_change(node) -> bool:
    """A view, reshape, transpose or permute (not the getitem of a multi-result op)."""
    return node.op == "call_function" and _packet(node.target) in set(VIEWS)


class GirSupport(OperatorSupport):
    """GIR's ops; with `layout=False`, views, reshapes, transposes and permutes stay with PyTorch
    (how a region GIR cannot take whole is cut into pieces it can)."""

    def __init__(self, layout: bool = True):
        super().__init__()
        self.layout = layout

    def is_node_supported(self, submodules, node) -> bool:
        return why_not(node) is None and (self.layout or not is_layout_change(node))


def propose_regions(gm: torch.fx.GraphModule, layout: bool = True):
    """Partitions worth a GIR kernel (at least one op that computes), as lists of nodes.

    Each partition of torch's partitioner is split into its connected parts (it may group
    independent computations, e.g. the bias gradients of two layers, that share no iteration
    space), views that only follow the last computation are left to PyTorch (a free view there),
    and parts that compute nothing are dropped. Parts of a convex partition are convex."""
    partitioner = CapabilityBasedPartitioner(gm, GirSupport(layout), allows_single_node_partition=True)
    regions = []
    for p in partitioner.propose_partitions():
        nodes = _without_trailing_views(_attached_views(set(p.nodes)))
        for part in _connected_parts(nodes):
            for piece in [q for p in _split_by_extent(part) for q in _split_reduction_axes(p)]:
                if any(_packet(n.target) not in VIEW_OPS for n in piece):
                    regions.append(piece)
    return regions


def _reduces_rows(n) -> bool | None:
    """For a reduction node: True if it reduces only the last axis, False if it reduces across
    rows (leading axes); None for other nodes."""
    if _packet(n.target) not in REDUCTION_OPS:
        return None
    src = n.args[0].meta.get("val") if n.args and isinstance(n.args[0], torch.fx.Node) else None
    if not isinstance(src, torch.Tensor):
        return None
    dims = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
    rank = src.dim()
    if dims is None:
        return rank <= 1
    dims = {d % rank for d in ([dims] if isinstance(dims, int) else dims)} if rank else set()
    return dims <= {rank - 1}


def _reduced_axes(n) -> int:
    dims = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
    return 1 if isinstance(dims, int) else len(dims or [0])


def _split_reduction_axes(part: set) -> list[set]:
    """A GIR kernel reduces along one axis. Where a part mixes row reductions with reductions
    across rows (a LayerNorm backward's input and weight gradients), or reduces across several
    leading axes what it computed itself (flattening them would put a reshape inside the kernel),
    each such across-rows reduction that only feeds ops outside the part becomes a region of its
    own: its input is handed over, and its leading axes flatten at the region's edge."""
    kinds = {n: _reduces_rows(n) for n in part}
    mixed = True in kinds.values() and False in kinds.values()
    peeled = [n for n, k in kinds.items()
              if k is False and (mixed or _reduced_axes(n) > 1) and len(part) > 1
              and not any(u in part for u in n.users)]
    if not peeled:
        return [part]
    return [part - set(peeled)] + [{n} for n in peeled]


def _is_view(n) -> bool:
    return _packet(n.target) in VIEW_OPS


def _attached_views(nodes: set) -> set:
    """Drop views the partitioner grouped in that neither feed nor follow a computing op of the
    region (e.g. the transpose of a weight beside it): they would only widen the kernel."""
    linked = {n for n in nodes if not _is_view(n)}
    changed = True
    while changed:
        changed = False
        for n in nodes - linked:
            touches = [u for u in n.users if u in linked] + [a for a in n.all_input_nodes if a in linked]
            if touches:
                linked.add(n)
                changed = True
    return linked


def _without_trailing_views(nodes: set) -> set:
    """Views (not getitem of a multi-result op) whose users are all outside the region."""
    nodes = set(nodes)
    changed = True
    while changed:
        changed = False
        for n in list(nodes):
            if _is_view(n) and n.target is not operator.getitem and not any(u in nodes for u in n.users):
                nodes.discard(n)
                changed = True
    return nodes


def _numel(n) -> int | None:
    val = n.meta.get("val")
    try:
        return int(val.numel()) if isinstance(val, torch.Tensor) else None
    except Exception:  # noqa: BLE001 - symbolic sizes: not compared
        return None


def _split_by_extent(part: set) -> list[set]:
    """Computations a part joins only through views of its inputs (rotary embeddings of q and k
    through one unsqueezed cos/sin; under grouped-query attention q and k have different head
    counts) and whose results differ in size cannot be one kernel: each becomes a region, and an
    input view they share is repeated for each (a view moves no data)."""
    order = {n: i for i, n in enumerate(next(iter(part)).graph.nodes)}
    input_views: set = set()
    for n in sorted(part, key=order.__getitem__):     # views reading only the part's inputs
        if _is_view(n) and all(a not in part or a in input_views for a in n.all_input_nodes):
            input_views.add(n)
    groups = _connected_parts(part - input_views)
    if len(groups) < 2 or len({max((_numel(n) or 0) for n in g) for g in groups}) < 2:
        return [part]
    out: list[set] = []
    for g in groups:
        needed, todo = set(), [a for n in g for a in n.all_input_nodes if a in input_views]
        while todo:
            v = todo.pop()
            if v not in needed:
                needed.add(v)
                todo += [a for a in v.all_input_nodes if a in input_views]
        copies: dict = {}
        for v in sorted(needed, key=order.__getitem__):
            if any(v in other for other in out):      # an earlier region has it: a copy for this one
                with v.graph.inserting_after(v):
                    copies[v] = v.graph.node_copy(v, lambda a: copies.get(a, a))
        for v, c in copies.items():
            for u in list(v.users):
                if u in g or (u in needed and u not in copies):
                    u.replace_input_with(v, c)
        out.append(g | {copies.get(v, v) for v in needed})
    return out


def _connected_parts(nodes: set) -> list[set]:
    parts, seen = [], set()
    for start in nodes:
        if start in seen:
            continue
        part, todo = set(), [start]
        while todo:
            n = todo.pop()
            if n in part:
                continue
            part.add(n)
            todo += [m for m in list(n.users) + n.all_input_nodes if m in nodes and m not in part]
        seen |= part
        parts.append(part)
    return parts


# Ops the graph is rewritten into ATen's own decomposition of before partitioning: their pieces
# are memory-bound ops GIR takes (a fused backward kernel has no linalg lowering as a whole).
DECOMPOSE = [aten.native_layer_norm_backward]


def decompose(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """`gm` re-traced with DECOMPOSE expanded, when it has such an op and static shapes."""
    targets = {_packet(n.target) for n in gm.graph.nodes if n.op == "call_function"}
    if not targets & set(DECOMPOSE):
        return gm
    vals = [n.meta.get("val") for n in gm.graph.nodes if n.op == "placeholder"]
    if not all(isinstance(v, torch.Tensor) and all(isinstance(d, int) for d in v.shape) for v in vals):
        return gm
    from torch._decomp import get_decompositions
    from torch.fx.experimental.proxy_tensor import make_fx

    examples = [torch.empty_strided(v.shape, v.stride(), dtype=v.dtype) for v in vals]
    try:
        return make_fx(gm, decomposition_table=get_decompositions(DECOMPOSE), tracing_mode="fake")(*examples)
    except Exception:  # noqa: BLE001 - the graph as it came still runs (the op then stays in PyTorch)
        return gm
