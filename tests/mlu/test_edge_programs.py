"""Programs with several outputs, outputs that are inputs, per-row / scalar operands: MLU emulator and
the GPU kernels (SIMT interpreter) against PyTorch."""
import numpy as np
import pytest
import torch

import girflow
from girflow.dialects import targets
from girflow.passes.emulators.gpu_sim import simulate
from girflow.runtime import mlu

CASES = [
    ("two_outputs", lambda x: ((x - x.max(axis=-1, keepdims=True)).exp(), x.max(axis=-1, keepdims=True)),
     [(5, 96)], lambda x: ((x - x.amax(-1, keepdim=True)).exp(), x.amax(-1, keepdim=True))),
    ("identity_out", lambda x: (x, x * 2.0), [(4, 8)], lambda x: (x, x * 2)),
    ("identity", lambda x: x, [(3, 4)], lambda x: x),
    ("scalar_operand", lambda x, b: x * b, [(6, 10), (1,)], lambda x, b: x * b),
    ("row_operand", lambda x, r: x - r, [(6, 10), (6, 1)], lambda x, r: x - r),
]


@pytest.mark.parametrize("backend", ["mlu", "nvidia", "amd"])
@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_edge_program(case, backend):
    _, fn, shapes, ref = next(c for c in CASES if c[0] == case)
    rng = np.random.default_rng(3)
    xs = [rng.random(s, dtype=np.float32) + 0.1 for s in shapes]
    tr = girflow.trace(fn, *shapes)
    want = ref(*[torch.from_numpy(x) for x in xs])
    want = [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]
    if backend == "mlu":
        got = mlu.build(tr.mlir, tr, targets.get("mlu"))(*[x.reshape(v) for x, v in zip(xs, tr.input_views)])
        got = got if isinstance(got, tuple) else (got,)
    else:
        got = simulate(tr.mlir, tr, targets.get(backend), xs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g).reshape(w.shape), w, rtol=1e-5, atol=1e-6)
