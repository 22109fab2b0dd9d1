"""Rows swept together (`interleave`): every row program with reductions computes the same result
as PyTorch whatever the group size, with row counts that leave a remainder, per-task ranges that
split groups, reduced-precision storage and a run-time row count; the search offers it."""
import pytest
import torch

import girflow
from girflow.frontends import ops
from girflow.runtime.compiled import CompiledFunction
from girflow.runtime.tuner import ranked


@pytest.mark.parametrize("name", ["sum_last", "softmax", "log_softmax", "layernorm", "rmsnorm", "add_layernorm"])
@pytest.mark.parametrize("rows,cols,knobs", [(7, 45, "tasks=1 interleave=4 unroll=2 vector_width=8"),
                                             (13, 100, "tasks=3 interleave=2 unroll=4 vector_width=8"),
                                             (5, 3, "tasks=2 interleave=4 unroll=1 vector_width=4")])
def test_interleaved_rows_match_torch(name, rows, cols, knobs):
    fn = ops.OPERATORS[name][0]
    args = ops.example_args(name, rows, cols)
    want = ops.reference(name)(*args)
    want = want if isinstance(want, tuple) else (want,)
    for one_pass in (0, 1):
        f = CompiledFunction(fn, "cpu", f"{knobs} materialize=0 one_pass={one_pass}")
        got = f(*args)
        got = got if isinstance(got, tuple) else (got,)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, atol=2e-5, rtol=2e-5)


def test_interleaved_rows_bf16_and_mean_max():
    x = torch.randn(11, 70).to(torch.bfloat16)
    for reduce, ref in ((lambda t: t.mean(axis=-1), lambda t: t.float().mean(-1)),
                        (lambda t: t.max(axis=-1), lambda t: t.float().max(-1).values)):
        got = CompiledFunction(reduce, "cpu", "tasks=2 interleave=4 unroll=2 vector_width=8")(x)
        torch.testing.assert_close(got.float(), ref(x).to(torch.bfloat16).float(), atol=1e-2, rtol=1e-2)


def test_interleaved_rows_with_dynamic_row_count():
    from girflow.frontends.array_api import trace_program
    from girflow.frontends.torch.shape_class import CLASS_ROWS, DYNAMIC_ROWS, RowClass, _stand_in
    from girflow.runtime.compiled import kernel_for

    traced = trace_program(ops.softmax, _stand_in((CLASS_ROWS, 33), "float32"), marks=(DYNAMIC_ROWS,))
    cls = RowClass.from_traced(traced)
    cls.kernel = kernel_for(traced.mlir, traced, "cpu", "tasks=2 interleave=4 materialize=0 unroll=1 vector_width=8")
    for rows in (1, 6, 9, 17):
        x = torch.randn(rows, 33)
        torch.testing.assert_close(cls.run(rows, [x])[0], torch.softmax(x, -1), atol=2e-5, rtol=2e-5)


def test_search_offers_interleave_and_keeps_it_off_elementwise_programs():
    order = ranked(girflow.trace(ops.sum_last, (256, 512)))
    assert any(c.get("interleave", 1) > 1 for _, c in order)
    elementwise = ranked(girflow.trace(ops.OPERATORS["bias_gelu"][0], *ops.example_args("bias_gelu", 64, 64)))
    assert all(c.get("interleave", 1) == 1 for _, c in elementwise)
    tiny = ranked(girflow.trace(ops.sum_last, (3, 512)))     # fewer rows than two groups
    assert all(c.get("interleave", 1) <= 1 for _, c in tiny)
