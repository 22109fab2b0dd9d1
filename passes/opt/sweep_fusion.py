"""gir-sweep-fusion: fuses a row reduction into the sweep before it, one sweep over the data fewer.

A reduction whose input depends on an earlier reduction of the same row needs a sweep of its own.
Two such chains have a one-pass form, an online reduction carrying two accumulators
(passes/cpu/online_reduce.py):
  softmax/log_softmax   m = max(x); e = exp(x - m); s = sum(e); e / s  or  (x - m) - log(s)
                        -> l = logsumexp(x); exp(x - l)  or  x - l       (3 sweeps -> 2)
  variance              mu = mean(x); c = x - mu; v = mean(c * c)
                        -> v = var(x)  (mu stays: both are one sweep)    (3 sweeps -> 2)
The one-pass forms do more arithmetic per element (logsumexp: a second exp; var: a shift), so
fusing pays only where the extra sweep costs more than that: `mode=auto` follows the schedule's
`one_pass` knob (chosen by gir-schedule's cost model, the tuning cache or options); `fuse` and
`keep` force it. Runs after gir-schedule, before gir-sweep-reuse.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from torch_mlir import ir

from girflow.dialects import gir
from girflow.passes.dataflow import gir_functions
from girflow.passes.ir_utils import str_attr
from girflow.passes.opt.graph import erase_dead, gir_ops, kind, op_of, users
from girflow.passes.options import option
from girflow.passes.registry import gir_pass


def _row_axis(op, func) -> bool:
    axis = ir.IntegerAttr(op.attributes["axis"]).value
    rank = len(ir.ShapedType(op.operands[0].type).shape)
    return rank == 2 and axis % rank == 1 and str_attr(func, "gir.form", "row") == "row"


def _softmax_match(m):
    """For a max reduction `m`: (x, rewrites) if every use of m is the softmax/log_softmax shift,
    where rewrites = [(op, value)] replace op's result once m is the logsumexp."""
    x = m.operands[0]
    rewrites, sums = [], []
    for b in users(m.results[0]):
        if kind(b) != "broadcast":
            return None
        for d in users(b.results[0]):
            if kind(d) != "sub" or d.operands[0] != x or d.operands[1] != b.results[0]:
                return None
            for u in users(d.results[0]):
                if kind(u) == "exp":
                    for v in users(u.results[0]):
                        if kind(v) == "reduce:sum" and v.operands[0] == u.results[0]:
                            sums.append(v)
                        elif kind(v) == "div" and v.operands[0] == u.results[0] and _is_bcast_of_sum(v.operands[1], u):
                            rewrites.append((v, u.results[0]))       # e / sum(e) -> e
                        else:
                            return None
                elif kind(u) == "sub" and u.operands[0] == d.results[0] and _is_bcast_log_sum(u.operands[1], d):
                    rewrites.append((u, d.results[0]))               # d - log(sum(exp d)) -> d
                else:
                    return None
    # every use of each sum feeds only the divisions/subtractions rewritten away
    rewritten = [r for r, _ in rewrites]

    def only_rewritten(value) -> bool:
        return all(kind(b) == "broadcast" and all(v in rewritten for v in users(b.results[0]))
                   for b in users(value))

    for s in sums:
        for b in users(s.results[0]):
            if kind(b) == "log":
                ok = only_rewritten(b.results[0])
            else:
                ok = kind(b) == "broadcast" and all(v in rewritten for v in users(b.results[0]))
            if not ok:
                return None
    return (x, rewrites) if sums and rewrites else None


def _source(value, *kinds):
    """Follow single-operand ops of the given kinds back from `value`: the op reached, or None."""
    op = op_of(value)
    for k in kinds:
        if op is None or kind(op) != k:
            return None
        op = op_of(op.operands[0]) if k != kinds[-1] else op
    return op


def _is_bcast_of_sum(value, exp_op) -> bool:
    s = _source(value, "broadcast", "reduce:sum")
    return s is not None and s.operands[0] == exp_op.results[0]


def _is_bcast_log_sum(value, sub_op) -> bool:
    s = _source(value, "broadcast", "log", "reduce:sum")
    e = op_of(s.operands[0]) if s is not None else None
    return e is not None and kind(e) == "exp" and e.operands[0] == sub_op.results[0]


def _variance_match(v):
    """For a mean reduction `v`: x if v = mean((x - mean(x)) * (x - mean(x)))."""
    sq = op_of(v.operands[0])
    if kind(sq) != "mul" or sq.operands[0] != sq.operands[1]:
        return None
    c = op_of(sq.operands[0])
    if kind(c) != "sub":
        return None
    b = op_of(c.operands[1])
    mu = op_of(b.operands[0]) if kind(b) == "broadcast" else None
    if kind(mu) != "reduce:mean" or mu.operands[0] != c.operands[0]:
        return None
    return c.operands[0]


def fusable(func) -> list:
    """(reduction op, kind of its one-pass form) for each chain this pass can fuse in `func`."""
    found = []
    for op in gir_ops(func):
        k = kind(op)
        if k == "reduce:max" and _row_axis(op, func) and _softmax_match(op):
            found.append((op, "logsumexp"))
        elif k == "reduce:mean" and _row_axis(op, func) and _variance_match(op) is not None:
            found.append((op, "var"))
    return found


def fuse(func) -> int:
    """Rewrite every fusable chain of `func` into its one-pass form; returns how many."""
    done = 0
    for op, new_kind in fusable(func):
        with ir.InsertionPoint(op), op.location:
            if new_kind == "logsumexp":
                x, rewrites = _softmax_match(op)
                lse = gir.reduce("logsumexp", x, 1, op.results[0].type)
                op.results[0].replace_all_uses_with(lse)
                for r, value in rewrites:
                    r.results[0].replace_all_uses_with(value)
            else:
                x = _variance_match(op)
                var = gir.reduce("var", x, 1, op.results[0].type)
                op.results[0].replace_all_uses_with(var)
        done += 1
    erase_dead(func)
    return done


def one_pass_knob(func) -> int | None:
    if "gir.schedule" not in func.attributes:
        return None
    d = ir.DictAttr(func.attributes["gir.schedule"])
    return ir.IntegerAttr(d["one_pass"]).value if "one_pass" in d else None


@dataclasses.dataclass
class SweepFusionOptions:
    mode: Literal["auto", "fuse", "keep"] = option(
        "auto", "auto: as the schedule's one_pass knob says; fuse: always where a chain matches; keep: never")


@gir_pass("gir-sweep-fusion", "fuse a row reduction into the sweep before it (online logsumexp, one-pass "
                              "variance) where the schedule chose one pass over the data", SweepFusionOptions)
def sweep_fusion(module: ir.Operation, options: SweepFusionOptions) -> None:
    for func in gir_functions(module):
        if options.mode == "fuse" or (options.mode == "auto" and one_pass_knob(func) == 1):
            fuse(func)
