"""Shape classes: one GIR kernel per row program serves every batch and sequence size.

A memory-bound region of a transformer (LayerNorm, GELU, softmax, residual and bias adds) is a *row
program*: the same computation on each of `rows` independent rows of `cols` elements, with some
inputs full ([rows, cols]), per row ([rows, 1]) or shared by all rows ([1, cols], scalars). The batch
and sequence sizes only change `rows` (the product of the leading dimensions); `cols` is the hidden
or intermediate width — or, for attention scores, the key length.

So a class is the program with its row count symbolic: it is traced and scheduled once at
CLASS_ROWS rows, marked `gir.dynamic_rows`, and the CPU code generator makes the row count a run-time
`index` argument (each task takes ceil(rows / tasks) rows). Everything the schedule decides (vector
width, unroll, which row values stay in a local buffer, one-pass reductions) depends on `cols` and on
the per-row work, none of it on `rows`, so the kernel is as good at any row count; no padding, masks
or copies are needed. A different `cols` (a new key length in softmax) is a different class and
compiles once. Column and transpose programs keep exact shapes.

Why not power-of-two buckets with masks: padding copies the inputs (the whole cost of a
memory-bound kernel), and masks would have to know each reduction's identity; a symbolic row count
costs one integer argument.
"""
from __future__ import annotations

import dataclasses
import math
import types
from typing import Any

import torch

from girflow.frontends.array_api import TracedProgram, trace_program
from girflow.runtime.buffers import POOL, POOL_MIN_BYTES
from girflow.runtime.compiled import kernel_for

CLASS_ROWS = 4096        # the row count a class is traced and scheduled at (any count runs)
DYNAMIC_ROWS = "gir.dynamic_rows"


def _stand_in(shape, dtype: str):
    """What the tracer needs of an example: a shape and a dtype (no memory)."""
    return types.SimpleNamespace(shape=tuple(shape), dtype=dtype)


@dataclasses.dataclass
class RowClass:
    """A row program with a symbolic row count and its one compiled kernel."""
    traced: TracedProgram          # at CLASS_ROWS rows, marked gir.dynamic_rows
    kernel: Any                    # runtime.cpu.CpuKernel: run([inputs, outputs, rows])
    in_cols: tuple                 # per kernel input: its columns
    in_scales: tuple               # per kernel input: True if it has one row per row (full/per-row)
    out_cols: tuple                # per kernel output: its columns (outputs always have `rows` rows)

    @classmethod
    def make(cls, fn, shapes: list, dtype: str) -> RowClass | None:
        """The class of array-API program `fn` read at `shapes`, or None when it is not a row
        program whose inputs are full, per-row or shared (then it compiles at its exact shapes)."""
        probe = trace_program(fn, *[_stand_in(s, dtype) for s in shapes])
        if probe.form != "row":
            return None
        rows = max(v[0] for v in probe.input_views + probe.output_views)
        if rows < 2:                                     # 1 row: full and shared inputs look alike
            return None
        canonical = []
        for s in shapes:
            lead = math.prod(s[:-1])
            if lead == rows and len(s) >= 2:
                canonical.append((1,) * (len(s) - 2) + (CLASS_ROWS, s[-1]))
            elif lead == 1:
                canonical.append(tuple(s))
            else:
                return None
        traced = trace_program(fn, *[_stand_in(s, dtype) for s in canonical], name=probe.name,
                               marks=(DYNAMIC_ROWS,))
        return cls.from_traced(traced)

    @classmethod
    def from_traced(cls, traced: TracedProgram) -> RowClass | None:
        if traced.form != "row" or any(v[0] not in (1, CLASS_ROWS) for v in traced.input_views) \
                or any(v[0] != CLASS_ROWS for v in traced.output_views):
            return None
        return cls(traced, kernel_for(traced.mlir, traced, "cpu"),
                   tuple(v[1] for v in traced.input_views),
                   tuple(v[0] == CLASS_ROWS for v in traced.input_views),
                   tuple(v[1] for v in traced.output_views))

    def rows_of(self, inputs: list) -> int | None:
        """The row count these kernel inputs (in kernel order) give, or None if they do not fit."""
        rows = None
        for t, cols, scales in zip(inputs, self.in_cols, self.in_scales):
            n = t.numel()
            if not scales:
                if n != cols:
                    return None
                continue
            if cols == 0 or n % cols:
                return None
            if rows is None:
                rows = n // cols
            elif rows != n // cols:
                return None
        return rows if rows else None

    def run(self, rows: int, inputs: list) -> tuple:
        """The kernel on contiguous `inputs` with `rows` rows; outputs [rows, cols] each (large
        float32 ones from the runtime's recycled buffers: a fresh mmap faults on every page)."""
        outs = tuple(self._empty((rows, c)) for c in self.out_cols)
        self.kernel.run([*(t.data_ptr() for t in inputs), *(o.data_ptr() for o in outs), rows])
        return outs

    def _empty(self, shape: tuple):
        if self.traced.dtype == "float32" and shape[0] * shape[1] * 4 >= POOL_MIN_BYTES:
            return torch.from_numpy(POOL.empty(shape, "float32"))
        return torch.empty(shape, dtype=getattr(torch, self.traced.dtype))
