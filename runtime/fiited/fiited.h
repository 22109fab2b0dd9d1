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

/* A pool of fixed-size chunks carved from mmap'ed slabs; free chunks go to a stack. */
typedef struct {
    int32_t chunk_floats;       /* floats per chunk: values (+ optimiser state) */
    int32_t slab_chunks;        /* chunks per slab */
    int64_t nslabs, slab_cap;   /* mapped slabs, capacity of the slab pointer array */
    float **slabs;              /* NULL where a slab has been given back */
    int64_t *owner;             /* chunk -> entry*max_chunks+pos, -1 when free */
    int64_t owner_cap;
    int64_t *free_stack; int64_t nfree, free_cap;
    int64_t live;
} fiited_pool;

typedef struct {
    int64_t num_rows, max_chunks, chunk_size, optimizer;
    float lr, eps, init_scale;
    uint64_t rng;
    /* VHPI: open-addressing hash id -> entry; entries hold chunk indices */
    int64_t hcap; int64_t *hkeys; int64_t *hvals;
    int64_t nentries;
    int64_t *entry_id;          /* entry -> row id */
    int32_t *entry_nchunks;     /* entry -> chunk count (dimension / chunk_size) */
    int64_t *entry_chunks;      /* entry*max_chunks+k -> pool chunk index */
    float *importance;          /* entry*max_chunks+k -> decayed grad^2 of that chunk */
    float *frequency;           /* entry -> decayed access count */
    fiited_pool pool;
    pthread_rwlock_t lock;
} fiited_table;

void fiited_set_error(const char *fmt, ...);
int fiited_pool_init(fiited_pool *p, int32_t chunk_floats, int32_t slab_chunks);
void fiited_pool_free(fiited_pool *p);
int64_t fiited_pool_take(fiited_pool *p, int64_t owner);
void fiited_pool_give(fiited_pool *p, int64_t chunk);
void fiited_pool_compact(fiited_table *t);
/* Slabs hold a power-of-two number of chunks so a chunk address is a shift and a mask. */
#define FIITED_SLAB_SHIFT 10
static inline float *fiited_chunk(const fiited_pool *p, int64_t c) {
    return p->slabs[c >> FIITED_SLAB_SHIFT] + (size_t)(c & ((1 << FIITED_SLAB_SHIFT) - 1)) * p->chunk_floats;
}
/* VHPI hash probe, inline here so the hot loops can use it (exported functions are not inlined under -fPIC). */
static inline uint64_t fiited_mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
/* Home slot of a row id: Fibonacci hashing (one multiply, top bits), cheap on the lookup path. */
static inline uint64_t fiited_hash_slot(const fiited_table *t, int64_t id) {
    return ((uint64_t)id * 0x9E3779B97F4A7C15ull) >> (64 - __builtin_ctzll((uint64_t)t->hcap));
}
static inline int64_t fiited_find_entry_inline(const fiited_table *t, int64_t id) {
    uint64_t m = (uint64_t)t->hcap - 1, h = fiited_hash_slot(t, id);
    for (;;) {
        int64_t k = t->hkeys[h];
        if (k == id) return t->hvals[h];
        if (k < 0) return -1;
        h = (h + 1) & m;
    }
}
int64_t fiited_find_entry(const fiited_table *t, int64_t id);
int fiited_set_row_chunks(fiited_table *t, int64_t entry, int64_t nchunks, int zero_init);
fiited_table *fiited_table_alloc(int64_t num_rows, int64_t max_chunks, int64_t chunk_size,
                                 int64_t optimizer, float lr, float eps, float init_scale, uint64_t seed);
#endif
