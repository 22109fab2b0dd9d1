"""Baselines trained by the same loop: full-dimension nn.EmbeddingBag, and PEP (learnable
threshold pruning: w' = sign(w) * relu(|w| - sigmoid(s)), one threshold per table and dimension)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from girflow.runtime.fiited import init_rows


class FullEmbeddingBags(nn.Module):
    """One nn.EmbeddingBag per feature with sparse gradients; forward(sparse[B, T]) -> [B, T, D].

    Table t starts from uniform(-1/sqrt(n), 1/sqrt(n)) values drawn as FIITED's table t (seed t)
    draws a row when it creates it, so FIITED and this baseline start from the same point."""

    def __init__(self, num_embeddings: list[int], embedding_dim: int, mode: str = "sum", seed: int = 0):
        from .embedding import table_seed

        super().__init__()
        self.embedding_dim = embedding_dim
        self.bags = nn.ModuleList(nn.EmbeddingBag(n, embedding_dim, mode=mode, sparse=True) for n in num_embeddings)
        with torch.no_grad():
            for t, b in enumerate(self.bags):
                ids = np.arange(b.num_embeddings, dtype=np.int64)
                start = init_rows(ids, embedding_dim, table_seed(seed, t), (1.0 / b.num_embeddings) ** 0.5)
                b.weight.copy_(torch.from_numpy(start))

    def forward(self, sparse: torch.Tensor) -> torch.Tensor:
        return torch.stack([bag(sparse[:, t:t + 1]) for t, bag in enumerate(self.bags)], dim=1)

    def sparse_parameters(self):
        return [b.weight for b in self.bags]

    def value_bytes(self) -> int:
        return sum(b.weight.numel() * 4 for b in self.bags)

    def full_value_bytes(self) -> int:
        return self.value_bytes()

    def memory(self) -> dict:
        """Training memory: the values and their Adagrad state (one float per value)."""
        v = sum(b.weight.numel() * 4 for b in self.bags)
        return {"values": v, "optimizer_state": v, "importance": 0, "free_chunks": 0, "index": 0, "row_records": 0,
                "total": 2 * v, "peak_total": 2 * v}


class PEPEmbeddingBags(FullEmbeddingBags):
    """PEP: soft-thresholded embeddings with learnable thresholds; memory = non-zero values."""

    def __init__(self, num_embeddings: list[int], embedding_dim: int, threshold_init: float = -15.0, seed: int = 0):
        super().__init__(num_embeddings, embedding_dim, seed=seed)
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
