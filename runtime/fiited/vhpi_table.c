/* VHPI table: a hash from row id to an entry listing the row's physical chunks; batched pooled
 * lookup, sparse gradient apply (SGD / Adagrad, state kept in the chunk), importance and resize. */
#include "fiited.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define mix64 fiited_mix64
static float next_uniform(uint64_t *s) {  /* in [-1, 1) */
    *s = mix64(*s);
    return (float)((*s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static int64_t state_floats(const fiited_table *t) {
    return t->optimizer == FIITED_OPT_ADAGRAD ? t->chunk_size : 0;
}

int64_t fiited_find_entry(const fiited_table *t, int64_t id) { return fiited_find_entry_inline(t, id); }
#define fiited_find_entry fiited_find_entry_inline

void fiited_hash_insert(fiited_table *t, int64_t id, int64_t entry) {
    uint64_t m = (uint64_t)t->hcap - 1, h = fiited_hash_slot(t, id);
    while (t->hkeys[h] >= 0) h = (h + 1) & m;
    t->hkeys[h] = id; t->hvals[h] = entry;
}

int fiited_set_row_chunks(fiited_table *t, int64_t e, int64_t nchunks, int zero_init) {
    int64_t *ch = t->entry_chunks + e * t->max_chunks;
    int64_t cur = t->entry_nchunks[e];
    size_t cbytes = (size_t)t->pool.chunk_floats * sizeof(float);
    while (cur > nchunks) {
        cur--;
        fiited_pool_give(&t->pool, ch[cur]);
        ch[cur] = -1;
        t->importance[e * t->max_chunks + cur] = 0.f;
    }
    while (cur < nchunks) {
        int64_t c = fiited_pool_take(&t->pool, e * t->max_chunks + cur);
        if (c < 0) { t->entry_nchunks[e] = (int32_t)cur; fiited_set_error("out of memory growing a row"); return FIITED_ENOMEM; }
        float *v = fiited_chunk(&t->pool, c);
        memset(v, 0, cbytes);
        if (!zero_init && t->init_scale != 0.f)
            for (int64_t j = 0; j < t->chunk_size; j++) v[j] = t->init_scale * next_uniform(&t->rng);
        ch[cur++] = c;
    }
    t->entry_nchunks[e] = (int32_t)cur;
    return FIITED_OK;
}

fiited_table *fiited_table_alloc(int64_t num_rows, int64_t max_chunks, int64_t chunk_size,
                                 int64_t optimizer, float lr, float eps, float init_scale, uint64_t seed) {
    fiited_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->num_rows = num_rows; t->max_chunks = max_chunks; t->chunk_size = chunk_size;
    t->optimizer = optimizer; t->lr = lr; t->eps = eps; t->init_scale = init_scale;
    t->rng = seed ^ 0x5DEECE66Dull;
    t->hcap = 16;
    while (t->hcap < 2 * num_rows) t->hcap *= 2;
    t->hkeys = malloc((size_t)t->hcap * sizeof(int64_t));
    t->hvals = malloc((size_t)t->hcap * sizeof(int64_t));
    t->entry_id = malloc((size_t)num_rows * sizeof(int64_t));
    t->entry_nchunks = calloc((size_t)num_rows, sizeof(int32_t));
    t->entry_chunks = malloc((size_t)(num_rows * max_chunks) * sizeof(int64_t));
    t->importance = calloc((size_t)(num_rows * max_chunks), sizeof(float));
    t->frequency = calloc((size_t)num_rows, sizeof(float));
    if (!t->hkeys || !t->hvals || !t->entry_id || !t->entry_nchunks || !t->entry_chunks ||
        !t->importance || !t->frequency) {
        free(t->hkeys); free(t->hvals); free(t->entry_id); free(t->entry_nchunks);
        free(t->entry_chunks); free(t->importance); free(t->frequency); free(t);
        return NULL;
    }
    memset(t->hkeys, 0xff, (size_t)t->hcap * sizeof(int64_t));
    memset(t->entry_chunks, 0xff, (size_t)(num_rows * max_chunks) * sizeof(int64_t));
    fiited_pool_init(&t->pool, (int32_t)(chunk_size + (optimizer == FIITED_OPT_ADAGRAD ? chunk_size : 0)), 1 << FIITED_SLAB_SHIFT);
    pthread_rwlock_init(&t->lock, NULL);
    return t;
}

/* Create a table of `num_rows` rows, each starting with `init_chunks` chunks of random values. */
void *fiited_table_create(int64_t num_rows, int64_t max_dim, int64_t chunk_size, int64_t init_dim,
                          int64_t optimizer, double lr, double eps, double init_scale, int64_t seed) {
    if (num_rows <= 0 || chunk_size <= 0 || max_dim <= 0 || max_dim % chunk_size || init_dim < 0 ||
        init_dim > max_dim || init_dim % chunk_size || (optimizer != FIITED_OPT_SGD && optimizer != FIITED_OPT_ADAGRAD)) {
        fiited_set_error("invalid table parameters (rows=%lld max_dim=%lld chunk=%lld init_dim=%lld optimizer=%lld):"
                         " dims must be positive multiples of the chunk size", (long long)num_rows,
                         (long long)max_dim, (long long)chunk_size, (long long)init_dim, (long long)optimizer);
        return NULL;
    }
    fiited_table *t = fiited_table_alloc(num_rows, max_dim / chunk_size, chunk_size, optimizer,
                                         (float)lr, (float)eps, (float)init_scale, (uint64_t)seed);
    if (!t) { fiited_set_error("out of memory creating a table of %lld rows", (long long)num_rows); return NULL; }
    for (int64_t id = 0; id < num_rows; id++) {
        int64_t e = t->nentries++;
        t->entry_id[e] = id;
        fiited_hash_insert(t, id, e);
        if (fiited_set_row_chunks(t, e, init_dim / chunk_size, 0)) return NULL;
    }
    return t;
}

void fiited_table_destroy(void *h) {
    fiited_table *t = h;
    if (!t) return;
    fiited_pool_free(&t->pool);
    free(t->hkeys); free(t->hvals); free(t->entry_id); free(t->entry_nchunks);
    free(t->entry_chunks); free(t->importance); free(t->frequency);
    pthread_rwlock_destroy(&t->lock);
    free(t);
}

static int check_ids(const fiited_table *t, const int64_t *ids, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->num_rows) {
            fiited_set_error("row id %lld at position %lld is out of range [0, %lld)", (long long)ids[i],
                             (long long)i, (long long)t->num_rows);
            return FIITED_ERANGE;
        }
    return FIITED_OK;
}

static int check_bags(const int64_t *offsets, int64_t nbags, int64_t n) {
    for (int64_t b = 0; b < nbags; b++) {
        int64_t lo = offsets[b], hi = b + 1 < nbags ? offsets[b + 1] : n;
        if (lo < 0 || hi > n || lo > hi) {
            fiited_set_error("offsets must be non-decreasing within [0, %lld]; bag %lld has [%lld, %lld)",
                             (long long)n, (long long)b, (long long)lo, (long long)hi);
            return FIITED_EINVAL;
        }
    }
    return FIITED_OK;
}

/* Add row `id`'s values into out[0:max_dim]; columns beyond the row's dimension contribute zero. */
static inline void add_row(const fiited_table *t, int64_t id, float *restrict out) {
    int64_t e = fiited_find_entry(t, id);
    if (e < 0) return;
    const int64_t *ch = t->entry_chunks + e * t->max_chunks;
    int64_t nc = t->entry_nchunks[e], cs = t->chunk_size;
    if (cs == 8) {  /* the common chunk size: fixed-width loops the compiler turns into one vector op */
        for (int64_t k = 0; k < nc; k++) {
            const float *restrict v = fiited_chunk(&t->pool, ch[k]);
            float *restrict o = out + k * 8;
            for (int j = 0; j < 8; j++) o[j] += v[j];
        }
        return;
    }
    for (int64_t k = 0; k < nc; k++) {
        const float *restrict v = fiited_chunk(&t->pool, ch[k]);
        float *restrict o = out + k * cs;
        for (int64_t j = 0; j < cs; j++) o[j] += v[j];
    }
}

/* Software prefetch in two stages ahead of use: the hash slot of ids[i + 8], then the entry and
 * first chunk of ids[i + 4] (whose slot is cached by then), hiding the VHPI indirections' misses. */
static inline void prefetch_ahead(const fiited_table *t, const int64_t *ids, int64_t n, int64_t i) {
    if (i + 8 < n) {
        uint64_t h = fiited_hash_slot(t, ids[i + 8]);
        __builtin_prefetch(&t->hkeys[h]);
        __builtin_prefetch(&t->hvals[h]);
    }
    if (i + 4 < n) {
        int64_t e = fiited_find_entry(t, ids[i + 4]);
        if (e >= 0) {
            __builtin_prefetch(&t->entry_nchunks[e]);
            __builtin_prefetch(&t->entry_chunks[e * t->max_chunks]);
        }
    }
    if (i + 2 < n) {
        int64_t e = fiited_find_entry(t, ids[i + 2]);
        if (e >= 0 && t->entry_nchunks[e] > 0)  /* a row's chunks are usually allocated together */
            __builtin_prefetch(fiited_chunk(&t->pool, t->entry_chunks[e * t->max_chunks]));
    }
}

/* Pooled lookup: out[b] = sum/mean of rows ids[offsets[b]:offsets[b+1]]; mode 0 = sum, 1 = mean. */
int fiited_lookup(void *h, const int64_t *ids, int64_t n, const int64_t *offsets, int64_t nbags,
                  int64_t mode, float *out) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    if (mode != 0 && mode != 1) { fiited_set_error("pooling mode must be 0 (sum) or 1 (mean), got %lld", (long long)mode); return FIITED_EINVAL; }
    int rc = check_ids(t, ids, n);
    if (!rc) rc = check_bags(offsets, nbags, n);
    if (rc) return rc;
    int64_t D = t->max_chunks * t->chunk_size;
    pthread_rwlock_rdlock(&t->lock);
    #pragma omp parallel for schedule(static) if (n * D > (1 << 20))
    for (int64_t b = 0; b < nbags; b++) {
        float *o = out + b * D;
        memset(o, 0, (size_t)D * sizeof(float));
        int64_t lo = offsets[b], hi = b + 1 < nbags ? offsets[b + 1] : n;
        for (int64_t i = lo; i < hi; i++) {
            prefetch_ahead(t, ids, hi, i);
            add_row(t, ids[i], o);
        }
        if (mode == 1 && hi > lo) {
            float s = 1.0f / (float)(hi - lo);
            for (int64_t j = 0; j < D; j++) o[j] *= s;
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

typedef struct { int64_t id, pos; } id_pos;
static int cmp_id_pos(const void *a, const void *b) {
    const id_pos *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Sparse gradient apply: the bag gradients grad_out[nbags, D] are scattered to rows (duplicates
 * summed first, as torch's coalesced sparse grads), the optimiser updates the row's live chunks,
 * and each chunk's squared-gradient sum and the row's access count feed its importance. */
int fiited_apply_gradients(void *h, const int64_t *ids, int64_t n, const int64_t *offsets, int64_t nbags,
                           int64_t mode, const float *grad_out) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    if (mode != 0 && mode != 1) { fiited_set_error("pooling mode must be 0 (sum) or 1 (mean)"); return FIITED_EINVAL; }
    int rc = check_ids(t, ids, n);
    if (!rc) rc = check_bags(offsets, nbags, n);
    if (rc) return rc;
    if (n == 0) return FIITED_OK;
    int64_t D = t->max_chunks * t->chunk_size, cs = t->chunk_size;
    id_pos *pairs = malloc((size_t)n * sizeof *pairs);
    float *scale = malloc((size_t)n * sizeof(float));
    int64_t *bag_of = malloc((size_t)n * sizeof(int64_t));
    if (!pairs || !scale || !bag_of) { free(pairs); free(scale); free(bag_of); fiited_set_error("out of memory"); return FIITED_ENOMEM; }
    for (int64_t b = 0; b < nbags; b++) {
        int64_t lo = offsets[b], hi = b + 1 < nbags ? offsets[b + 1] : n;
        for (int64_t i = lo; i < hi; i++) { bag_of[i] = b; scale[i] = mode == 1 ? 1.0f / (float)(hi - lo) : 1.0f; }
    }
    for (int64_t i = 0; i < n; i++) { pairs[i].id = ids[i]; pairs[i].pos = i; }
    qsort(pairs, (size_t)n, sizeof *pairs, cmp_id_pos);
    int64_t nuniq = 0;
    int64_t *starts = malloc((size_t)(n + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) if (i == 0 || pairs[i].id != pairs[i - 1].id) starts[nuniq++] = i;
    starts[nuniq] = n;
    pthread_rwlock_wrlock(&t->lock);
    #pragma omp parallel if (nuniq * D > (1 << 18))
    {
        float *g = malloc((size_t)D * sizeof(float));
        #pragma omp for schedule(dynamic, 64)
        for (int64_t u = 0; u < nuniq; u++) {
            int64_t id = pairs[starts[u]].id;
            int64_t e = fiited_find_entry(t, id);
            if (e < 0) continue;
            t->frequency[e] += (float)(starts[u + 1] - starts[u]);
            int64_t nc = t->entry_nchunks[e];
            if (nc == 0) continue;
            int64_t width = nc * cs;
            memset(g, 0, (size_t)width * sizeof(float));
            for (int64_t i = starts[u]; i < starts[u + 1]; i++) {
                const float *src = grad_out + bag_of[pairs[i].pos] * D;
                float s = scale[pairs[i].pos];
                for (int64_t j = 0; j < width; j++) g[j] += s * src[j];
            }
            const int64_t *ch = t->entry_chunks + e * t->max_chunks;
            for (int64_t k = 0; k < nc; k++) {
                float *v = fiited_chunk(&t->pool, ch[k]);
                const float *gk = g + k * cs;
                float sq = 0.f;
                if (t->optimizer == FIITED_OPT_ADAGRAD) {
                    float *acc = v + cs;
                    for (int64_t j = 0; j < cs; j++) {
                        acc[j] += gk[j] * gk[j];
                        v[j] -= t->lr * gk[j] / (sqrtf(acc[j]) + t->eps);
                        sq += gk[j] * gk[j];
                    }
                } else {
                    for (int64_t j = 0; j < cs; j++) { v[j] -= t->lr * gk[j]; sq += gk[j] * gk[j]; }
                }
                t->importance[e * t->max_chunks + k] += sq;
            }
        }
        free(g);
    }
    pthread_rwlock_unlock(&t->lock);
    free(pairs); free(scale); free(bag_of); free(starts);
    return FIITED_OK;
}

/* Multiply every importance and frequency by `factor` (exponential decay between adjustments). */
int fiited_decay_importance(void *h, double factor) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_wrlock(&t->lock);
    float f = (float)factor;
    for (int64_t i = 0; i < t->nentries * t->max_chunks; i++) t->importance[i] *= f;
    for (int64_t i = 0; i < t->nentries; i++) t->frequency[i] *= f;
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Copy out per-row statistics: dims[num_rows], importance[num_rows, max_chunks], frequency[num_rows]. */
int fiited_read_stats(void *h, int64_t *dims, float *importance, float *frequency) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_rdlock(&t->lock);
    for (int64_t e = 0; e < t->nentries; e++) {
        int64_t id = t->entry_id[e];
        if (dims) dims[id] = t->entry_nchunks[e] * t->chunk_size;
        if (importance) memcpy(importance + id * t->max_chunks, t->importance + e * t->max_chunks, (size_t)t->max_chunks * sizeof(float));
        if (frequency) frequency[id] = t->frequency[e];
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Set the dimension of rows ids[i] to dims[i] (a multiple of the chunk size, 0 prunes the row).
 * Grown chunks start at zero (zero_init=1) or at random init values; compacts when free chunks
 * exceed `compact_fraction` of the pool. */
int fiited_resize(void *h, const int64_t *ids, const int64_t *dims, int64_t n, int64_t zero_init, double compact_fraction) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    int rc = check_ids(t, ids, n);
    if (rc) return rc;
    int64_t D = t->max_chunks * t->chunk_size;
    for (int64_t i = 0; i < n; i++)
        if (dims[i] < 0 || dims[i] > D || dims[i] % t->chunk_size) {
            fiited_set_error("dimension %lld for row %lld must be a multiple of %lld in [0, %lld]", (long long)dims[i],
                             (long long)ids[i], (long long)t->chunk_size, (long long)D);
            return FIITED_EINVAL;
        }
    pthread_rwlock_wrlock(&t->lock);
    /* shrink first so grown rows reuse freed chunks */
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (int64_t i = 0; i < n && !rc; i++) {
            int64_t e = fiited_find_entry(t, ids[i]), want = dims[i] / t->chunk_size;
            if ((pass == 0) == (want < t->entry_nchunks[e])) rc = fiited_set_row_chunks(t, e, want, (int)zero_init);
        }
    int64_t total = t->pool.nslabs * t->pool.slab_chunks;
    if (!rc && total > 0 && (double)t->pool.nfree > compact_fraction * (double)total && t->pool.nfree >= t->pool.slab_chunks)
        fiited_pool_compact(t);
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

/* Force compaction now (whole free slabs are unmapped). */
int fiited_compact(void *h) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_wrlock(&t->lock);
    fiited_pool_compact(t);
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Dense copies for tests and baselines: rows ids -> out[n, max_dim] (zeros beyond each row's dim). */
int fiited_get_rows(void *h, const int64_t *ids, int64_t n, float *out, float *state_out) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    int rc = check_ids(t, ids, n);
    if (rc) return rc;
    int64_t D = t->max_chunks * t->chunk_size, cs = t->chunk_size;
    pthread_rwlock_rdlock(&t->lock);
    for (int64_t i = 0; i < n; i++) {
        memset(out + i * D, 0, (size_t)D * sizeof(float));
        if (state_out) memset(state_out + i * D, 0, (size_t)D * sizeof(float));
        int64_t e = fiited_find_entry(t, ids[i]);
        for (int64_t k = 0; k < t->entry_nchunks[e]; k++) {
            const float *v = fiited_chunk(&t->pool, t->entry_chunks[e * t->max_chunks + k]);
            memcpy(out + i * D + k * cs, v, (size_t)cs * sizeof(float));
            if (state_out && state_floats(t)) memcpy(state_out + i * D + k * cs, v + cs, (size_t)cs * sizeof(float));
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Write values[n, max_dim] into rows ids (only the columns within each row's dimension). */
int fiited_set_rows(void *h, const int64_t *ids, int64_t n, const float *values) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    int rc = check_ids(t, ids, n);
    if (rc) return rc;
    int64_t D = t->max_chunks * t->chunk_size, cs = t->chunk_size;
    pthread_rwlock_wrlock(&t->lock);
    for (int64_t i = 0; i < n; i++) {
        int64_t e = fiited_find_entry(t, ids[i]);
        for (int64_t k = 0; k < t->entry_nchunks[e]; k++)
            memcpy(fiited_chunk(&t->pool, t->entry_chunks[e * t->max_chunks + k]), values + i * D + k * cs, (size_t)cs * sizeof(float));
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Counters: [0] live chunks, [1] value bytes in live chunks, [2] all live chunk bytes (values +
 * optimiser state), [3] mapped slab bytes, [4] index bytes (hash + entries), [5] free chunks,
 * [6] num_rows, [7] max_dim, [8] chunk_size. */
int fiited_counters(void *h, int64_t *out) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_rdlock(&t->lock);
    int64_t mapped = 0;
    for (int64_t s = 0; s < t->pool.nslabs; s++) if (t->pool.slabs[s]) mapped++;
    out[0] = t->pool.live;
    out[1] = t->pool.live * t->chunk_size * 4;
    out[2] = t->pool.live * t->pool.chunk_floats * 4;
    out[3] = mapped * t->pool.slab_chunks * t->pool.chunk_floats * 4;
    out[4] = t->hcap * 16 + t->num_rows * (8 + 4 + 4 + t->max_chunks * 12);
    out[5] = t->pool.nfree;
    out[6] = t->num_rows;
    out[7] = t->max_chunks * t->chunk_size;
    out[8] = t->chunk_size;
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

int64_t fiited_optimizer(void *h) { return ((fiited_table *)h)->optimizer; }
