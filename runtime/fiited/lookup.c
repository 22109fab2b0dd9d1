/* Pooled lookup: out[b] = sum/mean of rows ids[offsets[b]:offsets[b+1]].
 *
 * Each id is resolved once, in a three-stage software pipeline: hash the id and prefetch its slot,
 * later probe the slot and prefetch the row's chunks, later still add the row. Many misses are in
 * flight at once instead of queueing behind each other. The bag sum lives in a local array that the compiler
 * keeps in registers for the common shapes (chunk size 8 or 16, up to 16 chunks per row). */
#include "fiited.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Software pipeline: while adding row p, probe row p + DISTANCE and hash row p + 2 * DISTANCE, so
 * every miss has DISTANCE rows' worth of time to arrive. */
#define DISTANCE 12
#define RING 64
#define RING_MASK (RING - 1)
/* Below this many floats of work a second thread costs more than it saves. */
#define PARALLEL_MIN_WORK (1 << 18)

#define ALWAYS_INLINE static inline __attribute__((always_inline))

typedef struct {
    const fiited_table *t;
    const int64_t *ids, *offsets;
    int64_t n, nbags, mode;
    float *out;
} lookup_args;

/* The fields the hot loop reads, copied into locals: stores through the ring buffer could alias
 * the table's int64 fields, which would make the compiler reload them for every id. The slot size
 * comes from max_chunks, so it is a constant in the kernels specialised for one shape. */
typedef struct {
    const char *slots, *slots_end;
    uint64_t hcap, slot_bytes;
    const float *values;
} index_view;

ALWAYS_INLINE index_view view_of(const fiited_table *t, int64_t mc) {
    uint64_t sb = (uint64_t)fiited_slot_bytes(mc);
    return (index_view){t->slots, t->slots + (uint64_t)t->hcap * sb, (uint64_t)t->hcap, sb, t->pool.values};
}

/* Stage 1 for position p: hash the id (as fiited_hash_slot) and prefetch its home slot. */
ALWAYS_INLINE void stage_hash(const index_view *v, const int64_t *ids, int64_t p, const fiited_slot **ring) {
    uint64_t h = (((uint64_t)ids[p] * 0x9E3779B97F4A7C15ull) >> 32) * v->hcap >> 32;
    const fiited_slot *s = (const fiited_slot *)(v->slots + h * v->slot_bytes);
    ring[p & RING_MASK] = s;
    __builtin_prefetch(s);
}

/* Stage 2 for position p (its slot is cached by now): probe from the home slot, keep the row's
 * slot, and prefetch the row's chunks that start a 128-byte pair of lines. Only those: a row's
 * chunks are usually allocated together and aligned, the hardware's adjacent-line prefetch brings
 * the other line of each pair, and each extra prefetch costs more in hot loops than it saves
 * (measured). */
ALWAYS_INLINE void stage_probe(const index_view *v, const int64_t *ids, int64_t p, const fiited_slot **ring,
                               int64_t cs, int64_t mc) {
    const fiited_slot *s = ring[p & RING_MASK];
    while (s->key != ids[p]) {  /* every row has a slot, so this ends */
        s = (const fiited_slot *)((const char *)s + v->slot_bytes);
        if ((const char *)s == v->slots_end) s = (const fiited_slot *)v->slots;
    }
    ring[p & RING_MASK] = s;
    int64_t step = cs * 4 >= 128 ? 1 : 128 / (cs * 4);
    for (int64_t k = 0; k < mc; k += step) __builtin_prefetch(v->values + (int64_t)s->chunk[k] * cs);
}

/* Vectors of 8 and 4 floats. Chunks of a multiple of 8 (4) floats are 32 (16)-byte aligned: the
 * array is page-aligned and the zero chunk sits right below it. may_alias: they alias float arrays. */
typedef float v8f __attribute__((vector_size(32), may_alias));
typedef float v8f_unaligned __attribute__((vector_size(32), may_alias, aligned(4)));
typedef float v4f __attribute__((vector_size(16), may_alias));
typedef float v4f_unaligned __attribute__((vector_size(16), may_alias, aligned(4)));

/* A bag's running sum: exactly one of the three is set. The vector forms, with constant sizes,
 * stay in registers; the scalar form serves any chunk size. */
typedef struct {
    float *s;
    v8f *v8;
    v4f *v4;
} accumulator;

ALWAYS_INLINE void acc_zero(accumulator acc, int64_t D) {
    if (acc.v8) for (int64_t q = 0; q < D / 8; q++) acc.v8[q] = (v8f){0};
    else if (acc.v4) for (int64_t q = 0; q < D / 4; q++) acc.v4[q] = (v4f){0};
    else for (int64_t j = 0; j < D; j++) acc.s[j] = 0.f;
}

/* acc += the row's chunks (unused positions point at the zero chunk). */
ALWAYS_INLINE void acc_add_row(accumulator acc, const float *restrict values, const int32_t *ch, int64_t cs, int64_t mc) {
    for (int64_t k = 0; k < mc; k++) {
        const float *restrict v = values + (int64_t)ch[k] * cs;
        if (acc.v8) for (int64_t q = 0; q < cs / 8; q++) acc.v8[k * (cs / 8) + q] += ((const v8f *)v)[q];
        else if (acc.v4) for (int64_t q = 0; q < cs / 4; q++) acc.v4[k * (cs / 4) + q] += ((const v4f *)v)[q];
        else for (int64_t j = 0; j < cs; j++) acc.s[k * cs + j] += v[j];
    }
}

/* out[b] = acc (scaled for mean), then acc = 0. */
ALWAYS_INLINE void acc_flush(const lookup_args *a, int64_t b, accumulator acc, int64_t D) {
    int64_t count = fiited_bag_end(a->offsets, a->nbags, a->n, b) - a->offsets[b];
    float scale = a->mode == 1 && count > 0 ? 1.0f / (float)count : 1.0f;
    float *o = a->out + b * D;
    if (acc.v8) for (int64_t q = 0; q < D / 8; q++) ((v8f_unaligned *)o)[q] = acc.v8[q] * scale;
    else if (acc.v4) for (int64_t q = 0; q < D / 4; q++) ((v4f_unaligned *)o)[q] = acc.v4[q] * scale;
    else for (int64_t j = 0; j < D; j++) o[j] = acc.s[j] * scale;
    acc_zero(acc, D);
}

/* Stage 3 for position p: flush the bags that end before p, then add row p. */
ALWAYS_INLINE void stage_add(const lookup_args *a, const index_view *v, int64_t p, const fiited_slot *const *ring,
                             int64_t *b, int64_t *bag_end, accumulator acc, int64_t cs, int64_t mc) {
    while (p >= *bag_end) {  /* also steps over empty bags */
        acc_flush(a, (*b)++, acc, cs * mc);
        *bag_end = fiited_bag_end(a->offsets, a->nbags, a->n, *b);
    }
    acc_add_row(acc, v->values, ring[p & RING_MASK]->chunk, cs, mc);
}

/* Pool bags [b0, b1): walk their ids (contiguous) through the pipeline, flushing at bag ends. */
ALWAYS_INLINE void pool_bags(const lookup_args *a, int64_t b0, int64_t b1, accumulator acc, int64_t cs, int64_t mc) {
    if (b0 >= b1) return;
    const index_view v = view_of(a->t, mc);
    const int64_t *ids = a->ids;
    int64_t b = b0, bag_end = fiited_bag_end(a->offsets, a->nbags, a->n, b0);
    int64_t lo = a->offsets[b0], hi = fiited_bag_end(a->offsets, a->nbags, a->n, b1 - 1);
    const fiited_slot *ring[RING];  /* home slot after stage 1, the row's slot after stage 2 */
    acc_zero(acc, cs * mc);
    for (int64_t p = lo; p < hi && p < lo + 2 * DISTANCE; p++) stage_hash(&v, ids, p, ring);
    for (int64_t p = lo; p < hi && p < lo + DISTANCE; p++) stage_probe(&v, ids, p, ring, cs, mc);
    int64_t p = lo;
    for (; p + 2 * DISTANCE < hi; p++) {  /* steady state: all three stages */
        stage_hash(&v, ids, p + 2 * DISTANCE, ring);
        stage_probe(&v, ids, p + DISTANCE, ring, cs, mc);
        stage_add(a, &v, p, ring, &b, &bag_end, acc, cs, mc);
    }
    for (; p < hi; p++) {  /* drain */
        if (p + DISTANCE < hi) stage_probe(&v, ids, p + DISTANCE, ring, cs, mc);
        stage_add(a, &v, p, ring, &b, &bag_end, acc, cs, mc);
    }
    while (b < b1) acc_flush(a, b++, acc, cs * mc);
}

/* One copy of pool_bags per common shape, so the sizes are constants and the sum is registers. */
#define SHAPE(CS, MC, VEC, FIELD) \
    static void pool_##CS##x##MC(const lookup_args *a, int64_t b0, int64_t b1) { \
        VEC sum[CS * MC * 4 / sizeof(VEC)]; \
        pool_bags(a, b0, b1, (accumulator){.FIELD = sum}, CS, MC); }
SHAPE(8, 1, v8f, v8) SHAPE(8, 2, v8f, v8) SHAPE(8, 3, v8f, v8) SHAPE(8, 4, v8f, v8) SHAPE(8, 6, v8f, v8)
SHAPE(8, 8, v8f, v8) SHAPE(8, 16, v8f, v8)
SHAPE(16, 1, v8f, v8) SHAPE(16, 2, v8f, v8) SHAPE(16, 4, v8f, v8) SHAPE(16, 8, v8f, v8)
SHAPE(4, 2, v4f, v4) SHAPE(4, 4, v4f, v4) SHAPE(4, 8, v4f, v4) SHAPE(4, 16, v4f, v4)
#undef SHAPE

static void pool_generic(const lookup_args *a, int64_t b0, int64_t b1) {
    const fiited_table *t = a->t;
    float *acc = malloc((size_t)(t->chunk_size * t->max_chunks) * sizeof(float));
    if (!acc) abort();  /* a few KiB; nothing sensible to return from inside a parallel region */
    pool_bags(a, b0, b1, (accumulator){.s = acc}, t->chunk_size, t->max_chunks);
    free(acc);
}

typedef void (*pool_fn)(const lookup_args *, int64_t, int64_t);

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

/* Split bags into blocks of about BLOCK_IDS ids (by id count, not bag count, so uneven bags still
 * balance) handed out dynamically: on a shared machine a thread that loses its core holds up only
 * its current block, not a whole static share. */
#define BLOCK_IDS 4096
static void pool_parallel(const lookup_args *a, pool_fn fn, int threads) {
    int64_t first = a->nbags ? a->offsets[0] : 0, ids = a->n - first;
    int64_t nblocks = threads > 1 ? (ids + BLOCK_IDS - 1) / BLOCK_IDS : 1;
    if (nblocks < 1) nblocks = 1;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && nblocks > 1)
    for (int64_t k = 0; k < nblocks; k++) {
        int64_t b0 = k == 0 ? 0 : bag_at(a->offsets, a->nbags, first + ids * k / nblocks);
        int64_t b1 = k + 1 == nblocks ? a->nbags : bag_at(a->offsets, a->nbags, first + ids * (k + 1) / nblocks);
        fn(a, b0, b1);
    }
}

int fiited_lookup(void *h, const int64_t *ids, int64_t n, const int64_t *offsets, int64_t nbags,
                  int64_t mode, float *out) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    if (mode != 0 && mode != 1) { fiited_set_error("pooling mode must be 0 (sum) or 1 (mean), got %lld", (long long)mode); return FIITED_EINVAL; }
    int rc = fiited_check_ids(t, ids, n);
    if (!rc) rc = fiited_check_bags(offsets, nbags, n);
    if (rc) return rc;
    lookup_args a = {t, ids, offsets, n, nbags, mode, out};
    int64_t D = t->max_chunks * t->chunk_size;
    int threads = (n + nbags) * D >= PARALLEL_MIN_WORK ? omp_get_max_threads() : 1;
    pthread_rwlock_rdlock(&t->lock);
    pool_parallel(&a, pick_kernel(t->chunk_size, t->max_chunks), threads);
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}
