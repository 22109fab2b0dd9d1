"""torch.compile(backend="girflow") against eager PyTorch on real architectures (tiny configs,
random weights): BERT encoder layers, GPT-2 blocks, ViT layers and a LayerNorm+GELU MLP.

float32 within 1e-4 relative (to the output's largest magnitude); bfloat16 no further from the
float32 result than eager bfloat16 is (GIR computes in float32 and rounds at region edges, eager
rounds after every op, so the bound is eager's own error with a margin).
"""
import importlib.metadata
import subprocess
import sys

import pytest
import torch

from girflow.frontends.torch import REPORTS, explain, format_reports, girflow_backend
from girflow.frontends.torch.models import build


@pytest.fixture(autouse=True, scope="module")
def private_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GIRFLOW_CACHE_DIR", str(tmp_path_factory.mktemp("girflow-cache")))
    yield
    mp.undo()


def _rel(got, want):
    return ((got.float() - want.float()).abs().max() / want.float().abs().max()).item()


def _compiled_run(model, *inputs):
    torch._dynamo.reset()
    start = len(REPORTS)
    compiled = torch.compile(model, backend=girflow_backend)
    with torch.no_grad():
        out = compiled(*inputs)
    return out, REPORTS[start:], compiled


@pytest.mark.parametrize("name", ["mlp", "bert", "gpt2", "vit"])
def test_float32_matches_eager_and_runs_in_gir(name):
    model, make_inputs = build(name, "tiny")
    inputs = make_inputs(2, 16)
    with torch.no_grad():
        want = model(*inputs)
    got, reports, _ = _compiled_run(model, *inputs)
    assert _rel(got, want) < 1e-4
    regions = [r for rep in reports for r in rep.regions]
    assert regions, "no memory-bound region found"
    fallbacks = [s for r in regions for s in r.status() if "fallback" in s]
    assert not fallbacks, format_reports(reports)
    # layer norms and activations are in GIR, matmuls and attention stay with PyTorch
    gir_ops = {op for r in regions for op in r.ops}
    kept = {op for rep in reports for op, _ in rep.kept}
    assert "native_layer_norm" in gir_ops
    assert "addmm" in kept and "addmm" not in gir_ops


def _bfloat16_close_as_eager(model, x, want32):
    """Run `model` in bfloat16 through girflow: no worse than eager bfloat16 against the float32 result;
    the reports, for checks on where the regions ran."""
    model = model.to(torch.bfloat16)
    xb = x.to(torch.bfloat16)
    with torch.no_grad():
        eager16 = model(xb)
    got, reports, _ = _compiled_run(model, xb)
    assert got.dtype == torch.bfloat16
    assert _rel(got, want32) <= 2 * _rel(eager16, want32) + 1e-3
    return reports


@pytest.mark.parametrize("name", ["mlp", "bert"])
def test_bfloat16_no_worse_than_eager_bfloat16(name):
    model, make_inputs = build(name, "tiny")
    (x,) = make_inputs(2, 16)
    with torch.no_grad():
        want32 = model(x)
    reports = _bfloat16_close_as_eager(model, x, want32)
    assert not [s for rep in reports for r in rep.regions for s in r.status() if "fallback" in s]


class _WithUnsupported(torch.nn.Module):
    def forward(self, x):
        y = torch.cumsum(torch.nn.functional.gelu(x), dim=-1)      # cumsum: no GIR lowering
        return torch.softmax(y * 0.5, dim=-1)


def test_unsupported_ops_fall_back_and_explain_says_why(capsys):
    x = torch.randn(3, 5, 40)
    want = _WithUnsupported()(x)
    got, reports, _ = _compiled_run(_WithUnsupported(), x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    torch._dynamo.reset()
    text = explain(_WithUnsupported(), x)
    assert "cumsum has no GIR lowering" in text
    assert "_softmax" in text and "GIR (row kernel" in text


class _LastAxisAndColumn(torch.nn.Module):
    def forward(self, x):
        return torch.softmax(x, -1).sum(0)      # row and column reductions in one region


def test_region_gir_cannot_take_runs_in_pytorch_with_reason():
    x = torch.randn(6, 33)
    got, reports, _ = _compiled_run(_LastAxisAndColumn(), x)
    torch.testing.assert_close(got, _LastAxisAndColumn()(x))
    status = [s for rep in reports for r in rep.regions for s in r.status()]
    assert any("fallback" in s and "axes" in s for s in status), status


class _TransposeInside(torch.nn.Module):
    def forward(self, x):
        return torch.softmax(x.transpose(-1, -2) * 0.5, -1)


class _PermuteAfter(torch.nn.Module):
    def forward(self, x):
        return (x + 1).permute(0, 2, 1, 3).contiguous()


class _ReshapeBetween(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.gelu(x * 2).reshape(-1, x.shape[-1]).softmax(-1)


@pytest.mark.parametrize("model", [_TransposeInside(), _PermuteAfter(), _ReshapeBetween()],
                         ids=["transpose", "permute", "reshape"])
def test_region_with_layout_changes_runs_its_pieces_in_gir(model):
    x = torch.randn(2, 4, 8, 16)
    got, reports, _ = _compiled_run(model, x)
    torch.testing.assert_close(got, model(x), rtol=1e-5, atol=1e-6)
    text = format_reports(reports)
    assert "cut at its views/reshapes/transposes" in text and "GIR (row kernel" in text, text
    assert sum(r.kernels_running() for rep in reports for r in rep.regions) >= 1


def _row_class_kernels(reports):
    from girflow.frontends.torch.shape_class import RowClass

    entries = [e for rep in reports for r in rep.regions for e in r.by_shape.values()]
    assert entries and all(isinstance(e.kernel, RowClass) for e in entries), format_reports(reports)
    return entries, {id(e.kernel.kernel) for e in entries}


@pytest.mark.parametrize("name,dtype", [("mlp", torch.float32), ("bert", torch.float32), ("mlp", torch.bfloat16)])
def test_new_batch_and_sequence_sizes_reuse_one_kernel_per_shape_class(name, dtype):
    model, make_inputs = build(name, "tiny")
    model = model.to(dtype)
    start = len(REPORTS)
    _, _, compiled = _compiled_run(model, *make_inputs(2, 16, dtype))
    first = len(_row_class_kernels(REPORTS[start:])[1])
    with torch.no_grad():
        for batch, seq in ((3, 16), (5, 7), (1, 40), (4, 16)):
            (x,) = make_inputs(batch, seq, dtype)
            tol = 1e-4 if dtype == torch.float32 else 3e-2
            assert _rel(compiled(x), model(x)) < tol, (batch, seq)
        entries, kernels = _row_class_kernels(REPORTS[start:])
        assert len(entries) > len(kernels)
        assert len(kernels) == first        # every new size ran on the kernels the first size compiled
        (x,) = make_inputs(1, 1, dtype)     # one row: full and shared inputs look alike, exact shapes
        assert _rel(compiled(x), model(x)) < tol


def test_backend_is_registered_by_entry_point_without_import():
    names = [ep.name for ep in importlib.metadata.entry_points(group="torch_dynamo_backends")]
    assert "girflow" in names
    code = ("import torch, sys\n"
            "m = torch.nn.Sequential(torch.nn.LayerNorm(16), torch.nn.GELU())\n"
            "x = torch.randn(4, 16)\n"
            "y = torch.compile(m, backend='girflow')(x)\n"
            "assert torch.allclose(y, m(x), atol=1e-5)\n"
            "print('girflow' in sys.modules, 'girflow.frontends.torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["True", "True"]   # loaded by torch through the entry point


class _SoftmaxHead(torch.nn.Module):
    """LayerNorm, GELU MLP and a softmax over the features: every backward GIR should take."""

    def __init__(self, d=64):
        super().__init__()
        self.mlp = build("mlp", "tiny")[0].train()
        self.proj = torch.nn.Linear(d, d)

    def forward(self, x):
        return torch.softmax(self.proj(self.mlp(x)), dim=-1) * 8.0


def _grads(model, x, weight, run=None):
    x = x.detach().clone().requires_grad_()
    out = (model if run is None else run)(x)
    (out * weight).sum().backward()       # a random projection: no gradient is zero by symmetry
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    grads["input"] = x.grad.clone()
    model.zero_grad(set_to_none=True)
    return out.detach(), grads


@pytest.mark.parametrize("name", ["softmax_head", "bert", "gpt2"])
def test_training_gradients_match_eager_with_gir_forward_and_backward(name):
    model = _SoftmaxHead() if name == "softmax_head" else build(name, "tiny")[0]
    x = torch.randn(2, 16, 64, generator=torch.Generator().manual_seed(3))
    weight = torch.randn(2, 16, 64, generator=torch.Generator().manual_seed(4))
    want_out, want = _grads(model, x, weight)
    torch._dynamo.reset()
    start = len(REPORTS)
    got_out, got = _grads(model, x, weight, torch.compile(model, backend=girflow_backend))
    reports = REPORTS[start:]
    assert _rel(got_out, want_out) < 1e-4
    # each gradient within 1e-4 of the largest gradient of its kind (some, like an attention key
    # bias's, are zero up to rounding: softmax does not change when a row is shifted)
    scale = max(g.abs().max().item() for g in want.values())
    for k in want:
        err = (got[k] - want[k]).abs().max().item()
        assert err <= 1e-4 * max(want[k].abs().max().item(), 1e-2 * scale), (k, err)
    kinds = {rep.kind for rep in reports}
    assert {"forward", "backward"} <= kinds, format_reports(reports)
    in_gir = {(rep.kind, op) for rep in reports for r in rep.regions
              if any(e.kernel is not None for e in r.by_shape.values()) for op in r.ops}
    assert ("forward", "native_layer_norm") in in_gir, format_reports(reports)
    backward_ops = {op for kind, op in in_gir if kind == "backward"}
    expected = {"softmax_head": {"gelu_backward", "_softmax_backward_data"},
                "gpt2": {"tanh_backward"}}.get(name, {"gelu_backward"})   # GPT-2's GELU is the tanh form
    assert expected <= backward_ops, format_reports(reports)
    # LayerNorm's backward (decomposed by ATen: row sums for the input gradient, sums across rows
    # for the weight and bias gradients) runs in GIR kernels like the rest
    fallbacks = [s for rep in reports for r in rep.regions for s in r.status() if "fallback" in s]
    assert not fallbacks, format_reports(reports)


class _RMSNormSwiGLU(torch.nn.Module):
    """A LLaMA-style MLP block: RMSNorm, SiLU(gate) * up, residual, then log_softmax."""

    def __init__(self, d=64):
        super().__init__()
        self.norm = torch.nn.RMSNorm(d, eps=1e-6)
        self.gate = torch.nn.Linear(d, 3 * d, bias=False)
        self.up = torch.nn.Linear(d, 3 * d, bias=False)
        self.down = torch.nn.Linear(3 * d, d, bias=False)

    def forward(self, x):
        h = self.norm(x)
        return torch.log_softmax(x + self.down(torch.nn.functional.silu(self.gate(h)) * self.up(h)), -1)


def test_rmsnorm_swiglu_log_softmax_in_gir():
    torch.manual_seed(0)
    model = _RMSNormSwiGLU().eval()
    x = torch.randn(2, 16, 64)
    with torch.no_grad():
        want = model(x)
    got, reports, _ = _compiled_run(model, x)
    assert _rel(got, want) < 1e-4
    status = [s for rep in reports for r in rep.regions for s in r.status()]
    assert len(status) == 3 and all(s.startswith("GIR") for s in status), status


def test_llama_decoder_layer_matches_eager_with_rmsnorm_and_swiglu_in_gir():
    """An architecture the benchmark does not run: RMSNorm, SwiGLU, rotary embeddings, GQA."""
    model, make_inputs = build("llama", "tiny")
    (x,) = make_inputs(2, 16)
    with torch.no_grad():
        want32 = model(x)
    got, reports, _ = _compiled_run(model, x)
    assert _rel(got, want32) < 1e-4
    on_gir = [r for rep in reports for r in rep.regions if r.kernels_running()]
    gir_ops = {op for r in on_gir for op in r.ops}
    assert {"rsqrt", "mean", "silu"} <= gir_ops, format_reports(reports)
    # the rotary embedding's x * cos + rotate_half(x) * sin runs in GIR ([1, 1, seq, dim] operands),
    # its results keep the transposed layout PyTorch gives them (later views rely on it)
    assert "not row-wise" not in format_reports(reports)
    _bfloat16_close_as_eager(model, x, want32)


def test_bench_model_rejects_an_unknown_model():
    argv = [sys.executable, "-m", "girflow.tools.cli", "bench", "--model", "bert,resnet", "--batch", "8"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "unknown model(s) ['resnet']" in out.stderr
    assert "Traceback" not in out.stderr


def test_region_key_does_not_depend_on_node_order():
    from girflow.frontends.torch.lower import structure

    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(0.79788 * (x + 0.044715 * x.pow(3.0))))

    gm = torch.fx.symbolic_trace(gelu_new)
    before = structure(gm)
    nodes = {n.name: n for n in gm.graph.nodes}
    nodes["tanh"].append(nodes["mul"])      # 0.5 * x after tanh: the same graph in another order
    gm.graph.lint()
    assert [n.name for n in gm.graph.nodes] != list(nodes)
    assert structure(gm) == before


_WARM_PROBE = """
import json, sys, torch
from torch._dynamo.utils import counters
from girflow.frontends.torch import REPORTS
from girflow.frontends.torch.models import build
model, make_inputs = build("mlp", "tiny")
(x,) = make_inputs(2, 8)
with torch.no_grad():
    got = torch.compile(model, backend="girflow")(x)
    err = ((got - model(x)).abs().max() / model(x).abs().max()).item()
print(json.dumps({"err": err, "dynamo_cache_hit": counters["dynamo_cache"]["dynamo_cache_hit"],
                  "aot_cache_hit": counters["aot_autograd"]["autograd_cache_hit"],
                  "regions": sum(len(r.regions) for r in REPORTS),
                  "compiled": sum(r.timings.get("compile_s", 0) > 0 and r.timings.get("cache", 0) == 0 for r in REPORTS)}))
"""


def test_warm_start_in_a_new_process_loads_every_stage_from_the_caches(tmp_path):
    """Each in a fresh process: cold; warm with torch's defaults (AOTAutograd's cache holds girflow's
    graph); then with Dynamo's precompile cache on (AOTAutograd's key differs with it: that run
    traces and writes Dynamo's package), and warm with it (nothing traced). All exact."""
    import json
    import os

    default = {k: v for k, v in os.environ.items() if k != "TORCH_CACHING_PRECOMPILE"}
    default.update(GIRFLOW_CACHE_DIR=str(tmp_path / "girflow"), TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "torch"))
    precompile = {**default, "TORCH_CACHING_PRECOMPILE": "1"}
    runs = []
    for env in (default, default, precompile, precompile):
        out = subprocess.run([sys.executable, "-c", _WARM_PROBE], capture_output=True, text=True, env=env, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cold, warm, primed, precompiled = runs
    assert all(r["err"] < 1e-5 and r["regions"] > 0 for r in runs)
    assert cold["aot_cache_hit"] == 0 and cold["compiled"] > 0
    assert warm["aot_cache_hit"] >= 1 and warm["compiled"] == 0
    assert primed["dynamo_cache_hit"] == 0
    assert precompiled["dynamo_cache_hit"] >= 1 and precompiled["compiled"] == 0


def test_rotary_under_grouped_query_attention_splits_q_and_k_into_their_own_regions():
    """q and k (different head counts) read one unsqueezed cos/sin: two kernels, one per size."""
    def rotary(q, k, cos, sin):
        cos, sin = cos.unsqueeze(0).unsqueeze(0), sin.unsqueeze(0).unsqueeze(0)
        return q * cos + q.flip(-1) * sin, k * cos + k.flip(-1) * sin

    g = torch.Generator().manual_seed(0)
    args = [torch.randn(s, generator=g) for s in ((2, 4, 8, 16), (2, 2, 8, 16), (8, 16), (8, 16))]
    got, reports, _ = _compiled_run(rotary, *args)
    want = rotary(*args)
    assert all(_rel(a, b) < 1e-5 for a, b in zip(got, want))
    text = format_reports(reports)
    assert "do not broadcast" not in text and "PyTorch fallback" not in text, text
    assert sum(r.kernels_running() for rep in reports for r in rep.regions) >= 2
