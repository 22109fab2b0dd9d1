"""One program written once with the array API compiles for cpu, nvidia, amd and mlu."""
import numpy as np
import pytest
from gpu_ops import layernorm, reference, softmax

import girflow


@pytest.mark.parametrize("fn,shapes", [(softmax, [(16, 100)]), (layernorm, [(8, 256), (256,), (256,)])])
def test_same_program_on_every_target(fn, shapes):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    want = reference(fn, xs)[0]
    for target in ("cpu", "mlu"):
        got = girflow.compile(fn, target=target)(*xs)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=target)
    from girflow.runtime.nvidia import gpu_available

    for target, marker in (("nvidia", ".visible .entry"), ("amd", ".amdhsa_kernel")):
        cf = girflow.compile(fn, target=target)
        traced, kernel = cf.specialise(*xs)
        text = kernel.ptx if target == "nvidia" else kernel.assembly
        assert marker in text
        if target == "amd" or not gpu_available()[0]:
            with pytest.raises(RuntimeError, match="cannot run on target"):
                kernel(*[x.reshape(v) for x, v in zip(xs, traced.input_views)])
