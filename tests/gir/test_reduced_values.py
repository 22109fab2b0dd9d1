"""Values computed from a reduction without keepdims stay per-row (or per-column), as in NumPy."""
import numpy as np
import pytest

from girflow.frontends import array_api as ga

CASES = {
    "scaled row sum": (lambda x: x.sum(axis=-1) * 2.0, lambda x: x.sum(-1) * 2.0),
    "two row reductions": (lambda x: x.sum(axis=-1) * x.max(axis=-1) + 1.0,
                           lambda x: x.sum(-1) * x.max(-1) + 1.0),
    "constant then reduce": (lambda x: (x * 3.0).exp().sum(axis=-1), lambda x: np.exp(x * 3.0).sum(-1)),
    "scaled column sum": (lambda x: x.sum(axis=0) * 2.0 - 1.0, lambda x: x.sum(0) * 2.0 - 1.0),
}


@pytest.mark.parametrize("name", CASES)
def test_reduced_value_matches_numpy(name):
    fn, ref = CASES[name]
    x = np.random.default_rng(0).random((16, 96), dtype=np.float32)
    np.testing.assert_allclose(ga.compile(fn)(x), ref(x), rtol=1e-5, atol=1e-5)
