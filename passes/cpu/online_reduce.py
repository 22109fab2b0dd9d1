"""Row reductions that carry two accumulators, so that a row program needs one sweep fewer.

  logsumexp  (m, s): a running maximum and the sum of exp(x - m), rescaled whenever m grows
             (the online softmax). Result: m + log(s).
  var        (s1, s2): sums of d and d*d with d = x - K, K the row's first element (the shifted-data
             one-pass variance: its rounding error grows with ((mean - K) / std)^2, K being a sample
             of the row, where the textbook E[x^2] - E[x]^2 grows with (mean / std)^2; unlike Welford
             it needs no division per element). Result: s2/n - (s1/n)^2, population variance.

`gir-sweep-fusion` introduces these kinds; the CPU row code generator asks this module for the
initial state, the per-vector update, the merge of two partial states (unrolled accumulators and
loop segments), the fold of a vector state into scalars and the final per-row value. Each builds
its ops with the op builders at the current insertion point.
"""
from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import arith, math, vector

from girflow.passes.ir_builder import Builder, element
from girflow.passes.ir_builder import vector as vtype

KINDS = ("logsumexp", "var")
STATE = 2                            # accumulators per reduction
NEG_MAX = -3.4028234663852886e38     # -FLT_MAX: keeps exp(m_old - m_new) finite when a row holds -inf


def init(b: Builder, kind: str, ty: ir.Type) -> list:
    first = NEG_MAX if kind == "logsumexp" else 0.0
    return [b.float(first, ty), b.float(0.0, ty)]


def update(kind: str, state: list, x: ir.Value, pivot: ir.Value | None = None) -> list:
    a, b = state
    if kind == "logsumexp":
        m = arith.maximumf(a, x)
        scale = math.exp(arith.subf(a, m))
        ex = math.exp(arith.subf(x, m))
        return [m, math.fma(b, scale, ex)]
    d = arith.subf(x, pivot)
    s1 = arith.addf(a, d)
    return [s1, math.fma(d, d, b)]


def merge(kind: str, left: list, right: list) -> list:
    if kind == "var":
        return [arith.addf(left[0], right[0]), arith.addf(left[1], right[1])]
    (ma, sa), (mb, sb) = left, right
    m = arith.maximumf(ma, mb)
    da, db = arith.subf(ma, m), arith.subf(mb, m)
    ea, eb = math.exp(da), math.exp(db)
    return [m, math.fma(sa, ea, arith.mulf(sb, eb))]


def fold_lanes(kind: str, state: list, width: int) -> list:
    """A vector state -> the scalar state of all its lanes together."""
    f32 = element("f32")
    if kind == "var":
        return [vector.reduction(f32, vector.CombiningKind.ADD, state[0]),
                vector.reduction(f32, vector.CombiningKind.ADD, state[1])]
    m, s = state
    big = vector.reduction(f32, vector.CombiningKind.MAXIMUMF, m)
    sc = math.exp(arith.subf(m, vector.broadcast(vtype(width), big)))
    return [big, vector.reduction(f32, vector.CombiningKind.ADD, arith.mulf(s, sc))]


def finish(b: Builder, kind: str, state: list, count: int) -> ir.Value:
    """The per-row result from the scalar state of a whole row of `count` elements."""
    if kind == "logsumexp":
        return arith.addf(state[0], math.log(state[1]))
    inv = b.float(1.0 / count)
    mean = arith.mulf(state[0], inv)
    ex2 = arith.mulf(state[1], inv)
    var = arith.subf(ex2, arith.mulf(mean, mean))
    return arith.maximumf(var, b.float(0.0))
