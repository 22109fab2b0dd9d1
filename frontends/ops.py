"""The built-in memory-intensive operators, written once with girflow's array API.

Each takes traced arrays and returns traced arrays; `girflow.compile(op)` gives a callable, and
REFERENCE gives the PyTorch definition the tests and the benchmark compare against.
"""
from __future__ import annotations

import math

try:
    from girflow.frontends.array_api import maximum
except ImportError:   # a GPU machine without MLIR runs prebuilt kernels and needs only the torch references
    maximum = None  # type: ignore[assignment]

EPS = 1e-5


def softmax(x):
    e = (x - x.max(axis=-1, keepdims=True)).exp()
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - shifted.exp().sum(axis=-1, keepdims=True).log()


def layernorm(x, weight, bias):
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred * (var + EPS).rsqrt() * weight + bias


def rmsnorm(x, weight):
    return x * ((x * x).mean(axis=-1, keepdims=True) + EPS).rsqrt() * weight


def add_layernorm(x, residual, weight, bias):
    """Residual add fused with layernorm; returns (normalised, new residual stream)."""
    h = x + residual
    return layernorm(h, weight, bias), h


def bias_gelu(x, bias):
    h = x + bias
    return 0.5 * h * (1.0 + (h * (1.0 / math.sqrt(2.0))).erf())


def swiglu(gate, up):
    """SiLU(gate) * up."""
    return gate * gate.sigmoid() * up


def relu(x):
    return maximum(x, 0.0)


def sum_last(x):
    return x.sum(axis=-1)


def mean_last(x):
    return x.mean(axis=-1)


def max_last(x):
    return x.max(axis=-1)


def sum_first(x):
    return x.sum(axis=0)


def mean_first(x):
    return x.mean(axis=0)


def max_first(x):
    return x.max(axis=0)


def transpose(x):
    return x.T


def _torch_reference():
    import torch
    import torch.nn.functional as F

    return {
        "softmax": lambda x: torch.softmax(x, -1),
        "log_softmax": lambda x: torch.log_softmax(x, -1),
        "layernorm": lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b, EPS),
        "rmsnorm": lambda x, w: F.rms_norm(x, x.shape[-1:], w, EPS),
        "add_layernorm": lambda x, r, w, b: (F.layer_norm(x + r, x.shape[-1:], w, b, EPS), x + r),
        "bias_gelu": lambda x, b: F.gelu(x + b),
        "swiglu": lambda g, u: F.silu(g) * u,
        "relu": lambda x: torch.relu(x),
        "sum_last": lambda x: x.sum(-1),
        "mean_last": lambda x: x.mean(-1),
        "max_last": lambda x: x.amax(-1),
        "sum_first": lambda x: x.sum(0),
        "mean_first": lambda x: x.mean(0),
        "max_first": lambda x: x.amax(0),
        "transpose": lambda x: x.t().contiguous(),
    }


# name -> (operator, argument shapes for rows x cols: "x" full, "w" one row of weights)
OPERATORS = {
    "softmax": (softmax, "x"),
    "log_softmax": (log_softmax, "x"),
    "layernorm": (layernorm, "xww"),
    "rmsnorm": (rmsnorm, "xw"),
    "add_layernorm": (add_layernorm, "xxww"),
    "bias_gelu": (bias_gelu, "xw"),
    "swiglu": (swiglu, "xx"),
    "relu": (relu, "x"),
    "sum_last": (sum_last, "x"),
    "mean_last": (mean_last, "x"),
    "max_last": (max_last, "x"),
    "sum_first": (sum_first, "x"),
    "mean_first": (mean_first, "x"),
    "max_first": (max_first, "x"),
    "transpose": (transpose, "x"),
}


def reference(name: str):
    return _torch_reference()[name]


def example_args(name: str, rows: int, cols: int, dtype=None, seed: int = 0):
    """Random torch arguments for operator `name` at [rows, cols]."""
    import torch

    g = torch.Generator().manual_seed(seed)
    dtype = dtype or torch.float32
    args = []
    for kind in OPERATORS[name][1]:
        shape = (rows, cols) if kind == "x" else (cols,)
        t = torch.randn(shape, generator=g)
        if kind == "w":
            t = t * 0.5 + 1.0
        args.append(t.to(dtype))
    return args
