"""A row class runs one kernel at any row count (the CPU code generator's `gir.dynamic_rows`),
against PyTorch, in float32 and bfloat16."""
import pytest
import torch

from girflow.frontends.torch.shape_class import CLASS_ROWS, RowClass


def layer_norm_and_mean(x, w, b):
    m = x.mean(axis=-1, keepdims=True)
    d = x - m
    v = (d * d).mean(axis=-1, keepdims=True)
    return d * (v + 1e-5).rsqrt() * w + b, m


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_one_kernel_serves_every_row_count(dtype):
    rc = RowClass.make(layer_norm_and_mean, [(2, 8, 48), (48,), (48,)], str(dtype).replace("torch.", ""))
    assert rc is not None and "gir.dynamic_rows" in rc.traced.mlir
    assert rc.in_scales == (True, False, False) and rc.out_cols == (48, 1)
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(48, generator=g).to(dtype), torch.randn(48, generator=g).to(dtype)
    for rows in (1, 3, 17, CLASS_ROWS, CLASS_ROWS + 5):
        x = torch.randn(rows, 48, generator=g).to(dtype)
        assert rc.rows_of([x, w, b]) == rows
        out, mean = rc.run(rows, [x, w, b])
        want = torch.nn.functional.layer_norm(x.float(), (48,), w.float(), b.float())
        tol = 1e-5 if dtype == torch.float32 else 2e-2
        torch.testing.assert_close(out.float(), want, rtol=tol, atol=tol)
        torch.testing.assert_close(mean.float()[:, 0], x.float().mean(-1), rtol=tol, atol=tol)


def test_inputs_that_do_not_fit_the_class_are_refused():
    rc = RowClass.make(layer_norm_and_mean, [(16, 48), (48,), (48,)], "float32")
    assert rc.rows_of([torch.empty(10, 48), torch.empty(48), torch.empty(48)]) == 10
    assert rc.rows_of([torch.empty(10, 47), torch.empty(48), torch.empty(48)]) is None   # other width
    assert rc.rows_of([torch.empty(10, 48), torch.empty(2, 48), torch.empty(48)]) is None  # not shared


def test_programs_that_are_not_row_programs_have_no_class():
    assert RowClass.make(lambda x: x.sum(axis=0), [(16, 48)], "float32") is None      # column program
    assert RowClass.make(lambda x: x.exp(), [(1, 48)], "float32") is None             # one row: ambiguous
