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


class GirSupport(OperatorSupport):
    def is_node_supported(self, submodules, node) -> bool:
        return why_not(node) is None


def propose_regions(gm: torch.fx.GraphModule):
    """Partitions worth a GIR kernel (at least one op that computes), as lists of nodes."""
    partitioner = CapabilityBasedPartitioner(gm, GirSupport(), allows_single_node_partition=True)
    regions = []
    for p in partitioner.propose_partitions():
        nodes = _attached_views(set(p.nodes))
        if any(_packet(n.target) not in VIEW_OPS for n in nodes):
            regions.append(nodes)
    return regions


def _attached_views(nodes: set) -> set:
    """Drop views the partitioner grouped in that neither feed nor follow a computing op of the
    region (e.g. the transpose of a weight beside it): they would only widen the kernel."""
    def is_view(n):
        return _packet(n.target) in VIEW_OPS

    linked = {n for n in nodes if not is_view(n)}
    changed = True
    while changed:
        changed = False
        for n in nodes - linked:
            touches = [u for u in n.users if u in linked] + [a for a in n.all_input_nodes if a in linked]
            if touches:
                linked.add(n)
                changed = True
    return linked
