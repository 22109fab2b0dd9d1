"""Baselines trained by the same loop: full-dimension nn.EmbeddingBag, and PEP (learnable
threshold pruning: w' = sign(w) * relu(|w| - sigmoid(s)), one threshold per table and dimension)."""
from __future__ import annotations

import torch
from torch import nn


class FullEmbeddingBags(nn.Module):
    """One nn.EmbeddingBag per feature with sparse gradients; forward(sparse[B, T]) -> [B, T, D]."""

    def __init__(self, num_embeddings: list[int], embedding_dim: int, mode: str = "sum"):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.bags = nn.ModuleList(nn.EmbeddingBag(n, embedding_dim, mode=mode, sparse=True) for n in num_embeddings)
        for b in self.bags:
            bound = (1.0 / b.num_embeddings) ** 0.5
            nn.init.uniform_(b.weight, -bound, bound)

    def forward(self, sparse: torch.Tensor) -> torch.Tensor:
        return torch.stack([bag(sparse[:, t:t + 1]) for t, bag in enumerate(self.bags)], dim=1)

    def sparse_parameters(self):
        return [b.weight for b in self.bags]

    def value_bytes(self) -> int:
        return sum(b.weight.numel() * 4 for b in self.bags)

    def full_value_bytes(self) -> int:
        return self.value_bytes()


class PEPEmbeddingBags(FullEmbeddingBags):
    """PEP: soft-thresholded embeddings with learnable thresholds; memory = non-zero values."""

    def __init__(self, num_embeddings: list[int], embedding_dim: int, threshold_init: float = -15.0):
        super().__init__(num_embeddings, embedding_dim)
        self.thresholds = nn.Parameter(torch.full((len(num_embeddings), embedding_dim), threshold_init))

    def forward(self, sparse: torch.Tensor) -> torch.Tensor:
        e = super().forward(sparse)
        s = torch.sigmoid(self.thresholds).unsqueeze(0)
        return torch.sign(e) * torch.relu(e.abs() - s)

    def value_bytes(self) -> int:
        with torch.no_grad():
            s = torch.sigmoid(self.thresholds)
            return int(sum((b.weight.abs() > s[t]).sum().item() for t, b in enumerate(self.bags)) * 4)

    def full_value_bytes(self) -> int:
        return sum(b.weight.numel() * 4 for b in self.bags)
