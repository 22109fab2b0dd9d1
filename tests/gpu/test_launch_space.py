"""GPU launch shapes in the schedule space: rows per block (row-per-warp) and threads per row
(row-per-block) as gir-to-gpu options the kernel records, the launch model's choice, and the
kernels of every shape matching PyTorch in the SIMT interpreter."""
import numpy as np
import pytest
from gpu_ops import make_inputs, reference, softmax

import girflow
from girflow.dialects import targets
from girflow.passes.emulators.gpu_sim import simulate
from girflow.passes.gpu.launch_space import candidates, rank
from girflow.passes.registry import PassError


@pytest.mark.parametrize("launch", [{"schedule": "warp", "rows_per_block": 1}, {"schedule": "warp", "rows_per_block": 8},
                                    {"schedule": "block", "block_threads": 64}, {"schedule": "block", "block_threads": 512},
                                    {"launch": "model"}])
@pytest.mark.parametrize("shape", [(5, 3), (9, 100), (3, 700)])
def test_every_launch_shape_matches_torch(shape, launch):
    tr = girflow.trace(softmax, shape)
    xs = make_inputs([shape], "normal", seed=2)
    (out,) = simulate(tr.mlir, tr, targets.get("nvidia_sm90"), xs, **launch)
    np.testing.assert_allclose(out, reference(softmax, xs)[0].reshape(tr.output_views[0]), rtol=1e-5, atol=1e-6)


def test_space_respects_the_target_and_the_model_ranks_it():
    desc = targets.get("nvidia_sm90")
    space = candidates((1024, 1000), desc)
    assert {c["schedule"] for c in space} == {"warp", "block"}
    assert max(c.get("block_threads", 0) for c in space) == desc["units"]["max_threads_per_block"]
    order = rank((1024, 1000), desc)
    assert [ns for ns, _ in order] == sorted(ns for ns, _ in order) and len(order) == len(space)
    assert all(c["schedule"] == "warp" for _, c in rank((64, 256), desc, "warp"))


def test_bad_launch_shape_is_a_clear_error():
    tr = girflow.trace(softmax, (4, 64))
    with pytest.raises(PassError, match="multiple of the warp size"):
        simulate(tr.mlir, tr, targets.get("nvidia_sm90"), make_inputs([(4, 64)], "normal"), "block", block_threads=100)


@pytest.mark.parametrize("split", [None, 1, 4, 32])
@pytest.mark.parametrize("fn,shape", [(lambda x: x.sum(axis=0, keepdims=True), (70, 45)),
                                      (lambda x: (x - x.max(axis=1, keepdims=True)).exp(), (3, 50, 45))])
def test_column_split_matches_torch(fn, shape, split):
    """Column programs: thread rows splitting the reduced axis (a last block only partly inside the
    columns stores nothing past them; every thread still meets the barriers)."""
    tr = girflow.trace(fn, shape)
    xs = make_inputs([shape], "normal", seed=3)
    (out,) = simulate(tr.mlir, tr, targets.get("nvidia_sm90"), xs, column_split=split)
    np.testing.assert_allclose(out, reference(fn, xs)[0].reshape(tr.output_views[0]), rtol=1e-5, atol=1e-5)


def test_bad_column_split_is_a_clear_error():
    tr = girflow.trace(lambda x: x.sum(axis=0, keepdims=True), (8, 8))
    with pytest.raises(PassError, match="column_split=64"):
        simulate(tr.mlir, tr, targets.get("nvidia_sm90"), make_inputs([(8, 8)], "normal"), column_split=64)
