"""One training loop for FIITED and the baselines: same data order, model, dense optimiser and
embedding learning rate; reports AUC, log-loss, embedding bytes (counters and RSS) and step time."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
from tqdm import tqdm

from girflow.runtime.fiited import resident_bytes

from .adjust import DimensionAdjuster
from .baselines import FullEmbeddingBags, PEPEmbeddingBags
from .dlrm import DLRM
from .embedding import FiitedEmbeddingBagCollection
from .metrics import auc, log_loss


@dataclasses.dataclass
class TrainConfig:
    method: str = "fiited"            # fiited | full | pep
    embedding_dim: int = 32
    chunk_size: int = 8
    batch_size: int = 2048
    epochs: int = 1
    lr: float = 1e-3                  # dense (Adam)
    emb_lr: float = 0.05              # embeddings (Adagrad, same for every method)
    budget: float | None = 0.3        # FIITED memory budget as a fraction of full dimension
    threshold: float | None = None    # or FIITED importance threshold (x mean score)
    adjust_every: int = 50
    adjust_lag: int | None = None     # steps from an adjustment's snapshot to its effect (None: adjust_every // 5)
    anneal: int = 4
    decay: float = 0.5
    background_adjust: bool = True   # FIITED adjustments computed in a second thread (same result)
    evict_after: int = 0              # FIITED: evict rows untouched for more than this many adjustments (0: never)
    pep_init: float = -8.0
    test_fraction: float = 0.1
    seed: int = 0
    progress: bool = True


def build_model(cfg: TrainConfig, table_sizes: list[int], num_dense: int = 13):
    """DLRM over `num_dense` dense features and one table per size (size 0: a FIITED table keyed
    by raw ids, which only FIITED can hold)."""
    torch.manual_seed(cfg.seed)
    if cfg.method != "fiited" and min(table_sizes) <= 0:
        raise ValueError(f"{cfg.method} needs a bounded size for every table (raw ids need FIITED)")
    if cfg.method == "fiited":
        # rows are created on first touch with the same initial values the full baseline starts
        # from (both draw row values from (table, id)), so the AUC difference measures dimension
        # adjustment, not initialisation noise
        emb = FiitedEmbeddingBagCollection(table_sizes, cfg.embedding_dim, chunk_size=cfg.chunk_size, seed=cfg.seed,
                                           optimizer="adagrad", lr=cfg.emb_lr, evict_after=cfg.evict_after)
    elif cfg.method == "full":
        emb = FullEmbeddingBags(table_sizes, cfg.embedding_dim, seed=cfg.seed)
    elif cfg.method == "pep":
        emb = PEPEmbeddingBags(table_sizes, cfg.embedding_dim, threshold_init=cfg.pep_init, seed=cfg.seed)
    else:
        raise ValueError(f"unknown method {cfg.method!r} (fiited, full, pep)")
    return DLRM(emb, num_dense, cfg.embedding_dim, len(table_sizes))


def _predict(model, dense, sparse, batch=8192) -> np.ndarray:
    """Scores in evaluation mode: ids FIITED never saw in training read as zeros and create no row."""
    out = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(dense), batch):
            out.append(torch.sigmoid(model(torch.from_numpy(np.array(dense[i:i + batch])),
                                           torch.from_numpy(np.array(sparse[i:i + batch])))).numpy())
    model.train()
    return np.concatenate(out)


def train(cfg: TrainConfig, dense: np.ndarray, sparse: np.ndarray, label: np.ndarray, table_sizes: list[int]) -> dict:
    """Train on the first (1 - test_fraction) of the samples in order (so drift happens during
    training) and evaluate on the rest."""
    rss_before = resident_bytes()
    model = build_model(cfg, table_sizes, dense.shape[1])
    emb = model.embeddings
    dense_params = [p for n, p in model.named_parameters() if not n.startswith("embeddings.bags")]
    opts = [torch.optim.Adam(dense_params, lr=cfg.lr)]
    if cfg.method in ("full", "pep"):
        opts.append(torch.optim.Adagrad(emb.sparse_parameters(), lr=cfg.emb_lr))
    adjuster = None
    if cfg.method == "fiited" and (cfg.budget is not None or cfg.threshold is not None) and cfg.budget != 1.0:
        adjuster = DimensionAdjuster(emb.tables, every=cfg.adjust_every, budget_fraction=cfg.budget,
                                     threshold=cfg.threshold if cfg.budget is None else None,
                                     decay=cfg.decay, anneal=cfg.anneal, background=cfg.background_adjust,
                                     lag=cfg.adjust_lag)
    n_test = int(len(label) * cfg.test_fraction)
    n_train = len(label) - n_test
    loss_fn = torch.nn.BCEWithLogitsLoss()
    step_times, step = [], 0
    total_steps = cfg.epochs * ((n_train + cfg.batch_size - 1) // cfg.batch_size)
    bar = tqdm(total=total_steps, desc=f"{cfg.method}", disable=not cfg.progress, unit="step")
    for _ in range(cfg.epochs):
        for i in range(0, n_train, cfg.batch_size):
            # copies: the arrays may be read-only memory maps of the parsed data
            d = torch.from_numpy(np.array(dense[i:min(i + cfg.batch_size, n_train)]))
            s = torch.from_numpy(np.array(sparse[i:min(i + cfg.batch_size, n_train)]))
            y = torch.from_numpy(np.array(label[i:min(i + cfg.batch_size, n_train)]))
            t0 = time.perf_counter()
            for o in opts:
                o.zero_grad(set_to_none=True)
            loss = loss_fn(model(d, s), y)
            loss.backward()
            for o in opts:
                o.step()
            step += 1
            if adjuster:
                adjuster.maybe_adjust(step)
            step_times.append(time.perf_counter() - t0)
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}", mem=f"{emb.value_bytes() / emb.full_value_bytes():.2f}")
    bar.close()
    if adjuster:
        adjuster.finish()  # the last adjustment takes effect (and the budget holds) before evaluation
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
        "rss_growth_bytes": resident_bytes() - rss_before,
        "train_samples": n_train, "test_samples": n_test,
    }
    mem = emb.memory()
    result.update(memory=mem, training_memory_bytes=mem["total"],
                  baseline_training_memory_bytes=2 * emb.full_value_bytes())  # nn.EmbeddingBag values + Adagrad state
    if cfg.method == "fiited":
        c = emb.counters()
        result["adjustments"] = adjuster.adjustments if adjuster else 0
        result.update(runtime_chunk_bytes=c["chunk_bytes"], runtime_mapped_bytes=c["mapped_bytes"],
                      runtime_index_bytes=c["index_bytes"], live_rows=c["live_rows"])
    return result
