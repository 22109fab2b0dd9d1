"""Every built-in operator against PyTorch, on shapes that stress tails, size-1 dims and long rows.

Tolerances: float32 results within atol=rtol=1e-5 (2e-5 for erf-based GELU, whose polynomial
erf is accurate to ~4e-7 absolute); float16/bfloat16 storage within one unit of the storage
type's precision (compute is float32 in both).
"""
import numpy as np
import pytest
import torch

import girflow
from girflow.frontends import ops

SHAPES = [(1, 1), (3, 1), (1, 16), (7, 37), (16, 64), (5, 100), (2, 1000), (4, 4096), (33, 129), (1, 20000)]
TOL = {"bias_gelu": 2e-5}


def _check(got, want, name, atol=None):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    tol = atol or TOL.get(name, 1e-5)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape)
        torch.testing.assert_close(g.float(), w.float(), atol=tol, rtol=tol)


@pytest.mark.parametrize("name", sorted(ops.OPERATORS))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_operator_matches_torch(name, shape):
    fn, _ = ops.OPERATORS[name]
    args = ops.example_args(name, *shape)
    _check(girflow.compile(fn)(*args), ops.reference(name)(*args), name)


@pytest.mark.parametrize("name", ["softmax", "layernorm", "rmsnorm", "sum_last", "mean_first"])
def test_numpy_arrays_in_numpy_out(name):
    fn, _ = ops.OPERATORS[name]
    args = ops.example_args(name, 9, 77)
    out = girflow.compile(fn)(*[a.numpy() for a in args])
    outs = out if isinstance(out, tuple) else (out,)
    assert all(isinstance(o, np.ndarray) for o in outs)
    _check(tuple(torch.from_numpy(o) for o in outs), ops.reference(name)(*args), name)


@pytest.mark.parametrize("dtype,tol", [(torch.float16, 2e-3), (torch.bfloat16, 1.6e-2)])
@pytest.mark.parametrize("name", ["softmax", "rmsnorm", "bias_gelu", "sum_first"])
def test_half_storage_float_compute(name, dtype, tol):
    fn, _ = ops.OPERATORS[name]
    args = ops.example_args(name, 6, 300, dtype=dtype)
    got = girflow.compile(fn)(*args)
    want = ops.reference(name)(*[a.float() for a in args])
    assert got.dtype == dtype
    torch.testing.assert_close(got.float(), want, atol=tol, rtol=tol)


def test_three_dimensional_input_and_middle_axis():
    x = torch.randn(4, 5, 33)
    torch.testing.assert_close(girflow.compile(ops.softmax)(x), torch.softmax(x, -1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(girflow.compile(lambda t: t.sum(axis=1))(x), x.sum(1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(girflow.compile(lambda t: t.max(axis=0, keepdims=True))(x), x.amax(0, keepdim=True))


def test_second_call_reuses_the_compiled_kernel():
    f = girflow.compile(ops.softmax)
    x = torch.randn(8, 64)
    f(x)
    kernel = f.specialise(x)[1]
    f(x)
    assert f.specialise(x)[1] is kernel
    assert girflow.compile(ops.softmax).specialise(x)[1] is kernel   # shared across callers


def test_out_argument_is_written_in_place():
    f = girflow.compile(ops.rmsnorm)
    x, w = ops.example_args("rmsnorm", 10, 50)
    out = torch.empty(10, 50)
    assert f(x, w, out=out) is out
    torch.testing.assert_close(out, ops.reference("rmsnorm")(x, w), atol=1e-5, rtol=1e-5)


def test_outputs_are_never_shared_while_alive():
    f = girflow.compile(lambda x: x * 2.0)
    x = torch.randn(1024, 512)
    a = f(x)
    b = f(x)
    assert a.data_ptr() != b.data_ptr()
    view = a[3]
    del a
    c = f(x + 1)
    torch.testing.assert_close(view, x[3] * 2.0)
    assert c.data_ptr() != view.data_ptr()


@pytest.mark.parametrize("bad,message", [
    (lambda: girflow.compile(ops.softmax)(torch.randn(8, 8).t()), "not contiguous"),
    (lambda: girflow.compile(ops.softmax)(np.zeros((4, 4), np.float64)), "dtype float64"),
    (lambda: girflow.compile(ops.softmax)([[1.0, 2.0]]), "expected a NumPy array"),
    (lambda: girflow.compile(ops.layernorm)(torch.randn(4, 8), torch.randn(7), torch.randn(8)), "do not broadcast"),
    (lambda: girflow.compile(ops.softmax, target="tpu"), "unknown target 'tpu'"),
    (lambda: girflow.compile(lambda x: x.sum())(torch.randn(3, 3)), "explicit axis"),
])
def test_bad_input_gives_clear_errors(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        bad()


def test_trace_prints_gir():
    text = str(girflow.trace(ops.softmax, (8, 16)))
    assert '"gir.reduce"' in text and 'kind = "max"' in text and '"gir.exp"' in text


def test_long_reductions_stay_accurate():
    """Sums over 8192 values, against a float64 reference: blocked accumulation keeps float32 error small."""
    x = torch.randn(8192, 33, generator=torch.Generator().manual_seed(1))
    exact_first, exact_last = x.double().sum(0), x.t().contiguous().double().sum(-1)
    assert (girflow.compile(ops.sum_first)(x).double() - exact_first).abs().max() < 3e-4
    assert (girflow.compile(ops.sum_last)(x.t().contiguous()).double() - exact_last).abs().max() < 3e-4


def test_numpy_output_views_keep_their_data():
    f = girflow.compile(lambda x: x * 2.0)
    x = np.random.default_rng(0).standard_normal((1024, 512)).astype(np.float32)
    a = f(x)
    tail = a[3:]
    del a
    f(x + 1)
    np.testing.assert_allclose(tail, x[3:] * 2.0)


def test_where_with_comparisons_against_per_row_values():
    from girflow.frontends.array_api import where

    x, y = torch.randn(5, 37), torch.randn(5, 37)
    f = girflow.compile(lambda a, b: where(a > b, a * 2.0, b - 1.0))
    torch.testing.assert_close(f(x, y), torch.where(x > y, x * 2, y - 1))
    g = girflow.compile(lambda a: where(a < a.mean(axis=-1, keepdims=True), 0.0, a))
    torch.testing.assert_close(g(x), torch.where(x < x.mean(-1, keepdim=True), 0.0, x))


def test_elementwise_operand_broadcast_over_leading_axes_only():
    """Rotary embeddings: cos/sin [1, 1, seq, dim] (and [seq, dim]) over [batch, heads, seq, dim]
    run as per-column operands of a [batch*heads, seq*dim] row view; a partial broadcast of the
    trailing axes is still refused with the reason."""
    x, cos, sin = torch.randn(2, 4, 16, 8), torch.randn(1, 1, 16, 8), torch.randn(16, 8)
    f = girflow.compile(lambda x, c, s: x * c + x * s)
    torch.testing.assert_close(f(x, cos, sin), x * cos + x * sin, atol=1e-6, rtol=1e-6)
    assert girflow.trace(lambda x, c: x * c, (2, 4, 16, 8), (1, 1, 16, 8)).input_views == ((8, 128), (1, 128))
    with pytest.raises(ValueError, match="not row-wise"):
        girflow.compile(lambda x, c: x * c)(torch.randn(8, 16, 4), torch.randn(16, 1))
