"""One training loop for FIITED and the baselines: same data order, model, dense optimiser and
embedding learning rate; reports AUC, log-loss, embedding bytes (counters and RSS) and step time.

Under an initialised torch.distributed process group of more than one rank, FIITED trains sharded
(`ShardedEmbeddingBagCollection`): every rank takes its block of each global batch, the loss is
each rank's share of the global batch mean and dense gradients are summed over the ranks, so the
ranks together take the steps one process would take on the same batches."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from girflow.runtime.fiited import resident_bytes

from .adjust import DimensionAdjuster
from .baselines import FullEmbeddingBags, PEPEmbeddingBags
from .dlrm import DLRM
from .embedding import FiitedEmbeddingBagCollection
from .metrics import auc, log_loss
from .sharded import ShardedEmbeddingBagCollection, batch_share


@dataclasses.dataclass
class TrainConfig:
    method: str = "fiited"            # fiited | full | pep
    embedding_dim: int = 32
    chunk_size: int = 8
    batch_size: int = 2048
    epochs: int = 1
    lr: float = 1e-3                  # dense (Adam)
    emb_lr: float = 0.05              # embeddings (Adagrad, same for every method)
    emb_optimizer: str = "adagrad"    # FIITED: adagrad (one accumulator per value, as the baselines) or
                                      # chunk_adagrad (one per chunk: FBGEMM's row-wise Adagrad per chunk)
    budget: float | None = 0.3        # FIITED memory budget as a fraction of full dimension
    threshold: float | None = None    # or FIITED importance threshold (x mean score)
    adjust_every: int | None = None   # steps between adjustments (None: annealing ends halfway through training)
    adjust_lag: int | None = None     # steps from an adjustment's snapshot to its effect (None: adjust_every // 5)
    anneal: int = 4
    decay: float = 0.5
    importance_scope: str = "global"  # FIITED: chunk scores against all tables' means, or each table's own ("table")
    score: str = "frequency"          # FIITED: chunk score: sqrt(importance) x frequency, or "saliency" (x values)
    background_adjust: bool = True   # FIITED adjustments computed in a second thread (same result)
    evict_after: int = 0              # FIITED: evict rows untouched for more than this many adjustments (0: never)
    evict_single_after: int = 0       # FIITED: the same for rows touched in one batch only (0: evict_after)
    init_dim: int | None = None       # FIITED: dimension a row starts at when first touched (None: full)
    pep_init: float = -8.0
    test_fraction: float = 0.1
    seed: int = 0
    progress: bool = True


def sharded() -> bool:
    """Whether training runs sharded: under an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def adjust_period(cfg: TrainConfig, n_train: int) -> int:
    """`cfg.adjust_every`, or by default the period at which the `anneal` adjustments that reach the
    budget end halfway through training, so the second half trains at the budget whatever the
    data size (a fixed period either never reaches the budget on small data, which then loses its
    cut all at once at the end, or adjusts rarely on large data)."""
    if cfg.adjust_every:
        return cfg.adjust_every
    steps = cfg.epochs * -(-n_train // cfg.batch_size)
    return max(1, steps // (2 * max(cfg.anneal, 1)))


def build_model(cfg: TrainConfig, table_sizes: list[int], num_dense: int = 13):
    """DLRM over `num_dense` dense features and one table per size (size 0: a FIITED table keyed
    by raw ids, which only FIITED can hold); FIITED tables are sharded over the ranks when
    `sharded()`."""
    torch.manual_seed(cfg.seed)
    if cfg.method != "fiited" and min(table_sizes) <= 0:
        raise ValueError(f"{cfg.method} needs a bounded size for every table (raw ids need FIITED)")
    if sharded() and cfg.method != "fiited":
        raise ValueError(f"only FIITED tables train sharded over processes, not {cfg.method}")
    with torch.random.fork_rng(devices=[]):  # the dense layers start the same whatever the embeddings draw
        emb = _embeddings(cfg, table_sizes)
    return DLRM(emb, num_dense, cfg.embedding_dim, len(table_sizes))


def _embeddings(cfg: TrainConfig, table_sizes: list[int]):
    if sharded():
        emb = ShardedEmbeddingBagCollection(table_sizes, cfg.embedding_dim, chunk_size=cfg.chunk_size, seed=cfg.seed,
                                            optimizer=cfg.emb_optimizer, lr=cfg.emb_lr, evict_after=cfg.evict_after,
                                           evict_single_after=cfg.evict_single_after,
                                           init_dim=cfg.init_dim)
    elif cfg.method == "fiited":
        # rows are created on first touch with the same initial values the full baseline starts
        # from (both draw row values from (table, id)), so the AUC difference measures dimension
        # adjustment, not initialisation noise
        emb = FiitedEmbeddingBagCollection(table_sizes, cfg.embedding_dim, chunk_size=cfg.chunk_size, seed=cfg.seed,
                                           optimizer=cfg.emb_optimizer, lr=cfg.emb_lr, evict_after=cfg.evict_after,
                                           evict_single_after=cfg.evict_single_after,
                                           init_dim=cfg.init_dim)
    elif cfg.method == "full":
        emb = FullEmbeddingBags(table_sizes, cfg.embedding_dim, seed=cfg.seed)
    elif cfg.method == "pep":
        emb = PEPEmbeddingBags(table_sizes, cfg.embedding_dim, threshold_init=cfg.pep_init, seed=cfg.seed)
    else:
        raise ValueError(f"unknown method {cfg.method!r} (fiited, full, pep)")
    return emb


def _share(n: int) -> slice:
    """This rank's block of a global batch of `n` samples (all of it in one process)."""
    return batch_share(n, dist.get_rank(), dist.get_world_size()) if sharded() else slice(0, n)


def _predict(model, dense, sparse, batch=8192) -> np.ndarray:
    """Scores in evaluation mode: ids FIITED never saw in training read as zeros and create no row.
    Sharded, every rank scores its block of each batch and all get every score."""
    out = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(dense), batch):
            mine = _share(min(batch, len(dense) - i))
            d, s = dense[i:i + batch][mine], sparse[i:i + batch][mine]
            out.append(torch.sigmoid(model(torch.from_numpy(np.array(d)), torch.from_numpy(np.array(s)))).numpy())
    model.train()
    if sharded():
        every: list[Any] = [None] * dist.get_world_size()  # each rank's list of output batches
        dist.all_gather_object(every, out, group=model.embeddings.exchange_group)
        out = [every[r][b] for b in range(len(out)) for r in range(len(every))]
    return np.concatenate(out)


def _sum_dense_grads(params, group) -> None:
    """Sum the dense gradients over the ranks (each rank's loss is its share of the global mean)."""
    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, group=group)
    at = 0
    for g in grads:
        g.copy_(flat[at:at + g.numel()].view_as(g))
        at += g.numel()


def train(cfg: TrainConfig, dense: np.ndarray, sparse: np.ndarray, label: np.ndarray, table_sizes: list[int],
          keep_model: bool = False) -> dict:
    """Train on the first (1 - test_fraction) of the samples in order (so drift happens during
    training) and evaluate on the rest. `keep_model`: the result's "model" is the trained model."""
    rss_before = rss_peak = resident_bytes()
    model = build_model(cfg, table_sizes, dense.shape[1])
    emb = model.embeddings
    dense_params = [p for n, p in model.named_parameters() if not n.startswith("embeddings.bags")]
    opts = [torch.optim.Adam(dense_params, lr=cfg.lr)]
    if cfg.method in ("full", "pep"):
        opts.append(torch.optim.Adagrad(emb.sparse_parameters(), lr=cfg.emb_lr))
    n_test = int(len(label) * cfg.test_fraction)
    n_train = len(label) - n_test
    adjuster = None
    if cfg.method == "fiited" and (cfg.budget is not None or cfg.threshold is not None) and cfg.budget != 1.0:
        adjuster = DimensionAdjuster(emb.tables, every=adjust_period(cfg, n_train), budget_fraction=cfg.budget,
                                     threshold=cfg.threshold if cfg.budget is None else None,
                                     decay=cfg.decay, anneal=cfg.anneal, background=cfg.background_adjust,
                                     lag=cfg.adjust_lag, group=emb.adjust_group if sharded() else None,
                                     start_fraction=1.0 if cfg.init_dim is None else cfg.init_dim / cfg.embedding_dim,
                                     scope=cfg.importance_scope, score=cfg.score)
    # at full dimension (no adjuster) the tables' clock still advances on the adjustment schedule,
    # so rows idle for more than `evict_after` adjustments are evicted
    clock_every = adjust_period(cfg, n_train) if cfg.method == "fiited" and adjuster is None and cfg.evict_after else 0
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")  # / global batch size: each rank's share of the mean
    show = cfg.progress and (not sharded() or dist.get_rank() == 0)
    step_times, step = [], 0
    total_steps = cfg.epochs * ((n_train + cfg.batch_size - 1) // cfg.batch_size)
    bar = tqdm(total=total_steps, desc=f"{cfg.method}", disable=not show, unit="step")
    train_start = time.perf_counter()
    for _ in range(cfg.epochs):
        for i in range(0, n_train, cfg.batch_size):
            # copies: the arrays may be read-only memory maps of the parsed data
            end = min(i + cfg.batch_size, n_train)
            mine = _share(end - i)
            d = torch.from_numpy(np.array(dense[i:end][mine]))
            s = torch.from_numpy(np.array(sparse[i:end][mine]))
            y = torch.from_numpy(np.array(label[i:end][mine]))
            t0 = time.perf_counter()
            for o in opts:
                o.zero_grad(set_to_none=True)
            loss = loss_fn(model(d, s), y) / (end - i)
            loss.backward()
            if sharded():
                _sum_dense_grads(dense_params, emb.exchange_group)
            for o in opts:
                o.step()
            step += 1
            if adjuster:
                adjuster.maybe_adjust(step)
            elif clock_every and step % clock_every == 0:
                for table in emb.tables:
                    table.decay_importance(cfg.decay)
            step_times.append(time.perf_counter() - t0)
            rss_peak = max(rss_peak, resident_bytes())  # after the step: what training holds between steps
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}", mem=f"{emb.value_bytes() / emb.full_value_bytes():.2f}")
    bar.close()
    if adjuster:
        adjuster.finish()  # the last adjustment takes effect (and the budget holds) before evaluation
    train_seconds = time.perf_counter() - train_start
    probs = _predict(model, dense[n_train:], sparse[n_train:])
    result = {
        "method": cfg.method,
        "budget": cfg.budget if cfg.method == "fiited" else None,
        "seed": cfg.seed,
        "pep_init": cfg.pep_init if cfg.method == "pep" else None,
        "auc": auc(label[n_train:], probs),
        "logloss": log_loss(label[n_train:], probs),
        "embedding_bytes": emb.value_bytes(),
        "full_embedding_bytes": emb.full_value_bytes(),
        "memory_fraction": emb.value_bytes() / emb.full_value_bytes(),
        # mean, so the periodic dimension adjustments are included in FIITED's step time
        "step_time_ms": 1000 * float(np.mean(step_times[5:] if len(step_times) > 10 else step_times)),
        "rss_growth_bytes": (rss_end := resident_bytes()) - rss_before,
        "rss_peak_growth_bytes": max(rss_peak, rss_end) - rss_before,  # sampled after every step and at the end
        "train_samples": n_train, "test_samples": n_test,
        "processes": dist.get_world_size() if sharded() else 1,
        "train_samples_per_s": cfg.epochs * n_train / train_seconds,
    }
    if sharded():
        sent = torch.tensor([emb.bytes_sent], dtype=torch.int64)
        dist.all_reduce(sent, group=emb.exchange_group)
        result["bytes_moved_per_step"] = int(sent.item()) / max(step, 1)  # over all ranks, to other ranks
    mem = emb.memory()
    result.update(memory=mem, training_memory_bytes=mem["total"], training_memory_peak_bytes=mem["peak_total"],
                  baseline_training_memory_bytes=2 * emb.full_value_bytes())  # nn.EmbeddingBag values + Adagrad state
    if cfg.method == "fiited":
        c = emb.counters()
        result["adjustments"] = adjuster.adjustments if adjuster else 0
        # the same live rows at full dimension: what dimension adjustment alone saved
        result["live_full_embedding_bytes"] = c["live_rows"] * cfg.embedding_dim * 4
        result.update(runtime_chunk_bytes=c["chunk_bytes"], runtime_mapped_bytes=c["mapped_bytes"],
                      runtime_index_bytes=c["index_bytes"], live_rows=c["live_rows"])
    if keep_model:
        result["model"] = model
    return result
