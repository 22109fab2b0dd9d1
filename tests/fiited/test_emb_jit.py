"""An `emb` program lowered to runtime calls and run by the ExecutionEngine, against NumPy."""
import numpy as np
import pytest

from girflow.runtime.fiited import FiitedError, init_rows
from girflow.runtime.fiited.jit import EmbProgram

PROGRAM = """
func.func @step(%ids: memref<?xi64>, %offsets: memref<?xi64>, %grad: memref<?x16xf32>,
                %rows: memref<?xi64>, %dims: memref<?xi64>, %before: memref<?x16xf32>, %after: memref<?x16xf32>) {
  %t = "emb.table"() {rows = 50 : i64, max_dim = 16 : i64, chunk = 8 : i64, init_dim = 16 : i64,
                      optimizer = "sgd", lr = 0.5 : f64, seed = 11 : i64} : () -> i64
  "emb.lookup"(%t, %ids, %offsets, %before) {mode = "mean"} : (i64, memref<?xi64>, memref<?xi64>, memref<?x16xf32>) -> ()
  "emb.apply_gradients"(%t, %ids, %offsets, %grad) {mode = "mean"} : (i64, memref<?xi64>, memref<?xi64>, memref<?x16xf32>) -> ()
  "emb.adjust_dims"(%t, %rows, %dims) : (i64, memref<?xi64>, memref<?xi64>) -> ()
  "emb.lookup"(%t, %ids, %offsets, %after) {mode = "mean"} : (i64, memref<?xi64>, memref<?xi64>, memref<?x16xf32>) -> ()
  "emb.destroy"(%t) : (i64) -> ()
  return
}
"""


def _mean_pool(W, ids, offsets):
    ends = list(offsets[1:]) + [len(ids)]
    return np.stack([W[ids[lo:hi]].mean(0) for lo, hi in zip(offsets, ends)])


@pytest.fixture(scope="module")
def program():
    return EmbProgram(PROGRAM)


def test_emb_program_matches_numpy(program):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, 30).astype(np.int64)
    offsets = np.arange(0, 30, 3, dtype=np.int64)
    grad = rng.normal(size=(10, 16)).astype(np.float32)
    rows, dims = np.array([ids[0], ids[1], 49], np.int64), np.array([8, 0, 8], np.int64)
    before, after = np.zeros((10, 16), np.float32), np.zeros((10, 16), np.float32)
    program("step", ids, offsets, grad, rows, dims, before, after)

    # rows are created on first lookup with the table's initial values for (seed, id)
    W = init_rows(np.arange(50), 16, seed=11, scale=(1 / 50) ** 0.5).astype(np.float64)
    np.testing.assert_allclose(before, _mean_pool(W, ids, offsets), rtol=1e-5, atol=1e-6)
    for b, lo in enumerate(offsets):
        for r in ids[lo:lo + 3]:
            W[r] -= 0.5 * grad[b] / 3
    for r, d in zip(rows, dims):
        W[r, d:] = 0.0
    np.testing.assert_allclose(after, _mean_pool(W, ids, offsets), rtol=1e-4, atol=1e-5)


def test_runtime_error_in_jitted_program_is_raised_not_crashed(program):
    ids = np.array([3, 60], np.int64)  # 60 is out of range
    offsets = np.array([0], np.int64)
    z = np.zeros((1, 16), np.float32)
    with pytest.raises(FiitedError, match="out of range"):
        program("step", ids, offsets, z, np.array([0], np.int64), np.array([8], np.int64), z.copy(), z.copy())
