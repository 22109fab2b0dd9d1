"""Reductions whose reduced axis is split over tasks (gir.schedule `split`): each task leaves a
partial result per part in a workspace, one combine step folds the parts in order and writes the
outputs. Checked against NumPy in float64 at odd shapes, under concurrent calls and from the kernel
cache; the search space offers the split where it can apply and nowhere else."""
import numpy as np
import pytest
import torch

import girflow
from girflow.dialects import targets
from girflow.frontends import ops
from girflow.passes.schedule_space import candidates, rank, shortlist
from girflow.runtime.compiled import CompiledFunction
from girflow.runtime.cpu import CpuKernel
from girflow.runtime.tuner import analysed

NUMPY = {"sum_first": lambda x: x.sum(0), "mean_first": lambda x: x.mean(0), "max_first": lambda x: x.max(0),
         "sum_last": lambda x: x.sum(-1), "mean_last": lambda x: x.mean(-1), "max_last": lambda x: x.max(-1)}


def _close(got, x, name):
    want = NUMPY[name](x.double().numpy())
    scale = np.abs(x.double().numpy()).sum(0 if name.endswith("first") else -1).max() + 1
    np.testing.assert_allclose(got.double().numpy().reshape(want.shape), want, atol=1e-6 * scale, rtol=1e-5)


@pytest.mark.parametrize("name,rows,cols,options", [
    ("sum_first", 3000, 33, "tasks=2 split=2 vector_width=8 unroll=4"),
    ("sum_first", 1001, 7, "tasks=2 split=8 vector_width=8 unroll=1"),       # more parts than tasks
    ("mean_first", 777, 100, "tasks=8 split=4 vector_width=4 unroll=2"),     # more tasks than parts
    ("max_first", 513, 19, "tasks=3 split=2 vector_width=8 unroll=2"),
    ("sum_first", 256, 1, "tasks=2 split=4 vector_width=8 unroll=1"),         # one column
    ("sum_last", 1, 65537, "tasks=2 split=2 vector_width=8 unroll=4"),        # one row
    ("mean_last", 3, 1001, "tasks=4 split=4 vector_width=8 unroll=2"),
    ("max_last", 7, 999, "tasks=8 split=2 vector_width=16 unroll=1"),
    ("sum_last", 5, 1024, "tasks=2 split=4 vector_width=8 unroll=4"),         # parts of equal length
])
def test_split_reduction_matches_numpy(name, rows, cols, options):
    x = torch.randn(rows, cols) + 0.5
    got = CompiledFunction(ops.OPERATORS[name][0], "cpu", options)(x)
    _close(got, x, name)


def test_split_reduction_is_deterministic_and_safe_under_concurrent_calls(failures_under_threads):
    """Parts are folded in part order, so repeated calls agree bit for bit; each call in flight
    has its own workspace."""
    fn = CompiledFunction(ops.sum_first, "cpu", "tasks=2 split=4 vector_width=8 unroll=2")
    xs = [torch.randn(2000, 40) for _ in range(4)]
    first = [fn(x) for x in xs]
    assert not failures_under_threads(lambda i: torch.equal(fn(xs[i]), first[i]))
    _close(first[0], xs[0], "sum_first")


def test_split_kernel_reloads_from_the_kernel_cache():
    x = torch.randn(3, 4000)
    traced = girflow.trace(ops.sum_last, x)
    built = CpuKernel(traced.mlir, "tasks=2 split=2 vector_width=8 unroll=4")
    loaded = CpuKernel(traced.mlir, "tasks=2 split=2 vector_width=8 unroll=4")
    assert loaded.from_cache and loaded.combine == built.combine == "sum_last_combine"
    for kernel in (built, loaded):
        out = torch.empty(3, 1)
        kernel.run([x.data_ptr(), out.data_ptr()])
        _close(out, x, "sum_last")


def test_a_row_program_with_a_later_sweep_cannot_split():
    with pytest.raises(ValueError, match="split=2: only row programs whose outputs are per-row"):
        CompiledFunction(ops.softmax, "cpu", "split=2")(torch.randn(4, 512))


def _space(name, rows, cols):
    """(modelled ranking, candidates) of an operator at a shape."""
    traced = girflow.trace(ops.OPERATORS[name][0], *ops.example_args(name, rows, cols))
    _ctx, _module, df = analysed(traced)     # the dataflow reads the module: keep both alive here
    desc = targets.get("cpu")
    return rank(df, desc), candidates(df, desc)


def test_space_offers_split_where_it_applies():
    _, tall = _space("sum_first", 3000, 333)
    splits = {c.get("split", 1) for c in tall}
    assert {1, 2, 4, 8, 16} <= splits
    assert any(c.get("split", 1) > c["tasks"] for c in tall)      # shorter walks on the same threads
    _, wide = _space("sum_last", 1, 65536)
    assert max(c["tasks"] for c in wide if c.get("split", 1) == 1) == 1
    assert max(c["tasks"] for c in wide) > 1                      # one row, yet every core works
    for name, rows, cols in (("softmax", 1, 65536), ("layernorm", 2, 4096), ("sum_first", 100, 64)):
        assert all("split" not in c for c in _space(name, rows, cols)[1])


def test_shortlist_times_a_split_and_an_unsplit_candidate():
    for name, rows, cols in (("sum_first", 50000, 64), ("sum_last", 1, 65536), ("sum_first", 3000, 333)):
        picked = shortlist(_space(name, rows, cols)[0], 4)
        assert {c.get("split", 1) > 1 for _, c in picked} == {True, False}


@pytest.mark.parametrize("fn,name,shape,options", [
    (ops.sum_first, "sum_first", (300, 20), "tasks=2 split=4 vector_width=8 unroll=1"),
    (ops.sum_last, "sum_last", (5, 1000), "tasks=1 split=2 vector_width=8 unroll=2"),
    (ops.sum_last, "sum_last", (9, 70), "tasks=2 vector_width=8 unroll=2")])
def test_python_call_path_runs_the_tasks_then_the_combine_step(monkeypatch, fn, name, shape, options):
    """Builds without the native launcher call kernels through ctypes: the same `run`, with the
    combine step and its workspace where the reduced axis is split."""
    from girflow.runtime import dispatch

    monkeypatch.setattr(dispatch, "Launcher", None)
    x = torch.randn(*shape)
    traced = girflow.trace(fn, x)
    kernel = CpuKernel(traced.mlir, options)
    assert kernel.runner.native is None
    for _ in range(2):     # the second call reuses the slot set (and its workspace)
        out = torch.full(traced.output_shapes[0], float("nan"))
        kernel.run([x.data_ptr(), out.data_ptr()])
        _close(out, x, name)
