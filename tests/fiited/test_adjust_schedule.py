"""FIITED dimension adjustment runs on a fixed step schedule: a slow adjustment thread, or none,
changes neither the embeddings, the memory nor the AUC; a budget always holds at the end."""
import time

import numpy as np
import pytest

from girflow.frontends.fiited import DimensionAdjuster
from girflow.frontends.fiited.data import generate, load
from girflow.frontends.fiited.train import TrainConfig, train

SIZES = [500, 300] + [200] * 10 + [50] * 14
FINISH, KEPT_CHUNKS = DimensionAdjuster.finish, DimensionAdjuster._kept_chunks


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("fiited") / "d.tsv"
    generate(str(path), 2500, SIZES, seed=3)
    return load(str(path), SIZES, cache=False)


def _run(data, monkeypatch, slow_s: float = 0.0, **cfg):
    """train() plus the final tables (dims and values of every row), read right after `finish`."""
    tables = []

    def finish_and_record(self):
        FINISH(self)
        tables.extend((t.dims(), t.get_rows()) for t in self.tables)

    def slow_kept_chunks(self, *args):  # a loaded machine: the adjustment thread lags many steps
        time.sleep(slow_s)
        return KEPT_CHUNKS(self, *args)

    monkeypatch.setattr(DimensionAdjuster, "finish", finish_and_record)
    monkeypatch.setattr(DimensionAdjuster, "_kept_chunks", slow_kept_chunks)
    base = dict(method="fiited", embedding_dim=16, batch_size=128, epochs=2, adjust_every=3, adjust_lag=2, anneal=3,
                budget=0.3, progress=False)
    dense, sparse, label = data
    result = train(TrainConfig(**{**base, **cfg}), dense, sparse, label, SIZES)
    return result, tables


def test_slow_or_no_background_thread_gives_bit_identical_model(data, monkeypatch):
    ref, ref_tables = _run(data, monkeypatch, background_adjust=False)
    steps = 2 * -(-int(len(data[2]) * 0.9) // 128)
    assert ref["adjustments"] == steps // 3
    assert ref["memory_fraction"] <= 0.3
    for label, kw in [("background", {}), ("slow background", {"slow_s": 0.15})]:
        got, got_tables = _run(data, monkeypatch, background_adjust=True, **kw)
        assert got["adjustments"] == ref["adjustments"], label
        assert (got["auc"], got["logloss"], got["embedding_bytes"]) == (ref["auc"], ref["logloss"], ref["embedding_bytes"]), label
        for (dims, rows), (ref_dims, ref_rows) in zip(got_tables, ref_tables, strict=True):
            np.testing.assert_array_equal(dims, ref_dims, err_msg=label)
            np.testing.assert_array_equal(rows, ref_rows, err_msg=label)


def test_budget_holds_when_training_is_too_short_to_anneal(data, monkeypatch):
    # 18 steps, an adjustment every 10: one scheduled adjustment of the 8 annealing steps
    result, tables = _run(data, monkeypatch, epochs=1, adjust_every=10, anneal=8, budget=0.2)
    assert result["adjustments"] == 2  # the scheduled one, then one at the full budget in `finish`
    # the budget is a fraction of the live rows at full dimension
    assert 0.15 <= result["embedding_bytes"] / result["live_full_embedding_bytes"] <= 0.2
    assert result["memory_fraction"] <= 0.2
    assert sum(int(d.sum()) for d, _ in tables) * 4 == result["embedding_bytes"]


def test_threshold_mode_and_bad_arguments():
    from girflow.frontends.fiited import FiitedEmbeddingBagCollection

    coll = FiitedEmbeddingBagCollection([50], 16, chunk_size=8)
    adj = DimensionAdjuster(coll.tables, every=2, threshold=0.5, lag=1)
    pending = []
    for step in range(5):
        assert adj.maybe_adjust(step) == (step in (2, 4))
        pending.append(adj._pending is not None)
    assert pending == [False, False, True, False, True]  # applied one step after each snapshot
    adj.finish()  # no budget to check; the pending adjustment applied
    assert adj.adjustments == 2 and adj._pending is None
    with pytest.raises(ValueError, match="budget_fraction must be in"):
        DimensionAdjuster(coll.tables, budget_fraction=1.5)
    with pytest.raises(ValueError, match="every must be"):
        DimensionAdjuster(coll.tables, every=0, budget_fraction=0.5)
    with pytest.raises(ValueError, match="lag must be"):
        DimensionAdjuster(coll.tables, every=4, lag=5, budget_fraction=0.5)


def test_default_schedule_reaches_the_budget_halfway_through_training():
    from girflow.frontends.fiited.train import adjust_period

    # 80 steps, 4 annealing adjustments: every 10 steps, so the budget holds from step 40 on
    assert adjust_period(TrainConfig(batch_size=100, anneal=4), 8000) == 10
    assert adjust_period(TrainConfig(batch_size=100, anneal=4, epochs=3), 8000) == 30
    assert adjust_period(TrainConfig(batch_size=100, anneal=4), 50) == 1     # a run too short to anneal
    assert adjust_period(TrainConfig(adjust_every=7), 8000) == 7


def test_budget_anneals_from_where_rows_start():
    from girflow.frontends.fiited import FiitedEmbeddingBagCollection

    tables = FiitedEmbeddingBagCollection([50], 32, chunk_size=8).tables

    def fractions(**kw):
        adj = DimensionAdjuster(tables, budget_fraction=0.5, anneal=4, **kw)
        out = []
        for _ in range(5):
            out.append(adj._next_fraction())
            adj.adjustments += 1
        return out

    assert fractions() == [0.875, 0.75, 0.625, 0.5, 0.5]                 # rows start at full dimension
    assert fractions(start_fraction=0.75) == [0.6875, 0.625, 0.5625, 0.5, 0.5]
    assert fractions(start_fraction=0.25) == [0.5] * 5                  # rows start within the budget


def test_rows_that_start_small_are_held_to_the_budget_from_the_first_adjustment(data, monkeypatch):
    apply = DimensionAdjuster._apply_pending
    used: list[float] = []   # values after each applied adjustment, as a fraction of the live rows at full size

    def apply_and_measure(self):
        pending = self._pending is not None
        apply(self)
        if pending:
            values = sum(t.counters()["value_bytes"] for t in self.tables)
            used.append(values / sum(4 * t.live_rows * t.max_dim for t in self.tables))

    monkeypatch.setattr(DimensionAdjuster, "_apply_pending", apply_and_measure)
    small, tables = _run(data, monkeypatch, background_adjust=False, evict_after=2, embedding_dim=32, init_dim=8)
    assert len(used) >= 3 and max(used) <= 0.3 + 1e-9         # the budget, not an anneal from full size
    assert any((d > 8).any() for d, _ in tables)              # important rows grew past init_dim
    used.clear()
    _run(data, monkeypatch, background_adjust=False, evict_after=2, embedding_dim=32)
    assert used[0] > 0.3                                       # rows created at full size anneal down


def test_rows_created_after_the_last_snapshot_do_not_fail_the_final_budget_check():
    # training ends several steps after the last snapshot; the rows it created meanwhile (at the
    # starting dimension, within the budget) used to be set against the snapshot's rows alone
    from girflow.runtime.fiited import Table

    t = Table(0, 32, chunk_size=8, init_dim=8, optimizer="chunk_adagrad", init_scale=0.05, evict_after=1)
    adj = DimensionAdjuster([t], every=4, budget_fraction=0.3, start_fraction=0.25, lag=1)
    rng = np.random.default_rng(0)
    for step in range(1, 19):                      # last snapshot at step 16, two steps of new rows after it
        ids = rng.integers(0, 10**6, 400).astype(np.int64)
        t.apply_gradients(ids, np.arange(len(ids), dtype=np.int64), rng.normal(size=(len(ids), 32)).astype(np.float32))
        adj.maybe_adjust(step)
    adj.finish()
    assert t.counters()["value_bytes"] <= 0.3 * 4 * 32 * t.live_rows


def _two_tables_one_weak():
    """Two tables with the same ids read equally often; the first's gradients 30x the second's."""
    from girflow.runtime.fiited import Table

    tables = [Table(0, 32, 8, optimizer="sgd", lr=0.0, seed=s) for s in (1, 2)]
    rng = np.random.default_rng(4)
    ids = np.tile(np.arange(100, dtype=np.int64), 3)
    for t, scale in zip(tables, (3.0, 0.1)):
        t.apply_gradients(ids, np.arange(len(ids)), (scale * rng.normal(size=(len(ids), 32))).astype(np.float32))
    return tables


def test_global_scope_cuts_the_table_whose_gradients_are_weak_first():
    kept = {}
    for scope in ("table", "global"):
        tables = _two_tables_one_weak()
        adj = DimensionAdjuster(tables, every=1, budget_fraction=0.5, anneal=1, scope=scope, max_growth=0)
        adj.adjust()
        kept[scope] = [int(t.dims(np.arange(100)).sum()) for t in tables]
        assert sum(kept[scope]) == 0.5 * 2 * 100 * 32          # the budget is shared, either way
    assert abs(kept["table"][0] - kept["table"][1]) <= 0.2 * 3200   # each table scored on its own: about even
    assert kept["global"] == [3200, 0]                          # one scale: the weak table gives it all up


def test_global_scope_pruned_rows_regrow_at_their_own_tables_mean():
    tables = _two_tables_one_weak()
    for t in tables:
        t.resize(np.arange(0, 100, 2, dtype=np.int64), np.zeros(50, np.int64))   # half the rows pruned
    adj = DimensionAdjuster(tables, every=1, budget_fraction=0.5, scope="global")
    totals, fills = adj._score_totals()
    own = [t.score_totals() for t in tables]
    np.testing.assert_allclose(totals[0], own[0] + own[1])
    means = [o[1] / o[0] for o in own]
    np.testing.assert_allclose(fills, [m / ((own[0][1] + own[1][1]) / (own[0][0] + own[1][0])) for m in means])
    assert fills[0] > 1 > fills[1]
    ids, dims, scores = tables[1].chunk_scores(1.0, 1e-3, 2, totals=totals[1], pruned_fill=fills[1])
    pruned = dims == 0
    assert pruned.any() and np.allclose(scores[0, pruned], (fills[1] + 1e-3), rtol=1e-5)  # read equally often: w = 1
    with pytest.raises(ValueError, match="scope must be one of"):
        DimensionAdjuster(tables, budget_fraction=0.5, scope="everything")


def test_saliency_keeps_the_chunks_whose_removal_costs_most():
    """Rows 0-49 are read 4x as often as rows 50-99, but their values stay near zero (nothing
    learned); rows 50-99 hold large values. Chunk saliency (importance x mean squared value, the
    loss of zeroing a chunk to second order) gives the budget to the rows that hold something;
    the frequency score to the rows read most."""
    from girflow.runtime.fiited import Table

    kept = {}
    for score in ("frequency", "saliency"):
        t = Table(0, 32, 8, optimizer="sgd", lr=0.0, seed=0)
        rng = np.random.default_rng(5)
        ids = np.concatenate([np.tile(np.arange(50), 4), np.arange(50, 100)]).astype(np.int64)
        t.apply_gradients(ids, np.arange(len(ids)), rng.normal(size=(len(ids), 32)).astype(np.float32))
        t.set_rows(np.arange(100), np.concatenate([np.full((50, 32), 1e-3), np.full((50, 32), 1.0)]).astype(np.float32))
        adj = DimensionAdjuster([t], every=1, budget_fraction=0.5, anneal=1, max_growth=0, score=score)
        adj.adjust()
        dims = t.dims(np.arange(100))
        kept[score] = (int(dims[:50].sum()), int(dims[50:].sum()))
        assert sum(kept[score]) == 0.5 * 100 * 32
    assert kept["frequency"] == (1600, 0)
    assert kept["saliency"] == (0, 1600)
    with pytest.raises(ValueError, match="score must be one of"):
        DimensionAdjuster([t], budget_fraction=0.5, score="loudest")
