"""The CPU call path: chunked task ranges, the stealing helper pool, concurrent callers, and the
per-signature fast path (it must still reject what the full checks reject)."""
import os

import numpy as np
import pytest
import torch

import girflow
from girflow.frontends import ops
from girflow.runtime.compiled import CompiledFunction
from girflow.runtime.dispatch import split_tasks


def test_split_tasks_covers_every_task_once():
    for tasks in (1, 2, 7, 64):
        for chunks in (1, 2, 3, 100):
            ranges = split_tasks(tasks, chunks)
            assert [t for lo, hi in ranges for t in range(lo, hi)] == list(range(tasks))


@pytest.mark.parametrize("tasks", [1, 2, 5, 37])
def test_any_task_count_gives_the_same_result(tasks):
    x = torch.randn(37, 100)
    f = CompiledFunction(ops.softmax, "cpu", f"tasks={tasks}")
    torch.testing.assert_close(f(x), torch.softmax(x, -1), atol=1e-5, rtol=1e-5)


def test_concurrent_callers_of_one_kernel(failures_under_threads):
    f = CompiledFunction(ops.rmsnorm, "cpu", "tasks=4")
    inputs = [ops.example_args("rmsnorm", 64, 96, seed=s) for s in range(4)]
    want = [ops.reference("rmsnorm")(*a) for a in inputs]
    assert not failures_under_threads(
        lambda i: torch.allclose(f(*inputs[i]), want[i], atol=1e-5, rtol=1e-5), repeats=50)


def test_fast_path_still_checks_every_call():
    f = girflow.compile(ops.softmax)
    x = torch.randn(8, 8)
    f(x)                                       # the signature is now cached
    with pytest.raises(ValueError, match="not contiguous"):
        f(torch.randn(8, 8).t())
    with pytest.raises(TypeError, match="expected a NumPy array"):
        f([[1.0] * 8] * 8)
    with pytest.raises(TypeError, match="dtype float64"):
        f(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="out= must be"):
        f(x, out=torch.empty(8, 9))
    np.testing.assert_allclose(f(x.numpy()), torch.softmax(x, -1).numpy(), atol=1e-6)   # same shape, NumPy


def test_outputs_keep_user_shapes_and_kinds():
    f = girflow.compile(ops.sum_last)
    x = torch.randn(3, 4, 50)
    got = f(x)
    assert got.shape == (3, 4) and isinstance(got, torch.Tensor)
    torch.testing.assert_close(got, x.sum(-1), atol=1e-5, rtol=1e-5)
    out = torch.empty(3, 4)
    assert f(x, out=out) is out
    torch.testing.assert_close(out, x.sum(-1), atol=1e-5, rtol=1e-5)


def test_fast_path_returns_fresh_outputs_of_the_argument_kind():
    f = girflow.compile(ops.add_layernorm)
    args = ops.example_args("add_layernorm", 8, 64)
    first = f(*args)
    second = f(*args)                          # steady state: the cached entry
    for a, b in zip(first, second):
        assert isinstance(b, torch.Tensor) and b.dtype == torch.float32 and b.is_contiguous()
        assert a.data_ptr() != b.data_ptr()
        torch.testing.assert_close(a, b)
    xb = torch.randn(8, 64).to(torch.bfloat16)
    g = girflow.compile(ops.softmax)
    g(xb)
    got = g(xb)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), torch.softmax(xb.float(), -1), atol=1e-2, rtol=1e-2)


def test_native_pool_runs_every_chunk_once_per_call():
    """Many back-to-back parallel calls (helpers spinning, sleeping and waking between them) and a
    spin time of zero (helpers always asleep): every call's tasks all run, exactly once."""
    from girflow.runtime import dispatch

    assert dispatch._POOL_RUN is not None, "the native task pool was not built (pip install -e .)"
    f = CompiledFunction(ops.sum_last, "cpu", "tasks=8")
    x = torch.randn(64, 40)
    want = x.sum(-1)
    try:
        dispatch.use_openmp_team(False)          # the pool's own helpers
        for spin in (50, 0):
            dispatch.set_spin_us(spin)
            for _ in range(300):
                torch.testing.assert_close(f(x), want, atol=1e-5, rtol=1e-5)
    finally:
        dispatch.set_spin_us(dispatch.DEFAULT_SPIN_US)
        dispatch.use_openmp_team(True)


@pytest.mark.parametrize("tasks", [2, 3, 8])
def test_parallel_calls_join_torchs_openmp_team(tasks):
    """Beside torch, parallel kernels run on the OpenMP team torch loaded; calls interleaved with
    torch's own parallel ops (whose workers are then spinning) still run every chunk once."""
    from girflow.runtime import dispatch

    f = CompiledFunction(ops.sum_last, "cpu", f"tasks={tasks}")
    x = torch.randn(257, 300)
    want = x.double().sum(-1).float()
    f(x)
    runtime = dispatch._team["runtime"]
    assert runtime is not None and os.path.basename(runtime).startswith(("libgomp", "libomp", "libiomp5"))
    for _ in range(100):
        torch.testing.assert_close(f(x), want, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close((x * 2).sum(-1), want * 2, atol=2e-4, rtol=1e-5)   # a torch parallel op


def test_openmp_team_can_be_turned_off(monkeypatch):
    from girflow.runtime import dispatch

    try:
        assert dispatch.use_openmp_team(False) is None
        monkeypatch.setenv(dispatch.OPENMP_TEAM_ENV, "0")
        monkeypatch.setitem(dispatch._team, "bound", False)
        f = CompiledFunction(ops.softmax, "cpu", "tasks=4")
        x = torch.randn(40, 33)
        torch.testing.assert_close(f(x), torch.softmax(x, -1), atol=1e-5, rtol=1e-5)
        assert dispatch._team["bound"] and dispatch._team["runtime"] is None
    finally:
        dispatch.use_openmp_team(True)


def test_native_pool_works_in_a_forked_child():
    f = CompiledFunction(ops.rmsnorm, "cpu", "tasks=4")
    args = ops.example_args("rmsnorm", 32, 64)
    want = ops.reference("rmsnorm")(*args).numpy()
    f(*args)                                   # helpers started in the parent
    pid = os.fork()
    if pid == 0:                               # the child has no helper threads until it needs them
        ok = False
        try:                                   # (no torch compute here: OpenMP is not fork-safe)
            ok = np.allclose(f(*args).numpy(), want, atol=1e-5, rtol=1e-5)
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_last_signature_guard_follows_shape_dtype_and_grad_changes():
    """The fast path checks torch arguments with one guard for the last signature; alternating
    shapes, dtypes, a tensor that requires grad and NumPy arrays all reach their own kernels."""
    f = girflow.compile(ops.rmsnorm)
    cases = [ops.example_args("rmsnorm", 8, 64), ops.example_args("rmsnorm", 5, 32),
             [a.to(torch.bfloat16) for a in ops.example_args("rmsnorm", 8, 64)],
             [ops.example_args("rmsnorm", 8, 64)[0].requires_grad_(), ops.example_args("rmsnorm", 8, 64)[1]]]
    for _ in range(3):
        for args in cases:
            got = f(*args)
            want = ops.reference("rmsnorm")(*[a.detach().float() for a in args])
            torch.testing.assert_close(got.float(), want, atol=2e-2, rtol=2e-2)
        x, w = (a.numpy() for a in cases[0])
        np.testing.assert_allclose(f(x, w), ops.reference("rmsnorm")(*cases[0]).numpy(), atol=1e-5)
    with pytest.raises(TypeError):
        f(cases[0][0])                         # too few arguments still fails clearly


def test_native_library_finds_the_built_extensions(tmp_path):
    from girflow.runtime import fiited
    from girflow.runtime.native import native_library

    here = os.path.dirname(os.path.abspath(fiited.__file__))
    assert native_library(here, "_fiited_native") == fiited.library_path()
    assert native_library(here, "_no_such_library") is None
    (tmp_path / "_x.cpython-3-x.so").write_bytes(b"")
    assert native_library(str(tmp_path), "_x") == str(tmp_path / "_x.cpython-3-x.so")


def test_native_launcher_is_the_call_path():
    """Built by `pip install -e .`: steady-state torch calls go through the C launcher."""
    from girflow.runtime import dispatch

    assert dispatch.Launcher is not None, "the native launcher was not built (pip install -e .)"
    f = girflow.compile(ops.softmax)
    x = torch.randn(5, 33)
    f(x)
    assert type(f._last[1]).__name__ == "builtin_function_or_method"
    torch.testing.assert_close(f(x), torch.softmax(x, -1), atol=1e-6, rtol=1e-6)


def test_native_launcher_out_fallback_and_several_outputs():
    f = girflow.compile(ops.add_layernorm)
    args = ops.example_args("add_layernorm", 7, 45)
    want = ops.reference("add_layernorm")(*args)
    f(*args)
    for _ in range(3):
        got = f(*args)
        assert isinstance(got, tuple) and len(got) == 2
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)
    outs = (torch.empty(7, 45), torch.empty(7, 45))
    assert f(*args, out=outs) is outs             # out= goes to the Python path
    torch.testing.assert_close(outs[0], want[0], atol=1e-5, rtol=1e-5)


def test_native_launcher_rejects_wrong_address_counts():
    from girflow.runtime import dispatch

    f = CompiledFunction(ops.sum_last, "cpu", "tasks=2")
    x = torch.randn(4, 10)
    kernel = f.specialise(x)[1]
    with pytest.raises(ValueError, match="takes 2 buffer addresses"):
        kernel.run([x.data_ptr()])
    with pytest.raises(TypeError):
        kernel.run([x.data_ptr(), "nope"])
    with pytest.raises(ValueError):
        dispatch.Launcher(0, 1, [], 1)


def test_native_launcher_entries_are_collected():
    """An entry and its launcher refer to each other; the cycle is collected with the function."""
    import gc
    import weakref

    f = girflow.compile(ops.softmax)
    f(torch.randn(3, 9))
    entry = next(iter(f._entries.values()))
    ref = weakref.ref(entry)
    del f, entry
    gc.collect()
    assert ref() is None
