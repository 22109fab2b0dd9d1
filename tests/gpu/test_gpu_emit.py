"""NVIDIA PTX / AMD AMDGCN emission for every operator; every PTX kernel is assembled by ptxas."""
import re

import numpy as np
import pytest
from gpu_ops import OPS, make_inputs

import girflow
from girflow.dialects import targets
from girflow.passes.gpu.compile import launch_ranking
from girflow.passes.nvidia import ptx as gpu_llvm
from girflow.runtime.backends import get_backend

NV = ["nvidia_sm80", "nvidia_sm90"]
AMD = ["amd_gfx90a", "amd_gfx942"]
needs_ptxas = pytest.mark.skipif(gpu_llvm.ptxas_path() is None, reason="ptxas (nvidia-cuda-nvcc-cu12) not installed")


@pytest.fixture(scope="module")
def traced():
    return {name: girflow.trace(fn, *shapes) for name, fn, shapes, _ in OPS}


@needs_ptxas
@pytest.mark.parametrize("target", NV)
@pytest.mark.parametrize("op", [o[0] for o in OPS])
def test_ptx_assembles(op, target, traced):
    tr = traced[op]
    desc = targets.get(target)
    fn = get_backend("nvidia")(tr.mlir, tr, desc)
    ptx = fn.ptx
    assert f".target {desc['arch']}" in ptx
    assert re.search(r"\.visible \.entry \w+_kernel", ptx)
    assert "__nv_" not in ptx.split(".visible .entry")[1] or "call" not in ptx  # libdevice inlined
    (info,) = fn.ptxas.values()
    assert 0 < info["registers"] <= 255 and info["spill_stores"] == 0
    assert fn.cubin and fn.cubin[:4] == b"\x7fELF"
    report = fn.report()
    assert "registers" in report and "shared memory" in report
    sched = fn.binary.schedule
    if tr.form == "row":   # girflow.compile's launch: the launch model's first choice
        (_, best), *_ = launch_ranking(tr.mlir, desc)
        assert sched == f"row-per-{best['schedule']}"
        assert fn.binary.block[0] == best.get("block_threads", 32 * best.get("rows_per_block", 0))
        if sched == "row-per-block" and "gir.reduce" in tr.mlir:
            assert info["shared_bytes"] > 0 and "bar.sync" in ptx
        if "gir.reduce" in tr.mlir:
            assert "shfl.sync.bfly" in ptx
        if tr.input_views[0][1] % 4 == 0:
            assert re.search(r"ld(\.global)?(\.nc)?\.v4\.(f32|b32)", ptx), "expected 128-bit vector loads"
            if any(v[-1] == tr.input_views[0][1] for v in tr.output_views):
                assert re.search(r"st(\.global)?\.v4\.(f32|b32)", ptx), "expected 128-bit vector stores"
    if tr.form == "transpose":
        assert info["shared_bytes"] == 32 * 33 * 4


@pytest.mark.parametrize("target", AMD)
@pytest.mark.parametrize("op", [o[0] for o in OPS])
def test_amdgcn_emitted(op, target, traced):
    tr = traced[op]
    desc = targets.get(target)
    fn = get_backend("amd")(tr.mlir, tr, desc)
    asm = fn.assembly
    assert f'.amdgcn_target "amdgcn-amd-amdhsa--{desc["arch"]}' in asm
    assert ".amdhsa_kernel" in asm and "s_endpgm" in asm
    assert fn.code_object[:4] == b"\x7fELF"
    if tr.form == "row" and "gir.reduce" in tr.mlir:
        assert "ds_bpermute" in asm or "dpp" in asm.lower() or "ds_swizzle" in asm  # wavefront shuffles
    if tr.form == "row" and tr.input_views[0][1] % 4 == 0:
        assert "dwordx4" in asm  # 128-bit global loads/stores
    with pytest.raises(RuntimeError, match="ROCm"):
        fn(*make_inputs(tr.input_views, "normal"))


def test_half_precision_storage():
    tr = girflow.trace(lambda x: x.exp() * 2.0, np.zeros((16, 64), np.float16))
    fn = get_backend("nvidia")(tr.mlir, tr, targets.get("nvidia_sm90"))
    assert "cvt.f32.f16" in fn.ptx and re.search(r"cvt\.rn\.f16(x2)?\.f32", fn.ptx)


def test_schedule_option_and_shared_capacity():
    from torch_mlir import ir

    from girflow.dialects import make_context
    from girflow.passes.gpu.lower import lower_to_gpu
    from girflow.passes.registry import PassError

    tr = girflow.trace(lambda x: x - x.mean(axis=-1, keepdims=True), (8, 256))
    with make_context(), ir.Location.unknown():
        m = ir.Module.parse(tr.mlir)
        (k,) = lower_to_gpu(m.operation, targets.get("nvidia"), "block")
    assert k.schedule == "row-per-block" and k.block == (256, 1, 1) and k.shared_bytes == 32
    desc = targets.get("nvidia")
    desc["memory_levels"]["shared"]["capacity_bytes"] = 16
    with make_context(), ir.Location.unknown():
        m = ir.Module.parse(tr.mlir)
        with pytest.raises(PassError, match="shared memory"):
            lower_to_gpu(m.operation, desc, "block")


def test_benchmark_gpu_needs_a_gpu():
    from girflow.runtime.nvidia import gpu_available
    from girflow.tools.target_bench import benchmark_gpu

    if not gpu_available()[0]:
        with pytest.raises(RuntimeError, match="GPU benchmark unavailable"):
            benchmark_gpu(["softmax"], [(4, 4)])
