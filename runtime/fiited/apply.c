/* Sparse gradient apply: the bag gradients grad_out[nbags, D] are scattered to rows (duplicate ids
 * summed first, as torch's coalesced sparse grads), the optimiser (SGD / Adagrad) updates the row's
 * live chunks, and each chunk's squared-gradient sum and the row's access count feed importance.
 *
 * Each id is resolved once, with the lookup's group prefetching. Duplicates are found without a
 * sort or a side hash: under the write lock, the first visit of a slot parks the row's unique
 * number in its chunk count (as -(u+1)); the update pass puts the count back. */
#include "fiited.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define GROUP 32
#define PARALLEL_MIN_WORK (1 << 15)
#define PREFETCH_DISTANCE 4
#define ALWAYS_INLINE static inline __attribute__((always_inline))

typedef struct {
    fiited_slot *slot;
    int32_t nchunks, count;     /* the row's real chunk count; occurrences in the batch */
    int64_t bag;                /* bag of the first occurrence */
    float scale;                /* its pooling scale (1, or 1/bag size for mean) */
    float *sum;                 /* summed gradient when count > 1, else NULL */
} unique_row;

typedef struct {
    const fiited_table *t;
    const int64_t *ids, *offsets;
    int64_t n, nbags, mode;
    const float *grad_out;
    int32_t *unique_of;         /* position - offsets[0] -> unique row */
    unique_row *rows;
    int64_t nuniq;
} apply_args;

static float bag_scale(const apply_args *a, int64_t b, int64_t bag_end) {
    return a->mode == 1 ? 1.0f / (float)(bag_end - a->offsets[b]) : 1.0f;
}

/* Record position p (in bag b) as an occurrence of slot s: a new unique row or one more count. */
static inline void mark(apply_args *a, fiited_slot *s, int64_t p, int64_t b, float scale) {
    int64_t u;
    if (s->nchunks >= 0) {
        u = a->nuniq++;
        a->rows[u] = (unique_row){s, s->nchunks, 1, b, scale, NULL};
        s->nchunks = (int32_t)(-(u + 1));
    } else {
        u = -(int64_t)s->nchunks - 1;
        a->rows[u].count++;
    }
    a->unique_of[p - a->offsets[0]] = (int32_t)u;
}

/* Pass 1: resolve every id once (hash + prefetch a group's slots, then probe) and find uniques. */
static void find_unique_rows(apply_args *a) {
    const fiited_table *t = a->t;
    int64_t lo = a->offsets[0], b = 0, bag_end = fiited_bag_end(a->offsets, a->nbags, a->n, 0);
    float scale = bag_scale(a, 0, bag_end);
    uint64_t home[GROUP];
    for (int64_t g = lo; g < a->n; g += GROUP) {
        int64_t m = a->n - g < GROUP ? a->n - g : GROUP;
        for (int64_t i = 0; i < m; i++) {
            home[i] = fiited_hash_slot(t, a->ids[g + i]);
            fiited_prefetch_slot(t, home[i]);
        }
        for (int64_t i = 0; i < m; i++) {
            while (g + i >= bag_end) {
                b++;
                bag_end = fiited_bag_end(a->offsets, a->nbags, a->n, b);
                scale = bag_scale(a, b, bag_end);
            }
            mark(a, fiited_probe(t, a->ids[g + i], home[i]), g + i, b, scale);
        }
    }
}

/* Pass 2: rows seen more than once get their gradients summed (in position order) into *bufp.
 * Returns -1 when that buffer cannot be had. */
static int sum_duplicates(apply_args *a, float **bufp) {
    int64_t D = a->t->max_chunks * a->t->chunk_size, total = 0;
    for (int64_t u = 0; u < a->nuniq; u++)
        if (a->rows[u].count > 1) total += (int64_t)a->rows[u].nchunks * a->t->chunk_size;
    *bufp = NULL;
    if (total == 0) return 0;
    float *buf = *bufp = calloc((size_t)total, sizeof(float));
    if (!buf) return -1;
    for (int64_t u = 0, off = 0; u < a->nuniq; u++)
        if (a->rows[u].count > 1) { a->rows[u].sum = buf + off; off += (int64_t)a->rows[u].nchunks * a->t->chunk_size; }
    int64_t lo = a->offsets[0];
    for (int64_t b = 0; b < a->nbags; b++) {
        int64_t end = fiited_bag_end(a->offsets, a->nbags, a->n, b);
        float s = bag_scale(a, b, end);
        const float *src = a->grad_out + b * D;
        for (int64_t p = a->offsets[b]; p < end; p++) {
            const unique_row *r = &a->rows[a->unique_of[p - lo]];
            if (!r->sum) continue;
            int64_t w = (int64_t)r->nchunks * a->t->chunk_size;
            for (int64_t j = 0; j < w; j++) r->sum[j] += s * src[j];
        }
    }
    return 0;
}

/* One chunk's optimiser step from gradient scale * g[0:cs]; adds its squared gradient to importance. */
ALWAYS_INLINE void update_chunk(const fiited_table *t, int64_t c, const float *restrict g, float scale, int64_t cs) {
    float *restrict v = fiited_values(&t->pool, c);
    float sq = 0.f, lr = t->lr, eps = t->eps;
    if (t->optimizer == FIITED_OPT_ADAGRAD) {
        float *restrict acc = fiited_state(&t->pool, c);
        for (int64_t j = 0; j < cs; j++) {
            float gj = scale * g[j];
            acc[j] += gj * gj;
            v[j] -= lr * gj / (sqrtf(acc[j]) + eps);
            sq += gj * gj;
        }
    } else {
        for (int64_t j = 0; j < cs; j++) { float gj = scale * g[j]; v[j] -= lr * gj; sq += gj * gj; }
    }
    t->pool.importance[c] += sq;
}

static void prefetch_row(const fiited_table *t, const unique_row *r) {
    for (int32_t k = 0; k < r->nchunks; k++) {
        int64_t c = r->slot->chunk[k];
        __builtin_prefetch(fiited_values(&t->pool, c), 1);
        if (t->pool.state) __builtin_prefetch(fiited_state(&t->pool, c), 1);
        __builtin_prefetch(&t->pool.importance[c], 1);
    }
}

/* Pass 3 for one unique row: restore its chunk count, count its accesses, step its chunks. */
ALWAYS_INLINE void update_row(const apply_args *a, const unique_row *r, int64_t cs) {
    const fiited_table *t = a->t;
    fiited_slot *s = r->slot;
    s->nchunks = r->nchunks;
    s->freq += (float)r->count;
    const float *g = r->sum ? r->sum : a->grad_out + r->bag * t->max_chunks * cs;
    float scale = r->sum ? 1.0f : r->scale;
    for (int32_t k = 0; k < r->nchunks; k++) update_chunk(t, s->chunk[k], g + k * cs, scale, cs);
}

ALWAYS_INLINE void update_rows(const apply_args *a, int64_t cs, int threads) {
    #pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int64_t u = 0; u < a->nuniq; u++) {
        if (u + PREFETCH_DISTANCE < a->nuniq) prefetch_row(a->t, &a->rows[u + PREFETCH_DISTANCE]);
        update_row(a, &a->rows[u], cs);
    }
}

/* Constant chunk sizes let the compiler vectorise the optimiser step fully. */
static void update_rows_8(const apply_args *a, int threads) { update_rows(a, 8, threads); }
static void update_rows_16(const apply_args *a, int threads) { update_rows(a, 16, threads); }
static void update_rows_any(const apply_args *a, int threads) { update_rows(a, a->t->chunk_size, threads); }

int fiited_apply_gradients(void *h, const int64_t *ids, int64_t n, const int64_t *offsets, int64_t nbags,
                           int64_t mode, const float *grad_out) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    if (mode != 0 && mode != 1) { fiited_set_error("pooling mode must be 0 (sum) or 1 (mean)"); return FIITED_EINVAL; }
    int rc = fiited_check_ids(t, ids, n);
    if (!rc) rc = fiited_check_bags(offsets, nbags, n);
    if (rc) return rc;
    if (nbags == 0 || offsets[0] == n) return FIITED_OK;
    int64_t m = n - offsets[0];
    apply_args a = {t, ids, offsets, n, nbags, mode, grad_out, malloc((size_t)m * sizeof(int32_t)),
                    malloc((size_t)m * sizeof(unique_row)), 0};
    if (!a.unique_of || !a.rows) { free(a.unique_of); free(a.rows); fiited_set_error("out of memory"); return FIITED_ENOMEM; }
    pthread_rwlock_wrlock(&t->lock);
    find_unique_rows(&a);
    float *buf;
    int dup_failed = sum_duplicates(&a, &buf);
    if (dup_failed) for (int64_t u = 0; u < a.nuniq; u++) a.rows[u].slot->nchunks = a.rows[u].nchunks;
    else {
        int threads = a.nuniq * t->max_chunks * t->chunk_size >= PARALLEL_MIN_WORK ? omp_get_max_threads() : 1;
        if (t->chunk_size == 8) update_rows_8(&a, threads);
        else if (t->chunk_size == 16) update_rows_16(&a, threads);
        else update_rows_any(&a, threads);
    }
    pthread_rwlock_unlock(&t->lock);
    free(buf); free(a.unique_of); free(a.rows);
    if (dup_failed) { fiited_set_error("out of memory"); return FIITED_ENOMEM; }
    return FIITED_OK;
}
