/* Pooled lookup: out[b] = sum/mean of rows ids[offsets[b]:offsets[b+1]].
 *
 * Each id is resolved once, in a four-stage software pipeline: hash the id and prefetch its home
 * slot; later probe the slot and prefetch the row's record; later read the record's run (first
 * chunk, count) and prefetch the run; later still add the run. Many misses are in flight at once
 * instead of queueing behind each other. Bags are split into id-balanced blocks handed out
 * dynamically to the cores. The bag sum lives in a local array that the compiler keeps in
 * registers for the common shapes (chunk size 4, 8 or 16, up to 16 chunks per row).
 *
 * An id without a row adds nothing. In training such a bag is flagged; after the parallel pass the
 * missing rows are created one by one (under the write lock) and the flagged bags pooled again in
 * the same order, so the result is the same as if the rows had existed. */
#include "fiited.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define DISTANCE 8
#define RING 32
#define RING_MASK (RING - 1)
/* Below this many floats of work a second thread costs more than it saves. */
#define PARALLEL_MIN_WORK (1 << 18)
#define BLOCK_IDS 4096
#define MISSING UINT32_MAX

#define ALWAYS_INLINE static inline __attribute__((always_inline))

typedef struct {
    uint32_t base, nchunks;     /* nchunks MISSING: no row */
} run;

/* One position in flight: its home slot (stage 1), then the slot whose tag matched (stage 2),
 * then its run (stage 3). */
typedef struct {
    const fiited_slot *slot;
    uint32_t tag;
    run r;
} probe;

/* ---- pass 2: pool ---- */

typedef float v8f __attribute__((vector_size(32), may_alias));
typedef float v8f_unaligned __attribute__((vector_size(32), may_alias, aligned(4)));
typedef float v4f __attribute__((vector_size(16), may_alias));
typedef float v4f_unaligned __attribute__((vector_size(16), may_alias, aligned(4)));

/* A bag's running sum: exactly one of the three is set. The vector forms, with constant sizes,
 * stay in registers; the scalar form serves any chunk size. Chunks of a multiple of 8 (4) floats
 * are 32 (16)-byte aligned (the arrays are page-aligned). */
typedef struct {
    float *s;
    v8f *v8;
    v4f *v4;
} accumulator;

typedef struct {
    const fiited_table *t;
    const int64_t *ids, *offsets;
    int64_t n, nbags, mode;
    int touch;                  /* training: mark rows touched, flag bags with missing rows */
    unsigned char *incomplete;  /* [nbags] */
    float *out;
} pool_args;

ALWAYS_INLINE void acc_zero(accumulator acc, int64_t D) {
    if (acc.v8) for (int64_t q = 0; q < D / 8; q++) acc.v8[q] = (v8f){0};
    else if (acc.v4) for (int64_t q = 0; q < D / 4; q++) acc.v4[q] = (v4f){0};
    else for (int64_t j = 0; j < D; j++) acc.s[j] = 0.f;
}

/* acc += the run's chunks (a row without a row record has none). */
ALWAYS_INLINE void acc_add_run(accumulator acc, const float *restrict values, run r, int64_t cs, int64_t mc) {
    const float *restrict v = values + (int64_t)r.base * cs;
    int64_t nc = r.nchunks < mc ? r.nchunks : mc;
    for (int64_t k = 0; k < nc; k++) {
        if (acc.v8) for (int64_t q = 0; q < cs / 8; q++) acc.v8[k * (cs / 8) + q] += ((const v8f *)(v + k * cs))[q];
        else if (acc.v4) for (int64_t q = 0; q < cs / 4; q++) acc.v4[k * (cs / 4) + q] += ((const v4f *)(v + k * cs))[q];
        else for (int64_t j = 0; j < cs; j++) acc.s[k * cs + j] += v[k * cs + j];
    }
}

ALWAYS_INLINE void prefetch_run(const float *values, run r, int64_t cs) {
    if (r.nchunks == MISSING || !r.nchunks) return;
    const char *v = (const char *)(values + (int64_t)r.base * cs);
    int64_t bytes = (int64_t)r.nchunks * cs * 4;
    for (int64_t o = 0; o < bytes; o += 128) __builtin_prefetch(v + o);
}

/* out[b] = acc (scaled for mean), then acc = 0. */
ALWAYS_INLINE void acc_flush(const pool_args *a, int64_t b, accumulator acc, int64_t D) {
    int64_t count = fiited_bag_end(a->offsets, a->nbags, a->n, b) - a->offsets[b];
    float scale = a->mode == 1 && count > 0 ? 1.0f / (float)count : 1.0f;
    float *o = a->out + b * D;
    if (acc.v8) for (int64_t q = 0; q < D / 8; q++) ((v8f_unaligned *)o)[q] = acc.v8[q] * scale;
    else if (acc.v4) for (int64_t q = 0; q < D / 4; q++) ((v4f_unaligned *)o)[q] = acc.v4[q] * scale;
    else for (int64_t j = 0; j < D; j++) o[j] = acc.s[j] * scale;
    acc_zero(acc, D);
}

/* The fields the hot loop reads, copied into locals: stores (the ring, the accumulators, touch
 * marks) could alias the table's fields, which would make the compiler reload them for every id. */
typedef struct {
    const fiited_slot *slots, *end;
    uint64_t cap;
    fiited_row *rows;
    const uint32_t *key_hi;
    const float *values;
    uint16_t epoch;
} index_view;

/* Stage 1 for position p: hash the id and prefetch its home slot. */
ALWAYS_INLINE void stage_hash(const index_view *v, const int64_t *ids, int64_t p, probe *ring) {
    uint32_t tag = fiited_tag((uint64_t)ids[p]);
    const fiited_slot *s = v->slots + fiited_home(tag, v->cap);
    ring[p & RING_MASK].slot = s;
    ring[p & RING_MASK].tag = tag;
    __builtin_prefetch(s);
}

/* Stage 2: the first slot with the id's tag (NULL at an empty slot); prefetch its record. */
ALWAYS_INLINE void stage_probe(const index_view *v, int64_t p, probe *ring) {
    probe *q = &ring[p & RING_MASK];
    const fiited_slot *s = q->slot;
    uint32_t tag = q->tag;
    while (s->tag && s->tag != tag) if (++s == v->end) s = v->slots;
    q->slot = s->tag ? s : NULL;
    if (q->slot) __builtin_prefetch(&v->rows[s->row]);
}

/* Stage 3: confirm the key (else the full search: tag collisions, a rehash under way, no row),
 * read the run and prefetch it. */
ALWAYS_INLINE void stage_record(const pool_args *a, const index_view *v, int64_t p, probe *ring, int64_t cs) {
    probe *q = &ring[p & RING_MASK];
    uint64_t id = (uint64_t)a->ids[p];
    int64_t r = q->slot && fiited_row_is(v->rows, v->key_hi, q->slot->row, id) ? (int64_t)q->slot->row : fiited_find(a->t, id);
    if (r < 0) { q->r = (run){0, MISSING}; return; }
    fiited_row *row = &v->rows[r];
    q->r = (run){row->base, row->nchunks};
    uint16_t seen = row->seen;  /* the flag changes only in apply, under the write lock */
    if (a->touch && (seen & FIITED_SEEN_EPOCH) != v->epoch)
        __atomic_store_n(&row->seen, (uint16_t)((seen & FIITED_SEEN_AGAIN) | v->epoch), __ATOMIC_RELAXED);
    prefetch_run(v->values, q->r, cs);
}

/* Stage 4 for position p: flush the bags that end before p, then add its run. */
ALWAYS_INLINE void stage_add(const pool_args *a, const index_view *v, int64_t p, const probe *ring, int64_t *b,
                             int64_t *bag_end, accumulator acc, int64_t cs, int64_t mc) {
    while (p >= *bag_end) {  /* also steps over empty bags */
        acc_flush(a, (*b)++, acc, cs * mc);
        *bag_end = fiited_bag_end(a->offsets, a->nbags, a->n, *b);
    }
    run r = ring[p & RING_MASK].r;
    if (r.nchunks == MISSING) {
        if (a->touch) a->incomplete[*b] = 1;
        return;
    }
    acc_add_run(acc, v->values, r, cs, mc);
}

/* Pool bags [b0, b1): walk their ids (contiguous) through the pipeline, flushing at bag ends. */
ALWAYS_INLINE void pool_bags(const pool_args *a, int64_t b0, int64_t b1, accumulator acc, int64_t cs, int64_t mc) {
    if (b0 >= b1) return;
    const fiited_table *t = a->t;
    const index_view v = {t->cur.slots, t->cur.slots + t->cur.cap, t->cur.cap, t->rows, t->key_hi, t->pool.values, fiited_epoch15(t->epoch)};
    const int64_t *ids = a->ids;
    int64_t b = b0, bag_end = fiited_bag_end(a->offsets, a->nbags, a->n, b0);
    int64_t lo = a->offsets[b0], hi = fiited_bag_end(a->offsets, a->nbags, a->n, b1 - 1);
    probe ring[RING];
    acc_zero(acc, cs * mc);
    const int64_t D1 = DISTANCE, D2 = 2 * DISTANCE, D3 = 3 * DISTANCE;
    int64_t p = lo;
    for (; p < hi + D3 && p < lo + D3; p++) {  /* fill */
        if (p < hi) stage_hash(&v, ids, p, ring);
        if (p - D1 >= lo && p - D1 < hi) stage_probe(&v, p - D1, ring);
        if (p - D2 >= lo && p - D2 < hi) stage_record(a, &v, p - D2, ring, cs);
    }
    for (; p < hi; p++) {  /* steady state: all four stages */
        stage_hash(&v, ids, p, ring);
        stage_probe(&v, p - D1, ring);
        stage_record(a, &v, p - D2, ring, cs);
        stage_add(a, &v, p - D3, ring, &b, &bag_end, acc, cs, mc);
    }
    for (; p < hi + D3; p++) {  /* drain */
        if (p - D1 >= lo && p - D1 < hi) stage_probe(&v, p - D1, ring);
        if (p - D2 >= lo && p - D2 < hi) stage_record(a, &v, p - D2, ring, cs);
        if (p - D3 >= lo) stage_add(a, &v, p - D3, ring, &b, &bag_end, acc, cs, mc);
    }
    while (b < b1) acc_flush(a, b++, acc, cs * mc);
}

/* One copy of pool_bags per common shape, so the sizes are constants and the sum is registers. */
#define SHAPE(CS, MC, VEC, FIELD) \
    static void pool_##CS##x##MC(const pool_args *a, int64_t b0, int64_t b1) { \
        VEC sum[CS * MC * 4 / sizeof(VEC)]; \
        pool_bags(a, b0, b1, (accumulator){.FIELD = sum}, CS, MC); }
SHAPE(8, 1, v8f, v8) SHAPE(8, 2, v8f, v8) SHAPE(8, 3, v8f, v8) SHAPE(8, 4, v8f, v8) SHAPE(8, 6, v8f, v8)
SHAPE(8, 8, v8f, v8) SHAPE(8, 16, v8f, v8)
SHAPE(16, 1, v8f, v8) SHAPE(16, 2, v8f, v8) SHAPE(16, 4, v8f, v8) SHAPE(16, 8, v8f, v8)
SHAPE(4, 2, v4f, v4) SHAPE(4, 4, v4f, v4) SHAPE(4, 8, v4f, v4) SHAPE(4, 16, v4f, v4)
#undef SHAPE

static void pool_generic(const pool_args *a, int64_t b0, int64_t b1) {
    const fiited_table *t = a->t;
    float *acc = malloc((size_t)(t->chunk_size * t->max_chunks) * sizeof(float));
    if (!acc) abort();  /* a few KiB; nothing sensible to return from inside a parallel region */
    pool_bags(a, b0, b1, (accumulator){.s = acc}, t->chunk_size, t->max_chunks);
    free(acc);
}

typedef void (*pool_fn)(const pool_args *, int64_t, int64_t);

static pool_fn pick_kernel(int64_t cs, int64_t mc) {
#define CASE(CS, MC) if (cs == CS && mc == MC) return pool_##CS##x##MC;
    CASE(8, 1) CASE(8, 2) CASE(8, 3) CASE(8, 4) CASE(8, 6) CASE(8, 8) CASE(8, 16)
    CASE(16, 1) CASE(16, 2) CASE(16, 4) CASE(16, 8)
    CASE(4, 2) CASE(4, 4) CASE(4, 8) CASE(4, 16)
#undef CASE
    return pool_generic;
}

/* First bag whose ids start at or after position p (offsets are non-decreasing). */
static int64_t bag_at(const int64_t *offsets, int64_t nbags, int64_t p) {
    int64_t lo = 0, hi = nbags;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (offsets[mid] < p) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Training, after the parallel pass: create the missing rows of the flagged bags (in position
 * order) and pool those bags again, adding in the same order as the kernels. */
static int complete_bags(const pool_args *a) {
    fiited_table *t = (fiited_table *)a->t;
    int64_t D = t->max_chunks * t->chunk_size;
    float *acc = malloc((size_t)D * sizeof(float));
    if (!acc) return FIITED_ENOMEM;
    for (int64_t b = 0; b < a->nbags; b++) {
        if (!a->incomplete[b]) continue;
        int64_t lo = a->offsets[b], hi = fiited_bag_end(a->offsets, a->nbags, a->n, b);
        memset(acc, 0, (size_t)D * sizeof(float));
        for (int64_t p = lo; p < hi; p++) {
            int64_t r = fiited_touch_row(t, (uint64_t)a->ids[p]);
            if (r < 0) { free(acc); return FIITED_ENOMEM; }
            const float *v = fiited_values(&t->pool, t->rows[r].base);
            for (int64_t j = 0; j < t->rows[r].nchunks * t->chunk_size; j++) acc[j] += v[j];
        }
        float scale = a->mode == 1 && hi > lo ? 1.0f / (float)(hi - lo) : 1.0f;
        for (int64_t j = 0; j < D; j++) a->out[b * D + j] = acc[j] * scale;
    }
    free(acc);
    return FIITED_OK;
}

int fiited_lookup(void *h, const int64_t *ids, int64_t n, const int64_t *offsets, int64_t nbags,
                  int64_t mode, float *out) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    if (mode != 0 && mode != 1) { fiited_set_error("pooling mode must be 0 (sum) or 1 (mean), got %lld", (long long)mode); return FIITED_EINVAL; }
    int rc = fiited_check_ids(t, ids, n);
    if (!rc) rc = fiited_check_bags(offsets, nbags, n);
    if (rc) return rc;
    if (nbags == 0) return FIITED_OK;
    int training = __atomic_load_n(&t->training, __ATOMIC_RELAXED);
    unsigned char *incomplete = training ? calloc((size_t)nbags, 1) : NULL;
    if (training && !incomplete) { fiited_set_error("out of memory"); return FIITED_ENOMEM; }
    pool_args a = {t, ids, offsets, n, nbags, mode, training, incomplete, out};
    int64_t D = t->max_chunks * t->chunk_size, first = offsets[0], m = n - first;
    int threads = (n + nbags) * D >= PARALLEL_MIN_WORK ? omp_get_max_threads() : 1;
    int64_t blocks = threads > 1 ? (m + BLOCK_IDS - 1) / BLOCK_IDS : 1;
    if (blocks < 1) blocks = 1;
    pool_fn fn = pick_kernel(t->chunk_size, t->max_chunks);
    if (training) {
        pthread_rwlock_wrlock(&t->lock);
        fiited_migrate(t, 1024 + 2 * m);
    } else {
        pthread_rwlock_rdlock(&t->lock);
    }
    #pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && blocks > 1)
    for (int64_t k = 0; k < blocks; k++) {
        int64_t b0 = k == 0 ? 0 : bag_at(offsets, nbags, first + m * k / blocks);
        int64_t b1 = k + 1 == blocks ? nbags : bag_at(offsets, nbags, first + m * (k + 1) / blocks);
        fn(&a, b0, b1);
    }
    if (training) rc = complete_bags(&a);
    if (training) fiited_note_peak(t);
    pthread_rwlock_unlock(&t->lock);
    free(incomplete);
    if (rc) fiited_set_error("out of memory creating rows");
    return rc;
}
