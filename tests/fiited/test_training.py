"""FIITED PyTorch modules, dimension adjustment, data, metrics and the CLI (small sizes)."""
import numpy as np
import pytest
import torch

from girflow.frontends.fiited import DimensionAdjuster, FiitedEmbeddingBag, FiitedEmbeddingBagCollection
from girflow.frontends.fiited.data import NUM_SPARSE, generate, load
from girflow.frontends.fiited.metrics import auc, log_loss
from girflow.runtime.fiited import init_rows

SIZES = [500, 300] + [200] * 10 + [50] * 14


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_module_is_a_drop_in_for_embedding_bag_in_a_model(mode):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    emb = FiitedEmbeddingBag(100, 16, mode=mode, chunk_size=8, optimizer="sgd", lr=0.1)
    assert emb.table.live_rows == 0                      # rows appear as ids are looked up
    ref = torch.nn.EmbeddingBag(100, 16, mode=mode, sparse=True)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(init_rows(np.arange(100), 16, seed=0, scale=0.1)))
    head = torch.nn.Linear(16, 1)
    opt = torch.optim.SGD(list(ref.parameters()), lr=0.1)
    for _ in range(3):
        ids = torch.from_numpy(rng.integers(0, 100, 40))
        offsets = torch.tensor([0, 7, 7, 20, 33])
        y = torch.randn(5)
        out, expect = emb(ids, offsets), ref(ids, offsets)
        torch.testing.assert_close(out, expect, rtol=1e-5, atol=1e-6)
        ((head(out).squeeze(1) - y) ** 2).sum().backward()
        opt.zero_grad()
        ((head(expect).squeeze(1) - y) ** 2).sum().backward()
        opt.step()
    touched = np.sort(emb.table.stats()[0])
    torch.testing.assert_close(emb.weight[touched], ref.weight.detach()[touched], rtol=1e-4, atol=1e-5)
    assert not emb.weight[np.setdiff1d(np.arange(100), touched)].any()   # never looked up: no row
    ids2d = torch.from_numpy(rng.integers(0, 100, (6, 3)))
    torch.testing.assert_close(emb(ids2d), ref(ids2d), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError):
        emb(torch.tensor([1.0, 2.0]), torch.tensor([0]))


def test_budget_adjustment_hits_budget_and_keeps_important_rows():
    coll = FiitedEmbeddingBagCollection([1000, 1000], 32, chunk_size=8, optimizer="sgd", lr=0.01)
    for t in coll.tables:
        t.touch(np.arange(1000))                   # the budget is a fraction of the rows that exist
    adj = DimensionAdjuster(coll.tables, every=1, budget_fraction=0.1, anneal=3)
    rng = np.random.default_rng(1)
    for step in range(1, 7):
        ids = np.concatenate([rng.integers(0, 20, 500), rng.integers(0, 1000, 20)])  # rows 0..19 hot
        offsets = np.arange(len(ids))
        for t in coll.tables:
            t.apply_gradients(ids, offsets, rng.normal(size=(len(ids), 32)).astype(np.float32))
        adj.maybe_adjust(step)
    adj.finish()
    assert coll.value_bytes() <= 0.1 * coll.full_value_bytes()
    assert coll.value_bytes() >= 0.09 * coll.full_value_bytes()
    for t in coll.tables:
        dims = t.dims()
        assert (dims[:20] == 32).all()             # hot rows at full dimension
        assert (dims[20:] == 0).mean() > 0.8       # most cold rows pruned


def test_adjustment_follows_drift_and_threshold_mode():
    coll = FiitedEmbeddingBagCollection([400], 16, chunk_size=8, optimizer="sgd", lr=0.01)
    t = coll.tables[0]
    t.touch(np.arange(400))
    adj = DimensionAdjuster(coll.tables, every=1, threshold=0.5, decay=0.1)
    rng = np.random.default_rng(2)
    for step in range(1, 9):
        hot = np.arange(0, 10) if step <= 4 else np.arange(200, 210)
        ids = np.repeat(hot, 20)
        t.apply_gradients(ids, np.arange(len(ids)), rng.normal(size=(len(ids), 16)).astype(np.float32))
        adj.maybe_adjust(step)
        if step == 5:  # the adjustment scored at step 4 takes effect at step 5
            assert (t.dims()[:10] == 16).all() and (t.dims()[200:210] == 0).all()
    adj.finish()
    dims = t.dims()
    assert (dims[200:210] == 16).all()   # newly popular rows grew back, chunk by chunk
    assert (dims[:10] == 0).all()        # formerly popular rows decayed and were pruned


def test_auc_and_logloss_match_brute_force():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200), 1)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    brute = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    assert auc(y, s) == pytest.approx(brute)
    p = np.clip(s, 0.01, 0.99)
    assert log_loss(y, p) == pytest.approx(float(torch.nn.functional.binary_cross_entropy(
        torch.tensor(p), torch.tensor(y, dtype=torch.float64))))


def test_generated_data_is_criteo_format_and_loads(tmp_path):
    path = tmp_path / "d.tsv"
    generate(str(path), 3000, SIZES, seed=1)
    line = path.read_text().splitlines()[0].split("\t")
    assert len(line) == 1 + 13 + 26 and line[0] in ("0", "1")
    assert all(len(c) == 8 and int(c, 16) >= 0 for c in line[14:])
    dense, sparse, label = load(str(path), SIZES, cache=False)
    assert dense.shape == (3000, 13) and sparse.shape == (3000, NUM_SPARSE) and label.shape == (3000,)
    assert (sparse < np.array(SIZES)).all() and (sparse >= 0).all()
    assert 0.05 < label.mean() < 0.95
    # power law: the most frequent id of the largest table is far above uniform frequency
    counts = np.bincount(sparse[:, 0])
    assert counts.max() > 20 * len(sparse) / SIZES[0]
    bad = tmp_path / "bad.tsv"
    bad.write_text("1\t2\tzz\n")
    with pytest.raises(ValueError):
        load(str(bad), SIZES, cache=False)


def test_eviction_at_full_dimension_follows_the_adjustment_clock(tmp_path):
    """Budget 1.0 adjusts no dimension, but rows idle for more than `evict_after` adjustments still go."""
    from girflow.frontends.fiited.train import TrainConfig, train

    path = tmp_path / "d.tsv"
    generate(str(path), 3000, SIZES, seed=4)
    dense, sparse, label = load(str(path), SIZES, cache=False)
    runs = {e: train(TrainConfig(embedding_dim=16, batch_size=200, budget=1.0, evict_after=e[0], evict_single_after=e[1],
                                 adjust_every=2, progress=False), dense, sparse, label, SIZES)
            for e in ((0, 0), (1, 0), (3, 0), (3, 1))}
    train_ids = sparse[:runs[0, 0]["train_samples"]]
    assert runs[0, 0]["live_rows"] == sum(len(np.unique(train_ids[:, t])) for t in range(NUM_SPARSE))
    assert runs[1, 0]["live_rows"] < 0.8 * runs[0, 0]["live_rows"]
    assert runs[1, 0]["memory"]["total"] < runs[0, 0]["memory"]["total"]
    assert runs[1, 0]["memory_fraction"] > 0 and abs(runs[1, 0]["auc"] - runs[0, 0]["auc"]) < 0.05
    # ids seen in one batch only go after 1 adjustment, the others after 3: fewer rows than 3 for all,
    # more than 1 for all (every row touched in the last 2 periods stays under both rules)
    assert runs[1, 0]["live_rows"] < runs[3, 1]["live_rows"] < 0.95 * runs[3, 0]["live_rows"]


def test_parsed_data_is_cached_in_girflows_cache_folder_not_beside_the_data(tmp_path, monkeypatch):
    import os
    import stat

    monkeypatch.setenv("GIRFLOW_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "d.tsv"
    generate(str(path), 500, SIZES, seed=2)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)           # a read-only data folder
    try:
        first = load(str(path), SIZES)
        assert os.listdir(folder) == ["d.tsv"]
        cached = list((tmp_path / "cache" / "fiited").iterdir())
        assert len(cached) == 1 and (cached[0] / "meta.json").exists()   # one folder of memory-mapped columns
        again = load(str(path), SIZES)                     # served from the cache, same arrays
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, b)
    finally:
        folder.chmod(stat.S_IRWXU)
    generate(str(path), 300, SIZES, seed=3)                 # a changed file is parsed again
    assert load(str(path), SIZES)[0].shape == (300, 13)
    assert len(list((tmp_path / "cache" / "fiited").iterdir())) == 2


def test_loads_of_one_file_at_once_build_its_cache_once(tmp_path, monkeypatch):
    """Runs side by side (several seeds, `eval --isolate`) that load one new file at once take turns
    on its cache folder: one parses it, the others wait and read that copy (without the lock a later
    one deleted the first one's half-written files, and both failed)."""
    import threading
    import time

    from girflow.frontends.fiited import data as data_module

    monkeypatch.setenv("GIRFLOW_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "d.tsv"
    generate(str(path), 3000, SIZES, seed=4)
    parse, parses = data_module._stream_parse, []

    def slow_parse(*args):       # a parse that takes a while, so the loads overlap
        parses.append(1)
        time.sleep(0.3)
        return parse(*args)

    monkeypatch.setattr(data_module, "_stream_parse", slow_parse)
    results, errors = [None] * 3, []

    def run(i):
        try:
            results[i] = load(str(path), SIZES)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(parses) == 1
    expect = load(str(path), SIZES, cache=False)
    for got in results:
        for a, b in zip(got, expect):
            np.testing.assert_array_equal(a, b)


def test_cli_gen_train_eval_bench(tmp_path, capsys):
    from girflow.tools.cli import main

    data = tmp_path / "d.tsv"
    sizes = ",".join(map(str, SIZES))
    assert main(["fiited", "gen-data", str(data), "--samples", "6000", "--table-sizes", sizes]) == 0
    assert main(["fiited", "train", str(data), "--table-sizes", sizes, "--method", "all", "--dim", "16",
                 "--batch-size", "256", "--adjust-every", "5", "--budget", "0.3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "fiited budget=  0.3" in out and "AUC=" in out and "step time x" in out
    plot = tmp_path / "p.png"
    assert main(["fiited", "eval", str(data), "--table-sizes", sizes, "--dim", "16", "--batch-size", "512",
                 "--budgets", "0.2", "--pep-inits=-6", "--importance-scope", "table", "--no-progress",
                 "--plot", str(plot)]) == 0
    assert plot.stat().st_size > 1000
    out = capsys.readouterr().out
    assert "saved total" in out and "training memory values=" in out and "index=" in out
    assert main(["fiited", "bench", "--rows", "5000", "--bags", "256"]) == 0
    out = capsys.readouterr().out
    assert out.count("match True") == 6 and "bytes/row pruned" in out
    assert main(["fiited", "train", str(tmp_path / "none.tsv")]) == 2
    assert main(["fiited", "train", str(data), "--table-sizes", "1,2"]) == 2
    assert main(["fiited", "train", str(data), "--table-sizes", sizes, "--dim", "12", "--chunk", "8"]) == 2
    assert main(["fiited", "train", str(data), "--table-sizes", sizes, "--evict-after", "1",
                 "--evict-single-after", "2"]) == 2
    assert "--evict-single-after 2 needs --evict-after at least as large" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["fiited", "train", str(data), "--importance-scope", "tables"])
    assert exit_.value.code == 2 and "invalid choice: 'tables'" in capsys.readouterr().err


def test_collection_checkpoint_round_trip_after_adjustment(tmp_path):
    coll = FiitedEmbeddingBagCollection([300, 200], 16, chunk_size=8, lr=0.1)
    rng = np.random.default_rng(5)
    sparse = torch.from_numpy(rng.integers(0, 200, (64, 2)))
    coll(sparse).sum().backward()
    DimensionAdjuster(coll.tables, every=1, budget_fraction=0.5, anneal=1).adjust()
    coll.save_tables(str(tmp_path / "ck"))
    other = FiitedEmbeddingBagCollection([300, 200], 16, chunk_size=8, lr=0.1)
    other.load_tables(str(tmp_path / "ck"))
    torch.testing.assert_close(other(sparse), coll(sparse), rtol=0, atol=0)
    for a, b in zip(coll.tables, other.tables):
        np.testing.assert_array_equal(a.dims(), b.dims())
    with pytest.raises(ValueError, match="expected"):
        FiitedEmbeddingBagCollection([300, 201], 16, chunk_size=8).load_tables(str(tmp_path / "ck"))


def test_collection_at_full_dimension_trains_like_embedding_bags_with_adagrad():
    """One-id-per-feature batches through the collection's single autograd node, started from the
    baseline's values, follow nn.EmbeddingBag + torch's sparse Adagrad step for step."""
    from girflow.frontends.fiited.baselines import FullEmbeddingBags

    torch.manual_seed(0)
    sizes = [50, 7, 300]
    ref = FullEmbeddingBags(sizes, 16)
    coll = FiitedEmbeddingBagCollection(sizes, 16, weights=[b.weight.detach().numpy() for b in ref.bags],
                                        chunk_size=8, optimizer="adagrad", lr=0.05)
    opt = torch.optim.Adagrad(ref.sparse_parameters(), lr=0.05, eps=1e-10)
    rng = np.random.default_rng(5)
    w = torch.randn(16)
    for _ in range(4):
        sparse = torch.from_numpy(np.stack([rng.integers(0, n, 64) for n in sizes], axis=1))
        out, expect = coll(sparse), ref(sparse)
        torch.testing.assert_close(out, expect, rtol=1e-6, atol=1e-7)
        (out @ w).square().sum().backward()
        opt.zero_grad()
        (expect @ w).square().sum().backward()
        opt.step()
    for bag, b in zip(coll.bags, ref.bags):
        torch.testing.assert_close(bag.weight, b.weight.detach(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="one id per table"):
        coll(torch.zeros((4, 2), dtype=torch.int64))


def _reference_scores(table, freq_weight=1.0, floor=1e-3, max_growth=2, saliency=False):
    """The adjustment's chunk score written out in NumPy from the raw statistics (live rows); with
    `saliency`, importance times each chunk's mean squared value (frequency for pruned rows only)."""
    ids, dims, imp, freq = table.stats()
    nc = dims // table.chunk_size
    base = imp.astype(np.float64)
    if saliency:
        values = table.get_rows(ids).astype(np.float64).reshape(len(ids), -1, table.chunk_size)
        base = base * np.square(values).mean(axis=2)
    g = np.sqrt(base)
    g[np.arange(g.shape[1]) >= nc[:, None]] = 0.0
    live, total = nc.sum(), g.sum()
    g *= live / total if live and total > 0 else 1.0
    w = (freq / freq.mean()) ** freq_weight if freq.mean() > 0 else freq.astype(np.float64)
    if saliency:
        w = np.where(nc > 0, 1.0, w)
    fill = np.where(nc > 0, g[np.arange(len(nc)), np.maximum(nc - 1, 0)], 1.0)
    cols, prev = [], np.full(len(nc), np.inf)
    for j in range(imp.shape[1]):
        v = np.minimum((np.where(nc > j, g[:, j], fill) + floor) * w, prev)
        v[nc + max_growth <= j] = 0.0
        cols.append(v)
        prev = v
    return ids, dims, np.stack(cols)


@pytest.mark.parametrize("freq_weight,max_growth,saliency", [(1.0, 2, False), (0.5, 1, False), (2.0, 0, False),
                                                             (1.0, 2, True), (0.5, 1, True)])
def test_runtime_chunk_scores_match_numpy_reference(freq_weight, max_growth, saliency):
    coll = FiitedEmbeddingBagCollection([700], 32, chunk_size=8, optimizer="adagrad", lr=0.05)
    t = coll.tables[0]
    rng = np.random.default_rng(7)
    ids = np.minimum(rng.zipf(1.3, 3000) - 1, 699)
    t.apply_gradients(ids, np.arange(len(ids)), rng.normal(size=(len(ids), 32)).astype(np.float32))
    shrink = np.arange(0, 700, 3, dtype=np.int64)
    t.resize(shrink, (shrink % 5 * 8).astype(np.int64))  # dims 0..32, some pruned
    ids, dims, scores = t.chunk_scores(freq_weight, 1e-3, max_growth, saliency=saliency)
    ref_ids, ref_dims, ref = _reference_scores(t, freq_weight, 1e-3, max_growth, saliency)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(dims, ref_dims)
    np.testing.assert_allclose(scores, ref, rtol=2e-5, atol=1e-7)
    assert (np.diff(scores, axis=0) <= 0).all()


def test_kth_largest_matches_sorting():
    from girflow.frontends.fiited.adjust import _kth_largest

    rng = np.random.default_rng(9)
    arrays = [rng.exponential(size=(4, 1000)).astype(np.float32), np.zeros((2, 300), np.float32),
              np.round(rng.random((3, 77)), 2).astype(np.float32)]  # ties and zeros
    flat = np.sort(np.concatenate([a.ravel() for a in arrays]))[::-1]
    for k in (1, 2, 500, 4000, 4231, flat.size):
        assert _kth_largest(arrays, k) == flat[k - 1]


def test_eval_summary_is_mean_and_spread_over_seeds_against_the_same_seed_baseline():
    from girflow.frontends.fiited.report import summarize, summary_text

    def run(method, seed, auc, mem, values, budget=None, rss=100, rss_peak=200):
        parts = {"values": values, "optimizer_state": values, "importance": 1, "index": 2, "row_records": 3,
                 "free_chunks": 0}
        return {"method": method, "budget": budget, "pep_init": None, "seed": seed, "auc": auc,
                "embedding_bytes": values, "full_embedding_bytes": 1000, "memory": parts,
                "training_memory_bytes": mem, "baseline_training_memory_bytes": 2000, "rss_growth_bytes": rss,
                "rss_peak_growth_bytes": rss_peak}
    results = [run("full", 0, 0.80, 2000, 1000), run("full", 1, 0.70, 2000, 1000),
               run("fiited", 0, 0.799, 200, 50, 0.1, 20, 20), run("fiited", 1, 0.697, 300, 60, 0.1, 30, 60)]
    full, fiited = summarize(results)
    assert full["method"] == "full" and full["drop_mean"] == 0
    assert fiited["seeds"] == 2 and fiited["drop_mean"] == pytest.approx(0.002) and fiited["drop_max"] == pytest.approx(0.003)
    assert fiited["total_saved_mean"] == pytest.approx(1 - (0.1 + 0.15) / 2)
    assert fiited["values_saved_mean"] == pytest.approx(1 - 0.055) and fiited["rss_saved_mean"] == pytest.approx(0.75)
    assert fiited["rss_peak_saved_mean"] == pytest.approx(1 - (0.1 + 0.3) / 2)
    assert "fiited" in summary_text([full, fiited])
