/* Chunk scores for dimension adjustment, computed in two passes over the rows (the Python form of
 * the same arithmetic made many passes over millions of rows while training waited). */
#include "fiited.h"
#include <math.h>

/* The slot of row `id`, with the slot of a row a few ahead prefetched. Rows are visited in id
 * order: chunks were allocated in that order and the outputs are written in it, where hash order
 * would scatter both. */
static inline const fiited_slot *row_slot(const fiited_table *t, int64_t id) {
    if (id + 16 < t->num_rows) fiited_prefetch_slot(t, fiited_hash_slot(t, id + 16));
    return fiited_find(t, id);
}

/* scores[j * num_rows + id] for chunk position j of row id, dims[id] = the row's dimension.
 * A chunk's score is sqrt(importance) scaled so the table's live chunks average 1, plus `floor`,
 * times (freq / mean freq)^freq_weight. A position the row lacks borrows the row's last chunk score
 * (a pruned row: the table mean), so it can grow; scores are made non-increasing along the row
 * (a row is a prefix of chunks), and positions >= nchunks + max_growth score 0. */
int fiited_chunk_scores(void *h, double freq_weight, double floor, int64_t max_growth, float *scores, int64_t *dims) {
    fiited_table *t = h;
    if (!t || !scores || !dims) { fiited_set_error("null table or output"); return FIITED_EINVAL; }
    if (max_growth < 0) { fiited_set_error("max_growth must be >= 0, got %lld", (long long)max_growth); return FIITED_EINVAL; }
    pthread_rwlock_rdlock(&t->lock);
    const float *imp = t->pool.importance;
    int64_t R = t->num_rows, M = t->max_chunks;
    double live = 0, total = 0, fsum = 0;
    for (int64_t id = 0; id < R; id++) {
        const fiited_slot *s = row_slot(t, id);
        live += s->nchunks;
        fsum += s->freq;
        for (int32_t k = 0; k < s->nchunks; k++) total += sqrtf(imp[s->chunk[k]]);
    }
    float scale = (float)(live > 0 && total > 0 ? live / total : 1.0);
    double f_mean = fsum / (double)R;
    float inv_f = (float)(f_mean > 0 ? 1.0 / f_mean : 1.0), fl = (float)floor, fw = (float)freq_weight;
    for (int64_t id = 0; id < R; id++) {
        const fiited_slot *s = row_slot(t, id);
        int64_t nc = s->nchunks;
        dims[id] = nc * t->chunk_size;
        float w = s->freq * inv_f;
        if (fw != 1.f) w = powf(w, fw);
        float fill = nc > 0 ? sqrtf(imp[s->chunk[nc - 1]]) * scale : 1.f, prev = INFINITY;
        for (int64_t j = 0; j < M; j++) {
            float g = j < nc ? sqrtf(imp[s->chunk[j]]) * scale : fill;
            float v = j >= nc + max_growth ? 0.f : fminf((g + fl) * w, prev);
            scores[j * R + id] = prev = v;
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}
