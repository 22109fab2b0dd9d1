"""Transformer blocks from `transformers`, built from configs with random weights (nothing is
downloaded), plus a small hand-written MLP: what the tests and `girflow bench --model` run.
"llama" is a LLaMA decoder layer (RMSNorm, SwiGLU, rotary embeddings, grouped-query attention).

`build(name, size)` -> (eval-mode module, make_inputs(batch, seq, dtype) -> tuple of tensors).
size "base" has the published model widths; "tiny" is a narrow copy for fast tests.
"""
from __future__ import annotations

import torch

MODELS = ("bert", "gpt2", "vit", "llama", "mlp")
SIZES = {"base": dict(hidden=768, heads=12, layers=2), "tiny": dict(hidden=64, heads=4, layers=2)}


class MLP(torch.nn.Module):
    """Pre-norm MLP block with a residual: x + fc2(gelu(fc1(layer_norm(x))))."""

    def __init__(self, hidden: int):
        super().__init__()
        self.norm = torch.nn.LayerNorm(hidden)
        self.fc1 = torch.nn.Linear(hidden, 4 * hidden)
        self.fc2 = torch.nn.Linear(4 * hidden, hidden)

    def forward(self, x):
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm(x))))


class _Encoder(torch.nn.Module):
    """The encoder layers of a `transformers` model, fed hidden states directly."""

    def __init__(self, layers):
        super().__init__()
        self.layers = torch.nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            x = out[0] if isinstance(out, tuple) else out
        return x


class _Decoder(torch.nn.Module):
    """LLaMA decoder layers fed hidden states directly, with the rotary embeddings of positions
    0..seq-1 computed in the model (as LlamaModel does)."""

    def __init__(self, layers, rotary):
        super().__init__()
        self.layers, self.rotary = torch.nn.ModuleList(layers), rotary

    def forward(self, x):
        positions = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
        embeddings = self.rotary(x, positions)
        for layer in self.layers:
            out = layer(x, position_embeddings=embeddings, position_ids=positions)
            x = out[0] if isinstance(out, tuple) else out
        return x


def build(name: str, size: str = "tiny", seed: int = 0):
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}'; choose from {', '.join(MODELS)}")
    dims = SIZES[size]
    h, heads, layers = dims["hidden"], dims["heads"], dims["layers"]
    torch.manual_seed(seed)
    if name == "mlp":
        model = MLP(h)
    elif name == "bert":
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertLayer

        cfg = BertConfig(hidden_size=h, num_attention_heads=heads, intermediate_size=4 * h,
                         num_hidden_layers=layers, attn_implementation="sdpa")
        model = _Encoder([BertLayer(cfg) for _ in range(layers)])
    elif name == "gpt2":
        from transformers import GPT2Config
        from transformers.models.gpt2.modeling_gpt2 import GPT2Block

        cfg = GPT2Config(n_embd=h, n_head=heads, n_layer=layers, attn_implementation="sdpa")
        model = _Encoder([GPT2Block(cfg, layer_idx=i) for i in range(layers)])
    elif name == "llama":
        from transformers import LlamaConfig
        from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRotaryEmbedding

        cfg = LlamaConfig(hidden_size=h, num_attention_heads=heads, num_key_value_heads=heads // 2,
                          intermediate_size=8 * h // 3, num_hidden_layers=layers, attn_implementation="sdpa")
        model = _Decoder([LlamaDecoderLayer(cfg, layer_idx=i) for i in range(layers)], LlamaRotaryEmbedding(cfg))
    else:
        from transformers import ViTConfig
        from transformers.models.vit.modeling_vit import ViTLayer

        cfg = ViTConfig(hidden_size=h, num_attention_heads=heads, intermediate_size=4 * h,
                        num_hidden_layers=layers, attn_implementation="sdpa")
        model = _Encoder([ViTLayer(cfg) for _ in range(layers)])
    model.eval()

    def make_inputs(batch: int, seq: int, dtype=torch.float32):
        g = torch.Generator().manual_seed(seed + 1)
        return (torch.randn(batch, seq, h, generator=g).to(dtype),)

    return model, make_inputs
