/* Chunk scores for dimension adjustment, computed in two passes over the live rows in record
 * order (the Python form of the same arithmetic made many passes over millions of rows while
 * training waited). */
#include "fiited.h"
#include <math.h>

/* For the live rows i (record order, `capacity` >= live rows): ids[i], dims[i] = the row's
 * dimension, scores[j * rows + i] for chunk position j (rows = the live rows: a dense
 * [max_chunks, rows] array at the start of the capacity * max_chunks buffer). A chunk's score is sqrt(importance)
 * (or, with `saliency`, sqrt(importance x mean squared value), see chunk_base) scaled so the table's
 * live chunks average 1, plus `floor`, times (freq / mean freq)^freq_weight (with `saliency`, for
 * pruned rows only: they hold no values to measure).
 * A position the row lacks borrows the row's last chunk score (a pruned row: `pruned_fill`, or the
 * mean, 1, when it is not positive), so it can grow; scores are made non-increasing along the row (a row is a prefix of chunks), and
 * positions >= nchunks + max_growth score 0. *count = live rows (FIITED_ERANGE when > capacity).
 * `totals` (may be NULL: this table's own, from fiited_score_totals) are the four sums the means
 * come from; a table sharded over processes passes the sums over all its shards, so each shard
 * scores its rows as the whole table would; tables scored on one common scale pass the sums over all
 * of them, and then `pruned_fill` = the table's own mean on that scale (a pruned row of a table whose
 * gradients are weak regrows as that table's rows score, not as the average table's). */
/* A chunk's base score: sqrt(importance) or, with `saliency`, sqrt(importance x the mean square of
 * its values): the loss a chunk's removal costs to second order (optimal brain damage with the
 * squared gradients as the Fisher diagonal), so a chunk that learned little counts little however
 * often its row is read. */
static inline float chunk_base(const fiited_pool *p, int64_t c, int saliency) {
    float g = p->importance[c];
    if (saliency) {
        const float *v = fiited_values(p, c);
        float sq = 0.f;
        for (int32_t j = 0; j < p->chunk_size; j++) sq += v[j] * v[j];
        g *= sq / (float)p->chunk_size;
    }
    return sqrtf(g);
}

static void score_totals(const fiited_table *t, double out[4], int saliency) {
    const fiited_row *rows = t->rows;
    double live = 0, total = 0, fsum = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        if (rows[r].nchunks == FIITED_ROW_FREE) continue;
        live += rows[r].nchunks;
        fsum += rows[r].freq;
        for (int64_t k = 0; k < rows[r].nchunks; k++) total += chunk_base(&t->pool, rows[r].base + k, saliency);
    }
    out[0] = live, out[1] = total, out[2] = fsum, out[3] = (double)t->count;
}

/* out[4] = live chunks, sum of their base scores, sum of row frequencies, live rows. */
int fiited_score_totals(void *h, double *out, int64_t saliency) {
    fiited_table *t = h;
    if (!t || !out) { fiited_set_error("null table or output"); return FIITED_EINVAL; }
    pthread_rwlock_rdlock(&t->lock);
    score_totals(t, out, saliency != 0);
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

int fiited_chunk_scores(void *h, double freq_weight, double floor, int64_t max_growth, int64_t capacity,
                        float *scores, int64_t *dims, int64_t *ids, int64_t *count, const double *totals,
                        double pruned_fill, int64_t saliency) {
    fiited_table *t = h;
    if (!t || !scores || !dims || !ids || !count) { fiited_set_error("null table or output"); return FIITED_EINVAL; }
    if (max_growth < 0) { fiited_set_error("max_growth must be >= 0, got %lld", (long long)max_growth); return FIITED_EINVAL; }
    pthread_rwlock_rdlock(&t->lock);
    *count = t->count;
    if (t->count > capacity) {
        pthread_rwlock_unlock(&t->lock);
        fiited_set_error("the table has %lld rows, more than the %lld the outputs hold", (long long)t->count, (long long)capacity);
        return FIITED_ERANGE;
    }
    const fiited_row *rows = t->rows;
    int64_t M = t->max_chunks;
    double own[4];
    if (!totals) score_totals(t, own, saliency != 0), totals = own;
    double live = totals[0], total = totals[1], fsum = totals[2], nrows = totals[3];
    float scale = (float)(live > 0 && total > 0 ? live / total : 1.0);
    double f_mean = nrows > 0 ? fsum / nrows : 0.0;
    float inv_f = (float)(f_mean > 0 ? 1.0 / f_mean : 1.0), fl = (float)floor, fw = (float)freq_weight;
    float pf = pruned_fill > 0 ? (float)pruned_fill : 1.f;
    int64_t i = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        const fiited_row *row = &rows[r];
        if (row->nchunks == FIITED_ROW_FREE) continue;
        int64_t nc = row->nchunks;
        ids[i] = (int64_t)fiited_row_key(t, r);
        dims[i] = nc * t->chunk_size;
        float w = row->freq * inv_f;
        if (fw != 1.f) w = powf(w, fw);
        if (saliency && nc > 0) w = 1.f;  /* the row's chunks measure what it learned; only a pruned row needs its reads */
        float last = nc > 0 ? chunk_base(&t->pool, row->base + nc - 1, saliency != 0) * scale : pf, prev = INFINITY;
        for (int64_t j = 0; j < M; j++) {
            float g = j < nc - 1 ? chunk_base(&t->pool, row->base + j, saliency != 0) * scale : last;
            float v = j >= nc + max_growth ? 0.f : fminf((g + fl) * w, prev);
            scores[j * t->count + i] = prev = v;
        }
        i++;
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}
