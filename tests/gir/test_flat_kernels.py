"""Kernels for which rows do not matter run over the flattened buffers: a transpose with a
dimension of 1 is a vector copy (bit for bit against torch), an elementwise program one contiguous
range per task (so rows of 3 cost no per-row tails), against torch."""
import pytest
import torch

import girflow
from girflow.frontends import ops
from girflow.runtime.compiled import CompiledFunction


@pytest.mark.parametrize("shape,options,dtype", [
    ((1, 4096), "", torch.float32), ((4099, 1), "tasks=4", torch.float32), ((1, 37), "", torch.bfloat16),
    ((1, 1), "", torch.float32), ((5000, 1), "tasks=2 tile=8", torch.float16)])
def test_transpose_with_a_unit_dimension_is_an_exact_copy(shape, options, dtype):
    """The call returns a view of the input (as `x.t().contiguous()` does in torch); the kernel,
    still compiled for other targets and for tuning, is a bit-exact copy."""
    x = torch.randn(*shape).to(dtype)
    f = CompiledFunction(ops.transpose, "cpu", options)
    want = x.t().contiguous()
    for _ in range(2):      # the first call and the guarded steady-state call
        got = f(x)
        assert torch.equal(got, want) and got.data_ptr() == x.data_ptr()
        assert got.shape == want.shape and got.stride() == want.stride() and got.is_contiguous()
    out = torch.empty(shape[1], shape[0], dtype=dtype)
    assert f(x, out=out) is out and torch.equal(out, x.t())
    with pytest.raises(ValueError, match="out= must be"):
        f(x, out=torch.empty(shape, dtype=dtype) if shape[0] != shape[1] else torch.empty(2, 2, dtype=dtype))
    copied = torch.empty(shape[1], shape[0], dtype=dtype)
    f.specialise(x)[1].run([x.data_ptr(), copied.data_ptr()])
    assert torch.equal(copied, x.t().contiguous())


def test_unit_dimension_transpose_of_numpy_is_a_view():
    import numpy as np

    x = np.random.default_rng(0).standard_normal((1, 9)).astype(np.float32)
    got = girflow.compile(ops.transpose)(x)
    assert got.shape == (9, 1) and np.shares_memory(got, x) and np.array_equal(got, x.T)
    with pytest.raises(ValueError, match="out= must be"):
        girflow.compile(ops.transpose)(x, out=np.empty((1, 9), np.float32))


@pytest.mark.parametrize("name,shape,options", [
    ("swiglu", (20000, 3), ""), ("swiglu", (7, 5), "tasks=4"), ("relu", (1, 4097), ""),
    ("swiglu", (300, 33), "tasks=3 unroll=2 vector_width=4"), ("bias_gelu", (30, 7), "")])   # per-column bias: rows kept
def test_elementwise_programs_match_torch(name, shape, options):
    args = ops.example_args(name, *shape)
    got = CompiledFunction(ops.OPERATORS[name][0], "cpu", options)(*args)
    torch.testing.assert_close(got, ops.reference(name)(*args), atol=2e-5, rtol=2e-5)


def test_flat_elementwise_with_a_constant_in_bfloat16():
    x, y = torch.randn(5, 9).to(torch.bfloat16), torch.randn(5, 9).to(torch.bfloat16)
    got = girflow.compile(lambda a, b: a * b + 2.0)(x, y)
    torch.testing.assert_close(got, (x.float() * y.float() + 2).to(torch.bfloat16))
