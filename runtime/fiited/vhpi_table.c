/* VHPI table: a hash from row id to a slot listing the row's physical chunks; creation, resize,
 * importance decay, statistics, dense row copies and counters. The pooled lookup is in lookup.c,
 * the sparse gradient apply in apply.c. */
#include "fiited.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Load factor 15/16: Fibonacci hashing spreads the dense ids [0, num_rows) almost evenly, so
 * linear probes stay short even this full, and the index costs ~1.07 slots per row. */
#define LOAD_NUM 15
#define LOAD_DEN 16

static float next_uniform(uint64_t *s) {  /* in [-1, 1) */
    *s = fiited_mix64(*s);
    return (float)((*s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* The slot array: when it spans at least one huge page, 2 MiB-aligned and on transparent huge pages
 * (hashing scatters even hot ids over the whole array, and with 4 KiB pages most probes would miss
 * the TLB); smaller arrays take whole 4 KiB pages, so small tables stay small. */
#define HUGE_PAGE ((size_t)2 << 20)
#define SMALL_PAGE ((size_t)4096)
static size_t slots_mapping_bytes(const fiited_table *t) {
    size_t bytes = (size_t)t->hcap * t->slot_bytes, unit = bytes >= HUGE_PAGE ? HUGE_PAGE : SMALL_PAGE;
    return (bytes + unit - 1) / unit * unit;
}

static char *map_slots(size_t bytes) {
    size_t align = bytes >= HUGE_PAGE ? HUGE_PAGE : 0;
    char *m = mmap(NULL, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    if (!align) return m;
    size_t lead = (HUGE_PAGE - (uintptr_t)m % HUGE_PAGE) % HUGE_PAGE;
    if (lead) munmap(m, lead);
    munmap(m + lead + bytes, HUGE_PAGE - lead);
    madvise(m + lead, bytes, MADV_HUGEPAGE);
    return m + lead;
}

static void clear_slot(const fiited_table *t, fiited_slot *s) {
    s->key = -1; s->nchunks = 0; s->freq = 0.f;
    for (int64_t k = 0; k < t->max_chunks; k++) s->chunk[k] = FIITED_ZERO_CHUNK;
}

fiited_slot *fiited_insert(fiited_table *t, int64_t id) {
    uint64_t h = fiited_hash_slot(t, id);
    for (;;) {
        fiited_slot *s = fiited_slot_at(t, h);
        if (s->key == id) return s;
        if (s->key < 0) { s->key = (int32_t)id; return s; }
        if (++h == (uint64_t)t->hcap) h = 0;
    }
}

static void init_chunk(fiited_table *t, int64_t c) {
    float *v = fiited_values(&t->pool, c);
    if (t->init_scale != 0.f)
        for (int64_t j = 0; j < t->chunk_size; j++) v[j] = t->init_scale * next_uniform(&t->rng);
}

/* Shrink or grow a row to `nchunks` chunks; grown chunks are zero or random init values. */
int fiited_set_row_chunks(fiited_table *t, fiited_slot *s, int64_t nchunks, int zero_init) {
    int32_t cur = s->nchunks;
    while (cur > nchunks) {
        cur--;
        fiited_pool_give(&t->pool, s->chunk[cur]);
        s->chunk[cur] = FIITED_ZERO_CHUNK;
    }
    while (cur < nchunks) {
        int64_t c = fiited_pool_take(&t->pool);
        if (c < 0) { s->nchunks = cur; fiited_set_error("out of memory growing a row"); return FIITED_ENOMEM; }
        if (!zero_init) init_chunk(t, c);
        s->chunk[cur++] = (int32_t)c;
    }
    s->nchunks = cur;
    return FIITED_OK;
}

fiited_table *fiited_table_alloc(int64_t num_rows, int64_t max_chunks, int64_t chunk_size,
                                 int64_t optimizer, float lr, float eps, float init_scale, uint64_t seed) {
    fiited_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->num_rows = num_rows; t->max_chunks = max_chunks; t->chunk_size = chunk_size;
    t->optimizer = optimizer; t->lr = lr; t->eps = eps; t->init_scale = init_scale;
    t->rng = seed ^ 0x5DEECE66Dull;
    t->hcap = (num_rows * LOAD_DEN + LOAD_NUM - 1) / LOAD_NUM + 1;
    t->slot_bytes = fiited_slot_bytes(max_chunks);
    t->slots = map_slots(slots_mapping_bytes(t));
    if (!t->slots || fiited_pool_init(&t->pool, (int32_t)chunk_size, optimizer == FIITED_OPT_ADAGRAD,
                                      num_rows * max_chunks)) {
        if (t->slots) munmap(t->slots, slots_mapping_bytes(t));
        free(t);
        return NULL;
    }
    for (int64_t h = 0; h < t->hcap; h++) clear_slot(t, fiited_slot_at(t, h));
    pthread_rwlock_init(&t->lock, NULL);
    return t;
}

static int check_shape(int64_t num_rows, int64_t max_dim, int64_t chunk_size, int64_t init_dim, int64_t optimizer) {
    return num_rows > 0 && num_rows <= FIITED_MAX_ROWS && chunk_size > 0 && max_dim > 0 && max_dim % chunk_size == 0 &&
           max_dim / chunk_size <= FIITED_MAX_CHUNKS_PER_ROW && init_dim >= 0 && init_dim <= max_dim &&
           init_dim % chunk_size == 0 && (optimizer == FIITED_OPT_SGD || optimizer == FIITED_OPT_ADAGRAD);
}

/* Create a table of `num_rows` rows, each starting with `init_chunks` chunks of random values. */
void *fiited_table_create(int64_t num_rows, int64_t max_dim, int64_t chunk_size, int64_t init_dim,
                          int64_t optimizer, double lr, double eps, double init_scale, int64_t seed) {
    if (!check_shape(num_rows, max_dim, chunk_size, init_dim, optimizer)) {
        fiited_set_error("invalid table parameters (rows=%lld max_dim=%lld chunk=%lld init_dim=%lld optimizer=%lld):"
                         " dims must be positive multiples of the chunk size, at most %d chunks per row, rows in [1, %lld]",
                         (long long)num_rows, (long long)max_dim, (long long)chunk_size, (long long)init_dim,
                         (long long)optimizer, FIITED_MAX_CHUNKS_PER_ROW, (long long)FIITED_MAX_ROWS);
        return NULL;
    }
    fiited_table *t = fiited_table_alloc(num_rows, max_dim / chunk_size, chunk_size, optimizer,
                                         (float)lr, (float)eps, (float)init_scale, (uint64_t)seed);
    if (!t) { fiited_set_error("out of memory creating a table of %lld rows", (long long)num_rows); return NULL; }
    for (int64_t id = 0; id < num_rows; id++)
        if (fiited_set_row_chunks(t, fiited_insert(t, id), init_dim / chunk_size, 0)) {
            fiited_table_destroy(t);
            return NULL;
        }
    return t;
}

void fiited_table_destroy(void *h) {
    fiited_table *t = h;
    if (!t) return;
    fiited_pool_free(&t->pool);
    munmap(t->slots, slots_mapping_bytes(t));
    pthread_rwlock_destroy(&t->lock);
    free(t);
}

int fiited_check_ids(const fiited_table *t, const int64_t *ids, int64_t n) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad |= (uint64_t)ids[i] >= (uint64_t)t->num_rows;  /* branch-free scan */
    if (!bad) return FIITED_OK;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->num_rows) {
            fiited_set_error("row id %lld at position %lld is out of range [0, %lld)", (long long)ids[i],
                             (long long)i, (long long)t->num_rows);
            break;
        }
    return FIITED_ERANGE;
}

int fiited_check_bags(const int64_t *offsets, int64_t nbags, int64_t n) {
    for (int64_t b = 0; b < nbags; b++) {
        int64_t lo = offsets[b], hi = fiited_bag_end(offsets, nbags, n, b);
        if (lo < 0 || hi > n || lo > hi) {
            fiited_set_error("offsets must be non-decreasing within [0, %lld]; bag %lld has [%lld, %lld)",
                             (long long)n, (long long)b, (long long)lo, (long long)hi);
            return FIITED_EINVAL;
        }
    }
    return FIITED_OK;
}

/* Multiply every importance and frequency by `factor` (exponential decay between adjustments). */
int fiited_decay_importance(void *h, double factor) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_wrlock(&t->lock);
    float f = (float)factor;
    int64_t nchunks = t->pool.nslabs * FIITED_SLAB_CHUNKS;  /* free chunks too: harmless, reset on take */
    for (int64_t c = 0; c < nchunks; c++) t->pool.importance[c] *= f;
    for (int64_t s = 0; s < t->hcap; s++) fiited_slot_at(t, s)->freq *= f;
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Copy out per-row statistics: dims[num_rows], importance[num_rows, max_chunks], frequency[num_rows]. */
int fiited_read_stats(void *h, int64_t *dims, float *importance, float *frequency) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_rdlock(&t->lock);
    for (int64_t i = 0; i < t->hcap; i++) {
        const fiited_slot *s = fiited_slot_at(t, i);
        if (s->key < 0) continue;
        int64_t id = s->key;
        if (dims) dims[id] = (int64_t)s->nchunks * t->chunk_size;
        if (frequency) frequency[id] = s->freq;
        if (!importance) continue;
        float *imp = importance + id * t->max_chunks;
        for (int64_t k = 0; k < t->max_chunks; k++) imp[k] = k < s->nchunks ? t->pool.importance[s->chunk[k]] : 0.f;
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
    int rc = fiited_check_ids(t, ids, n);
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
            fiited_slot *s = fiited_insert(t, ids[i]);
            int64_t want = dims[i] / t->chunk_size;
            if ((pass == 0) == (want < s->nchunks)) rc = fiited_set_row_chunks(t, s, want, (int)zero_init);
        }
    int64_t total = t->pool.nslabs * FIITED_SLAB_CHUNKS;
    if (!rc && total > 0 && (double)t->pool.nfree > compact_fraction * (double)total && t->pool.nfree >= FIITED_SLAB_CHUNKS)
        fiited_pool_compact(t);
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

/* Force compaction now (whole free slabs are given back). */
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
    int rc = fiited_check_ids(t, ids, n);
    if (rc) return rc;
    int64_t D = t->max_chunks * t->chunk_size, cs = t->chunk_size;
    size_t cbytes = (size_t)cs * sizeof(float);
    pthread_rwlock_rdlock(&t->lock);
    for (int64_t i = 0; i < n; i++) {
        memset(out + i * D, 0, (size_t)D * sizeof(float));
        if (state_out) memset(state_out + i * D, 0, (size_t)D * sizeof(float));
        const fiited_slot *s = fiited_find(t, ids[i]);
        for (int32_t k = 0; s && k < s->nchunks; k++) {
            memcpy(out + i * D + k * cs, fiited_values(&t->pool, s->chunk[k]), cbytes);
            if (state_out && t->pool.state) memcpy(state_out + i * D + k * cs, fiited_state(&t->pool, s->chunk[k]), cbytes);
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Write values[n, max_dim] into rows ids (only the columns within each row's dimension). */
int fiited_set_rows(void *h, const int64_t *ids, int64_t n, const float *values) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    int rc = fiited_check_ids(t, ids, n);
    if (rc) return rc;
    int64_t D = t->max_chunks * t->chunk_size, cs = t->chunk_size;
    pthread_rwlock_wrlock(&t->lock);
    for (int64_t i = 0; i < n; i++) {
        const fiited_slot *s = fiited_find(t, ids[i]);
        for (int32_t k = 0; s && k < s->nchunks; k++)
            memcpy(fiited_values(&t->pool, s->chunk[k]), values + i * D + k * cs, (size_t)cs * sizeof(float));
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Counters: [0] live chunks, [1] value bytes in live chunks, [2] all live chunk bytes (values +
 * optimiser state + importance), [3] mapped slab bytes, [4] index bytes (the VHPI hash slots),
 * [5] free chunks, [6] num_rows, [7] max_dim, [8] chunk_size. */
int fiited_counters(void *h, int64_t *out) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_rdlock(&t->lock);
    int64_t value_bytes = t->chunk_size * 4;
    out[0] = t->pool.live;
    out[1] = t->pool.live * value_bytes;
    out[2] = t->pool.live * (value_bytes * (t->pool.state ? 2 : 1) + 4);
    out[3] = fiited_pool_mapped_bytes(&t->pool);
    out[4] = t->hcap * t->slot_bytes;
    out[5] = t->pool.nfree;
    out[6] = t->num_rows;
    out[7] = t->max_chunks * t->chunk_size;
    out[8] = t->chunk_size;
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

int64_t fiited_optimizer(void *h) { return ((fiited_table *)h)->optimizer; }
