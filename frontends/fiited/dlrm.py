"""DLRM: bottom MLP on dense features, one embedding per categorical feature, pairwise dot
interaction, top MLP. The embedding collection is pluggable (FIITED, full nn.EmbeddingBag, PEP)."""
from __future__ import annotations

import torch
from torch import nn


def mlp(sizes: list[int], last_activation: bool = True) -> nn.Sequential:
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    def __init__(self, embeddings: nn.Module, num_dense: int, embedding_dim: int, num_sparse: int,
                 bottom: tuple[int, ...] = (64,), top: tuple[int, ...] = (128, 64)):
        super().__init__()
        self.embeddings = embeddings
        self.bottom = mlp([num_dense, *bottom, embedding_dim])
        n = num_sparse + 1
        self.register_buffer("_tri", torch.triu_indices(n, n, offset=1), persistent=False)
        self.top = mlp([embedding_dim + n * (n - 1) // 2, *top, 1], last_activation=False)

    def forward(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        x = self.bottom(dense)                                  # [B, D]
        e = self.embeddings(sparse)                             # [B, T, D]
        feats = torch.cat([x.unsqueeze(1), e], dim=1)           # [B, T+1, D]
        dots = torch.bmm(feats, feats.transpose(1, 2))[:, self._tri[0], self._tri[1]]
        return self.top(torch.cat([x, dots], dim=1)).squeeze(1)
