/* Sparse gradient apply: the bag gradients grad_out[nbags, D] are scattered to rows (duplicate ids
 * summed first, as torch's coalesced sparse grads), the optimiser (SGD / Adagrad) updates the row's
 * live chunks, and each chunk's squared-gradient sum and the row's access count feed importance.
 *
 * Each id is resolved once, with the lookup's group prefetching. Duplicates are found without a
 * sort or a side hash: under the write lock, the first visit of a slot parks the row's unique
 * number in its chunk count (as -(u+1)); the update pass puts the count back. */
/* sqrt of a sum of squares never sets errno; without this GCC keeps a scalar errno check. */
#pragma GCC optimize("no-math-errno")
#include "fiited.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define GROUP 32
#define PARALLEL_MIN_WORK (1 << 17)
#define PREFETCH_DISTANCE 8
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
ALWAYS_INLINE void update_chunk_scalar(const fiited_table *t, int64_t c, const float *restrict g, float scale, int64_t cs) {
    float *restrict v = fiited_values(&t->pool, c);
    float sq = 0.f;
    const float lr = t->lr, eps = t->eps;
    if (t->pool.state) {
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

#ifdef __AVX__
#include <immintrin.h>
typedef float v8f __attribute__((vector_size(32), may_alias));
typedef float v8f_unaligned __attribute__((vector_size(32), may_alias, aligned(4)));

/* The same eight floats at a time (cs a multiple of 8; chunks are 32-byte aligned). Each lane
 * computes exactly what the scalar step does; only the importance sum is added in another order. */
ALWAYS_INLINE void update_chunk(const fiited_table *t, int64_t c, const float *restrict g, float scale, int64_t cs) {
    if (cs % 8) { update_chunk_scalar(t, c, g, scale, cs); return; }
    v8f *v = (v8f *)fiited_values(&t->pool, c), sq = {0};
    const v8f_unaligned *gv = (const v8f_unaligned *)g;
    const float lr = t->lr, eps = t->eps;
    if (t->pool.state) {
        v8f *acc = (v8f *)fiited_state(&t->pool, c);
        for (int64_t q = 0; q < cs / 8; q++) {
            v8f gq = scale * gv[q];
            acc[q] += gq * gq;
            v[q] -= lr * gq / ((v8f)_mm256_sqrt_ps((__m256)acc[q]) + eps);
            sq += gq * gq;
        }
    } else {
        for (int64_t q = 0; q < cs / 8; q++) { v8f gq = scale * gv[q]; v[q] -= lr * gq; sq += gq * gq; }
    }
    t->pool.importance[c] += ((sq[0] + sq[1]) + (sq[2] + sq[3])) + ((sq[4] + sq[5]) + (sq[6] + sq[7]));
}
#else
#define update_chunk update_chunk_scalar
#endif

/* Prefetch for unique row u: its slot (far ahead), or its first chunk's values, state and
 * importance (nearer; the rest of a row's chunks usually sit next to the first). */
static inline void prefetch_slot_of(const unique_row *r) { __builtin_prefetch(r->slot, 1); }
static inline void prefetch_chunks_of(const fiited_table *t, const unique_row *r) {
    int64_t c = r->slot->chunk[0];
    if (r->nchunks == 0) return;
    __builtin_prefetch(fiited_values(&t->pool, c), 1);
    if (t->pool.state) __builtin_prefetch(fiited_state(&t->pool, c), 1);
    __builtin_prefetch(&t->pool.importance[c], 1);
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

/* Unique rows [u0, u1), software-pipelined like the lookup. */
ALWAYS_INLINE void update_range(const apply_args *a, int64_t u0, int64_t u1, int64_t cs) {
    for (int64_t u = u0; u < u1; u++) {
        if (u + 2 * PREFETCH_DISTANCE < u1) prefetch_slot_of(&a->rows[u + 2 * PREFETCH_DISTANCE]);
        if (u + PREFETCH_DISTANCE < u1) prefetch_chunks_of(a->t, &a->rows[u + PREFETCH_DISTANCE]);
        update_row(a, &a->rows[u], cs);
    }
}

/* Constant chunk sizes let the compiler vectorise the optimiser step fully. */
static void update_range_8(const apply_args *a, int64_t u0, int64_t u1) { update_range(a, u0, u1, 8); }
static void update_range_16(const apply_args *a, int64_t u0, int64_t u1) { update_range(a, u0, u1, 16); }
static void update_range_any(const apply_args *a, int64_t u0, int64_t u1) { update_range(a, u0, u1, a->t->chunk_size); }

/* Blocks of unique rows handed out dynamically, as in the lookup. */
#define BLOCK_ROWS 512
static void update_rows(const apply_args *a) {
    void (*fn)(const apply_args *, int64_t, int64_t) =
        a->t->chunk_size == 8 ? update_range_8 : a->t->chunk_size == 16 ? update_range_16 : update_range_any;
    int threads = a->nuniq * a->t->max_chunks * a->t->chunk_size >= PARALLEL_MIN_WORK ? omp_get_max_threads() : 1;
    int64_t nblocks = threads > 1 ? (a->nuniq + BLOCK_ROWS - 1) / BLOCK_ROWS : 1;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && nblocks > 1)
    for (int64_t k = 0; k < nblocks; k++) {
        int64_t u1 = (k + 1) * BLOCK_ROWS;
        fn(a, k * BLOCK_ROWS, nblocks == 1 || u1 > a->nuniq ? a->nuniq : u1);
    }
}

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
    else update_rows(&a);
    pthread_rwlock_unlock(&t->lock);
    free(buf); free(a.unique_of); free(a.rows);
    if (dup_failed) { fiited_set_error("out of memory"); return FIITED_ENOMEM; }
    return FIITED_OK;
}
