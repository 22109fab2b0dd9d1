"""The native runtime against NumPy / torch references: lookup, sparse SGD/Adagrad, resize, RSS
falling after shrinking, checkpoints, errors, and two threads at once; rows created on first touch,
evicted when idle, the index growing by incremental rehash."""
import threading

import numpy as np
import pytest
import torch

from girflow.runtime.fiited import FiitedError, Table, resident_bytes


def _full(*args, **kwargs) -> Table:
    """A bounded table with every row created (as nn.EmbeddingBag has them)."""
    t = Table(*args, **kwargs)
    t.touch(np.arange(t.num_rows, dtype=np.int64))
    return t


def _bags(rng, rows, nbags, max_len):
    lens = rng.integers(0, max_len + 1, nbags)
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    ids = rng.integers(0, rows, lens.sum()).astype(np.int64)
    return ids, offsets


def _ref_pool(W, ids, offsets, mode):
    out = np.zeros((len(offsets), W.shape[1]), np.float32)
    ends = list(offsets[1:]) + [len(ids)]
    for b, (lo, hi) in enumerate(zip(offsets, ends)):
        if hi > lo:
            out[b] = W[ids[lo:hi]].sum(0) / (hi - lo if mode == "mean" else 1)
    return out


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_lookup_matches_embedding_bag_with_short_rows_reading_zero(mode):
    rng = np.random.default_rng(0)
    t = _full(300, 32, chunk_size=8, seed=1)
    W = t.get_rows()
    dims = rng.choice([0, 8, 16, 24, 32], 300).astype(np.int64)
    t.resize(np.arange(300, dtype=np.int64), dims)
    W[np.arange(32)[None, :] >= dims[:, None]] = 0.0
    ids, offsets = _bags(rng, 300, 64, 7)
    ref = torch.nn.EmbeddingBag(300, 32, mode=mode)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(W))
        expect = ref(torch.from_numpy(ids), torch.from_numpy(offsets)).numpy()
    np.testing.assert_allclose(t.lookup(ids, offsets, mode), expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_gradient_apply_matches_torch_sparse_optimiser(optimizer, mode):
    rng = np.random.default_rng(1)
    t = _full(200, 16, chunk_size=8, optimizer=optimizer, lr=0.1, seed=2)
    ref = torch.nn.EmbeddingBag(200, 16, mode=mode, sparse=True)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(t.get_rows()))
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adagrad)(ref.parameters(), lr=0.1)
    for _ in range(4):
        ids, offsets = _bags(rng, 200, 32, 5)  # repeated ids within and across bags
        g = rng.normal(size=(32, 16)).astype(np.float32)
        t.apply_gradients(ids, offsets, g, mode)
        opt.zero_grad()
        ref(torch.from_numpy(ids), torch.from_numpy(offsets)).backward(torch.from_numpy(g))
        opt.step()
    np.testing.assert_allclose(t.get_rows(), ref.weight.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_importance_is_per_chunk_squared_gradient_and_frequency():
    t = Table(10, 16, chunk_size=8, optimizer="sgd", lr=0.0)
    ids, offsets = np.array([3, 3, 5], np.int64), np.array([0, 2], np.int64)
    g = np.zeros((2, 16), np.float32)
    g[0, :8], g[1, 8:] = 1.0, 2.0
    t.apply_gradients(ids, offsets, g)
    _, imp, freq = t.row_stats()
    # row 3 appears twice in bag 0: its coalesced gradient is 2 * g[0]
    np.testing.assert_allclose(imp[3], [8 * 4.0, 0.0])
    np.testing.assert_allclose(imp[5], [0.0, 8 * 4.0])
    np.testing.assert_allclose(freq[[3, 5, 0]], [2, 1, 0])
    t.decay_importance(0.5)
    np.testing.assert_allclose(t.row_stats()[1][3], [16.0, 0.0])


def test_grow_and_shrink_keep_values_and_state_of_surviving_chunks():
    t = Table(50, 32, chunk_size=8, init_dim=16, optimizer="adagrad", lr=0.1, seed=3)
    ids, offsets = np.arange(50, dtype=np.int64), np.arange(50, dtype=np.int64)
    t.apply_gradients(ids, offsets, np.ones((50, 32), np.float32))
    before, state = t.get_rows(with_state=True)
    t.resize(np.array([1, 2], np.int64), np.array([8, 32], np.int64))
    after, state2 = t.get_rows(with_state=True)
    np.testing.assert_array_equal(after[1, :8], before[1, :8])
    assert not after[1, 8:].any() and not state2[1, 8:].any()
    np.testing.assert_array_equal(after[2, :16], before[2, :16])
    assert not after[2, 16:].any()  # grown chunks start at zero
    np.testing.assert_array_equal(state2[2, :16], state[2, :16])
    assert list(t.dims()[:3]) == [16, 8, 32]


def test_shrinking_gives_memory_back_to_the_os():
    rows, dim = 400_000, 32  # ~100 MiB of values + Adagrad state
    t = _full(rows, dim, chunk_size=8)
    ids = np.arange(rows, dtype=np.int64)
    rss_full = resident_bytes()
    mapped_full = t.counters()["mapped_bytes"]
    keep = np.where(ids % 10 == 0, dim, 0).astype(np.int64)  # prune 90% of rows, scattered
    t.resize(ids, keep)
    c = t.counters()
    assert c["live_chunks"] == rows // 10 * 4
    assert c["mapped_bytes"] < 0.2 * mapped_full
    assert rss_full - resident_bytes() > 0.6 * mapped_full  # resident memory really fell
    # survivors kept their values through compaction
    t2 = _full(rows, dim, chunk_size=8)
    np.testing.assert_array_equal(t.get_rows(ids[::10]), t2.get_rows(ids[::10]))


def test_checkpoint_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(4)
    t = _full(500, 24, chunk_size=8, optimizer="adagrad", lr=0.05, seed=5)
    ids, offsets = _bags(rng, 500, 40, 6)
    t.apply_gradients(ids, offsets, rng.normal(size=(40, 24)).astype(np.float32))
    t.resize(np.arange(0, 500, 3, dtype=np.int64), np.full(167, 8, np.int64))
    path = str(tmp_path / "t.ckpt")
    t.save(path)
    u = Table.load(path)
    for a, b in zip(t.get_rows(with_state=True), u.get_rows(with_state=True)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(t.stats(), u.stats()):
        np.testing.assert_array_equal(a, b)
    # and training continues identically
    g = rng.normal(size=(40, 24)).astype(np.float32)
    t.apply_gradients(ids, offsets, g)
    u.apply_gradients(ids, offsets, g)
    np.testing.assert_array_equal(t.get_rows(), u.get_rows())


def test_corrupt_or_truncated_checkpoints_are_refused(tmp_path):
    t = _full(100, 16, chunk_size=8)
    path = tmp_path / "t.ckpt"
    t.save(str(path))
    data = bytearray(path.read_bytes())
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    cases = {"flip": bytes(flipped), "trunc": bytes(data[:-20]), "magic": b"XXXX" + bytes(data[4:]), "empty": b"",
             "extra": bytes(data) + b"\0"}
    for name, blob in cases.items():
        p = tmp_path / f"{name}.ckpt"
        p.write_bytes(blob)
        with pytest.raises(FiitedError, match="cannot load"):
            Table.load(str(p))
    with pytest.raises(FiitedError, match="cannot open"):
        Table.load(str(tmp_path / "missing.ckpt"))


def test_bad_inputs_are_clear_errors():
    t = Table(10, 16, chunk_size=8)
    off = np.array([0], np.int64)
    with pytest.raises(FiitedError, match="out of range"):
        t.lookup(np.array([10], np.int64), off)
    with pytest.raises(FiitedError, match="out of range"):
        t.apply_gradients(np.array([-1], np.int64), off, np.zeros((1, 16), np.float32))
    with pytest.raises(FiitedError, match="dtype int64"):
        t.lookup(np.array([1.0]), off)
    with pytest.raises(FiitedError, match="dtype float32"):
        t.apply_gradients(np.array([1], np.int64), off, np.zeros((1, 16)))
    with pytest.raises(FiitedError, match="shape"):
        t.apply_gradients(np.array([1], np.int64), off, np.zeros((1, 8), np.float32))
    with pytest.raises(FiitedError, match="offsets"):
        t.lookup(np.array([1, 2], np.int64), np.array([0, 5], np.int64))
    with pytest.raises(FiitedError, match="multiple of 8"):
        t.resize(np.array([1], np.int64), np.array([12], np.int64))
    with pytest.raises(FiitedError, match="invalid table"):
        Table(10, 12, chunk_size=8)
    with pytest.raises(FiitedError, match="optimizer"):
        Table(10, 16, optimizer="adam")


def test_two_threads_train_and_read_one_table_safely():
    rng = np.random.default_rng(6)
    rows = 2000
    t = _full(rows, 16, chunk_size=8, optimizer="sgd", lr=0.01, seed=7)
    ref = t.get_rows().astype(np.float64)
    batches = [_bags(rng, rows, 64, 4) for _ in range(40)]
    grads = [rng.normal(size=(64, 16)).astype(np.float32) for _ in range(40)]
    errors = []

    def writer(part):
        try:
            for i in range(part, 40, 2):
                t.apply_gradients(*batches[i], grads[i])
        except Exception as e:  # pragma: no cover - surfaced below
            errors.append(e)

    def reader():
        try:
            for i in range(200):
                out = t.lookup(*batches[i % 40])
                assert np.isfinite(out).all()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(p,)) for p in (0, 1)] + [threading.Thread(target=reader)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for (ids, offsets), g in zip(batches, grads):  # SGD updates commute: order does not matter
        ends = list(offsets[1:]) + [len(ids)]
        for b, (lo, hi) in enumerate(zip(offsets, ends)):
            for r in ids[lo:hi]:
                ref[r] -= 0.01 * g[b]
    np.testing.assert_allclose(t.get_rows(), ref, rtol=1e-4, atol=1e-5)


def _ids(rng, kind, rows, n):
    if kind == "zipf":
        return np.minimum(rng.zipf(1.1, n) - 1, rows - 1).astype(np.int64)
    return rng.integers(0, rows, n).astype(np.int64)


def _ref_apply(W, S, imp, freq, ids, offsets, g, mode, lr, eps, chunk, dims):
    """NumPy Adagrad reference: coalesced grads, only the row's live chunks step, importance per chunk."""
    ends = list(offsets[1:]) + [len(ids)]
    coal = {}
    for b, (lo, hi) in enumerate(zip(offsets, ends)):
        for r in ids[lo:hi]:
            coal.setdefault(int(r), [np.zeros(W.shape[1], np.float64), 0])
            coal[int(r)][0] += g[b] / ((hi - lo) if mode == "mean" else 1)
            coal[int(r)][1] += 1
    for r, (gr, cnt) in coal.items():
        freq[r] += cnt
        d = dims[r]
        S[r, :d] += gr[:d] ** 2
        W[r, :d] -= lr * gr[:d] / (np.sqrt(S[r, :d]) + eps)
        imp[r, :d // chunk] += (gr[:d] ** 2).reshape(-1, chunk).sum(1)


@pytest.mark.parametrize("chunk,max_dim", [(8, 32), (16, 64), (8, 24), (4, 12)])
@pytest.mark.parametrize("kind", ["uniform", "zipf"])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_lookup_after_shrink_grow_and_compaction_matches_numpy(chunk, max_dim, kind, mode):
    rng = np.random.default_rng(10)
    rows = 3000
    t = _full(rows, max_dim, chunk_size=chunk, optimizer="sgd", seed=3)
    W = t.get_rows()
    dims = rng.choice(np.arange(0, max_dim + 1, chunk), rows).astype(np.int64)
    t.resize(np.arange(rows, dtype=np.int64), dims, compact_fraction=0.0)  # prune most, compact now
    W[np.arange(max_dim)[None, :] >= dims[:, None]] = 0.0
    grow = rng.choice(rows, 500, replace=False).astype(np.int64)  # grown chunks come from freed holes
    t.resize(grow, np.full(500, max_dim, np.int64))
    grown = t.get_rows(grow)
    assert (grown[np.arange(max_dim)[None, :] >= dims[grow][:, None]] == 0).all()  # grown chunks start at zero
    W[grow] = grown
    t.compact()
    for n, nbags in [(50, 7), (20000, 900)]:  # small batches run on one thread, large ones on all
        ids = _ids(rng, kind, rows, n)
        cuts = np.sort(rng.integers(0, n + 1, nbags - 1))
        offsets = np.concatenate([[0], cuts]).astype(np.int64)  # includes empty bags
        np.testing.assert_allclose(t.lookup(ids, offsets, mode), _ref_pool(W, ids, offsets, mode), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunk", [8, 16, 4])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_adagrad_apply_after_compaction_matches_numpy(chunk, mode):
    rng = np.random.default_rng(11)
    rows, D, lr, eps = 2000, 4 * chunk, 0.05, 1e-10
    t = _full(rows, D, chunk_size=chunk, optimizer="adagrad", lr=lr, eps=eps, seed=4)
    dims = rng.choice(np.arange(0, D + 1, chunk), rows).astype(np.int64)
    t.resize(np.arange(rows, dtype=np.int64), dims, compact_fraction=0.0)
    W, S = (x.astype(np.float64) for x in t.get_rows(with_state=True))
    imp = t.row_stats()[1].astype(np.float64)
    freq = t.row_stats()[2].astype(np.float64)
    for n, nbags in [(40, 10), (30000, 1500)]:
        ids = _ids(rng, "zipf", rows, n)  # many duplicates, within and across bags
        offsets = np.concatenate([[0], np.sort(rng.integers(0, n + 1, nbags - 1))]).astype(np.int64)
        g = rng.normal(size=(nbags, D)).astype(np.float32)
        t.apply_gradients(ids, offsets, g, mode)
        _ref_apply(W, S, imp, freq, ids, offsets, g.astype(np.float64), mode, lr, eps, chunk, dims)
    got_w, got_s = t.get_rows(with_state=True)
    np.testing.assert_allclose(got_w, W, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(got_s, S, rtol=1e-3, atol=1e-4)
    d2, imp2, freq2 = t.row_stats()
    np.testing.assert_array_equal(d2, dims)
    np.testing.assert_allclose(imp2, imp, rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(freq2, freq)


def test_ids_before_the_first_bag_are_ignored_and_empty_batches_work():
    t = _full(20, 16, chunk_size=8, optimizer="sgd", lr=1.0, seed=5)
    W = t.get_rows()
    ids, offsets = np.array([3, 4, 5], np.int64), np.array([1, 2], np.int64)
    np.testing.assert_allclose(t.lookup(ids, offsets), W[[4, 5]], rtol=1e-6)
    t.apply_gradients(ids, offsets, np.ones((2, 16), np.float32))
    after = t.get_rows()
    np.testing.assert_array_equal(after[3], W[3])
    np.testing.assert_allclose(after[[4, 5]], W[[4, 5]] - 1.0, rtol=1e-6)
    np.testing.assert_array_equal(t.row_stats()[2][[3, 4, 5]], [0, 1, 1])
    empty = np.zeros(0, np.int64)
    assert t.lookup(empty, empty).shape == (0, 16)
    t.apply_gradients(empty, empty, np.zeros((0, 16), np.float32))
    np.testing.assert_array_equal(t.lookup(empty, np.zeros(3, np.int64)), np.zeros((3, 16), np.float32))


def test_tables_beyond_the_limits_are_refused():
    with pytest.raises(FiitedError, match="invalid table"):
        Table(10, 8 * 5000, chunk_size=8)
    with pytest.raises(FiitedError, match="invalid table"):
        Table(-1, 8, chunk_size=8)
    with pytest.raises(FiitedError, match="non-negative"):
        Table(0, 8, chunk_size=8).lookup(np.array([-5], np.int64), np.array([0], np.int64))
