"""Tables keyed by raw 64-bit ids whose rows exist only once touched: creation in training, zeros
and no creation in evaluation, eviction of idle rows, the index's incremental rehash and its size
per live row, and checkpoints that resume training bit for bit."""
import numpy as np
import pytest

from girflow.runtime.fiited import FiitedError, Table, init_rows

SCALE = 0.05


def _bags(rng, ids_pool, nbags, size):
    ids = rng.choice(ids_pool, nbags * size).astype(np.int64)
    return ids, np.arange(0, nbags * size, size, dtype=np.int64)


def test_rows_exist_only_once_looked_up_in_training():
    t = Table(0, 16, chunk_size=8, init_dim=8, optimizer="sgd", init_scale=SCALE, seed=4)
    assert t.live_rows == 0 and t.counters()["live_chunks"] == 0
    ids = np.array([2**62 + 5, 123456789012345, 7, 2**62 + 5], np.int64)  # raw ids, no modulo
    out = t.lookup(ids, np.array([0, 2], np.int64))
    start = init_rows(ids, 16, seed=4, scale=SCALE)
    start[:, 8:] = 0.0                                   # created at the starting dimension
    np.testing.assert_array_equal(out, [start[0] + start[1], start[2] + start[3]])
    assert t.live_rows == 3 and list(t.dims(ids)) == [8, 8, 8, 8]

    t.train(False)
    unknown = np.array([99, 2**40], np.int64)
    np.testing.assert_array_equal(t.lookup(unknown, np.array([0, 1], np.int64)), np.zeros((2, 16), np.float32))
    np.testing.assert_array_equal(t.lookup(ids[:1], np.array([0], np.int64)), start[:1])
    assert t.live_rows == 3                               # evaluation created nothing
    t.train(True)
    t.apply_gradients(unknown, np.array([0], np.int64), np.ones((1, 16), np.float32))  # apply creates too
    assert t.live_rows == 5
    np.testing.assert_allclose(t.get_rows(unknown)[:, :8], init_rows(unknown, 8, seed=4, scale=SCALE) - 0.01, rtol=1e-6)


def test_idle_rows_are_evicted_and_their_memory_returns():
    rng = np.random.default_rng(0)
    t = Table(0, 32, chunk_size=8, optimizer="adagrad", lr=0.1, init_scale=SCALE, evict_after=2)
    hot, cold = np.arange(0, 3000, dtype=np.int64) * 11, np.arange(10**9, 10**9 + 20000, dtype=np.int64)
    t.touch(cold)
    for ids in (hot, cold):
        t.apply_gradients(ids, np.arange(len(ids), dtype=np.int64), rng.normal(size=(len(ids), 32)).astype(np.float32))
    full = t.counters()
    for step in range(3):                                 # only the hot rows are seen from now on
        t.decay_importance(0.5)
        t.lookup(hot, np.arange(len(hot), dtype=np.int64))
        assert t.live_rows == (len(hot) + len(cold) if step < 2 else len(hot))
    c = t.counters()
    assert c["live_chunks"] == len(hot) * 4
    assert c["mapped_bytes"] < 0.3 * full["mapped_bytes"]  # chunks went back (compaction gave back slabs)
    assert c["row_bytes"] < 0.3 * full["row_bytes"] and c["index_bytes"] <= 16 * len(hot)
    t.train(False)
    np.testing.assert_array_equal(t.get_rows(cold[:5]), np.zeros((5, 32), np.float32))
    t.train(True)
    t.touch(cold[:5])                                     # back as new rows, from their initial values
    np.testing.assert_array_equal(t.get_rows(cold[:5]), init_rows(cold[:5], 32, 0, SCALE))


def test_row_records_take_16_bytes_until_an_id_needs_more_than_32_bits():
    t = Table(0, 16, chunk_size=8, init_dim=8, optimizer="sgd", init_scale=SCALE, seed=1, evict_after=1)
    narrow = np.arange(1, 5001, dtype=np.int64) * 858_993   # up to ~4.3e9 < 2^32
    t.touch(narrow)
    assert t.counters()["row_bytes"] == 16 * 5000
    # an id differing from a live one only in its high half is a different row
    wide = narrow[:100] + 2**32 * np.arange(1, 101, dtype=np.int64)
    t.touch(wide)
    assert t.counters()["row_bytes"] == 20 * 5100 and t.live_rows == 5100
    np.testing.assert_array_equal(t.get_rows(np.concatenate([narrow, wide])),
                                  init_rows(np.concatenate([narrow, wide]), 16, seed=1, scale=SCALE) * ([1] * 8 + [0] * 8))
    np.testing.assert_array_equal(np.sort(t.stats()[0]), np.sort(np.concatenate([narrow, wide])))
    for _ in range(2):                                    # only the wide rows stay: records renumbered
        t.decay_importance(0.5)
        t.touch(wide)
    assert t.live_rows == 100 and t.counters()["row_bytes"] == 20 * 100
    np.testing.assert_array_equal(np.sort(t.stats()[0]), np.sort(wide))
    t.train(False)
    np.testing.assert_array_equal(t.get_rows(narrow[:100]), np.zeros((100, 16), np.float32))


def test_growing_rows_give_their_old_runs_back_during_the_adjustment():
    t = Table(0, 32, chunk_size=8, init_dim=8, optimizer="chunk_adagrad", init_scale=SCALE, seed=2)
    ids = np.arange(60_000, dtype=np.int64) * 7
    t.touch(ids)
    before = t.memory()
    t.resize(ids, np.full(len(ids), 16, np.int64), zero_init=False)   # every row moves to a 2-chunk run
    after = t.memory()
    np.testing.assert_array_equal(t.get_rows(ids[::97]), init_rows(ids[::97], 32, seed=2, scale=SCALE) * ([1] * 16 + [0] * 16))
    grown = after["values"] + after["optimizer_state"] + after["importance"]
    assert grown == 2 * (before["values"] + before["optimizer_state"] + before["importance"])
    # holding every old run to the end would peak at 1.5x the grown chunks; an eighth of the pool at most
    assert after["peak_total"] - after["index"] - after["row_records"] <= 1.2 * grown


def test_a_small_bounded_table_survives_many_adjustments():
    # its pool never has a slab's worth free; freed runs of the wrong lengths used to fill it until a
    # growing row found no room (after ~440 resizes here)
    rng = np.random.default_rng(0)
    t = Table(5, 32, chunk_size=8, init_dim=8, optimizer="chunk_adagrad", init_scale=SCALE)
    t.touch(np.arange(5, dtype=np.int64))
    for k in range(600):
        live, dims, _, _ = t.stats()
        want = np.clip(dims + 8 * rng.integers(-2, 3, len(dims)), 0, 32).astype(np.int64)
        t.resize(live, want)
        np.testing.assert_array_equal(t.dims(live), want)
        if k % 10 == 0:
            t.decay_importance(0.5)
    assert t.counters()["mapped_bytes"] <= 64 * 1024


def test_index_grows_by_incremental_rehash_and_stays_exact():
    rng = np.random.default_rng(1)
    t = Table(0, 8, chunk_size=8, optimizer="sgd", init_scale=SCALE)
    seen, rehashing, batch = np.zeros(0, np.int64), 0, 2000
    for _ in range(40):
        ids = rng.integers(0, 2**63 - 1, batch, dtype=np.int64)
        before = t.counters()["rehash_pending_slots"]
        t.lookup(ids, np.arange(batch, dtype=np.int64))
        after = t.counters()["rehash_pending_slots"]
        # the old index is copied a bounded amount per call (the call's inserts and ids), never all at once
        assert before == 0 or after >= before - (1024 + 2 * batch + 8 * batch) or after == 0
        rehashing += after > 0
        seen = np.concatenate([seen, ids])
        probe = seen[rng.integers(0, len(seen), 3000)]
        t.train(False)
        np.testing.assert_array_equal(t.lookup(probe, np.arange(len(probe), dtype=np.int64)),
                                      init_rows(probe, 8, 0, SCALE))
        t.train(True)
    assert rehashing >= 3                                 # calls ran while a rehash was under way
    assert t.live_rows == len(np.unique(seen))


@pytest.mark.parametrize("prune", [0.0, 0.5, 0.9, 1.0])
def test_index_costs_at_most_16_bytes_per_live_row_at_any_pruning_level(prune):
    rng = np.random.default_rng(2)
    rows = 60_000
    t = Table(0, 32, chunk_size=8, optimizer="adagrad")
    ids = rng.choice(2**62, rows, replace=False).astype(np.int64)
    t.touch(ids)
    keep = rng.random(rows) >= prune
    t.resize(ids, np.where(keep, 32, 0).astype(np.int64))
    t.decay_importance(1.0)                               # an adjustment: any rehash under way completes
    c = t.counters()
    assert c["live_rows"] == rows and c["rehash_pending_slots"] == 0
    assert c["index_bytes"] / rows <= 16
    assert c["value_bytes"] == keep.sum() * 128


def test_eviction_during_a_rehash_keeps_lookups_exact():
    t = Table(0, 8, chunk_size=8, optimizer="sgd", init_scale=SCALE, evict_after=1)
    a = np.arange(5000, dtype=np.int64) * 3
    t.touch(a)
    t.decay_importance(1.0)
    b = np.arange(5000, 40000, dtype=np.int64) * 3        # grows the index: a rehash starts
    t.lookup(b, np.array([0], np.int64))
    assert t.counters()["rehash_pending_slots"] > 0
    t.decay_importance(1.0)                               # evicts `a` (idle for 2 adjustments)
    t.train(False)
    np.testing.assert_array_equal(t.lookup(a[:100], np.arange(100, dtype=np.int64)), np.zeros((100, 8), np.float32))
    np.testing.assert_array_equal(t.lookup(b, np.arange(len(b), dtype=np.int64)), init_rows(b, 8, 0, SCALE))
    assert t.live_rows == len(b)


def _train_steps(t, rng, steps, start, pool):
    """Training lookups + Adagrad applies over a growing id space, with resizes and adjustments."""
    for s in range(start, start + steps):
        ids, offsets = _bags(rng, pool[: 500 + 300 * s], 64, 3)
        t.lookup(ids, offsets, "mean")
        t.apply_gradients(ids, offsets, rng.normal(size=(64, 32)).astype(np.float32), "mean")
        if s % 3 == 2:
            live, dims, _, _ = t.stats()
            t.resize(live[::4], ((live[::4] + s) % 5 * 8).astype(np.int64), zero_init=False)
            t.decay_importance(0.5)


@pytest.mark.parametrize("id_space", [2**62, 2**32, "mixed"])
def test_checkpoint_holds_the_id_map_and_training_resumes_bit_identically(tmp_path, id_space):
    rng = np.random.default_rng(3)
    if id_space == "mixed":  # 32-bit ids first; the table starts keeping high halves mid-training
        pool = np.concatenate([rng.choice(2**32, 9_000, replace=False), 2**32 + rng.choice(2**40, 1_000, replace=False)])
    else:
        pool = rng.choice(id_space, 10_000, replace=False)
    pool = pool.astype(np.int64)
    t = Table(0, 32, chunk_size=8, init_dim=16, optimizer="adagrad", lr=0.05, init_scale=SCALE, seed=9, evict_after=2)
    _train_steps(t, np.random.default_rng(4), 9, 0, pool)
    path = str(tmp_path / "t.ckpt")
    t.save(path)
    u = Table.load(path)
    for a, b in zip(t.stats(), u.stats()):                # same rows, same record order
        np.testing.assert_array_equal(a, b)
    # the same next steps on both: new rows, evictions and resizes included
    _train_steps(t, np.random.default_rng(5), 9, 9, pool)
    _train_steps(u, np.random.default_rng(5), 9, 9, pool)
    ids_t, ids_u = t.stats()[0], u.stats()[0]
    np.testing.assert_array_equal(ids_t, ids_u)
    for a, b in zip(t.get_rows(pool, with_state=True), u.get_rows(pool, with_state=True)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(t.stats(), u.stats()):
        np.testing.assert_array_equal(a, b)
    assert t.counters()["adjustments"] == u.counters()["adjustments"] == 6


def test_rows_seen_once_are_evicted_sooner_than_rows_seen_again(tmp_path):
    """`evict_single_after`: a row touched in one batch only goes after that many idle adjustments,
    a row touched again (a later batch, or twice in one) lives `evict_after`; a checkpoint keeps both."""
    t = Table(0, 16, chunk_size=8, optimizer="sgd", init_scale=SCALE, evict_after=3, evict_single_after=1)
    once, again, twice_in_a_batch = np.arange(100, 110), np.arange(200, 210), np.arange(300, 310)
    g = lambda ids: np.ones((len(ids), 16), np.float32)
    t.apply_gradients(once, np.arange(10), g(once))
    t.apply_gradients(again, np.arange(10), g(again))
    t.lookup(again, np.arange(10))                        # a lookup alone is not a second touch
    t.apply_gradients(np.repeat(twice_in_a_batch, 2), np.arange(10) * 2, g(twice_in_a_batch))
    t.decay_importance(0.5)
    t.apply_gradients(again, np.arange(10), g(again))    # touched in a second batch
    path = str(tmp_path / "t.ckpt")
    t.save(path)
    for table in (t, Table.load(path)):
        table.decay_importance(0.5)                      # `once` idle for 2 adjustments > 1: evicted
        assert sorted(table.stats()[0]) == list(again) + list(twice_in_a_batch)
        table.decay_importance(0.5)
        table.decay_importance(0.5)                      # idle 4 > 3: the twice-in-a-batch rows go
        assert sorted(table.stats()[0]) == list(again)
        table.decay_importance(0.5)
        assert table.live_rows == 0


def test_single_eviction_needs_a_longer_eviction():
    with pytest.raises(FiitedError, match="evict_single_after"):
        Table(0, 8, evict_single_after=2)
    with pytest.raises(FiitedError, match="must not exceed"):
        Table(0, 8, evict_after=2, evict_single_after=3)
