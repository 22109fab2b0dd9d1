/* FIITED native runtime: embedding tables whose rows exist only once touched, each row with its
 * own dimension. Shared declarations of the chunk pool, the row index and the table. */
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
/* Adagrad with one accumulator per chunk (the mean of its squared gradients), as FBGEMM's row-wise
 * Adagrad with a chunk as the row: 4 bytes of state per chunk instead of one float per value. */
#define FIITED_OPT_CHUNK_ADAGRAD 2

/* A row holds at most this many chunks; a table at most 2^32 - 2 live rows. */
#define FIITED_MAX_CHUNKS_PER_ROW 4096
#define FIITED_MAX_LIVE_ROWS ((int64_t)UINT32_MAX - 1)

/* Slabs hold a power-of-two number of chunks; they are committed and given back whole. */
#define FIITED_SLAB_SHIFT 10
#define FIITED_SLAB_CHUNKS (1 << FIITED_SLAB_SHIFT)

/* The chunk pool: fixed-size chunks in one reserved address range per array (values, optimiser
 * state, importance), indexed by the same chunk index. A row's chunks are one contiguous run, so a
 * row is (first chunk, count) and needs no chunk list. Chunks [0, top) have been handed out; free
 * runs sit on one list per length (threaded through their first value) and are split when a
 * shorter run is wanted. Compaction slides every live run down to the bottom, drops the pages of
 * the emptied slabs and makes them inaccessible again, so resident memory really falls. */
typedef struct {
    int32_t chunk_size;         /* floats per chunk in `values` (and in `state`) */
    int64_t cap_chunks;         /* reserved chunks (a multiple of FIITED_SLAB_CHUNKS) */
    int64_t nslabs;             /* committed slabs */
    int64_t top;                /* chunks [0, top) were handed out at least once */
    float *values;              /* [cap_chunks * chunk_size] */
    int32_t state_width;        /* optimiser state floats per chunk: chunk_size (Adagrad), 1 (chunk Adagrad), 0 (SGD) */
    float *state;               /* Adagrad sums of squares [cap_chunks * state_width]; NULL for SGD */
    float *importance;          /* [cap_chunks]: decayed squared-gradient sum of the chunk */
    int32_t *free_head;         /* [max_run + 1]: first free run of each length, -1 when none */
    int64_t max_run;
    int64_t nfree, live;        /* chunks on free lists; chunks in rows */
} fiited_pool;

/* One row's record (16 bytes). The hash index maps an id to its record number; records are numbered
 * densely, reused LIFO after eviction, and visited in record order by statistics, scores and
 * checkpoints (so a reloaded table visits rows in the same order). A record holds the low 32 bits of
 * the id; the high halves live in a second array (`key_hi`, 4 bytes per record) that a table maps
 * only once an id of 2^32 or more has a row: raw 32-bit hashes (Criteo, Avazu) pay 16 bytes a row,
 * not 20. */
#define FIITED_ROW_FREE 0xFFFF        /* nchunks of a free record (base = next free record) */
#define FIITED_ROW_PARKED 0x8000      /* nchunks flag while apply parks a unique number in base */
/* `seen`: the low 15 bits are the epoch of the last training touch, the top bit says the row has been
 * touched again since it was created (in a later batch, or twice in one): a row seen once holds
 * what one sample taught it, and may be evicted sooner (`evict_single_after`). */
#define FIITED_SEEN_EPOCH 0x7FFF
#define FIITED_SEEN_AGAIN 0x8000
static inline uint16_t fiited_epoch15(int64_t epoch) { return (uint16_t)(epoch & FIITED_SEEN_EPOCH); }
typedef struct {
    uint32_t key;               /* the row id's low 32 bits */
    uint32_t base;              /* first chunk of the row's run */
    uint16_t nchunks;
    uint16_t seen;              /* adjustment epoch (mod 2^15) of the last training touch, and
                                 * FIITED_SEEN_AGAIN once the row was touched in a second batch */
    float freq;                 /* decayed access count */
} fiited_row;

/* The index: open addressing with linear probing over 8-byte slots (a 32-bit hash tag and the
 * record number). The tag also gives the home slot, so slots move (rehash, deletion) without
 * reading records; a tag match is confirmed against the record's key. Tag 0 = empty slot. */
#define FIITED_DEAD_ROW UINT32_MAX    /* a slot of the old index whose row was evicted mid-rehash */
typedef struct {
    uint32_t tag, row;
} fiited_slot;

typedef struct {
    fiited_slot *slots;         /* NULL: no index */
    uint64_t cap, used;
} fiited_index;

typedef struct {
    int64_t id_limit;           /* ids must be < id_limit; 0: any id in [0, 2^63) */
    int64_t max_chunks, chunk_size, init_chunks, optimizer;
    float lr, eps, init_scale;
    uint64_t seed;
    int training;               /* lookups create missing rows and count as touches */
    int64_t evict_after;        /* evict rows untouched for more than this many adjustments; 0: never */
    int64_t evict_single_after; /* the same for rows touched in one batch only (not FIITED_SEEN_AGAIN) */
    int64_t epoch;              /* adjustments so far */
    /* Growing or shrinking the index is incremental: `old` (read-only but for DEAD marks) is
     * copied slot by slot into `cur` by the training calls, from `cursor` on. */
    fiited_index cur, old;
    uint64_t cursor;
    int64_t count;              /* live rows */
    fiited_row *rows;
    uint32_t *key_hi;           /* [rows_cap] high 32 bits of each record's id; NULL while every id < 2^32 */
    int64_t nrows, rows_cap;    /* records in use or free (high water), records mapped */
    uint32_t free_row;          /* UINT32_MAX: none */
    fiited_pool pool;
    int64_t peak_bytes;         /* most chunk + index + record bytes held at the end of any call (before
                                 * a compaction), so between-adjustment growth is counted */
    pthread_rwlock_t lock;
} fiited_table;

void fiited_set_error(const char *fmt, ...);

/* chunk_pool.c */
int fiited_pool_init(fiited_pool *p, int32_t chunk_size, int32_t state_width, int64_t max_run, int64_t cap_chunks);
void fiited_pool_free(fiited_pool *p);
int64_t fiited_pool_take(fiited_pool *p, int64_t len);
void fiited_pool_give(fiited_pool *p, int64_t base, int64_t len);
int64_t fiited_pool_mapped_bytes(const fiited_pool *p);
int fiited_pool_compact(fiited_table *t);

static inline float *fiited_values(const fiited_pool *p, int64_t c) { return p->values + c * p->chunk_size; }
static inline float *fiited_state(const fiited_pool *p, int64_t c) { return p->state + c * p->state_width; }
/* Optimiser state floats per chunk for an optimiser. */
static inline int32_t fiited_state_width(int64_t optimizer, int64_t chunk_size) {
    return optimizer == FIITED_OPT_ADAGRAD ? (int32_t)chunk_size : optimizer == FIITED_OPT_CHUNK_ADAGRAD ? 1 : 0;
}

static inline uint64_t fiited_mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
/* The tag of an id (never 0): Fibonacci hashing, whose top bits depend on every bit of the id; and
 * a tag's home slot: a multiply-shift into [0, cap). */
static inline uint32_t fiited_tag(uint64_t id) { return (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> 32) | 1u; }
static inline uint64_t fiited_home(uint32_t tag, uint64_t cap) { return (uint64_t)tag * cap >> 32; }

/* The id of record r, and whether record r holds `id`. */
static inline uint64_t fiited_row_key(const fiited_table *t, int64_t r) {
    return (uint64_t)t->rows[r].key | (t->key_hi ? (uint64_t)t->key_hi[r] << 32 : 0);
}
static inline int fiited_row_is(const fiited_row *rows, const uint32_t *key_hi, int64_t r, uint64_t id) {
    return rows[r].key == (uint32_t)id && (key_hi ? key_hi[r] == (uint32_t)(id >> 32) : id >> 32 == 0);
}
/* Bytes of one record, with its high id half when the table keeps them. */
static inline int64_t fiited_record_bytes(const fiited_table *t) {
    return (int64_t)sizeof(fiited_row) + (t->key_hi ? (int64_t)sizeof(uint32_t) : 0);
}

/* Record number of `id` in one index, or -1. */
static inline int64_t fiited_index_find(const fiited_table *t, const fiited_index *ix, uint64_t id, uint32_t tag) {
    uint64_t h = fiited_home(tag, ix->cap);
    for (;;) {
        const fiited_slot *s = &ix->slots[h];
        if (s->tag == 0) return -1;
        if (s->tag == tag && s->row != FIITED_DEAD_ROW && fiited_row_is(t->rows, t->key_hi, s->row, id)) return s->row;
        if (++h == ix->cap) h = 0;
    }
}
/* Record number of `id`, or -1 when it has no row. */
static inline int64_t fiited_find(const fiited_table *t, uint64_t id) {
    uint32_t tag = fiited_tag(id);
    int64_t r = fiited_index_find(t, &t->cur, id, tag);
    if (r < 0 && t->old.slots) r = fiited_index_find(t, &t->old, id, tag);
    return r;
}

/* Initial value of column `col` of row `id`: a function of (seed, id, col) only, so a row gets the
 * same values whenever and wherever (which shard, which process) it is created. */
static inline float fiited_init_value(uint64_t seed, uint64_t id, int64_t col, float scale) {
    uint64_t x = fiited_mix64(fiited_mix64(id ^ (seed * 0xD1B54A32D192ED03ull)) + (uint64_t)col);
    return scale * ((float)((double)(x >> 40) * (1.0 / 8388608.0)) - 1.0f);
}

/* index.c */
int fiited_index_init(fiited_index *ix, uint64_t cap);
void fiited_index_release(fiited_index *ix);
int64_t fiited_insert(fiited_table *t, uint64_t id);
void fiited_migrate(fiited_table *t, int64_t budget);
void fiited_index_remove(fiited_table *t, uint32_t row);
void fiited_index_maybe_shrink(fiited_table *t);
int64_t fiited_index_bytes(const fiited_table *t);
void fiited_index_put_row(fiited_table *t, uint32_t row);
int fiited_index_prepare(fiited_index *ix, int64_t rows);
void fiited_index_install(fiited_table *t, fiited_index *ix);
int fiited_reserve_rows(fiited_table *t, int64_t nrows, int64_t count);

/* vhpi_table.c */
int fiited_set_row_chunks(fiited_table *t, int64_t row, int64_t nchunks, int zero_init);
int64_t fiited_touch_row(fiited_table *t, uint64_t id);
int64_t fiited_alloc_row(fiited_table *t);
int fiited_set_row_key(fiited_table *t, int64_t r, uint64_t id);
int fiited_wide_keys(fiited_table *t);
void fiited_note_peak(fiited_table *t);
fiited_table *fiited_table_alloc(int64_t id_limit, int64_t max_chunks, int64_t chunk_size, int64_t init_chunks,
                                 int64_t optimizer, float lr, float eps, float init_scale, uint64_t seed);
void fiited_table_destroy(void *h);
int fiited_check_ids(const fiited_table *t, const int64_t *ids, int64_t n);
int fiited_check_bags(const int64_t *offsets, int64_t nbags, int64_t n);
static inline int64_t fiited_bag_end(const int64_t *offsets, int64_t nbags, int64_t n, int64_t b) {
    return b + 1 < nbags ? offsets[b + 1] : n;
}
#endif
