"""Per-row dimension adjustment from importance, every K steps, under a memory budget or a threshold.

A chunk's importance is its decayed sum of squared gradients (kept by the runtime per chunk) scaled
by the row's decayed access frequency. Scores are made non-increasing along a row (a row is a prefix
of chunks), then either the globally best chunks that fit the budget are kept (budget mode, the
budget annealed from full size over `anneal` adjustments so rows shrink chunk by chunk), or chunks
scoring above `threshold` times the mean are kept. A row may grow by one chunk per adjustment when
its last chunk scores in the kept set; rows cut to zero chunks are pruned. Importance then decays,
so the dimensions follow the data when popularity drifts.
"""
from __future__ import annotations

import numpy as np

from girflow.runtime.fiited import Table


class DimensionAdjuster:
    def __init__(self, tables: list[Table], every: int = 100, budget_fraction: float | None = None,
                 threshold: float | None = None, decay: float = 0.5, anneal: int = 5,
                 freq_weight: float = 1.0, min_steps: int = 0):
        if (budget_fraction is None) == (threshold is None):
            raise ValueError("give exactly one of budget_fraction or threshold")
        self.tables, self.every, self.decay, self.anneal = tables, every, decay, anneal
        self.budget_fraction, self.threshold, self.freq_weight = budget_fraction, threshold, freq_weight
        self.min_steps = min_steps
        self.adjustments = 0

    def maybe_adjust(self, step: int) -> bool:
        if step < self.min_steps or step == 0 or step % self.every:
            return False
        self.adjust()
        return True

    def _scores(self):
        """(table, dims, chunk scores[rows, max_chunks]) with scores non-increasing along each row."""
        out = []
        for t in self.tables:
            dims, imp, freq = t.stats()
            nc = dims // t.chunk_size
            k = np.arange(imp.shape[1])[None, :]
            g = np.sqrt(np.maximum(imp, 0))
            g_mean = g[k < nc[:, None]].mean() if (k < nc[:, None]).any() else 1.0
            f_mean = freq.mean() or 1.0
            # a missing chunk borrows its row's last live chunk score (or, pruned, the row's frequency)
            last = np.take_along_axis(g, np.maximum(nc - 1, 0)[:, None], 1)[:, 0]
            g = np.where(k < nc[:, None], g, np.where(nc[:, None] > 0, last[:, None], 0.0))
            score = (g / (g_mean + 1e-30) + 1e-3) * (freq[:, None] / f_mean) ** self.freq_weight
            score = np.minimum.accumulate(score, axis=1)
            # a row grows by at most one chunk per adjustment
            score[k > nc[:, None]] = 0.0
            out.append((t, dims, score))
        return out

    def adjust(self) -> None:
        self.adjustments += 1
        scored = self._scores()
        if self.budget_fraction is not None:
            full = sum(t.num_rows * t.max_dim for t, _, _ in scored)
            frac = 1.0 - (1.0 - self.budget_fraction) * min(1.0, self.adjustments / max(self.anneal, 1))
            budget_floats = frac * full
            all_scores = np.concatenate([s.ravel() for _, _, s in scored])
            sizes = {t.chunk_size for t, _, _ in scored}
            if len(sizes) == 1:  # one chunk size: the k best chunks, found in linear time
                k = int(budget_floats // sizes.pop())
                keep_flat = np.zeros(all_scores.size, bool)
                if k >= all_scores.size:
                    keep_flat[:] = True
                elif k > 0:
                    keep_flat[np.argpartition(-all_scores, k - 1)[:k]] = True
            else:
                all_sizes = np.concatenate([np.full(s.size, t.chunk_size) for t, _, s in scored])
                order = np.argsort(-all_scores, kind="stable")
                fits = np.cumsum(all_sizes[order]) <= budget_floats
                keep_flat = np.zeros(all_scores.size, bool)
                keep_flat[order[fits]] = True
        else:
            means = [s[s > 0].mean() if (s > 0).any() else 1.0 for _, _, s in scored]
            keep_flat = np.concatenate([(s > self.threshold * m).ravel() for (_, _, s), m in zip(scored, means)])
        pos = 0
        for t, dims, s in scored:
            keep = keep_flat[pos:pos + s.size].reshape(s.shape)
            pos += s.size
            # non-increasing scores make `keep` a prefix, except ties; count the leading run
            new_chunks = np.cumprod(keep, axis=1).sum(axis=1)
            new_dims = new_chunks * t.chunk_size
            changed = np.nonzero(new_dims != dims)[0].astype(np.int64)
            if changed.size:
                t.resize(changed, new_dims[changed].astype(np.int64), zero_init=True)
            t.decay_importance(self.decay)
