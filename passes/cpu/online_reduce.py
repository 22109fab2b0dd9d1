"""Row reductions that carry two accumulators, so that a row program needs one sweep fewer.

  logsumexp  (m, s): a running maximum and the sum of exp(x - m), rescaled whenever m grows
             (the online softmax). Result: m + log(s).
  var        (s1, s2): sums of d and d*d with d = x - K, K the row's first element (the shifted-data
             one-pass variance: its rounding error grows with ((mean - K) / std)^2, K being a sample
             of the row, where the textbook E[x^2] - E[x]^2 grows with (mean / std)^2; unlike Welford
             it needs no division per element). Result: s2/n - (s1/n)^2, population variance.

`gir-sweep-fusion` introduces these kinds; the CPU row code generator asks this module for the
initial state, the per-vector update, the merge of two partial states (unrolled accumulators and
loop segments), the fold of a vector state into scalars and the final per-row value.
"""
from __future__ import annotations

from girflow.passes.ir_utils import mlir_float

KINDS = ("logsumexp", "var")
STATE = 2                       # accumulators per reduction
NEG_MAX = "0xFF7FFFFF"          # -FLT_MAX: keeps exp(m_old - m_new) finite when a row holds -inf


def init(e, kind: str, ty: str) -> list[str]:
    first = NEG_MAX if kind == "logsumexp" else "0.0"
    return [e.fconst(first, ty), e.fconst("0.0", ty)]


def update(e, kind: str, state: list[str], x: str, ty: str, out: list, pivot: str | None = None) -> list[str]:
    a, b = state
    if kind == "logsumexp":
        m, d, scale, t, ex, s = (e.fresh("lse") for _ in range(6))
        out += [f"{m} = arith.maximumf {a}, {x} : {ty}", f"{d} = arith.subf {a}, {m} : {ty}",
                f"{scale} = math.exp {d} : {ty}", f"{t} = arith.subf {x}, {m} : {ty}",
                f"{ex} = math.exp {t} : {ty}", f"{s} = math.fma {b}, {scale}, {ex} : {ty}"]
        return [m, s]
    d, s1, s2 = (e.fresh("var") for _ in range(3))
    out += [f"{d} = arith.subf {x}, {pivot} : {ty}", f"{s1} = arith.addf {a}, {d} : {ty}",
            f"{s2} = math.fma {d}, {d}, {b} : {ty}"]
    return [s1, s2]


def merge(e, kind: str, left: list[str], right: list[str], ty: str, out: list) -> list[str]:
    if kind == "var":
        s1, s2 = e.fresh("var"), e.fresh("var")
        out += [f"{s1} = arith.addf {left[0]}, {right[0]} : {ty}", f"{s2} = arith.addf {left[1]}, {right[1]} : {ty}"]
        return [s1, s2]
    (ma, sa), (mb, sb) = left, right
    m, da, db, ea, eb, t, s = (e.fresh("lse") for _ in range(7))
    out += [f"{m} = arith.maximumf {ma}, {mb} : {ty}", f"{da} = arith.subf {ma}, {m} : {ty}",
            f"{db} = arith.subf {mb}, {m} : {ty}", f"{ea} = math.exp {da} : {ty}", f"{eb} = math.exp {db} : {ty}",
            f"{t} = arith.mulf {sb}, {eb} : {ty}", f"{s} = math.fma {sa}, {ea}, {t} : {ty}"]
    return [m, s]


def fold_lanes(e, kind: str, state: list[str], width: int, out: list) -> list[str]:
    """A vector state -> the scalar state of all its lanes together."""
    ty = f"vector<{width}xf32>"
    if kind == "var":
        r1, r2 = e.fresh("var"), e.fresh("var")
        out += [f"{r1} = vector.reduction <add>, {state[0]} : {ty} into f32",
                f"{r2} = vector.reduction <add>, {state[1]} : {ty} into f32"]
        return [r1, r2]
    m, s = state
    big, bm, d, sc, w, tot = (e.fresh("lse") for _ in range(6))
    out += [f"{big} = vector.reduction <maximumf>, {m} : {ty} into f32",
            f"{bm} = vector.broadcast {big} : f32 to {ty}", f"{d} = arith.subf {m}, {bm} : {ty}",
            f"{sc} = math.exp {d} : {ty}", f"{w} = arith.mulf {s}, {sc} : {ty}",
            f"{tot} = vector.reduction <add>, {w} : {ty} into f32"]
    return [big, tot]


def finish(e, kind: str, state: list[str], count: int, out: list) -> str:
    """The per-row result from the scalar state of a whole row of `count` elements."""
    if kind == "logsumexp":
        lg, r = e.fresh("lse"), e.fresh("lse")
        out += [f"{lg} = math.log {state[1]} : f32", f"{r} = arith.addf {state[0]}, {lg} : f32"]
        return r
    inv = e.fconst(mlir_float(1.0 / count), "f32")
    mean, sq, ex2, var, zero = e.fresh("var"), e.fresh("var"), e.fresh("var"), e.fresh("var"), e.fconst("0.0", "f32")
    res = e.fresh("var")
    out += [f"{mean} = arith.mulf {state[0]}, {inv} : f32", f"{ex2} = arith.mulf {state[1]}, {inv} : f32",
            f"{sq} = arith.mulf {mean}, {mean} : f32", f"{var} = arith.subf {ex2}, {sq} : f32",
            f"{res} = arith.maximumf {var}, {zero} : f32"]
    return res
