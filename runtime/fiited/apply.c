/* Sparse gradient apply: the bag gradients grad_out[nbags, D] are scattered to rows (duplicate ids
 * summed first, as torch's coalesced sparse grads), the optimiser (SGD / Adagrad) updates the row's
 * live chunks, and each chunk's squared-gradient sum and the row's access count feed importance.
 * An id without a row gets one first (as a training lookup would make it).
 *
 * Each id is resolved once, with group prefetching. Duplicates are found without a sort or a side
 * hash: under the write lock, the first visit of a record parks the row's unique number in its
 * first-chunk field (flagged in its chunk count); the update pass puts both back. */
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
    uint32_t row, base;         /* the row's record and its real first chunk */
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

/* Record position p (in bag b) as an occurrence of record r: a new unique row or one more count. */
static inline void mark(apply_args *a, fiited_row *row, uint32_t r, int64_t p, int64_t b, float scale) {
    int64_t u;
    if (!(row->nchunks & FIITED_ROW_PARKED)) {
        u = a->nuniq++;
        a->rows[u] = (unique_row){r, row->base, row->nchunks, 1, b, scale, NULL};
        row->base = (uint32_t)u;
        row->nchunks |= FIITED_ROW_PARKED;
    } else {
        u = row->base;
        a->rows[u].count++;
    }
    a->unique_of[p - a->offsets[0]] = (int32_t)u;
}

/* Put back every parked record (after a failure). */
static void unpark(apply_args *a) {
    fiited_table *t = (fiited_table *)a->t;
    for (int64_t u = 0; u < a->nuniq; u++) {
        t->rows[a->rows[u].row].base = a->rows[u].base;
        t->rows[a->rows[u].row].nchunks = (uint16_t)a->rows[u].nchunks;
    }
}

/* Pass 1: resolve every id once, creating missing rows, and find the unique rows. Groups of ids
 * go through three phases: hash and prefetch the home slots (a group ahead), find the slot whose
 * tag matches and prefetch its record, then confirm the key and mark. Candidates are kept as
 * record numbers: an insert may rehash the index, never move a record. */
static int find_unique_rows(apply_args *a) {
    fiited_table *t = (fiited_table *)a->t;
    int64_t lo = a->offsets[0], b = 0, bag_end = fiited_bag_end(a->offsets, a->nbags, a->n, 0);
    float scale = bag_scale(a, 0, bag_end);
    uint32_t cand[GROUP];
    for (int64_t i = lo; i < a->n && i < lo + GROUP; i++)
        __builtin_prefetch(&t->cur.slots[fiited_home(fiited_tag((uint64_t)a->ids[i]), t->cur.cap)]);
    for (int64_t g = lo; g < a->n; g += GROUP) {
        int64_t m = a->n - g < GROUP ? a->n - g : GROUP;
        for (int64_t i = g + GROUP; i < a->n && i < g + 2 * GROUP; i++)
            __builtin_prefetch(&t->cur.slots[fiited_home(fiited_tag((uint64_t)a->ids[i]), t->cur.cap)]);
        for (int64_t i = 0; i < m; i++) {
            uint32_t tag = fiited_tag((uint64_t)a->ids[g + i]);
            const fiited_slot *s = &t->cur.slots[fiited_home(tag, t->cur.cap)], *end = t->cur.slots + t->cur.cap;
            while (s->tag && s->tag != tag) if (++s == end) s = t->cur.slots;
            cand[i] = s->tag ? s->row : UINT32_MAX;
            if (s->tag) __builtin_prefetch(&t->rows[s->row]);
        }
        for (int64_t i = 0; i < m; i++) {
            while (g + i >= bag_end) {
                b++;
                bag_end = fiited_bag_end(a->offsets, a->nbags, a->n, b);
                scale = bag_scale(a, b, bag_end);
            }
            uint64_t id = (uint64_t)a->ids[g + i];
            int64_t r = cand[i] != UINT32_MAX && fiited_row_is(t->rows, t->key_hi, cand[i], id) ? (int64_t)cand[i] : fiited_find(t, id);
            if (r < 0 && ((r = fiited_insert(t, id)) < 0 || fiited_set_row_chunks(t, r, t->init_chunks, 0))) return -1;
            mark(a, &t->rows[r], (uint32_t)r, g + i, b, scale);
        }
    }
    return 0;
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
    if (t->pool.state_width == 1) {  /* chunk Adagrad: one accumulator, the mean squared gradient */
        for (int64_t j = 0; j < cs; j++) { float gj = scale * g[j]; sq += gj * gj; }
        float *acc = fiited_state(&t->pool, c), d = (*acc += sq / (float)cs, sqrtf(*acc) + eps);
        for (int64_t j = 0; j < cs; j++) v[j] -= lr * (scale * g[j]) / d;
    } else if (t->pool.state) {
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
    if (cs % 8 || t->pool.state_width == 1) { update_chunk_scalar(t, c, g, scale, cs); return; }
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

/* Prefetch for unique row u: its record (far ahead), or its run's first values, state and
 * importance (nearer; a run is contiguous). */
static inline void prefetch_record_of(const fiited_table *t, const unique_row *r) { __builtin_prefetch(&t->rows[r->row], 1); }
static inline void prefetch_chunks_of(const fiited_table *t, const unique_row *r) {
    if (r->nchunks == 0) return;
    __builtin_prefetch(fiited_values(&t->pool, r->base), 1);
    if (t->pool.state) __builtin_prefetch(fiited_state(&t->pool, r->base), 1);
    __builtin_prefetch(&t->pool.importance[r->base], 1);
}

/* Pass 3 for one unique row: restore its record, count its accesses, step its chunks. */
ALWAYS_INLINE void update_row(const apply_args *a, const unique_row *r, int64_t cs) {
    const fiited_table *t = a->t;
    fiited_row *row = &t->rows[r->row];
    row->base = r->base;
    row->nchunks = (uint16_t)r->nchunks;
    /* touched before (a row's frequency stays positive once counted) or twice in this batch */
    uint16_t again = (row->seen & FIITED_SEEN_AGAIN) || row->freq > 0.f || r->count > 1 ? FIITED_SEEN_AGAIN : 0;
    row->freq += (float)r->count;
    row->seen = fiited_epoch15(t->epoch) | again;
    const float *g = r->sum ? r->sum : a->grad_out + r->bag * t->max_chunks * cs;
    float scale = r->sum ? 1.0f : r->scale;
    for (int32_t k = 0; k < r->nchunks; k++) update_chunk(t, (int64_t)r->base + k, g + k * cs, scale, cs);
}

/* Unique rows [u0, u1), software-pipelined like the lookup. */
ALWAYS_INLINE void update_range(const apply_args *a, int64_t u0, int64_t u1, int64_t cs) {
    for (int64_t u = u0; u < u1; u++) {
        if (u + 2 * PREFETCH_DISTANCE < u1) prefetch_record_of(a->t, &a->rows[u + 2 * PREFETCH_DISTANCE]);
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
    fiited_migrate(t, 1024 + 2 * m);
    float *buf = NULL;
    int failed = find_unique_rows(&a) || sum_duplicates(&a, &buf);
    if (failed) unpark(&a);
    else update_rows(&a);
    fiited_note_peak(t);
    pthread_rwlock_unlock(&t->lock);
    free(buf); free(a.unique_of); free(a.rows);
    if (failed) { fiited_set_error("out of memory"); return FIITED_ENOMEM; }
    return FIITED_OK;
}
