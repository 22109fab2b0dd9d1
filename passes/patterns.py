"""Rewrite patterns applied with the upstream driver (`torch_mlir.rewrite`).

    apply_patterns(module_op, {"gir.alloc": lower_one_alloc, ...})

A pattern is `fn(op, rewriter)`: it builds the replacement at `rewriter.ip` (just before `op`, with
op's location) and calls `rewriter.replace_op(op, values)`; it returns True to say "no match".
Errors raised inside a pattern (a PassError naming the op) reach the caller unchanged: the driver
runs under a guard that records the first error and re-raises it after the walk.
"""
from __future__ import annotations

from typing import Callable

from torch_mlir import ir
from torch_mlir.rewrite import PatternRewriter, RewritePatternSet, walk_and_apply_patterns

Pattern = Callable[[ir.Operation, PatternRewriter], object]


def apply_patterns(root: ir.Operation, patterns: dict[str, Pattern]) -> None:
    """Apply one-to-one rewrite patterns (op name -> pattern) to every op under `root`."""
    failure: list[BaseException] = []

    def guarded(fn: Pattern) -> Pattern:
        def run(op, rewriter):
            if failure:
                return True
            try:
                with op.location:
                    return fn(op, rewriter)
            except Exception as e:  # noqa: BLE001 - re-raised below, after the driver returns
                failure.append(e)
                return True
        return run

    patterns_set = RewritePatternSet(root.context)
    for name, fn in patterns.items():
        patterns_set.add(name, guarded(fn))
    walk_and_apply_patterns(root, patterns_set.freeze())
    if failure:
        raise failure[0]


def replace(rewriter: PatternRewriter, op: ir.Operation, build: Callable[[], list[ir.Value]]) -> None:
    """Build the replacement values before `op` and replace it with them."""
    with rewriter.ip:
        values = build()
    rewriter.replace_op(op, values)
