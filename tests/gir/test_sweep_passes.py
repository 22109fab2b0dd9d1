"""The dataflow passes change the kernel, never the result: one-pass (fused) and multi-pass sweeps,
kept and recomputed intermediates, all against PyTorch, on row lengths with every loop tail."""
import pytest
import torch

from girflow.frontends import ops
from girflow.runtime.compiled import CompiledFunction

FUSABLE = ["softmax", "log_softmax", "layernorm", "add_layernorm"]


@pytest.mark.parametrize("name", FUSABLE)
@pytest.mark.parametrize("shape", [(5, 7), (4, 37), (3, 1000)])
@pytest.mark.parametrize("schedule", ["one_pass=1", "one_pass=1 unroll=1 vector_width=4", "one_pass=0 materialize=0"])
def test_sweep_choices_match_torch(name, shape, schedule):
    args = ops.example_args(name, *shape)
    args[0] = args[0] * 3 + 5               # an offset mean: the one-pass variance must stay accurate
    want = ops.reference(name)(*args)
    got = CompiledFunction(getattr(ops, name), "cpu", schedule)(*args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        torch.testing.assert_close(g, w, atol=2e-5, rtol=2e-5)


def test_online_softmax_with_masked_positions():
    x = torch.randn(6, 40)
    x[:, ::3] = float("-inf")               # attention-style masking
    for name in ("softmax", "log_softmax"):
        got = CompiledFunction(getattr(ops, name), "cpu", "one_pass=1")(x)
        torch.testing.assert_close(got, ops.reference(name)(x), atol=1e-5, rtol=1e-5)


def test_one_pass_variance_of_rows_far_from_zero():
    x = torch.randn(8, 300, dtype=torch.float64) * 0.5 + 1e3
    w, b = torch.ones(300), torch.zeros(300)
    want = ops.reference("layernorm")(x, w.double(), b.double())
    for schedule in ("one_pass=1", "one_pass=0"):
        got = CompiledFunction(ops.layernorm, "cpu", schedule)(x.float(), w, b)
        assert (got.double() - want).abs().max() < 1e-3
