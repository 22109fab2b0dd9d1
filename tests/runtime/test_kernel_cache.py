"""The compiled-kernel cache: a second process links the object code the first one produced (no
pipeline, no LLVM), with the same results; a changed tuning state or a damaged entry recompiles."""
import os
import subprocess
import sys

import numpy as np

import girflow
from girflow.runtime import compiled, kernel_cache

PROGRAM = """
import json, sys
import numpy as np
import girflow
from girflow.runtime import compiled
x = np.linspace(-2, 2, 48 * 200, dtype=np.float32).reshape(48, 200)
f = girflow.compile(lambda t: (t - t.max(axis=-1, keepdims=True)).exp() * 0.5 + t.tanh())
y = f(x)
print(json.dumps({"hit": [k.from_cache for k in compiled._KERNELS.values()], "y": y.tolist()}))
"""


def _run_fresh(cache, **env):
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True,
                         env={**os.environ, "GIRFLOW_CACHE_DIR": str(cache), **env})
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_links_the_cached_object(tmp_path):
    first = _run_fresh(tmp_path)
    second = _run_fresh(tmp_path)
    assert first["hit"] == [False] and second["hit"] == [True]
    x = np.linspace(-2, 2, 48 * 200, dtype=np.float32).reshape(48, 200)
    want = np.exp(x - x.max(axis=-1, keepdims=True)) * 0.5 + np.tanh(x)
    np.testing.assert_allclose(np.array(second["y"]), want, rtol=1e-5, atol=1e-5)
    assert second["y"] == first["y"]
    assert _run_fresh(tmp_path, GIRFLOW_KERNEL_CACHE="0")["hit"] == [False]


def _compile_fresh(fn, x):
    compiled._KERNELS.clear()
    f = girflow.compile(fn)
    y = f(x)
    (k,) = compiled._KERNELS.values()
    return k, y


def test_damaged_entry_and_new_tuning_state_recompile(tmp_path, monkeypatch):
    monkeypatch.setenv("GIRFLOW_CACHE_DIR", str(tmp_path))
    x = np.random.default_rng(0).standard_normal((16, 96)).astype(np.float32)
    fn = lambda t: t.sum(axis=-1, keepdims=True) * 2.0   # noqa: E731
    k, y = _compile_fresh(fn, x)
    assert not k.from_cache
    k, _ = _compile_fresh(fn, x)
    assert k.from_cache and k.undefined_symbols() <= {"expf", "memcpy", "memset", "malloc", "free"}
    for obj in (tmp_path / "kernels").glob("*.o"):
        obj.write_bytes(obj.read_bytes()[:100])             # truncated: never linked
    k, y2 = _compile_fresh(fn, x)
    assert not k.from_cache
    np.testing.assert_allclose(y2, x.sum(axis=-1, keepdims=True) * 2.0, rtol=1e-5)
    (tmp_path / "tuning" / "entry.json").write_text("{}")   # a tuning run may change the schedule
    k, _ = _compile_fresh(fn, x)
    assert not k.from_cache
    assert kernel_cache.load("0" * 32) is None
