"""PyTorch modules whose forward/backward run on the FIITED runtime through an autograd Function.

The optimiser is fused into backward (as TorchRec's fused sparse optimisers): the runtime applies
SGD/Adagrad to exactly the rows touched and updates their importance, so no dense gradient of the
table ever exists in PyTorch. A zero-size anchor parameter makes autograd call backward.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

from girflow.runtime.fiited import Table


class _PooledLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, anchor, table: Table, ids: torch.Tensor, offsets: torch.Tensor, mode: str):
        out = torch.from_numpy(table.lookup(ids.numpy(), offsets.numpy(), mode))
        ctx.table, ctx.ids, ctx.offsets, ctx.mode = table, ids, offsets, mode
        return out

    @staticmethod
    def backward(ctx, grad):
        grad = grad.detach().contiguous().to(torch.float32)
        ctx.table.apply_gradients(ctx.ids.numpy(), ctx.offsets.numpy(), grad.numpy(), ctx.mode)
        return None, None, None, None, None


def table_seed(seed: int, table: int) -> int:
    """The initial-value seed of table `table` of a model seeded with `seed` (0 -> the table index)."""
    return seed * 1009 + table


_WORKERS = max(1, min(os.cpu_count() or 1, 8))
_pool: ThreadPoolExecutor | None = None


def _for_each_table(fn, count: int) -> None:
    """fn(t) for t in range(count), spread over the cores: runtime calls release the GIL, and one
    task per worker (tables interleaved) keeps the dispatch cost to a few tasks per batch."""
    global _pool
    workers = min(_WORKERS, count)
    if workers <= 1:
        for t in range(count):
            fn(t)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="fiited")
    def run_share(first: int) -> None:
        for t in range(first, count, workers):
            fn(t)

    futures = [_pool.submit(run_share, w) for w in range(workers)]
    for f in futures:
        f.result()


class _CollectionLookup(torch.autograd.Function):
    """Every table of a one-id-per-feature batch in one autograd node: the runtime writes the
    [T, B, D] output in place, and one backward applies every table's fused optimiser step."""

    @staticmethod
    def forward(ctx, anchor, tables: list[Table], sparse: torch.Tensor, mode: str):
        ids = sparse.to(torch.int64).t().contiguous().numpy()          # [T, B]
        offsets = np.arange(ids.shape[1], dtype=np.int64)
        out = np.empty((len(tables), ids.shape[1], tables[0].max_dim), np.float32)
        _for_each_table(lambda t: tables[t].lookup(ids[t], offsets, mode, out=out[t]), len(tables))
        ctx.tables, ctx.ids, ctx.offsets, ctx.mode = tables, ids, offsets, mode
        return torch.from_numpy(out).permute(1, 0, 2)                   # [B, T, D] view

    @staticmethod
    def backward(ctx, grad):
        g = grad.detach().to(torch.float32).permute(1, 0, 2).contiguous().numpy()  # [T, B, D]
        _for_each_table(lambda t: ctx.tables[t].apply_gradients(ctx.ids[t], ctx.offsets, g[t], ctx.mode),
                        len(ctx.tables))
        return None, None, None, None


def _flatten_bags(input: torch.Tensor, offsets: torch.Tensor | None):
    """nn.EmbeddingBag's input conventions: 2-D input = fixed-size bags, or 1-D input + offsets."""
    if input.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"embedding ids must be an integer tensor, got {input.dtype}")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("offsets must be None when input is 2-D")
        b, n = input.shape
        return input.reshape(-1).to(torch.int64).contiguous(), torch.arange(0, b * n, n, dtype=torch.int64)
    if input.dim() != 1 or offsets is None:
        raise ValueError("input must be 2-D, or 1-D with offsets")
    return input.to(torch.int64).contiguous(), offsets.to(torch.int64).contiguous()


class FiitedEmbeddingBag(nn.Module):
    """Drop-in for `nn.EmbeddingBag(num_embeddings, embedding_dim, mode)` with per-row dimensions.

    Rows shorter than `embedding_dim` read as zeros beyond their length. A row exists only once its
    id is looked up in training (`num_embeddings` bounds the ids; 0 accepts any non-negative int64,
    e.g. raw feature hashes); in `eval()` mode unknown ids read as zeros and create nothing. Rows
    untouched for more than `evict_after` dimension adjustments are evicted (0: never), rows touched
    in one batch only after `evict_single_after` (0: `evict_after`). Training
    updates happen inside backward with the runtime's optimiser (`optimizer`, `lr`).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, mode: str = "sum", chunk_size: int = 8,
                 optimizer: str = "adagrad", lr: float = 0.01, init_dim: int | None = None, seed: int = 0,
                 init_scale: float | None = None, evict_after: int = 0, evict_single_after: int = 0,
                 _weight: np.ndarray | None = None):
        super().__init__()
        if mode not in ("sum", "mean"):
            raise ValueError(f"mode must be 'sum' or 'mean', got {mode!r}")
        self.num_embeddings, self.embedding_dim, self.mode = num_embeddings, embedding_dim, mode
        self.table = Table(num_embeddings, embedding_dim, chunk_size, init_dim, optimizer, lr, seed=seed,
                           init_scale=init_scale, evict_after=evict_after,
                           evict_single_after=evict_single_after)
        if _weight is not None:
            self.table.set_rows(np.arange(num_embeddings, dtype=np.int64), np.asarray(_weight, np.float32))
        self._anchor = nn.Parameter(torch.zeros(0), requires_grad=True)

    def train(self, mode: bool = True):
        """Also switches the table: training lookups create rows, evaluation ones do not."""
        super().train(mode)
        self.table.train(mode)
        return self

    def forward(self, input: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        ids, offsets = _flatten_bags(input, offsets)
        return _PooledLookup.apply(self._anchor, self.table, ids, offsets, self.mode)

    @property
    def weight(self) -> torch.Tensor:
        """A dense copy (zeros beyond each row's dimension and for rows never touched), for
        inspection and export; only for bounded tables (num_embeddings > 0)."""
        return torch.from_numpy(self.table.get_rows())

    def value_bytes(self) -> int:
        return self.table.counters()["value_bytes"]

    def save_table(self, path: str) -> None:
        """Checkpoint values, dimensions, optimiser state and importance (exact round trip)."""
        self.table.save(path)

    def load_table(self, path: str) -> None:
        table = Table.load(path)
        if (table.num_rows, table.max_dim) != (self.num_embeddings, self.embedding_dim):
            raise ValueError(f"checkpoint {path} holds a {table.num_rows}x{table.max_dim} table, "
                             f"expected {self.num_embeddings}x{self.embedding_dim}")
        table.train(self.training)
        self.table = table

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}, chunk_size={self.table.chunk_size}"


def summed_by_kind(reports) -> dict[str, int]:
    """Per-table byte or count reports added up key by key, keys in first-seen order."""
    total: dict[str, int] = {}
    for report in reports:
        for k, v in report.items():
            total[k] = total.get(k, 0) + v
    return total


class FiitedEmbeddingBagCollection(nn.Module):
    """A list of FIITED tables looked up together: forward(sparse[B, T]) -> [B, T, D] (one id per
    feature, Criteo-style), or forward(list of (ids, offsets)) -> list of [B, D]."""

    def __init__(self, num_embeddings: list[int], embedding_dim: int, weights: list | None = None, seed: int = 0,
                 **kwargs):
        """Table i is seeded with `table_seed(seed, i)` (its rows' initial values are
        `init_rows(ids, dim, table_seed(seed, i), scale)`).
        `weights`: optional initial values per table, written into every row (which creates them
        all up front)."""
        super().__init__()
        if weights is not None and len(weights) != len(num_embeddings):
            raise ValueError(f"weights has {len(weights)} tables, num_embeddings {len(num_embeddings)}")
        self.bags = nn.ModuleList(FiitedEmbeddingBag(n, embedding_dim, seed=table_seed(seed, i),
                                                     _weight=None if weights is None else weights[i], **kwargs)
                                  for i, n in enumerate(num_embeddings))
        self.embedding_dim = embedding_dim
        self._anchor = nn.Parameter(torch.zeros(0), requires_grad=True)

    @property
    def tables(self) -> list[Table]:
        return [b.table for b in self.bags]

    def forward(self, sparse):
        if isinstance(sparse, torch.Tensor):
            if sparse.dim() != 2 or sparse.shape[1] != len(self.bags):
                raise ValueError(f"sparse must be [batch, {len(self.bags)}] (one id per table), got {tuple(sparse.shape)}")
            if sparse.dtype not in (torch.int64, torch.int32):
                raise TypeError(f"embedding ids must be an integer tensor, got {sparse.dtype}")
            return _CollectionLookup.apply(self._anchor, self.tables, sparse, self.bags[0].mode)
        return [bag(ids, offsets) for bag, (ids, offsets) in zip(self.bags, sparse)]

    def value_bytes(self) -> int:
        return sum(b.value_bytes() for b in self.bags)

    def save_tables(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        for i, b in enumerate(self.bags):
            b.save_table(os.path.join(directory, f"table_{i:03d}.fiited"))

    def load_tables(self, directory: str) -> None:
        for i, b in enumerate(self.bags):
            b.load_table(os.path.join(directory, f"table_{i:03d}.fiited"))

    def full_value_bytes(self) -> int:
        """Values of the same tables at full dimension: every id of a bounded table (what
        nn.EmbeddingBag allocates), the live rows of an unbounded one."""
        return sum((b.num_embeddings or b.table.live_rows) * self.embedding_dim * 4 for b in self.bags)

    def memory(self) -> dict:
        """Training memory by kind over all tables (see `Table.memory`)."""
        return summed_by_kind(b.table.memory() for b in self.bags)

    def counters(self) -> dict:
        return summed_by_kind(b.table.counters() for b in self.bags)
