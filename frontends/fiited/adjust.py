"""Per-row dimension adjustment from importance, every K steps, under a memory budget or a threshold.

A chunk's importance is its decayed sum of squared gradients (kept by the runtime per chunk) scaled
by the row's decayed access frequency. Scores are made non-increasing along a row (a row is a prefix
of chunks), then either the globally best chunks that fit the budget are kept (budget mode, the
budget annealed from full size over `anneal` adjustments so rows shrink chunk by chunk), or chunks
scoring above `threshold` times the mean are kept. A row may grow by up to `max_growth` chunks per adjustment
(a pruned row competes by access frequency); rows cut to zero chunks are pruned. Importance then decays,
so the dimensions follow the data when popularity drifts.
"""
from __future__ import annotations

import threading

import numpy as np

from girflow.runtime.fiited import Table


class DimensionAdjuster:
    def __init__(self, tables: list[Table], every: int = 100, budget_fraction: float | None = None,
                 threshold: float | None = None, decay: float = 0.5, anneal: int = 5,
                 freq_weight: float = 1.0, min_steps: int = 0, max_growth: int = 2, background: bool = False):
        if (budget_fraction is None) == (threshold is None):
            raise ValueError("give exactly one of budget_fraction or threshold")
        self.tables, self.every, self.decay, self.anneal = tables, every, decay, anneal
        self.budget_fraction, self.threshold, self.freq_weight = budget_fraction, threshold, freq_weight
        self.min_steps, self.max_growth, self.background = min_steps, max_growth, background
        self.adjustments = 0
        self._worker: threading.Thread | None = None
        self.error: BaseException | None = None

    def maybe_adjust(self, step: int) -> bool:
        """Adjust at every `every`-th step. With `background`, the adjustment runs in a second thread
        while training goes on (the runtime's per-table locks make that safe); a step that comes while
        the previous adjustment still runs skips."""
        if self.error:
            raise self.error
        if step < self.min_steps or step == 0 or step % self.every:
            return False
        if not self.background:
            self.adjust()
            return True
        if self._worker and self._worker.is_alive():
            return False
        self._worker = threading.Thread(target=self._adjust_catching, daemon=True)
        self._worker.start()
        return True

    def _adjust_catching(self) -> None:
        try:
            self.adjust()
        except BaseException as e:  # re-raised in the training thread
            self.error = e

    def wait(self) -> None:
        if self._worker:
            self._worker.join()
        if self.error:
            raise self.error

    def _scores(self):
        """(table, dims, chunk scores[rows, max_chunks]) with scores non-increasing along each row."""
        out = []
        for t in self.tables:
            dims, imp, freq = t.stats()
            nc = dims // t.chunk_size
            g = np.sqrt(imp, out=imp)  # chunks a row does not have hold importance 0
            live = int(nc.sum())
            g *= np.float32(live / float(g.sum()) if live and g.sum() > 0 else 1.0)  # table mean -> 1
            f_mean = float(freq.mean()) or 1.0
            row_w = (freq / np.float32(f_mean)) ** np.float32(self.freq_weight) if self.freq_weight != 1 else freq / np.float32(f_mean)
            # a missing chunk borrows its row's last chunk score; a pruned row has no gradient
            # signal, so it gets the table mean (1.0) and competes by access frequency alone
            fill = np.where(nc > 0, g[np.arange(len(nc)), np.maximum(nc - 1, 0)], np.float32(1.0))
            score = g
            for j in range(score.shape[1]):  # columns are few: per-column passes beat 2-D where/accumulate
                col = score[:, j]
                np.copyto(col, fill, where=nc <= j)
                col += np.float32(1e-3)
                col *= row_w
                if j:
                    np.minimum(col, score[:, j - 1], out=col)
                col[nc + self.max_growth <= j] = 0.0  # bounded growth per adjustment
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
