"""FIITED tables sharded over 2 gloo processes behave as one unsharded table: the same pooled
outputs, optimiser steps and chosen dimensions (bit for bit, given the same gradients), per-shard
checkpoints, DLRM training that matches one process within float noise, and multi-id bags (partial
sums pooled at the owners) that match nn.EmbeddingBag with torch's sparse Adagrad."""
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from girflow.frontends.fiited import DimensionAdjuster, FiitedEmbeddingBagCollection
from girflow.frontends.fiited.sharded import ShardedEmbeddingBagCollection, batch_share, owner

WORLD = 2
SIZES = [300, 0, 40]          # a bounded table, one keyed by raw 64-bit ids, a small one


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(fn, *args):
    port = _free_port()
    mp.spawn(_entry, args=(fn, port, *args), nprocs=WORLD, join=True)


def _entry(rank, fn, port, *args):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        fn(rank, *args)
    finally:
        dist.destroy_process_group()


def _batch(rng, step: int, n: int = 96) -> np.ndarray:
    """Skewed ids (repeats within a batch), raw ids spread over 2^62 for table 1."""
    ids = np.stack([np.minimum(rng.zipf(1.3, n) - 1, 299), ((rng.zipf(1.2, n).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(2)).astype(np.int64),
                    rng.integers(0, 40, n)], axis=1)
    return ids.astype(np.int64)


def _engine(rank, tmp):
    kw = dict(chunk_size=8, optimizer="adagrad", lr=0.1, seed=5)
    sharded = ShardedEmbeddingBagCollection(SIZES, 16, **kw)
    single = FiitedEmbeddingBagCollection(SIZES, 16, **kw)
    # each table on its own scale (the default, one scale over all tables, is exercised by train() below)
    adj_sharded = DimensionAdjuster(sharded.tables, every=2, budget_fraction=0.3, anneal=2, lag=1,
                                    background=True, group=sharded.adjust_group, scope="table")
    adj_single = DimensionAdjuster(single.tables, every=2, budget_fraction=0.3, anneal=2, lag=1, scope="table")
    rng = np.random.default_rng(7)
    for step in range(1, 10):
        ids = _batch(rng, step)
        grad = rng.normal(size=(len(ids), len(SIZES), 16)).astype(np.float32)
        mine = batch_share(len(ids), rank, WORLD)
        want = single(torch.from_numpy(ids))
        got = sharded(torch.from_numpy(ids[mine]))
        torch.testing.assert_close(got, want[mine], rtol=0, atol=0)
        want.backward(torch.from_numpy(grad))
        got.backward(torch.from_numpy(grad[mine]))
        adj_single.maybe_adjust(step)
        adj_sharded.maybe_adjust(step)
    adj_single.finish()
    adj_sharded.finish()
    assert sharded.value_bytes() == single.value_bytes() <= 0.3 * 16 * 4 * sum(t.live_rows for t in single.tables)
    assert sharded.value_bytes() < single.counters()["live_rows"] * 16 * 4   # the budget cut rows
    for t, (s_table, u_table) in enumerate(zip(sharded.tables, single.tables)):
        ids = s_table.stats()[0]
        assert (owner(ids, WORLD) == rank).all()
        np.testing.assert_array_equal(s_table.dims(ids), u_table.dims(ids))
        np.testing.assert_array_equal(s_table.get_rows(ids, with_state=True), u_table.get_rows(ids, with_state=True))
    assert sum(sharded._sum([t.live_rows for t in sharded.tables])) == sum(t.live_rows for t in single.tables)
    # per-shard checkpoints: a fresh sharded collection loads them and reads the same rows
    sharded.save_tables(tmp)
    again = ShardedEmbeddingBagCollection(SIZES, 16, **kw)
    again.load_tables(tmp)
    probe = _batch(np.random.default_rng(rank), 0, 40)
    sharded.eval(), again.eval(), single.eval()
    with torch.no_grad():
        a, b = again(torch.from_numpy(probe)), sharded(torch.from_numpy(probe))
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        # evaluation: ids never trained read as zeros, as in one table
        torch.testing.assert_close(a, single(torch.from_numpy(probe)), rtol=0, atol=0)
    assert sharded.bytes_sent > 0


def test_sharded_tables_match_one_table_bit_for_bit(tmp_path):
    _spawn(_engine, str(tmp_path))
    files = sorted(os.listdir(tmp_path))
    assert files == [f"table_{t:03d}.shard{r}of{WORLD}.fiited" for t in range(len(SIZES)) for r in range(WORLD)]


def _train(rank, data_path, out):
    import json

    from girflow.frontends.fiited.data import load
    from girflow.frontends.fiited.train import TrainConfig, train

    dense, sparse, label = load(data_path, TRAIN_SIZES, cache=False) if rank == 0 else (None,) * 3
    dist.barrier()
    if rank:
        dense, sparse, label = load(data_path, TRAIN_SIZES)
    r = train(TrainConfig(embedding_dim=16, batch_size=256, adjust_every=4, anneal=2, budget=0.3, progress=False),
              dense, sparse, label, TRAIN_SIZES)
    if rank == 0:
        with open(out, "w") as f:
            json.dump({k: r[k] for k in ("auc", "logloss", "embedding_bytes", "memory_fraction", "processes",
                                          "live_full_embedding_bytes", "bytes_moved_per_step")}, f)


TRAIN_SIZES = [400, 200] + [100] * 12 + [30] * 12


def test_sharded_training_matches_one_process(tmp_path):
    import json

    from girflow.frontends.fiited.data import generate, load
    from girflow.frontends.fiited.train import TrainConfig, train

    path = str(tmp_path / "d.tsv")
    generate(path, 3000, TRAIN_SIZES, seed=2)
    one = train(TrainConfig(embedding_dim=16, batch_size=256, adjust_every=4, anneal=2, budget=0.3, progress=False),
                *load(path, TRAIN_SIZES), TRAIN_SIZES)
    _spawn(_train, path, str(tmp_path / "two.json"))
    two = json.loads((tmp_path / "two.json").read_text())
    assert two["processes"] == 2 and one["processes"] == 1
    assert two["bytes_moved_per_step"] > 0
    assert abs(two["auc"] - one["auc"]) < 0.005
    assert abs(two["logloss"] - one["logloss"]) < 0.005
    # same live rows and budget; the dense gradients are summed over ranks (float noise) so the
    # dimensions may differ by a few chunks
    assert two["live_full_embedding_bytes"] == one["live_full_embedding_bytes"]
    assert abs(two["embedding_bytes"] - one["embedding_bytes"]) <= 0.02 * one["embedding_bytes"]


@pytest.mark.parametrize("bad", [["--method", "full"]])
def test_cli_nproc(tmp_path, bad):
    from girflow.frontends.fiited.data import generate

    path = str(tmp_path / "d.tsv")
    generate(path, 1200, TRAIN_SIZES, seed=1)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "girflow.tools.cli", "fiited", "train", path, "--nproc", "2", "--table-sizes",
           ",".join(map(str, TRAIN_SIZES)), "--dim", "16", "--batch-size", "256", "--adjust-every", "2",
           "--budget", "0.4", "--no-progress", "--save-tables", str(tmp_path / "ckpt")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 processes:" in done.stdout and "MiB moved between processes per step" in done.stdout
    assert done.stdout.count("AUC=") == 1                      # rank 0 reports
    assert len(os.listdir(tmp_path / "ckpt" / "seed0")) == 2 * len(TRAIN_SIZES)
    wrong = subprocess.run(cmd + bad, capture_output=True, text=True, env=env, timeout=600)
    assert wrong.returncode == 2 and "no sharded form" in wrong.stderr and "Traceback" not in wrong.stderr


def _bags_vs_embedding_bag(rank):
    for mode in ("sum", "mean"):
        _bags_in_mode(rank, mode)


def _bags_in_mode(rank, mode):
    """Multi-id bags (empty ones too) over 2 ranks against one nn.EmbeddingBag per table trained by
    torch's sparse Adagrad from the same starting rows: pooled outputs and updated rows agree."""
    from girflow.runtime.fiited import init_rows

    sizes, dim, lr = [300, 50], 16, 0.1
    sharded = ShardedEmbeddingBagCollection(sizes, dim, mode=mode, chunk_size=8, optimizer="adagrad", lr=lr, seed=3)
    ref = [torch.nn.EmbeddingBag(n, dim, mode=mode, sparse=True) for n in sizes]
    with torch.no_grad():
        for t, (n, bag) in enumerate(zip(sizes, ref)):
            bag.weight.copy_(torch.from_numpy(init_rows(np.arange(n), dim, 3 * 1009 + t, (1.0 / n) ** 0.5)))
    opt = torch.optim.Adagrad([b.weight for b in ref], lr=lr, eps=1e-10)
    rng = np.random.default_rng(11)
    for step in range(4):
        batches = []                                    # the global batch of each table: (ids, bag sizes)
        for n in sizes:
            counts = rng.integers(0, 6, 24)             # bags of 0-5 ids, repeats within and across bags
            batches.append((np.minimum(rng.zipf(1.3, counts.sum()) - 1, n - 1).astype(np.int64), counts))
        grads = [rng.normal(size=(24, dim)).astype(np.float32) for _ in sizes]
        mine = batch_share(24, rank, WORLD)
        local, want = [], []
        for (ids, counts), bag in zip(batches, ref):
            offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
            lo, hi = offsets[mine.start], offsets[mine.stop] if mine.stop < 24 else len(ids)
            local.append((torch.from_numpy(ids[lo:hi]), torch.from_numpy(offsets[mine] - lo)))
            want.append(bag(torch.from_numpy(ids), torch.from_numpy(offsets)))
        got = sharded(local)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w[mine].detach(), rtol=1e-5, atol=1e-6)
        opt.zero_grad()
        sum((w * torch.from_numpy(g)).sum() for w, g in zip(want, grads)).backward()
        opt.step()
        sum((o * torch.from_numpy(g[mine])).sum() for o, g in zip(got, grads)).backward()
    for table, bag in zip(sharded.tables, ref):
        ids = table.stats()[0]
        assert (owner(ids, WORLD) == rank).all() and len(ids)
        np.testing.assert_allclose(table.get_rows(ids), bag.weight.detach().numpy()[ids], rtol=1e-5, atol=1e-6)


def test_sharded_multi_id_bags_match_nn_embedding_bag():
    _spawn(_bags_vs_embedding_bag)
