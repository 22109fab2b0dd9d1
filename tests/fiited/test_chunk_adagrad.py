"""Chunk-wise Adagrad (one accumulator per chunk, FBGEMM's row-wise Adagrad with a chunk as the row)
against a plain NumPy model, through resizes, compaction and checkpoints; and freed chunks given back
at every adjustment, with the peak of what was held still reported."""
import numpy as np
import pytest

from girflow.runtime.fiited import Table


def _ref_chunk_adagrad(W, S, ids, offsets, g, mode, lr, eps, chunk, dims):
    """NumPy reference: gradients coalesced per row; each live chunk's accumulator adds the mean of its
    squared gradient, and its values step by lr * g / (sqrt(accumulator) + eps)."""
    ends = list(offsets[1:]) + [len(ids)]
    coal = {}
    for b, (lo, hi) in enumerate(zip(offsets, ends)):
        for r in ids[lo:hi]:
            coal[int(r)] = coal.get(int(r), 0) + g[b] / ((hi - lo) if mode == "mean" else 1)
    for r, gr in coal.items():
        for k in range(dims[r] // chunk):
            part = slice(k * chunk, (k + 1) * chunk)
            S[r, k] += np.mean(gr[part] ** 2)
            W[r, part] -= lr * gr[part] / (np.sqrt(S[r, k]) + eps)


@pytest.mark.parametrize("chunk", [8, 4])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_chunk_adagrad_matches_numpy_through_resize_and_compaction(chunk, mode):
    rng = np.random.default_rng(7)
    rows, D, lr, eps = 600, 4 * chunk, 0.05, 1e-10
    t = Table(rows, D, chunk_size=chunk, optimizer="chunk_adagrad", lr=lr, eps=eps, seed=9)
    t.touch(np.arange(rows, dtype=np.int64))
    dims = rng.choice(np.arange(0, D + 1, chunk), rows).astype(np.int64)
    t.resize(np.arange(rows, dtype=np.int64), dims)  # scattered shrinks: compacted at once
    W = t.get_rows().astype(np.float64)
    S = np.zeros((rows, D // chunk))
    for n, nbags in [(50, 10), (8000, 700), (8000, 700)]:
        ids = np.minimum(rng.zipf(1.2, n) - 1, rows - 1).astype(np.int64)  # many duplicates
        offsets = np.concatenate([[0], np.sort(rng.integers(0, n + 1, nbags - 1))]).astype(np.int64)
        g = rng.normal(size=(nbags, D)).astype(np.float32)
        t.apply_gradients(ids, offsets, g, mode)
        _ref_chunk_adagrad(W, S, ids, offsets, g.astype(np.float64), mode, lr, eps, chunk, dims)
    got_w, got_s = t.get_rows(with_state=True)
    np.testing.assert_allclose(got_w, W, rtol=1e-4, atol=1e-5)
    # state is reported per value: each chunk's accumulator over its columns, zero beyond the row
    want_s = np.where(np.arange(D) < dims[:, None], np.repeat(S, chunk, axis=1), 0.0)
    np.testing.assert_allclose(got_s, want_s, rtol=1e-4, atol=1e-7)
    c = t.counters()
    assert c["state_bytes"] == 4 * c["live_chunks"]  # one float per chunk, not per value
    assert c["chunk_bytes"] == c["live_chunks"] * (4 * chunk + 4 + 4)


def test_chunk_adagrad_checkpoint_resumes_bit_for_bit(tmp_path):
    rng = np.random.default_rng(3)
    t = Table(0, 24, chunk_size=8, optimizer="chunk_adagrad", lr=0.05, seed=1)
    ids = rng.integers(0, 1 << 40, 300).astype(np.int64)
    offsets = np.arange(0, 300, 3, dtype=np.int64)
    t.apply_gradients(ids, offsets, rng.normal(size=(100, 24)).astype(np.float32))
    t.resize(ids[::4], np.full(len(ids[::4]), 8, np.int64))
    t.save(str(tmp_path / "t.ckpt"))
    u = Table.load(str(tmp_path / "t.ckpt"))
    for a, b in zip(t.get_rows(ids, with_state=True), u.get_rows(ids, with_state=True)):
        np.testing.assert_array_equal(a, b)
    g = rng.normal(size=(100, 24)).astype(np.float32)
    t.apply_gradients(ids, offsets, g)
    u.apply_gradients(ids, offsets, g)
    np.testing.assert_array_equal(t.get_rows(ids), u.get_rows(ids))
    for part in ("values", "optimizer_state", "importance"):
        assert t.memory()[part] == u.memory()[part]


@pytest.mark.parametrize("optimizer", ["adagrad", "chunk_adagrad"])
def test_evicted_and_shrunk_chunks_are_not_left_mapped(optimizer):
    """Eviction (at an adjustment) and shrinking rows free scattered chunks; they are compacted away at
    once, so mapped memory stays within a slab of the live chunks (nothing is held as free runs)."""
    rng = np.random.default_rng(5)
    t = Table(0, 32, chunk_size=8, optimizer=optimizer, evict_after=1, seed=2)
    ids = rng.permutation(200_000).astype(np.int64)
    t.touch(ids)
    held = t.memory()["total"]
    t.decay_importance(0.5)
    t.touch(ids[::3])          # a third stays in use; the rest goes idle
    t.decay_importance(0.5)    # the rest, idle for 2 adjustments > evict_after: evicted
    assert t.live_rows == len(ids[::3])
    slab = 1024 * t.counters()["chunk_bytes"] // t.counters()["live_chunks"]
    c = t.counters()
    assert c["mapped_bytes"] - c["chunk_bytes"] <= slab
    # the peak still counts what was held before the eviction
    assert t.memory()["peak_total"] >= held > 2 * t.memory()["total"]
    t.resize(ids[::3][::2], np.full(len(ids[::3][::2]), 8, np.int64))  # shrink every other survivor
    c = t.counters()
    assert c["mapped_bytes"] - c["chunk_bytes"] <= slab and c["free_chunks"] == 0
    np.testing.assert_array_equal(t.dims(ids[::3][::2]), 8)


def test_training_config_sets_the_starting_dimension_and_optimiser_of_new_rows():
    import torch

    from girflow.frontends.fiited.train import TrainConfig, build_model

    cfg = TrainConfig(embedding_dim=32, chunk_size=8, init_dim=8, emb_optimizer="chunk_adagrad")
    model = build_model(cfg, [50, 40], num_dense=3)
    sparse = torch.tensor([[3, 7], [5, 7]])
    model(torch.zeros(2, 3), sparse).sum().backward()
    t0, t1 = model.embeddings.tables
    np.testing.assert_array_equal(t0.dims(np.array([3, 5])), [8, 8])      # created at init_dim
    np.testing.assert_array_equal(t1.dims(np.array([7, 8])), [8, 0])      # 8 never seen: no row
    c = t0.counters()
    assert c["state_bytes"] == 4 * c["live_chunks"]                        # one accumulator per chunk
