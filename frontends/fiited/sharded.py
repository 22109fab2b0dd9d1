"""FIITED tables sharded row-wise over the ranks of a torch.distributed process group, the way
TorchRec shards tables row-wise.

Every table is split by id hash: rank `owner(id)` holds the row of `id` in its own native FIITED
table (same seed and id bound as the unsharded table, so a row starts from the same values
wherever it lives). Each rank feeds its own share of the global batch; a forward sends every id to
its owner by all-to-all, the owners look the rows up and send them back the same way, and backward
returns the gradients to the owners, which apply them with the fused optimiser.

The owner of a table receives its ids ordered by sending rank, then by sample: when rank r holds
the r-th block of the global batch, that is the global batch's order, so every shard sees exactly
the lookups and summed gradients one unsharded table would see, and the sharded tables evolve as
the unsharded ones do (bit for bit, given the same gradients).

The exchange uses its own gloo groups (the tables live in CPU memory), whatever backend the
default group has, so the same code runs under an NCCL default group.
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from girflow.runtime.fiited import Table

from .embedding import FiitedEmbeddingBag, _for_each_table, summed_by_kind, table_seed


def owner(ids: np.ndarray, world: int) -> np.ndarray:
    """The rank holding each id's row: a 64-bit mix of the id (so hash-ordered or sequential ids
    spread evenly), modulo the world size."""
    x = np.asarray(ids).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x % np.uint64(world)).astype(np.int64)


def batch_share(n: int, rank: int, world: int) -> slice:
    """Rank `rank`'s contiguous block of a global batch of `n` samples (sizes differ by at most 1)."""
    bounds = np.linspace(0, n, world + 1).round().astype(np.int64)
    return slice(int(bounds[rank]), int(bounds[rank + 1]))


class _Exchange:
    """One forward's routing: which entry of the local [B, T] batch goes to which owner, and which
    received ids each local shard looks up, in global batch order."""

    def __init__(self, coll: "ShardedEmbeddingBagCollection", sparse: np.ndarray):
        world, T = coll.world, coll.num_tables
        self.coll, self.B = coll, sparse.shape[0]
        flat = np.ascontiguousarray(sparse.T).ravel()                      # entry t * B + b
        table = np.repeat(np.arange(T, dtype=np.int64), self.B)
        key = owner(flat, world) * T + table
        self.order = np.argsort(key, kind="stable")                       # by owner, table, sample
        send_counts = np.bincount(key, minlength=world * T).astype(np.int64).reshape(world, T)
        recv_counts = coll._all_to_all(torch.from_numpy(send_counts.ravel().copy()),
                                       [T] * world, [T] * world).numpy().reshape(world, T)
        self.send_split = send_counts.sum(axis=1).tolist()
        self.recv_split = recv_counts.sum(axis=1).tolist()
        self.recv_ids = coll._all_to_all(torch.from_numpy(flat[self.order]), self.send_split,
                                         self.recv_split).numpy()
        # positions in the receive buffer of table t's ids: source by source, in sample order
        starts = np.concatenate([[0], np.cumsum(recv_counts.ravel())[:-1]]).reshape(world, T)
        self.positions = [np.concatenate([np.arange(starts[s, t], starts[s, t] + recv_counts[s, t])
                                          for s in range(world)]).astype(np.int64) for t in range(T)]
        coll.bytes_sent += 8 * (world - 1) * T + 8 * self._off_rank(self.send_split)

    def _off_rank(self, split: list[int]) -> int:
        return sum(n for r, n in enumerate(split) if r != self.coll.rank)

    def lookup(self, mode: str) -> np.ndarray:
        """Owners look up the received ids and send the rows back -> [B, T, D] for the local batch."""
        coll, D = self.coll, self.coll.embedding_dim
        rows = np.empty((len(self.recv_ids), D), np.float32)

        def one(t):
            at = self.positions[t]
            rows[at] = coll.tables[t].lookup(self.recv_ids[at], np.arange(len(at), dtype=np.int64), mode)
        _for_each_table(one, coll.num_tables)
        back = coll._all_to_all(torch.from_numpy(rows), self.recv_split, self.send_split).numpy()
        coll.bytes_sent += 4 * D * self._off_rank(self.recv_split)
        out = np.empty((coll.num_tables * self.B, D), np.float32)
        out[self.order] = back
        return out.reshape(coll.num_tables, self.B, D)

    def apply_gradients(self, grad: np.ndarray, mode: str) -> None:
        """grad [T, B, D] of the local batch -> the owners, which apply it to their rows."""
        coll, D = self.coll, self.coll.embedding_dim
        flat = grad.reshape(coll.num_tables * self.B, D)[self.order]
        got = coll._all_to_all(torch.from_numpy(np.ascontiguousarray(flat)), self.send_split,
                               self.recv_split).numpy()
        coll.bytes_sent += 4 * D * self._off_rank(self.send_split)

        def one(t):
            at = self.positions[t]
            coll.tables[t].apply_gradients(self.recv_ids[at], np.arange(len(at), dtype=np.int64),
                                           np.ascontiguousarray(got[at]), mode)
        _for_each_table(one, coll.num_tables)


class _BagExchange:
    """One forward of multi-id bags (per table: 1-D ids + offsets, as nn.EmbeddingBag takes them):
    every id goes to its owner with its bag's number; each owner sums, per table and sending rank,
    the rows of each bag it holds ids of (a partial bag) and sends those partial sums back, where
    they add up to the bag's sum (TorchRec's row-wise sharding with pooling at the owners). Bytes
    moved scale with the partial bags, not with the ids. Backward sends each partial bag its bag's
    gradient (divided by the bag size for mean)."""

    def __init__(self, coll: "ShardedEmbeddingBagCollection", bags: list[tuple[np.ndarray, np.ndarray]]):
        world, T = coll.world, coll.num_tables
        self.coll = coll
        self.sizes = [len(off) for _, off in bags]                          # bags per table
        ids = np.concatenate([i for i, _ in bags]) if bags else np.zeros(0, np.int64)
        counts = [np.diff(np.append(off, len(i))) for i, off in bags]       # ids per bag
        self.bag_count = np.concatenate(counts) if counts else np.zeros(0, np.int64)
        first_bag = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        bag = np.concatenate([np.repeat(np.arange(n, dtype=np.int64), c) for n, c in zip(self.sizes, counts)])
        table = np.repeat(np.arange(T, dtype=np.int64), [len(i) for i, _ in bags])
        key = owner(ids, world) * T + table
        order = np.argsort(key, kind="stable")                             # by owner, table, bag
        key, bag_sorted = key[order], bag[order]
        new = np.ones(len(order), bool)
        new[1:] = (key[1:] != key[:-1]) | (bag_sorted[1:] != bag_sorted[:-1])
        # the partial bags this rank gets back, in the order owners send them: (owner, table, bag)
        self.partial_bag = first_bag[key[new] % T] + bag_sorted[new]       # index into all bags
        sent = np.stack([np.bincount(key, minlength=world * T), np.bincount(key[new], minlength=world * T)])
        sent = sent.reshape(2, world, T).transpose(1, 0, 2).astype(np.int64)  # [owner, ids|partials, T]
        got = coll._all_to_all(torch.from_numpy(sent.reshape(world, -1).copy()).reshape(-1),
                               [2 * T] * world, [2 * T] * world).numpy().reshape(world, 2, T)
        self.send_ids, self.recv_ids_split = sent[:, 0].sum(1).tolist(), got[:, 0].sum(1).tolist()
        self.send_partials, self.recv_partials = sent[:, 1].sum(1).tolist(), got[:, 1].sum(1).tolist()
        payload = np.stack([ids[order], bag_sorted], axis=1)
        recv = coll._all_to_all(torch.from_numpy(payload), self.send_ids, self.recv_ids_split).numpy()
        coll.bytes_sent += 8 * 2 * T * (world - 1) + 16 * self._off_rank(self.send_ids)
        # what this rank owns, per table: the received ids source by source, split into partial bags
        starts = np.concatenate([[0], np.cumsum(got[:, 0].ravel())[:-1]]).reshape(world, T)
        self.owned = []
        for t in range(T):
            at = np.concatenate([np.arange(starts[s, t], starts[s, t] + got[s, 0, t]) for s in range(world)])
            src = np.repeat(np.arange(world), got[:, 0, t])
            b = recv[at.astype(np.int64), 1]
            cut = np.ones(len(at), bool)
            cut[1:] = (b[1:] != b[:-1]) | (src[1:] != src[:-1])
            self.owned.append((np.ascontiguousarray(recv[at.astype(np.int64), 0]), np.nonzero(cut)[0].astype(np.int64)))
        # partial sums are computed table by table; they go back source by source
        src_of = np.concatenate([np.repeat(np.arange(world), got[:, 1, t]) for t in range(T)])
        self.to_sources = np.argsort(src_of, kind="stable")

    def _off_rank(self, split: list[int]) -> int:
        return sum(n for r, n in enumerate(split) if r != self.coll.rank)

    def lookup(self) -> list[np.ndarray]:
        coll, D = self.coll, self.coll.embedding_dim
        partial = [np.empty((0, D), np.float32)] * coll.num_tables

        def one(t):
            ids, offsets = self.owned[t]
            partial[t] = coll.tables[t].lookup(ids, offsets, "sum")
        _for_each_table(one, coll.num_tables)
        mine = np.concatenate(partial)[self.to_sources]
        back = coll._all_to_all(torch.from_numpy(mine), self.recv_partials, self.send_partials).numpy()
        coll.bytes_sent += 4 * D * self._off_rank(self.recv_partials)
        out = np.zeros((len(self.bag_count), D), np.float32)
        np.add.at(out, self.partial_bag, back)
        if coll.mode == "mean":
            out /= np.maximum(self.bag_count, 1)[:, None]
        return np.split(out, np.cumsum(self.sizes)[:-1])

    def apply_gradients(self, grads: list[np.ndarray]) -> None:
        coll, D = self.coll, self.coll.embedding_dim
        g = np.concatenate(grads) if grads else np.zeros((0, D), np.float32)
        if coll.mode == "mean":
            g = g / np.maximum(self.bag_count, 1)[:, None]
        send = np.ascontiguousarray(g[self.partial_bag], np.float32)
        got = coll._all_to_all(torch.from_numpy(send), self.send_partials, self.recv_partials).numpy()
        coll.bytes_sent += 4 * D * self._off_rank(self.send_partials)
        by_table = np.empty_like(got)
        by_table[self.to_sources] = got
        bounds = np.cumsum([0] + [len(off) for _, off in self.owned])

        def one(t):
            ids, offsets = self.owned[t]
            coll.tables[t].apply_gradients(ids, offsets, np.ascontiguousarray(by_table[bounds[t]:bounds[t + 1]]), "sum")
        _for_each_table(one, coll.num_tables)


class _ShardedBagLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, anchor, coll: "ShardedEmbeddingBagCollection", bags):
        ex = _BagExchange(coll, bags)
        ctx.exchange = ex
        return tuple(torch.from_numpy(o) for o in ex.lookup())

    @staticmethod
    def backward(ctx, *grads):
        D = ctx.exchange.coll.embedding_dim
        ctx.exchange.apply_gradients([np.zeros((n, D), np.float32) if g is None else  # an output the loss did not use
                                      g.detach().to(torch.float32).contiguous().numpy()
                                      for g, n in zip(grads, ctx.exchange.sizes)])
        return None, None, None


class _ShardedLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, anchor, coll: "ShardedEmbeddingBagCollection", sparse: torch.Tensor, mode: str):
        ex = _Exchange(coll, sparse.to(torch.int64).numpy())
        ctx.exchange, ctx.mode = ex, mode
        return torch.from_numpy(ex.lookup(mode)).permute(1, 0, 2)        # [B, T, D] view

    @staticmethod
    def backward(ctx, grad):
        g = grad.detach().to(torch.float32).permute(1, 0, 2).contiguous().numpy()  # [T, B, D]
        ctx.exchange.apply_gradients(g, ctx.mode)
        return None, None, None, None


class ShardedEmbeddingBagCollection(nn.Module):
    """`FiitedEmbeddingBagCollection` split row-wise over the ranks of `group` (default: the
    default process group): forward(sparse[B, T]) -> [B, T, D] for this rank's B samples, one id
    per table, or forward(list of (ids, offsets) per table) -> list of [bags, D] for multi-id bags
    (pooled at the owners, see `_BagExchange`). Every rank must call forward (and backward) the same number of times, as with
    DistributedDataParallel. `tables` are this rank's shards, for `DimensionAdjuster(...,
    group=coll.adjust_group)`; `memory`, `counters`, `value_bytes` and `full_value_bytes` are
    totals over the ranks (collectives: every rank calls them)."""

    def __init__(self, num_embeddings: list[int], embedding_dim: int, seed: int = 0, mode: str = "sum",
                 group=None, **kwargs):
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError("ShardedEmbeddingBagCollection needs an initialised torch.distributed process group")
        ranks = None if group is None else dist.get_process_group_ranks(group)
        self.rank, self.world = dist.get_rank(group), dist.get_world_size(group)
        # the exchange (training thread) and the dimension adjustment (maybe a second thread) each
        # get their own group, so their collectives never interleave
        self.exchange_group = dist.new_group(ranks, backend="gloo")
        self.adjust_group = dist.new_group(ranks, backend="gloo")
        self.bags = nn.ModuleList(FiitedEmbeddingBag(n, embedding_dim, mode=mode, seed=table_seed(seed, i), **kwargs)
                                  for i, n in enumerate(num_embeddings))
        self.num_embeddings, self.embedding_dim, self.mode = list(num_embeddings), embedding_dim, mode
        self.num_tables = len(num_embeddings)
        self.bytes_sent = 0          # bytes this rank sent to other ranks (ids, rows, gradients, counts)
        self._anchor = nn.Parameter(torch.zeros(0), requires_grad=True)

    @property
    def tables(self) -> list[Table]:
        return [b.table for b in self.bags]

    def _all_to_all(self, send: torch.Tensor, send_split: list[int], recv_split: list[int]) -> torch.Tensor:
        out = torch.empty((sum(recv_split), *send.shape[1:]), dtype=send.dtype)
        dist.all_to_all_single(out, send.contiguous(), recv_split, send_split, group=self.exchange_group)
        return out

    def forward(self, sparse):
        """sparse [B, T] (one id per table) -> [B, T, D]; or a list of (ids, offsets) per table
        (multi-id bags, as nn.EmbeddingBag takes them) -> a list of [bags, D]."""
        if isinstance(sparse, (list, tuple)):
            return list(_ShardedBagLookup.apply(self._anchor, self, self._bags(sparse)))
        if not isinstance(sparse, torch.Tensor) or sparse.dim() != 2 or sparse.shape[1] != self.num_tables:
            raise ValueError(f"sparse must be a [batch, {self.num_tables}] tensor (one id per table) or a list "
                             f"of {self.num_tables} (ids, offsets)")
        if sparse.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"embedding ids must be an integer tensor, got {sparse.dtype}")
        return _ShardedLookup.apply(self._anchor, self, sparse, self.mode)

    def _bags(self, bags) -> list[tuple[np.ndarray, np.ndarray]]:
        from .embedding import _flatten_bags

        if len(bags) != self.num_tables:
            raise ValueError(f"expected {self.num_tables} (ids, offsets) pairs, one per table, got {len(bags)}")
        out = []
        for ids, offsets in bags:
            ids, offsets = _flatten_bags(torch.as_tensor(ids), None if offsets is None else torch.as_tensor(offsets))
            ids, offsets = ids.numpy(), offsets.numpy()
            if len(offsets) and (offsets[0] != 0 or (np.diff(offsets) < 0).any() or offsets[-1] > len(ids)):
                raise ValueError("offsets must start at 0, never decrease and stay within the ids")
            out.append((ids, offsets))
        return out

    def _sum(self, values: list[int]) -> list[int]:
        t = torch.tensor(values, dtype=torch.int64)
        dist.all_reduce(t, group=self.exchange_group)
        return t.tolist()

    def _sum_dict(self, d: dict) -> dict:
        keys = list(d)           # the same order on every rank (the tables report the same kinds)
        return dict(zip(keys, self._sum([d[k] for k in keys])))

    def value_bytes(self) -> int:
        return self._sum([sum(t.counters()["value_bytes"] for t in self.tables)])[0]

    def full_value_bytes(self) -> int:
        """As `FiitedEmbeddingBagCollection.full_value_bytes`, over all shards."""
        live = self._sum([t.live_rows for t in self.tables])
        return sum((n or rows) * self.embedding_dim * 4 for n, rows in zip(self.num_embeddings, live))

    def memory(self) -> dict:
        return self._sum_dict(summed_by_kind(t.memory() for t in self.tables))

    def counters(self) -> dict:
        return self._sum_dict(summed_by_kind(t.counters() for t in self.tables))

    def _shard_path(self, directory: str, i: int) -> str:
        return os.path.join(directory, f"table_{i:03d}.shard{self.rank}of{self.world}.fiited")

    def save_tables(self, directory: str) -> None:
        """One checkpoint file per table and shard (each rank writes its own)."""
        os.makedirs(directory, exist_ok=True)
        for i, b in enumerate(self.bags):
            b.save_table(self._shard_path(directory, i))

    def load_tables(self, directory: str) -> None:
        """Load this rank's shards, written by a run over the same number of ranks."""
        for i, b in enumerate(self.bags):
            path = self._shard_path(directory, i)
            if not os.path.exists(path):
                raise FileNotFoundError(f"no shard checkpoint {path} (the tables must be saved by a run over "
                                        f"{self.world} ranks)")
            b.load_table(path)
