"""Prebuilt NVIDIA kernels run on a CUDA GPU and match PyTorch on the same GPU.

The kernels come from a bundle (`girflow gpu bundle --cases tests/gpu/gpu_cases.py --out DIR`, built
where MLIR is installed) named by GIRFLOW_GPU_BUNDLE; this file imports nothing of the compiler, so
it runs on a GPU machine that has only torch and cuda-python (tools/gpu_check.sh). Every case of the
bundle is checked: the test kernels (every operator in f32, f16, bf16, odd shapes, the launch space)
and every launch candidate of the benchmark. Without a bundle or a GPU the tests skip, saying why.

Each check: fresh random inputs (never zeros), outputs poisoned with NaN before the launch (an
unwritten element fails), PyTorch's result on float32 copies of the inputs as reference, compared
element-wise and by ||out - ref|| / ||ref||.
"""
import functools
import math
import os

import pytest

BUNDLE = os.environ.get("GIRFLOW_GPU_BUNDLE", "")
# dtype -> (rtol, atol per unit of the reference's largest magnitude, norm-wise relative error)
TOLERANCE = {"float32": (2e-5, 2e-5, 2e-5), "float16": (2e-3, 2e-3, 2e-3), "bfloat16": (1.6e-2, 1.6e-2, 1e-2)}


def _skip_reason() -> str:
    if not BUNDLE:
        return "no kernel bundle: set GIRFLOW_GPU_BUNDLE (see tools/gpu_check.sh)"
    from girflow.runtime.cuda_launch import gpu_available

    ok, why = gpu_available()
    return "" if ok else f"needs a CUDA GPU: {why}"


SKIP = _skip_reason()


@functools.lru_cache(maxsize=None)
def _bundle():
    from girflow.runtime.cuda_bundle import load_bundle

    return load_bundle(BUNDLE)


def _params():
    if not BUNDLE:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SKIP), id="no-bundle")]
    marks = [pytest.mark.skip(reason=SKIP)] if SKIP else []
    return [pytest.param(c.id, marks=marks, id=c.id) for c in _bundle().cases]


def reference_fn(ref: dict):
    """The PyTorch function a case is checked against: a built-in operator's torch definition, or a
    program of the test table (gpu_ops) evaluated by torch ops."""
    if ref["kind"] == "operator":
        from girflow.frontends import ops

        return ops.reference(ref["name"])
    if ref["kind"] == "gpu_ops":
        import gpu_ops

        fn = next((o[1] for o in gpu_ops.OPS if o[0] == ref["name"]), None) or getattr(gpu_ops, ref["name"])
        return lambda *ts: gpu_ops.torch_reference(fn, ts)
    raise ValueError(f"unknown reference kind {ref['kind']!r}")


def run_case(case, seed=0):
    """(outputs of the kernel, PyTorch reference outputs), both on the GPU."""
    import torch

    xs = case.make_inputs(seed=seed)
    launch = case.launcher()
    outs = [torch.full(v, float("nan"), dtype=launch.torch_dtype(), device="cuda") for v in case.output_views]
    launch(*[x.reshape(v) for x, v in zip(xs, case.input_views)], out=outs)
    torch.cuda.synchronize()
    want = reference_fn(case.reference)(*[x.float() for x in xs])
    want = list(want) if isinstance(want, (tuple, list)) else [want]
    return outs, want


def assert_matches(case, outs, want):
    import torch

    rtol, atol, norm_tol = TOLERANCE[case.dtype]
    assert len(outs) == len(want), f"{len(outs)} outputs, reference has {len(want)}"
    for i, (o, w) in enumerate(zip(outs, want)):
        w = w.to(o.dtype).float().reshape(o.shape)
        o = o.float()
        assert not torch.isnan(o).any(), f"output {i}: {int(torch.isnan(o).sum())} elements unwritten or NaN"
        scale = max(1.0, float(w.abs().max()))
        torch.testing.assert_close(o, w, rtol=rtol, atol=atol * scale, msg=lambda m: f"output {i}: {m}")
        err = float(torch.linalg.vector_norm(o - w) / max(float(torch.linalg.vector_norm(w)), 1e-30))
        assert err <= norm_tol, f"output {i}: ||out - ref|| / ||ref|| = {err:.2e} > {norm_tol}"


@pytest.mark.gpu
@pytest.mark.parametrize("case_id", _params())
def test_kernel_matches_torch(case_id):
    case = _bundle().by_id(case_id)
    outs, want = run_case(case)
    assert_matches(case, outs, want)


@pytest.mark.gpu
@pytest.mark.skipif(bool(SKIP), reason=SKIP or "-")
def test_fresh_inputs_and_graph_replay():
    """A second draw of inputs gives the right answer too, and launches captured in a CUDA graph
    (how the benchmark times kernels) replay to the same result as direct launches."""
    import torch

    bundle = _bundle()
    case = next(c for c in bundle.cases if c.op == "softmax" and c.dtype == "float32")
    outs, want = run_case(case, seed=7)
    assert_matches(case, outs, want)
    launch = case.launcher()
    xs = [x.reshape(v) for x, v in zip(case.make_inputs(seed=3), case.input_views)]
    direct = launch(*xs)
    graphed = launch.new_outputs()
    graphed[0].fill_(float("nan"))
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(3):
            launch(*xs, out=graphed)
    g.replay()
    torch.cuda.synchronize()
    assert torch.equal(graphed[0], direct)


@pytest.mark.gpu
@pytest.mark.skipif(bool(SKIP), reason=SKIP or "-")
def test_launcher_rejects_bad_arguments():
    import torch

    case = next(c for c in _bundle().cases if c.op == "softmax" and c.dtype == "float32" and len(c.shapes[0]) == 2)
    launch = case.launcher()
    view = tuple(case.input_views[0])
    with pytest.raises(TypeError, match="CUDA tensor"):
        launch(torch.randn(view))
    with pytest.raises(ValueError, match="shape"):
        launch(torch.randn((view[0] + 1, view[1]), device="cuda"))
    with pytest.raises(ValueError, match="float32"):
        launch(torch.randn(view, device="cuda", dtype=torch.float16))
    if view[0] > 1 and view[1] > 1:
        with pytest.raises(ValueError, match="contiguous"):
            launch(torch.randn((view[1], view[0]), device="cuda").t())
    with pytest.raises(TypeError, match="inputs"):
        launch()


def test_bundle_tolerances_are_ordered():
    """Runs everywhere: the narrower the storage type, the looser the check (sanity of the table)."""
    f32, f16, bf16 = (TOLERANCE[k] for k in ("float32", "float16", "bfloat16"))
    assert all(a < b < c for a, b, c in zip(f32, f16, bf16)) and math.isfinite(sum(bf16))
