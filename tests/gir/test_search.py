"""The schedule search: every candidate of the space computes the right result, the tuning cache
round-trips and is keyed by program and shape class, and `tune=True` / `girflow tune` use it.
No timings are asserted: the machine decides which candidate wins."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import girflow
from girflow.frontends import ops
from girflow.passes.schedule_space import as_options, candidates, shortlist
from girflow.runtime.compiled import CompiledFunction
from girflow.runtime.tuner import analysed, cached, ranked, tune

BIN = Path(sys.executable).parent


def _space(name, rows, cols):
    traced = girflow.trace(ops.OPERATORS[name][0], *ops.example_args(name, rows, cols))
    _ctx, _m, df = analysed(traced)
    return candidates(df, girflow_target())


def girflow_target():
    from girflow.dialects import targets

    return targets.get("cpu")


@pytest.mark.parametrize("name,rows,cols", [("softmax", 9, 37), ("layernorm", 6, 70), ("sum_first", 13, 45),
                                            ("transpose", 11, 29), ("add_layernorm", 5, 33)])
def test_every_candidate_matches_torch(name, rows, cols):
    """Each point of the space (a sample across every knob value, small shapes) against PyTorch."""
    space = _space(name, rows, cols)
    values = {}
    for c in space:        # keep one candidate per value of each knob, so every value is covered
        for k, v in c.items():
            values.setdefault((k, v), c)
    picked = list({id(c): c for c in values.values()}.values())
    args = ops.example_args(name, rows, cols)
    want = ops.reference(name)(*args)
    want = want if isinstance(want, tuple) else (want,)
    for cand in picked:
        got = CompiledFunction(ops.OPERATORS[name][0], "cpu", as_options(cand))(*args)
        got = got if isinstance(got, tuple) else (got,)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, atol=2e-5, rtol=2e-5, msg=lambda m: f"{cand}: {m}")


def test_model_ranks_whole_space_and_shortlist_spans_task_counts():
    traced = girflow.trace(ops.softmax, (512, 1000))
    order = ranked(traced)
    assert len(order) > 20 and [ns for ns, _ in order] == sorted(ns for ns, _ in order)
    assert order[0][1]["tasks"] >= 1
    picked = shortlist(order, 4)
    assert picked[0] == order[0] and len(picked) == 4 and len({c["tasks"] for _, c in picked}) >= 2
    assert {c["one_pass"] for _, c in picked} == {0, 1}     # both sweep structures get timed
    tiny = ranked(girflow.trace(ops.softmax, (8, 64)))
    assert tiny[0][1]["tasks"] == 1     # a kernel of a microsecond is never split across threads


@pytest.mark.parametrize("name,rows,cols", [("sum_first", 128, 768), ("sum_last", 1024, 1000),
                                            ("softmax", 77, 1000), ("transpose", 512, 300)])
def test_shortlist_times_one_thread_and_all_cores(name, rows, cols):
    """Whatever the model prefers, one thread and every core both get measured."""
    order = ranked(girflow.trace(ops.OPERATORS[name][0], *ops.example_args(name, rows, cols)))
    for k in (2, 4):
        picked = shortlist(order, k, cores=2)
        assert picked[0] == order[0] and len(picked) == k
        assert {min(c["tasks"], 2) for _, c in picked} == {1, 2}


def test_tuning_cache_round_trip_and_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("GIRFLOW_CACHE_DIR", str(tmp_path))
    traced = girflow.trace(ops.rmsnorm, *ops.example_args("rmsnorm", 100, 1000))
    assert cached(traced) is None
    entry = tune(traced, k=2, budget_s=0.05)
    files = list((tmp_path / "tuning").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["schedule"] == entry["schedule"]
    assert cached(traced)["schedule"] == entry["schedule"]
    assert len(entry["candidates"]) == 2 and all(c["measured_us"] > 0 for c in entry["candidates"])
    # same program and shape class (1000 -> 1024 columns, 100 -> 128 rows): the same entry
    assert cached(girflow.trace(ops.rmsnorm, *ops.example_args("rmsnorm", 120, 1024))) is not None
    # another shape class, another program, another dtype: none
    assert cached(girflow.trace(ops.rmsnorm, *ops.example_args("rmsnorm", 100, 64))) is None
    assert cached(girflow.trace(ops.softmax, (100, 1000))) is None
    assert cached(girflow.trace(ops.rmsnorm, *ops.example_args("rmsnorm", 100, 1000, dtype=torch.float16))) is None
    # the same program under another name shares it
    assert cached(girflow.trace(lambda x, w: ops.rmsnorm(x, w), *ops.example_args("rmsnorm", 100, 1000))) is not None


def test_tune_on_first_call_and_kernels_use_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GIRFLOW_CACHE_DIR", str(tmp_path))
    x, w, b = ops.example_args("layernorm", 33, 200)
    f = girflow.compile(ops.layernorm, tune=True)
    torch.testing.assert_close(f(x, w, b), ops.reference("layernorm")(x, w, b), atol=1e-5, rtol=1e-5)
    entry = cached(girflow.trace(ops.layernorm, x, w, b))
    assert entry is not None
    # a cached choice (here a deliberately odd one) is what every later compile of the program uses
    from girflow.passes import tuning_cache

    ctx, _m, df = analysed(girflow.trace(ops.layernorm, x, w, b))
    with ctx:
        tuning_cache.store(df, girflow_target(), {"schedule": {**entry["schedule"], "tasks": 3}})
    g = girflow.compile(lambda *a: ops.layernorm(*a))
    assert g.specialise(x, w, b)[1].tasks == 3
    torch.testing.assert_close(g(x, w, b), ops.reference("layernorm")(x, w, b), atol=1e-5, rtol=1e-5)


def test_gir_opt_applies_cached_choice(tmp_path):
    """gir-opt --gir-schedule='from-cache=1' reads the same cache the runtime fills."""
    env = {"GIRFLOW_CACHE_DIR": str(tmp_path), "PATH": str(BIN)}
    src = Path(__file__).parents[1] / "lit" / "gir" / "Inputs" / "softmax_4x37.mlir"
    run = lambda *a: subprocess.run([str(BIN / "gir-opt"), str(src), *a], capture_output=True, text=True, env=env)
    before = run("--gir-schedule=from-cache=1")
    assert before.returncode == 0 and 'gir.schedule_source = "model"' in before.stdout
    traced = girflow.trace(ops.softmax, (4, 37))
    import os
    old = os.environ.get("GIRFLOW_CACHE_DIR")
    os.environ["GIRFLOW_CACHE_DIR"] = str(tmp_path)
    try:
        from girflow.passes import tuning_cache
        ctx, _m, df = analysed(traced)
        with ctx:
            tuning_cache.store(df, girflow_target(), {"schedule": {"tasks": 3, "unroll": 2, "vector_width": 4,
                                                                  "streaming": 0, "materialize": 0}})
    finally:
        os.environ["GIRFLOW_CACHE_DIR"] = old
    after = run("--gir-schedule=from-cache=1")
    assert 'gir.schedule_source = "cache"' in after.stdout
    assert "tasks = 3" in after.stdout and "unroll = 2" in after.stdout and "gir.materialize" not in after.stdout
    explicit = run("--gir-schedule=from-cache=1 unroll=8")
    assert "unroll = 8" in explicit.stdout and "tasks = 3" in explicit.stdout


def test_girflow_tune_command(tmp_path):
    import os

    env = {**os.environ, "GIRFLOW_CACHE_DIR": str(tmp_path)}
    p = subprocess.run([str(BIN / "girflow"), "tune", "swiglu", "--shapes", "16x100", "--candidates", "2",
                        "--budget", "0.05"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert "swiglu" in p.stdout and "tasks=" in p.stdout and "tuning" in p.stderr   # tqdm's bar
    assert len(list((tmp_path / "tuning").glob("*.json"))) == 1
    again = subprocess.run([str(BIN / "girflow"), "tune", "swiglu", "--shapes", "16x100"], capture_output=True,
                           text=True, env=env)
    assert "(cached)" in again.stdout
    bad = subprocess.run([str(BIN / "girflow"), "tune", "nope"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "unknown operator" in bad.stderr and "Traceback" not in bad.stderr


def test_model_writes_through_the_last_level_cache_when_the_data_fits():
    """Streaming (non-temporal) stores send an output past the caches: the model chooses them only
    where the working set exceeds the shared last-level cache the target description reads from
    the host; without that level (unknown host), the per-core caches bound it instead."""
    from girflow.passes.schedule_space import rank

    desc = girflow_target()
    desc["memory_levels"]["last_level"] = {"capacity_bytes": 32 << 20, "bandwidth_gbs": 50.0}
    _ctx, _m, df = analysed(girflow.trace(ops.softmax, (1024, 1000)))          # 8 MB in and out
    assert rank(df, desc)[0][1]["streaming"] == 0
    _ctx2, _m2, big = analysed(girflow.trace(ops.softmax, (8192, 4096)))       # 256 MB
    assert rank(big, desc)[0][1]["streaming"] == 1
    del desc["memory_levels"]["last_level"]
    assert rank(df, desc)[0][1]["streaming"] == 1


def test_tuner_keeps_the_models_choice_unless_a_candidate_wins_clearly():
    from girflow.runtime.tuner import CLEAR_WIN, pick

    assert pick([1.0, 1.0 - CLEAR_WIN / 2, 1.2]) == 0      # within noise: the model's first choice
    assert pick([1.0, 0.9, 0.8]) == 2
    assert pick([0.5, 0.9]) == 0


def test_shortlist_times_the_other_store_kind_and_interleaved_rows():
    order = ranked(girflow.trace(ops.softmax, (4096, 1024)))
    picked = [c for _, c in shortlist(order, 5)]
    assert {c.get("streaming", 0) for c in picked} == {0, 1}
    sums = [c for _, c in shortlist(ranked(girflow.trace(ops.sum_last, (4096, 1024))), 5)]
    assert {c.get("interleave", 1) > 1 for c in sums} == {False, True}
    assert all(c.get("streaming", 0) == 0 for c in sums)     # no full-size output: nothing to stream


def test_a_candidate_never_inherits_the_models_split_or_interleave():
    """Options merge over the model's first choice: a candidate without split/interleave must say
    so, or it would be built (and timed) with the model's."""
    from girflow.dialects import targets
    from girflow.passes.schedule import knobs_for

    traced = girflow.trace(ops.sum_last, (8192, 4096))
    order = ranked(traced)
    _ctx, _m, df = analysed(traced)
    desc = targets.get("cpu")
    for _, cand in order[:40]:
        opts = dict(kv.split("=") for kv in as_options(cand).split())
        knobs, _source = knobs_for(df, desc, opts)
        assert knobs.get("split", 1) == cand.get("split", 1)
        assert knobs.get("interleave", 1) == cand.get("interleave", 1)
