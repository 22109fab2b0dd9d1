"""The emulated Cambricon MLU backend: every operator against PyTorch, odd shapes, capacities."""
import numpy as np
import pytest
import torch
from gpu_ops import OPS, layernorm, make_inputs, reference, softmax

import girflow
from girflow.dialects import targets
from girflow.passes.registry import PassError
from girflow.runtime import mlu
from girflow.runtime.backends import get_backend

DESC = targets.get("mlu370")


def _run(fn, shapes, dom="normal", schedule="fused", seed=0):
    tr = girflow.trace(fn, *shapes)
    xs = make_inputs(shapes, dom, seed)
    f = mlu.build(tr.mlir, tr, DESC, schedule)
    out = f(*[x.reshape(v) for x, v in zip(xs, tr.input_views)])
    ref = reference(fn, xs)[0].reshape(tr.output_views[0])
    return out, ref, f


@pytest.mark.parametrize("op", [o[0] for o in OPS])
def test_every_operator_matches_torch(op):
    _, fn, shapes, dom = next(o for o in OPS if o[0] == op)
    out, ref, f = _run(fn, shapes, dom)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    s = f.stats
    assert s.bytes_read["GDRAM"] > 0 and s.bytes_written["GDRAM"] > 0 and s.model["time_us"] > 0


@pytest.mark.parametrize("op", ["softmax", "layernorm", "colsoftmax", "gelu", "rmsnorm"])
def test_naive_schedule_matches_and_moves_more(op):
    _, fn, shapes, dom = next(o for o in OPS if o[0] == op)
    out, ref, fused = _run(fn, shapes, dom, "fused")
    out2, _, naive = _run(fn, shapes, dom, "naive")
    np.testing.assert_allclose(out2, ref, rtol=1e-5, atol=1e-5)
    assert naive.stats.bytes_moved("GDRAM") > fused.stats.bytes_moved("GDRAM")
    assert naive.stats.model["time_us"] > fused.stats.model["time_us"]


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (3, 1), (37, 129), (130, 65), (2, 3, 5, 7)])
def test_odd_shapes(shape):
    out, ref, _ = _run(softmax, [shape])
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,axis", [((5, 3, 7), 1), ((1, 300, 2), 1), ((9, 1000), 0)])
def test_odd_column_shapes(shape, axis):
    fn = lambda x: x / x.sum(axis=axis, keepdims=True)  # noqa: E731
    out, ref, _ = _run(fn, [shape], "positive")
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_torch_tensors_and_half_storage():
    x = torch.randn(6, 40, dtype=torch.float16)
    f = girflow.trace(lambda x: x.exp() * 2.0, x)
    k = get_backend("mlu")(f.mlir, f, DESC)
    y = k(x)
    assert y.dtype == torch.float16
    torch.testing.assert_close(y, (x.float().exp() * 2).half(), rtol=2e-3, atol=2e-3)


def test_buffer_that_does_not_fit_is_a_compile_error():
    tr = girflow.trace(softmax, (4, 300_000))  # one row tile: 1.2 MB per buffer > 768 KiB NRAM
    with pytest.raises(PassError, match=r"NRAM overflow.*capacity 786432 bytes.*largest buffer 'arg0' is 1x300032 f32 = 1200128 bytes"):
        mlu.build(tr.mlir, tr, DESC)


def test_tiles_shrink_to_fit_nram():
    out, ref, f = _run(layernorm, [(64, 20000), (20000,), (20000,)])
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    assert f.stats.peak_bytes["NRAM"] <= DESC["memory_levels"]["NRAM"]["capacity_bytes"]
    assert f.stats.bytes_moved("SRAM") > 0  # weights staged through the cluster's SRAM
    assert f.stats.instructions["sync"] > 0


def test_emulator_enforces_capacity_and_alignment():
    base = """func.func @k(%a: memref<4x64xf32>, %o: memref<4x64xf32>) attributes {mlu.launch = {tasks = 4 : i64}} {
  %b = "mlu.alloc"() {space = "NRAM", name = "big"} : () -> memref<1x%Nxf32>
  %c1 = arith.constant 1 : index
  "mlu.active"(%b, %b, %c1, %c1) {fn = "exp"} : (memref<1x%Nxf32>, memref<1x%Nxf32>, index, index) -> ()
  return
}"""
    with pytest.raises(mlu.MluCapacityError, match="NRAM overflow on core 0: buffer 'big'"):
        mlu.emulate(base.replace("%N", "262144"), [np.zeros((4, 64), np.float32)], DESC)
    with pytest.raises(mlu.MluError, match="alignment: buffer 'big'"):
        mlu.emulate(base.replace("%N", "33"), [np.zeros((4, 64), np.float32)], DESC)


def test_benchmark_reports_fused_vs_naive(capsys):
    from girflow.tools.target_bench import benchmark_mlu

    rows = benchmark_mlu([("softmax", softmax, [(64, 512)])])
    (row,) = rows
    assert row["fused"]["GDRAM"] == 2 * 64 * 512 * 4      # read x once, write y once
    assert row["naive"]["GDRAM"] > 3 * row["fused"]["GDRAM"]
    assert "GDRAM saved" in capsys.readouterr().out


@pytest.mark.parametrize("shape", [(70, 37), (3, 5000), (130, 2100)])
def test_transpose_tiles_rows_and_columns(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    tr = girflow.trace(lambda x: x.T, shape)
    f = mlu.build(tr.mlir, tr, DESC)
    np.testing.assert_array_equal(f(x), x.T)
    assert f.stats.bytes_moved("GDRAM") == 2 * x.nbytes


def test_naive_stages_are_separate_launches():
    tr = girflow.trace(softmax, (256, 4096))   # naive stages each fit NRAM only if released between launches
    f = mlu.build(tr.mlir, tr, DESC, "naive")
    assert f.mlu.count('"mlu.launch_boundary"') >= 3
