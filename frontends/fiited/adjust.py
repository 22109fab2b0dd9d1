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
        self._buffers: list | None = None  # score arrays reused across adjustments
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
        """(table, dims, chunk scores[max_chunks, rows]), non-increasing along each row: computed by
        the runtime (see `Table.chunk_scores`) into arrays reused across adjustments."""
        self._buffers = [t.chunk_scores(self.freq_weight, 1e-3, self.max_growth, out=b)
                         for t, b in zip(self.tables, self._buffers or [None] * len(self.tables))]
        return [(t, *b) for t, b in zip(self.tables, self._buffers)]

    @staticmethod
    def _prefix_chunks(score: np.ndarray, thr: np.float32) -> np.ndarray:
        """Chunks kept per row: the scores are non-increasing along a row, so those above `thr`
        form a prefix and counting them per column gives its length."""
        count = np.zeros(score.shape[1], np.int64)
        for col in score:
            count += col > thr
        return count

    def adjust(self) -> None:
        self.adjustments += 1
        scored = self._scores()
        if self.budget_fraction is not None:
            thresholds = [self._budget_threshold(scored)] * len(scored)
        else:
            thresholds = [np.float32(self.threshold * (s[s > 0].mean() if (s > 0).any() else 1.0))
                          for _, _, s in scored]
        kept = [self._prefix_chunks(s, thr) for (_, _, s), thr in zip(scored, thresholds)]
        if self.budget_fraction is not None and len({t.chunk_size for t, _, _ in scored}) == 1:
            self._fill_ties(scored, thresholds[0], kept)
        for (t, dims, _), chunks in zip(scored, kept):
            new_dims = chunks * t.chunk_size
            changed = np.nonzero(new_dims != dims)[0].astype(np.int64)
            if changed.size:
                t.resize(changed, new_dims[changed].astype(np.int64), zero_init=True)
            t.decay_importance(self.decay)

    def _fill_ties(self, scored, thr: np.float32, kept: list[np.ndarray]) -> None:
        """Budget left after the chunks above `thr` goes to chunks scoring exactly `thr`, in row
        order (so each row still keeps a prefix): ties are common (rows seen equally often,
        rows never seen) and dropping them all could leave much of the budget unused. `kept`
        (chunks per row above `thr`) grows in place."""
        if not np.isfinite(thr):
            return
        left = self._budget_chunks(scored, scored[0][0].chunk_size) - sum(int(k.sum()) for k in kept)
        for (_, _, s), k in zip(scored, kept):
            if left <= 0:
                return
            rows = np.nonzero((s.T == thr).ravel())[0][:left] // s.shape[0]
            left -= len(rows)
            np.add.at(k, rows, 1)

    def _budget_chunks(self, scored, chunk: int) -> int:
        full = sum(t.num_rows * t.max_dim for t, _, _ in scored)
        frac = 1.0 - (1.0 - self.budget_fraction) * min(1.0, self.adjustments / max(self.anneal, 1))
        return int(frac * full // chunk)

    def _budget_threshold(self, scored) -> np.float32:
        """The score a chunk must beat to be kept: the budget (annealed from full size over `anneal`
        adjustments, so rows shrink chunk by chunk) filled with the globally best chunks."""
        sizes = {t.chunk_size for t, _, _ in scored}
        if len(sizes) == 1:  # one chunk size: the (k+1)-th best score, found in linear time
            k = self._budget_chunks(scored, sizes.pop())
            total = sum(s.size for _, _, s in scored)
            if k >= total:
                return np.float32(-1.0)
            if k <= 0:
                return np.float32(np.inf)
            return _kth_largest([s for _, _, s in scored], k + 1)
        all_scores = np.concatenate([s.ravel() for _, _, s in scored])
        all_sizes = np.concatenate([np.full(s.size, t.chunk_size) for t, _, s in scored])
        order = np.argsort(-all_scores, kind="stable")
        n_fit = int((np.cumsum(all_sizes[order]) <= self._budget_chunks(scored, 1)).sum())
        return np.float32(-1.0) if n_fit == all_scores.size else all_scores[order[n_fit]]


def _kth_largest(arrays: list[np.ndarray], k: int) -> np.float32:
    """The k-th largest value over non-negative float32 arrays, without sorting or copying them all:
    non-negative floats order as their bit patterns, so a histogram of the top 16 bits finds the bin
    holding it and only that bin is partitioned (np.partition over ~10^7 scores took 0.3 s)."""
    high = [(a.view(np.uint32) >> 16).ravel() for a in arrays]
    hist = np.zeros(1 << 16, np.int64)
    for h in high:
        hist += np.bincount(h, minlength=1 << 16)
    from_top = np.cumsum(hist[::-1])
    i = int(np.searchsorted(from_top, k))
    top_bin, above = (1 << 16) - 1 - i, int(from_top[i - 1]) if i else 0
    in_bin = np.concatenate([a.ravel()[h == top_bin] for a, h in zip(arrays, high)])
    r = k - above                          # rank inside the bin, largest first
    return np.partition(in_bin, in_bin.size - r)[in_bin.size - r]
