"""The generated gpu-dialect kernels, run by the SIMT reference interpreter (no GPU needed), match
PyTorch for every operator, both vendors, row-per-warp and row-per-block schedules, odd shapes."""
import numpy as np
import pytest
from gpu_ops import OPS, make_inputs, reference, softmax

import girflow
from girflow.dialects import targets
from girflow.passes.emulators.gpu_sim import simulate


@pytest.mark.parametrize("target", ["nvidia_sm90", "amd_gfx942"])
@pytest.mark.parametrize("schedule", ["auto", "block"])
@pytest.mark.parametrize("op", [o[0] for o in OPS])
def test_kernel_semantics_match_torch(op, schedule, target):
    _, fn, shapes, dom = next(o for o in OPS if o[0] == op)
    tr = girflow.trace(fn, *shapes)
    xs = make_inputs(shapes, dom)
    (out,) = simulate(tr.mlir, tr, targets.get(target), xs, schedule)
    np.testing.assert_allclose(out, reference(fn, xs)[0].reshape(tr.output_views[0]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (9, 1025), (3, 4100), (3, 8196), (2, 40000), (2, 3, 4, 8)])
def test_odd_shapes(shape):
    tr = girflow.trace(softmax, shape)
    xs = make_inputs([shape], "normal", seed=1)
    (out,) = simulate(tr.mlir, tr, targets.get("nvidia"), xs)
    np.testing.assert_allclose(out, reference(softmax, xs)[0].reshape(tr.output_views[0]), rtol=1e-5, atol=1e-6)


def test_half_storage():
    x = np.random.default_rng(0).standard_normal((6, 40)).astype(np.float16)
    tr = girflow.trace(lambda x: x.exp() * 2.0, x)
    (out,) = simulate(tr.mlir, tr, targets.get("nvidia"), [x])
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float32), np.exp(x.astype(np.float32)) * 2, rtol=2e-3, atol=2e-3)
