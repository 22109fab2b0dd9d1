/* Chunk scores for dimension adjustment, computed in two passes over the live rows in record
 * order (the Python form of the same arithmetic made many passes over millions of rows while
 * training waited). */
#include "fiited.h"
#include <math.h>

/* For the live rows i (record order, `capacity` >= live rows): ids[i], dims[i] = the row's
 * dimension, scores[j * rows + i] for chunk position j (rows = the live rows: a dense
 * [max_chunks, rows] array at the start of the capacity * max_chunks buffer). A chunk's score is sqrt(importance)
 * scaled so the table's live chunks average 1, plus `floor`, times (freq / mean freq)^freq_weight.
 * A position the row lacks borrows the row's last chunk score (a pruned row: `pruned_fill`, or the
 * mean, 1, when it is not positive), so it can grow; scores are made non-increasing along the row (a row is a prefix of chunks), and
 * positions >= nchunks + max_growth score 0. *count = live rows (FIITED_ERANGE when > capacity).
 * `totals` (may be NULL: this table's own, from fiited_score_totals) are the four sums the means
 * come from; a table sharded over processes passes the sums over all its shards, so each shard
 * scores its rows as the whole table would; tables scored on one common scale pass the sums over all
 * of them, and then `pruned_fill` = the table's own mean on that scale (a pruned row of a table whose
 * gradients are weak regrows as that table's rows score, not as the average table's). */
static void score_totals(const fiited_table *t, double out[4]) {
    const float *imp = t->pool.importance;
    const fiited_row *rows = t->rows;
    double live = 0, total = 0, fsum = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        if (rows[r].nchunks == FIITED_ROW_FREE) continue;
        live += rows[r].nchunks;
        fsum += rows[r].freq;
        for (int64_t k = 0; k < rows[r].nchunks; k++) total += sqrtf(imp[rows[r].base + k]);
    }
    out[0] = live, out[1] = total, out[2] = fsum, out[3] = (double)t->count;
}

/* out[4] = live chunks, sum of sqrt(importance) over them, sum of row frequencies, live rows. */
int fiited_score_totals(void *h, double *out) {
    fiited_table *t = h;
    if (!t || !out) { fiited_set_error("null table or output"); return FIITED_EINVAL; }
    pthread_rwlock_rdlock(&t->lock);
    score_totals(t, out);
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

int fiited_chunk_scores(void *h, double freq_weight, double floor, int64_t max_growth, int64_t capacity,
                        float *scores, int64_t *dims, int64_t *ids, int64_t *count, const double *totals,
                        double pruned_fill) {
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
    const float *imp = t->pool.importance;
    const fiited_row *rows = t->rows;
    int64_t M = t->max_chunks;
    double own[4];
    if (!totals) score_totals(t, own), totals = own;
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
        const float *g0 = imp + row->base;
        ids[i] = (int64_t)fiited_row_key(t, r);
        dims[i] = nc * t->chunk_size;
        float w = row->freq * inv_f;
        if (fw != 1.f) w = powf(w, fw);
        float fill = nc > 0 ? sqrtf(g0[nc - 1]) * scale : pf, prev = INFINITY;
        for (int64_t j = 0; j < M; j++) {
            float g = j < nc ? sqrtf(g0[j]) * scale : fill;
            float v = j >= nc + max_growth ? 0.f : fminf((g + fl) * w, prev);
            scores[j * t->count + i] = prev = v;
        }
        i++;
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}
