"""A value kept in a row buffer for a later sweep is stored in its own sweep whatever its kind:
here the broadcast of a per-row value (a LayerNorm backward's rstd / N) read after a row sum."""
import numpy as np

import girflow


def test_broadcast_of_a_per_row_value_used_after_a_reduction():
    rng = np.random.default_rng(0)
    rstd = rng.random((32, 1), dtype=np.float32) + 0.5
    g = rng.standard_normal((32, 64), dtype=np.float32)
    w = rng.standard_normal((1, 64), dtype=np.float32)

    def fn(rstd, g, w):
        gw = g * w
        return (rstd / 64.0) * (gw - gw.sum(axis=1, keepdims=True))

    np.testing.assert_allclose(girflow.compile(fn)(rstd, g, w), fn(rstd, g, w), rtol=1e-5, atol=1e-6)
