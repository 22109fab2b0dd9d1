"""Kernel bundles without a GPU: `girflow gpu bundle` writes kernels + manifest; the device side
(`girflow gpu check`, the device tests, tools/gpu_check.sh) runs where torch_mlir, llvmlite and
sqlglot cannot be imported and the repository's folder is not named `girflow`."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from girflow.passes.nvidia import ptx as nv_ptx
from girflow.runtime.cuda_bundle import BundleError, load_bundle

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
BLOCKED = "torch_mlir,llvmlite,sqlglot"
pytestmark = pytest.mark.skipif(nv_ptx.ptxas_path() is None, reason="ptxas (nvidia-cuda-nvcc-cu12) not installed")


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    from girflow.tools.gpu_bundle import bench_cases, build_bundle

    sys.path.insert(0, str(HERE))
    from gpu_ops import OPS

    out = tmp_path_factory.mktemp("bundle") / "b"
    name, fn, shapes, _ = next(o for o in OPS if o[0] == "colsum")
    cases = bench_cases(("softmax", "add_layernorm"), [(64, 256)], candidates=2) + [
        {"name": name, "group": "test", "fn": fn, "examples": shapes, "inits": ["normal"],
         "reference": {"kind": "gpu_ops", "name": name}, "launches": ["default", {"schedule": "block"}]}]
    build_bundle(out, cases, log=None)
    return out


def test_manifest_describes_every_kernel(bundle_dir):
    b = load_bundle(bundle_dir)
    softmax = [c for c in b.cases if c.op == "softmax"]
    assert len(softmax) >= 2 and sum(c.default for c in softmax) == 1
    assert sum(c.model["first"] for c in softmax) == 1          # the model's first choice is marked
    assert all(c.model["rank"] is not None for c in softmax if not c.default)
    two_out = next(c for c in b.cases if c.op == "add_layernorm")
    assert len(two_out.output_views) == 2 and two_out.bytes == 4 * (3 * 64 * 256 + 2 * 256 + 0) + 4 * 64 * 256
    colsum = [c for c in b.cases if c.op == "colsum"]
    assert len(colsum) == 1 and colsum[0].schedule == "column-per-block"   # one launch: duplicates merged
    for c in b.cases:
        assert c.ptxas["spill_stores"] == 0 and 0 < c.ptxas["registers"] <= 255
        assert c.image[:4] == b"\x7fELF" and c.launcher().kernel == c.kernel
        assert f".target {b.manifest['arch']}" in (bundle_dir / c.ptx).read_text()


def test_device_side_runs_without_the_compiler(bundle_dir, tmp_path):
    """gpu_check.sh in a child where the compiler's modules are blocked, through a link named
    `girflow`: versions, bundle validation, the device tests (skipping, with the reason) all pass."""
    env = {**os.environ, "PYTHONPATH": str(HERE / "blocked_imports"), "GIRFLOW_BLOCK_IMPORTS": BLOCKED,
           "PYTHON": sys.executable, "OUT": str(tmp_path), "GIRFLOW_GPU_BUDGET_S": "240"}
    p = subprocess.run(["bash", str(ROOT / "tools" / "gpu_check.sh"), str(bundle_dir)], env=env,
                       capture_output=True, text=True, timeout=400)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "girflow from" in out and "manifest, files and references valid" in out
    assert "Traceback" not in out and "ImportError" not in out
    n = len(load_bundle(bundle_dir).cases)
    if "no CUDA device" in out or "cuda-python" in out:
        assert f"SKIPPED [{n}]" in out and "bench not run" in out
    assert (tmp_path / "gpu_tests.xml").exists() and (tmp_path / "gpu_tests.log").exists()


def test_device_modules_import_without_the_compiler():
    code = ("import girflow.runtime.nvidia, girflow.runtime.cuda_launch, girflow.runtime.cuda_bundle, "
            "girflow.tools.gpu_bench, girflow.tools.gpu_cmd; from girflow.frontends import ops; "
            "ops.reference('layernorm'); print('ok')")
    env = {**os.environ, "PYTHONPATH": str(HERE / "blocked_imports"), "GIRFLOW_BLOCK_IMPORTS": BLOCKED}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_bad_bundles_are_clear_errors(bundle_dir, tmp_path):
    with pytest.raises(BundleError, match="no manifest.json"):
        load_bundle(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    (bad / "manifest.json").write_text(json.dumps(manifest))       # kernels/ missing
    with pytest.raises(BundleError, match="missing or not an ELF cubin"):
        load_bundle(bad)
    manifest["cases"][0]["shapes"] = [[3, 3]]
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="no view of"):
        load_bundle(bad)
    p = subprocess.run([sys.executable, "-m", "girflow.tools.cli", "gpu", "check", str(tmp_path / "nowhere")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "no manifest.json" in p.stderr and "Traceback" not in p.stderr
    for action in (["bench", str(bundle_dir)], ["launch", str(bundle_dir), "x"]):
        p = subprocess.run([sys.executable, "-m", "girflow.tools.cli", "gpu", *action],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and "needs a CUDA GPU" in p.stderr and "Traceback" not in p.stderr
