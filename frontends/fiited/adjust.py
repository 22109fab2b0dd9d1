"""Per-row dimension adjustment from importance, every K steps, under a memory budget or a threshold.

A chunk's importance is its decayed sum of squared gradients (kept by the runtime per chunk) scaled
by the row's decayed access frequency, both measured against their means over all tables (so the
budget goes to the features whose gradients say they matter; `scope="table"` measures each table
against its own means instead). Scores are made non-increasing along a row (a row is a prefix
of chunks), then either the globally best chunks that fit the budget are kept (budget mode, the
budget annealed from full size over `anneal` adjustments so rows shrink chunk by chunk), or chunks
scoring above `threshold` times the mean are kept. The budget is a fraction of the values the rows that exist (live rows) would take at full
dimension, for bounded tables and raw-id ones alike: it always binds, whatever share of the id
space the data touches (a fraction of a bounded table's whole id space would not bind on data that
touches few ids; the saving against nn.EmbeddingBag, which allocates every id, is reported apart).
A row may grow by up to `max_growth` chunks per adjustment
(a pruned row competes by access frequency); rows cut to zero chunks are pruned. Importance then decays,
so the dimensions follow the data when popularity drifts.
"""
from __future__ import annotations

import threading

import numpy as np

from girflow.runtime.fiited import Table

SCOPES = ("table", "global")
SCORES = ("frequency", "saliency")


class DimensionAdjuster:
    """Adjusts dimensions on a fixed step schedule, so the result depends on the steps alone.

    At every `every`-th step the training thread takes a snapshot (the runtime's chunk scores, read
    under the table lock) and decays importance; the new dimensions are computed from that snapshot
    alone, in a second thread with `background` (training goes on meanwhile) or at once without, and
    take effect `lag` steps later, where the training thread waits for them if they are not ready yet.
    `finish` applies the last one. Background on or off, on an idle or a loaded machine, the same steps
    give bit-identical tables; with a budget, training ends at or below it.

    A larger `lag` hides more of the computation behind training, a smaller one applies fresher
    dimensions. The default is a fifth of `every`: at 1M Criteo-like samples (`every` 50) the
    computation took about 5 steps' time, and a lag of all of `every` lost 0.0024 AUC against 10
    (stale dimensions, and the last adjustment landing with no training after it).
    """

    def __init__(self, tables: list[Table], every: int = 100, budget_fraction: float | None = None,
                 threshold: float | None = None, decay: float = 0.5, anneal: int = 5,
                 freq_weight: float = 1.0, min_steps: int = 0, max_growth: int = 2, background: bool = False,
                 lag: int | None = None, group=None, start_fraction: float = 1.0, scope: str = "global",
                 score: str = "frequency"):
        """`start_fraction`: the fraction of full dimension new rows start at (a table's `init_dim`
        over its `max_dim`); the budget anneals from it, or holds from the first adjustment when rows
        start within it (annealing from full size would let rows that start small grow far past the
        budget first). `group`: a torch.distributed process group over which `tables` are shards of one set of
        tables (`ShardedEmbeddingBagCollection.adjust_group`): the budget, the score threshold and
        the ties are then decided over all shards, by all-reduces of counts and score histograms,
        and every rank must adjust on the same steps. `scope`: "global" (default) scores every
        table's chunks against the means over all tables, so a table whose gradients are weak (a
        feature that carries little signal) loses dimension first and one whose rows are read more
        often keeps more; "table" against each table's own means (every table keeps a share of the
        budget by the shape of its scores, whatever its signal: the behaviour before session 8).
        `score`: "frequency" (default) scores a chunk by sqrt(importance) times its row's access
        frequency; "saliency" by sqrt(importance x the mean square of its values), the loss its
        removal costs to second order, frequency counting only for pruned rows (no values to
        measure): the squared gradients already sum over the reads, and a row read often whose
        values stay small (little to learn) no longer holds chunks a rarer row would use."""
        if (budget_fraction is None) == (threshold is None):
            raise ValueError("give exactly one of budget_fraction or threshold")
        if budget_fraction is not None and not 0.0 <= budget_fraction <= 1.0:
            raise ValueError(f"budget_fraction must be in [0, 1], got {budget_fraction}")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        lag = max(1, every // 5) if lag is None else lag
        if not 1 <= lag <= every:
            raise ValueError(f"lag must be between 1 and every ({every}), got {lag}")
        self.tables, self.every, self.decay, self.anneal = tables, every, decay, anneal
        self.budget_fraction, self.threshold, self.freq_weight = budget_fraction, threshold, freq_weight
        self.min_steps, self.max_growth, self.background, self.lag = min_steps, max_growth, background, lag
        self.adjustments = 0      # snapshots taken (each becomes one applied adjustment)
        self.applied_fraction: float | None = None  # budget fraction of the last applied adjustment
        self._buffers: list | None = None  # score arrays reused across adjustments
        self._pending: tuple | None = None  # (snapshot, fraction, result box, worker thread or None)
        self._apply_at = 0        # the step at which the pending adjustment takes effect
        self.group = group
        self.start_fraction = start_fraction
        self.scope = scope
        self.saliency = score == "saliency"

    def maybe_adjust(self, step: int) -> bool:
        """Call after every training step. `lag` steps after a snapshot, apply it (waiting for its
        thread if it still runs); at every `every`-th step, snapshot the scores for the next one.
        Returns whether this step took a snapshot."""
        if self._pending is not None and step >= self._apply_at:
            self._apply_pending()
        if step < self.min_steps or step == 0 or step % self.every:
            return False
        self._apply_pending()
        self._start(self._next_fraction())
        self._apply_at = step + self.lag
        return True

    def adjust(self) -> None:
        """One whole adjustment now, in this thread (after applying any pending one)."""
        self._apply_pending()
        self._start(self._next_fraction(), background=False)
        self._apply_pending()

    def finish(self) -> None:
        """Apply the pending adjustment; with a budget whose annealing did not complete (too few
        scheduled steps), or rows created since the last snapshot that take the tables past the
        budget, one more adjustment at the full budget, so training ends within it."""
        self._apply_pending()
        if self.budget_fraction is None:
            return
        used, live_full = self._sum([sum(t.counters()["value_bytes"] for t in self.tables),
                                     sum(4 * t.live_rows * t.max_dim for t in self.tables)])
        if self.applied_fraction is None or self.applied_fraction > self.budget_fraction or \
                used > self.budget_fraction * live_full:
            self._start(self.budget_fraction, background=False)
            self._apply_pending()
        # against the rows that exist now: when no final adjustment ran, rows created since the last
        # snapshot (at the starting dimension, within the budget) count on both sides
        used, live_full = self._sum([sum(t.counters()["value_bytes"] for t in self.tables),
                                     sum(4 * t.live_rows * t.max_dim for t in self.tables)])
        allowed = self.budget_fraction * live_full
        if used > allowed:
            raise RuntimeError(f"dimension adjustment ended above its budget: {used} > {allowed:.0f} value bytes")

    def _next_fraction(self) -> float | None:
        """The budget of the next adjustment: annealed from the start fraction over `anneal` adjustments."""
        if self.budget_fraction is None:
            return None
        progress = (self.adjustments + 1) / max(self.anneal, 1)
        start = self.start_fraction
        if progress >= 1 or start <= self.budget_fraction:
            return self.budget_fraction
        return start - (start - self.budget_fraction) * progress

    def _start(self, fraction: float | None, background: bool | None = None) -> None:
        """Snapshot in the calling (training) thread, then compute from the snapshot alone."""
        self.adjustments += 1
        # decay (which evicts idle rows) first: the budget is a share of the rows that stay; the
        # scores are ratios to the table's means, which a uniform decay leaves unchanged
        for t in self.tables:
            t.decay_importance(self.decay)
        totals, fills = self._score_totals()
        self._buffers = [t.chunk_scores(self.freq_weight, 1e-3, self.max_growth, out=b, totals=tot, pruned_fill=f,
                                       saliency=self.saliency)
                         for t, b, tot, f in zip(self.tables, self._buffers or [None] * len(self.tables), totals,
                                                 fills)]
        # the live rows of each table (ids, dims, scores)
        scored = [(t, dims, s) for t, (_, dims, s) in zip(self.tables, self._buffers)]
        self._ids = [ids for ids, _, _ in self._buffers]
        box: dict = {}
        if self.background if background is None else background:
            worker = threading.Thread(target=self._compute_into, args=(scored, fraction, box), daemon=True)
            worker.start()
        else:
            worker = None
            self._compute_into(scored, fraction, box)
        self._pending = (scored, fraction, box, worker)

    def _score_totals(self) -> tuple[list, list[float]]:
        """Per table, the sums its chunks are scored against and the score its pruned rows borrow.
        Sharded, every shard scores against its whole table's sums; with the global scope every
        table against the sums over all tables, its pruned rows at its own mean on that scale."""
        if self.group is None and self.scope == "table":
            return [None] * len(self.tables), [0.0] * len(self.tables)
        per_table = np.stack([t.score_totals(self.saliency) for t in self.tables])
        if self.group is not None:
            per_table = self._sum(per_table)
        if self.scope == "table":
            return list(per_table), [0.0] * len(self.tables)
        common = per_table.sum(axis=0)
        mean = common[1] / common[0] if common[0] > 0 and common[1] > 0 else 1.0
        fills = [float(live and total / live / mean) for live, total in per_table[:, :2]]
        return [common] * len(self.tables), fills

    def _compute_into(self, scored, fraction, box: dict) -> None:
        try:
            box["kept"] = self._kept_chunks(scored, fraction)
        except BaseException as e:  # re-raised in the training thread
            box["error"] = e

    def _apply_pending(self) -> None:
        """Wait for the pending computation and resize the rows whose dimension changes."""
        if self._pending is None:
            return
        scored, fraction, box, worker = self._pending
        self._pending = None
        if worker is not None:
            worker.join()
        if "error" in box:
            raise box["error"]
        for (t, dims, _), ids, chunks in zip(scored, self._ids, box["kept"]):
            new_dims = chunks * t.chunk_size
            changed = np.nonzero(new_dims != dims)[0]
            if changed.size:  # rows evicted since the snapshot are skipped by the runtime
                t.resize(ids[changed], new_dims[changed].astype(np.int64), zero_init=True)
        self.applied_fraction = fraction

    def _sum(self, values) -> np.ndarray:
        """Element-wise sum of `values` over the shards (itself without a group)."""
        values = np.asarray(values)
        if self.group is None:
            return values
        import torch
        import torch.distributed as dist

        t = torch.from_numpy(np.ascontiguousarray(values).copy())
        dist.all_reduce(t, group=self.group)
        return t.numpy()

    def _gather(self, obj) -> list:
        """`obj` of every shard, in rank order ([obj] without a group)."""
        if self.group is None:
            return [obj]
        import torch.distributed as dist

        out = [None] * dist.get_world_size(self.group)
        dist.all_gather_object(out, obj, group=self.group)
        return out

    def _kept_chunks(self, scored, fraction: float | None) -> list[np.ndarray]:
        """Chunks each row keeps, from a snapshot of (table, dims, scores[max_chunks, rows]) alone."""
        if fraction is not None:
            thresholds = [self._budget_threshold(scored, fraction)] * len(scored)
        else:
            sums = self._sum([[float(s[s > 0].sum()), float((s > 0).sum())] for _, _, s in scored])
            threshold = self.threshold
            assert threshold is not None, "without a budget fraction the adjuster has a threshold (checked in __init__)"
            thresholds = [np.float32(threshold * (total / count if count else 1.0)) for total, count in sums]
        kept = [self._prefix_chunks(s, thr) for (_, _, s), thr in zip(scored, thresholds)]
        if fraction is not None and len({t.chunk_size for t, _, _ in scored}) == 1:
            self._fill_ties(scored, fraction, thresholds[0], kept)
        return kept

    @staticmethod
    def _prefix_chunks(score: np.ndarray, thr: np.float32) -> np.ndarray:
        """Chunks kept per row: the scores are non-increasing along a row, so those above `thr`
        form a prefix and counting them per column gives its length."""
        count = np.zeros(score.shape[1], np.int64)
        for col in score:
            count += col > thr
        return count

    def _fill_ties(self, scored, fraction: float, thr: np.float32, kept: list[np.ndarray]) -> None:
        """Budget left after the chunks above `thr` goes to chunks scoring exactly `thr`, table by
        table in id order (so each row still keeps a prefix, and the choice depends on the ids, not
        on where or in which order rows were created): ties are common (rows seen equally often,
        rows never seen) and dropping them all could leave much of the budget unused. `kept`
        (chunks per row above `thr`) grows in place."""
        if not np.isfinite(thr):
            return
        left = self._budget_chunks(scored, fraction, scored[0][0].chunk_size) - \
            int(self._sum([sum(int(k.sum()) for k in kept)])[0])
        if left <= 0:
            return
        tied = [(s == thr).sum(axis=0) for _, _, s in scored]                 # tied chunks per row
        rows = [np.nonzero(c)[0] for c in tied]
        mine = [(ids[r], c[r]) for ids, c, r in zip(self._ids, tied, rows)]
        shards = self._gather(mine)
        for t, (k, r, (my_ids, _)) in enumerate(zip(kept, rows, mine)):
            if left <= 0:
                return
            all_ids = np.concatenate([sh[t][0] for sh in shards])
            all_count = np.concatenate([sh[t][1] for sh in shards])
            order = np.argsort(all_ids, kind="stable")
            granted = np.repeat(all_ids[order], all_count[order])[:left]       # one entry per chunk
            left -= len(granted)
            ids, count = np.unique(granted, return_counts=True)
            at = np.minimum(np.searchsorted(ids, my_ids), max(len(ids) - 1, 0))
            hit = (ids[at] == my_ids) if len(ids) else np.zeros(len(my_ids), bool)
            np.add.at(k, r[hit], count[at[hit]])

    def _budget_chunks(self, scored, fraction: float, chunk: int) -> int:
        """The chunks the budget allows over all shards: `fraction` of the live rows at full dimension."""
        full = int(self._sum([sum(s.shape[1] * t.max_dim for t, _, s in scored)])[0])
        return int(fraction * full // chunk)

    def _budget_threshold(self, scored, fraction: float) -> np.float32:
        """The score a chunk must beat to be kept: the budget `fraction` of full size filled with the
        globally best chunks."""
        sizes = {t.chunk_size for t, _, _ in scored}
        if len(sizes) == 1:  # one chunk size: the (k+1)-th best score, found in linear time
            k = self._budget_chunks(scored, fraction, sizes.pop())
            total = int(self._sum([sum(s.size for _, _, s in scored)])[0])
            if k >= total:
                return np.float32(-1.0)
            if k <= 0:
                return np.float32(np.inf)
            return _kth_largest([s for _, _, s in scored], k + 1, self._sum)
        if self.group is not None:
            raise ValueError("sharded tables with different chunk sizes are not supported")
        all_scores = np.concatenate([s.ravel() for _, _, s in scored])
        all_sizes = np.concatenate([np.full(s.size, t.chunk_size) for t, _, s in scored])
        order = np.argsort(-all_scores, kind="stable")
        n_fit = int((np.cumsum(all_sizes[order]) <= self._budget_chunks(scored, fraction, 1)).sum())
        return np.float32(-1.0) if n_fit == all_scores.size else all_scores[order[n_fit]]


def _kth_largest(arrays: list[np.ndarray], k: int, reduce=lambda h: h) -> np.float32:
    """The k-th largest value over non-negative float32 arrays (over all shards: `reduce` sums a
    histogram over them), without sorting or gathering the scores: non-negative floats order as
    their bit patterns, so a histogram of the top 16 bits finds the bin holding it and a histogram
    of the low 16 bits of that bin's values finds the value, exactly (np.partition over ~10^7
    scores took 0.3 s)."""
    bits = [a.view(np.uint32).ravel() for a in arrays]
    hist = np.zeros(1 << 16, np.int64)
    for b in bits:
        hist += np.bincount(b >> 16, minlength=1 << 16)
    hist = reduce(hist)
    from_top = np.cumsum(hist[::-1])
    i = int(np.searchsorted(from_top, k))
    top_bin, above = (1 << 16) - 1 - i, int(from_top[i - 1]) if i else 0
    low = np.zeros(1 << 16, np.int64)
    for b in bits:
        low += np.bincount(b[(b >> 16) == top_bin] & 0xFFFF, minlength=1 << 16)
    low = reduce(low)
    j = int(np.searchsorted(np.cumsum(low[::-1]), k - above))      # rank inside the bin, largest first
    return np.array([(top_bin << 16) | ((1 << 16) - 1 - j)], np.uint32).view(np.float32)[0]
