"""A transpose with a dimension of 1 is a copy of the flattened buffer (gir-lower-cpu emits a
vector copy rather than a register-tile walk); checked bit for bit against torch."""
import pytest
import torch

from girflow.frontends import ops
from girflow.runtime.compiled import CompiledFunction


@pytest.mark.parametrize("shape,options,dtype", [
    ((1, 4096), "", torch.float32), ((4099, 1), "tasks=4", torch.float32), ((1, 37), "", torch.bfloat16),
    ((1, 1), "", torch.float32), ((5000, 1), "tasks=2 tile=8", torch.float16)])
def test_transpose_with_a_unit_dimension_is_an_exact_copy(shape, options, dtype):
    x = torch.randn(*shape).to(dtype)
    assert torch.equal(CompiledFunction(ops.transpose, "cpu", options)(x), x.t().contiguous())
