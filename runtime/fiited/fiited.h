/* FIITED native runtime: VHPI embedding tables with per-row dimensions.
 * Shared declarations of the chunk pool, the table and the checkpoint code. */
#ifndef FIITED_H
#define FIITED_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stddef.h>
#include <pthread.h>

#define FIITED_OK 0
#define FIITED_EINVAL -1
#define FIITED_ERANGE -2
#define FIITED_ENOMEM -3
#define FIITED_EIO -4
#define FIITED_ECORRUPT -5

#define FIITED_OPT_SGD 0
#define FIITED_OPT_ADAGRAD 1

/* Limits: row ids and chunk indices are int32 in the index; a slot holds at most this many chunks. */
#define FIITED_MAX_ROWS ((int64_t)INT32_MAX)
#define FIITED_MAX_CHUNKS_PER_ROW 4096

/* Slabs hold a power-of-two number of chunks; they are committed and given back whole. */
#define FIITED_SLAB_SHIFT 10
#define FIITED_SLAB_CHUNKS (1 << FIITED_SLAB_SHIFT)
/* Chunk -1 is a read-only all-zero chunk just below the value array: slots point their unused
 * positions at it, so lookups add max_chunks chunks without branching on the row's dimension. */
#define FIITED_ZERO_CHUNK (-1)

/* A pool of fixed-size chunks in one reserved address range per array (values, optimiser state,
 * importance), indexed by the same chunk index, so lookups read values only. Slabs [0, nslabs) are
 * committed; compaction moves live chunks below a limit, drops the emptied slabs' pages and makes
 * them inaccessible again, so RSS really falls. Free chunks form a list threaded through their own
 * value memory. */
typedef struct {
    int32_t chunk_size;         /* floats per chunk in `values` (and in `state`) */
    int64_t cap_chunks;         /* reserved chunks (a multiple of FIITED_SLAB_CHUNKS) */
    int64_t nslabs;             /* committed slabs */
    float *values;              /* [cap_chunks * chunk_size], after a read-only zero lead */
    size_t lead_bytes;          /* the zero lead: page-rounded, at least one chunk */
    float *state;               /* Adagrad sum of squares, same shape; NULL for SGD */
    float *importance;          /* [cap_chunks]: decayed squared-gradient sum of the chunk */
    int32_t free_head;          /* -1 when empty */
    int64_t nfree, live;
} fiited_pool;

/* One VHPI hash slot, packed so a probe reads one cache line: the row id, its chunk count, its
 * access frequency and its chunk list (positions >= nchunks hold FIITED_ZERO_CHUNK). */
typedef struct {
    int32_t key;                /* row id, -1 when empty */
    int32_t nchunks;
    float freq;                 /* decayed access count */
    int32_t chunk[];            /* [max_chunks] */
} fiited_slot;

typedef struct {
    int64_t num_rows, max_chunks, chunk_size, optimizer;
    float lr, eps, init_scale;
    uint64_t rng;
    /* VHPI: open addressing with linear probing; every row id in [0, num_rows) has a slot. */
    int64_t hcap, slot_bytes;
    char *slots;
    fiited_pool pool;
    pthread_rwlock_t lock;
} fiited_table;

void fiited_set_error(const char *fmt, ...);
int fiited_pool_init(fiited_pool *p, int32_t chunk_size, int has_state, int64_t max_live);
void fiited_pool_free(fiited_pool *p);
int64_t fiited_pool_take(fiited_pool *p);
void fiited_pool_give(fiited_pool *p, int64_t chunk);
int64_t fiited_pool_mapped_bytes(const fiited_pool *p);
void fiited_pool_compact(fiited_table *t);

static inline float *fiited_values(const fiited_pool *p, int64_t c) { return p->values + c * p->chunk_size; }
static inline float *fiited_state(const fiited_pool *p, int64_t c) { return p->state + c * p->chunk_size; }

/* Slot size: header + chunk list, rounded to a power of two up to a cache line (so a slot never
 * straddles two lines), else to whole lines. Inline so kernels with a constant max_chunks get a
 * constant (a shift). */
static inline int64_t fiited_slot_bytes(int64_t max_chunks) {
    int64_t raw = (int64_t)sizeof(fiited_slot) + 4 * max_chunks, b = 16;
    if (raw > 64) return (raw + 63) / 64 * 64;
    while (b < raw) b *= 2;
    return b;
}

static inline fiited_slot *fiited_slot_at(const fiited_table *t, uint64_t h) {
    return (fiited_slot *)(t->slots + h * (uint64_t)t->slot_bytes);
}
/* Home slot of a row id: Fibonacci hashing, then a multiply-shift of its top 32 bits into
 * [0, hcap) (hcap < 2^32) so the table can have any size; dense ids spread almost evenly, which
 * keeps probes short at a high load factor. lookup.c repeats this expression. */
static inline uint64_t fiited_hash_slot(const fiited_table *t, int64_t id) {
    return (((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 32) * (uint64_t)t->hcap >> 32;
}
/* Probe from home slot h; NULL if the id has no slot. Inline so the hot loops can use it. */
static inline fiited_slot *fiited_probe(const fiited_table *t, int64_t id, uint64_t h) {
    for (;;) {
        fiited_slot *s = fiited_slot_at(t, h);
        if (s->key == id) return s;
        if (s->key < 0) return NULL;
        if (++h == (uint64_t)t->hcap) h = 0;
    }
}
static inline fiited_slot *fiited_find(const fiited_table *t, int64_t id) {
    return fiited_probe(t, id, fiited_hash_slot(t, id));
}
static inline void fiited_prefetch_slot(const fiited_table *t, uint64_t h) {
    __builtin_prefetch(fiited_slot_at(t, h));
}

static inline uint64_t fiited_mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

fiited_slot *fiited_insert(fiited_table *t, int64_t id);
int fiited_set_row_chunks(fiited_table *t, fiited_slot *s, int64_t nchunks, int zero_init);
fiited_table *fiited_table_alloc(int64_t num_rows, int64_t max_chunks, int64_t chunk_size,
                                 int64_t optimizer, float lr, float eps, float init_scale, uint64_t seed);
void fiited_table_destroy(void *h);
int fiited_check_ids(const fiited_table *t, const int64_t *ids, int64_t n);
int fiited_check_bags(const int64_t *offsets, int64_t nbags, int64_t n);
static inline int64_t fiited_bag_end(const int64_t *offsets, int64_t nbags, int64_t n, int64_t b) {
    return b + 1 < nbags ? offsets[b + 1] : n;
}
#endif
