/* The table: rows created on first touch in training (at the starting dimension), resized by the
 * adjustment, evicted after `evict_after` adjustments untouched; statistics, dense row copies and
 * counters. The pooled lookup is in lookup.c, the sparse gradient apply in apply.c, the index in
 * index.c. */
#include "fiited.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NO_ROW UINT32_MAX
/* Reserved chunk address space per array: 16 GiB of values (or the id limit's worth). */
#define VALUE_SPACE ((int64_t)16 << 30)

static int check_shape(int64_t id_limit, int64_t max_dim, int64_t chunk_size, int64_t init_dim, int64_t optimizer) {
    return id_limit >= 0 && chunk_size > 0 && chunk_size <= 4096 && max_dim > 0 && max_dim % chunk_size == 0 &&
           max_dim / chunk_size <= FIITED_MAX_CHUNKS_PER_ROW && init_dim >= 0 && init_dim <= max_dim &&
           init_dim % chunk_size == 0 && (optimizer == FIITED_OPT_SGD || optimizer == FIITED_OPT_ADAGRAD || optimizer == FIITED_OPT_CHUNK_ADAGRAD);
}

/* Row records: one mapping grown with mremap (page tables move, the records are not copied); the
 * high id halves, once mapped, in a second mapping of the same capacity. */
static void *grow_mapping(void *m, int64_t from_bytes, int64_t to_bytes) {
    void *n = m ? mremap(m, (size_t)from_bytes, (size_t)to_bytes, MREMAP_MAYMOVE)
                : mmap(NULL, (size_t)to_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return n == MAP_FAILED ? NULL : n;
}

int64_t fiited_alloc_row(fiited_table *t) {
    if (t->free_row != NO_ROW) {
        int64_t r = t->free_row;
        t->free_row = t->rows[r].base;
        return r;
    }
    if (t->nrows == t->rows_cap) {
        if (t->nrows >= FIITED_MAX_LIVE_ROWS) { fiited_set_error("a table holds at most %lld rows", (long long)FIITED_MAX_LIVE_ROWS); return -1; }
        int64_t cap = t->rows_cap ? t->rows_cap * 2 : 1024;
        if (t->key_hi) {
            uint32_t *hi = grow_mapping(t->key_hi, t->rows_cap * 4, cap * 4);
            if (!hi) { fiited_set_error("out of memory growing the row records"); return -1; }
            t->key_hi = hi;
        }
        fiited_row *m = grow_mapping(t->rows, t->rows_cap * (int64_t)sizeof(fiited_row), cap * (int64_t)sizeof(fiited_row));
        if (!m) {
            if (t->key_hi) t->key_hi = grow_mapping(t->key_hi, cap * 4, t->rows_cap * 4);  /* shrinking in place cannot fail */
            fiited_set_error("out of memory growing the row records");
            return -1;
        }
        t->rows = m;
        t->rows_cap = cap;
    }
    return t->nrows++;
}

/* Map the high id halves (zero: every record so far holds an id < 2^32); 0 when mapped. */
int fiited_wide_keys(fiited_table *t) {
    if (t->key_hi) return 0;
    int64_t cap = t->rows_cap ? t->rows_cap : 1024;
    if (!t->rows_cap) {  /* no record yet: map the records first so both arrays have one capacity */
        fiited_row *m = grow_mapping(NULL, 0, cap * (int64_t)sizeof(fiited_row));
        if (!m) { fiited_set_error("out of memory mapping the row records"); return -1; }
        t->rows = m;
        t->rows_cap = cap;
    }
    t->key_hi = grow_mapping(NULL, 0, cap * 4);
    if (!t->key_hi) { fiited_set_error("out of memory mapping the row ids"); return -1; }
    return 0;
}

/* Store `id` in record r (whose table keeps high halves if id >= 2^32: see fiited_wide_keys). */
int fiited_set_row_key(fiited_table *t, int64_t r, uint64_t id) {
    if (id >> 32 && fiited_wide_keys(t)) return -1;
    t->rows[r].key = (uint32_t)id;
    if (t->key_hi) t->key_hi[r] = (uint32_t)(id >> 32);
    return 0;
}

/* The memory a table holds now: mapped chunks (free ones included), both indexes during a rehash,
 * and the row records. */
static int64_t held_bytes(const fiited_table *t) {
    return fiited_pool_mapped_bytes(&t->pool) + fiited_index_bytes(t) + t->nrows * fiited_record_bytes(t);
}

/* Record the memory held now if it is the most so far (under the write lock). */
void fiited_note_peak(fiited_table *t) {
    int64_t now = held_bytes(t);
    if (now > t->peak_bytes) t->peak_bytes = now;
}

static void free_row(fiited_table *t, int64_t r) {
    t->rows[r].nchunks = FIITED_ROW_FREE;
    fiited_set_row_key(t, r, 0);
    t->rows[r].freq = 0.f;
    t->rows[r].base = t->free_row;
    t->free_row = (uint32_t)r;
}

/* Shrink or grow row r to `nchunks` chunks. A grown row moves to a fresh run (its surviving chunks
 * copied); new chunks are zero or the row's initial values. */
int fiited_set_row_chunks(fiited_table *t, int64_t r, int64_t nchunks, int zero_init) {
    fiited_pool *p = &t->pool;
    int64_t cur = t->rows[r].nchunks, base = t->rows[r].base, cs = t->chunk_size;
    if (nchunks == cur) return FIITED_OK;
    if (nchunks < cur) {
        fiited_pool_give(p, base + nchunks, cur - nchunks);
        t->rows[r].nchunks = (uint16_t)nchunks;
        if (!nchunks) t->rows[r].base = 0;
        return FIITED_OK;
    }
    int64_t nb = fiited_pool_take(p, nchunks);
    if (nb < 0) { fiited_set_error("out of memory growing a row"); return FIITED_ENOMEM; }
    if (cur) {
        size_t bytes = (size_t)(cur * cs) * sizeof(float);
        memcpy(fiited_values(p, nb), fiited_values(p, base), bytes);
        if (p->state) memcpy(fiited_state(p, nb), fiited_state(p, base), (size_t)(cur * p->state_width) * sizeof(float));
        memcpy(p->importance + nb, p->importance + base, (size_t)cur * sizeof(float));
        fiited_pool_give(p, base, cur);
    }
    if (!zero_init && t->init_scale != 0.f) {
        float *v = fiited_values(p, nb);
        uint64_t id = fiited_row_key(t, r);
        for (int64_t j = cur * cs; j < nchunks * cs; j++) v[j] = fiited_init_value(t->seed, id, j, t->init_scale);
    }
    t->rows[r].base = (uint32_t)nb;
    t->rows[r].nchunks = (uint16_t)nchunks;
    return FIITED_OK;
}

/* The row of `id`, created at the starting dimension with its initial values if it has none;
 * -1 when out of memory. Marks it touched. */
int64_t fiited_touch_row(fiited_table *t, uint64_t id) {
    int64_t r = fiited_find(t, id);
    if (r < 0) {
        if ((r = fiited_insert(t, id)) < 0) return -1;
        if (fiited_set_row_chunks(t, r, t->init_chunks, 0)) return -1;
    }
    t->rows[r].seen = fiited_epoch15(t->epoch) | (t->rows[r].seen & FIITED_SEEN_AGAIN);
    return r;
}

fiited_table *fiited_table_alloc(int64_t id_limit, int64_t max_chunks, int64_t chunk_size, int64_t init_chunks,
                                 int64_t optimizer, float lr, float eps, float init_scale, uint64_t seed) {
    fiited_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->id_limit = id_limit; t->max_chunks = max_chunks; t->chunk_size = chunk_size; t->init_chunks = init_chunks;
    t->optimizer = optimizer; t->lr = lr; t->eps = eps; t->init_scale = init_scale; t->seed = seed;
    t->training = 1;
    t->free_row = NO_ROW;
    int64_t cap = VALUE_SPACE / (chunk_size * 4);
    if (id_limit > 0 && id_limit <= cap / (2 * max_chunks)) cap = 2 * (id_limit * max_chunks + max_chunks);
    if (fiited_index_init(&t->cur, 0) ||
        fiited_pool_init(&t->pool, (int32_t)chunk_size, fiited_state_width(optimizer, chunk_size), max_chunks, cap)) {
        fiited_index_release(&t->cur);
        free(t);
        return NULL;
    }
    pthread_rwlock_init(&t->lock, NULL);
    return t;
}

/* A table with no rows: ids (raw 64-bit, in [0, id_limit) when id_limit > 0) get a row the first
 * time a training lookup, gradient apply, resize or set_rows meets them. */
void *fiited_table_create(int64_t id_limit, int64_t max_dim, int64_t chunk_size, int64_t init_dim,
                          int64_t optimizer, double lr, double eps, double init_scale, int64_t seed) {
    if (!check_shape(id_limit, max_dim, chunk_size, init_dim, optimizer)) {
        fiited_set_error("invalid table parameters (id_limit=%lld max_dim=%lld chunk=%lld init_dim=%lld optimizer=%lld):"
                         " dims must be positive multiples of the chunk size, at most %d chunks per row, id_limit >= 0",
                         (long long)id_limit, (long long)max_dim, (long long)chunk_size, (long long)init_dim,
                         (long long)optimizer, FIITED_MAX_CHUNKS_PER_ROW);
        return NULL;
    }
    fiited_table *t = fiited_table_alloc(id_limit, max_dim / chunk_size, chunk_size, init_dim / chunk_size, optimizer,
                                         (float)lr, (float)eps, (float)init_scale, (uint64_t)seed);
    if (!t) fiited_set_error("out of memory creating a table");
    return t;
}

void fiited_table_destroy(void *h) {
    fiited_table *t = h;
    if (!t) return;
    fiited_pool_free(&t->pool);
    fiited_index_release(&t->cur);
    fiited_index_release(&t->old);
    if (t->rows) munmap(t->rows, (size_t)t->rows_cap * sizeof(fiited_row));
    if (t->key_hi) munmap(t->key_hi, (size_t)t->rows_cap * 4);
    pthread_rwlock_destroy(&t->lock);
    free(t);
}

int fiited_check_ids(const fiited_table *t, const int64_t *ids, int64_t n) {
    uint64_t limit = t->id_limit > 0 ? (uint64_t)t->id_limit : (uint64_t)INT64_MAX + 1;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad |= (uint64_t)ids[i] >= limit;  /* branch-free scan */
    if (!bad) return FIITED_OK;
    for (int64_t i = 0; i < n; i++)
        if ((uint64_t)ids[i] >= limit) {
            if (t->id_limit > 0)
                fiited_set_error("row id %lld at position %lld is out of range [0, %lld)", (long long)ids[i],
                                 (long long)i, (long long)t->id_limit);
            else
                fiited_set_error("row id %lld at position %lld is out of range (ids are non-negative)", (long long)ids[i], (long long)i);
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

/* Training mode (default): lookups create missing rows. Evaluation: missing rows read as zeros. */
int fiited_set_training(void *h, int64_t on) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_wrlock(&t->lock);
    t->training = on != 0;
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Rows untouched for more than `adjustments` adjustments are evicted at the next one (0: never);
 * rows touched in one batch only, after `single` adjustments (0: as the others). A row seen once
 * holds one sample's worth of learning, and most ids of a long tail are seen once: evicting them
 * sooner lets the rows seen repeatedly, which hold what training learned, live longer in the same
 * memory. */
int fiited_set_eviction(void *h, int64_t adjustments, int64_t single) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    if (adjustments < 0 || adjustments > 30000) { fiited_set_error("evict_after must be in [0, 30000], got %lld", (long long)adjustments); return FIITED_EINVAL; }
    if (single < 0 || single > 30000) { fiited_set_error("evict_single_after must be in [0, 30000], got %lld", (long long)single); return FIITED_EINVAL; }
    if (single && !adjustments) { fiited_set_error("evict_single_after needs evict_after (rows seen repeatedly are never evicted otherwise)"); return FIITED_EINVAL; }
    if (single > adjustments) { fiited_set_error("evict_single_after (%lld) must not exceed evict_after (%lld)", (long long)single, (long long)adjustments); return FIITED_EINVAL; }
    t->evict_after = adjustments;
    t->evict_single_after = single ? single : adjustments;
    return FIITED_OK;
}

int64_t fiited_live_rows(void *h) {
    fiited_table *t = h;
    pthread_rwlock_rdlock(&t->lock);
    int64_t n = t->count;
    pthread_rwlock_unlock(&t->lock);
    return n;
}

/* When at least a quarter of the records are free: renumber the live ones densely, in order (so the
 * record order, which statistics and scores follow, is kept), give the rest back and rebuild the
 * index at its target load. Returns nonzero when it did not run. */
static int compact_rows(fiited_table *t) {
    int64_t nfree = t->nrows - t->count;
    fiited_index ix;
    if (nfree < 1024 || nfree * 4 < t->nrows || fiited_index_prepare(&ix, t->count)) return 1;
    int64_t w = 0;
    for (int64_t r = 0; r < t->nrows; r++)
        if (t->rows[r].nchunks != FIITED_ROW_FREE) {
            if (t->key_hi) t->key_hi[w] = t->key_hi[r];
            t->rows[w++] = t->rows[r];
        }
    t->nrows = w;
    t->free_row = NO_ROW;
    int64_t cap = 1024;
    while (cap < w) cap *= 2;
    if (cap < t->rows_cap) {
        void *m = mremap(t->rows, (size_t)t->rows_cap * sizeof(fiited_row), (size_t)cap * sizeof(fiited_row), 0);
        void *h = t->key_hi ? mremap(t->key_hi, (size_t)t->rows_cap * 4, (size_t)cap * 4, 0) : NULL;
        if (m != MAP_FAILED && (!t->key_hi || h != MAP_FAILED)) t->rows_cap = cap;  /* shrinking in place */
    }
    /* the freed records' pages below the capacity go back too (RSS falls with the counter) */
    size_t keep = ((size_t)w * sizeof(fiited_row) + 4095) & ~(size_t)4095, mapped = (size_t)t->rows_cap * sizeof(fiited_row);
    if (keep < mapped) madvise((char *)t->rows + keep, mapped - keep, MADV_DONTNEED);
    if (t->key_hi && (keep = ((size_t)w * 4 + 4095) & ~(size_t)4095) < (mapped = (size_t)t->rows_cap * 4))
        madvise((char *)t->key_hi + keep, mapped - keep, MADV_DONTNEED);
    fiited_index_install(t, &ix);
    return 0;
}

static void evict_idle(fiited_table *t) {
    int64_t evicted = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        fiited_row *row = &t->rows[r];
        if (row->nchunks == FIITED_ROW_FREE) continue;
        int64_t idle = (fiited_epoch15(t->epoch) - (row->seen & FIITED_SEEN_EPOCH)) & FIITED_SEEN_EPOCH;
        if (idle <= (row->seen & FIITED_SEEN_AGAIN ? t->evict_after : t->evict_single_after)) continue;
        fiited_pool_give(&t->pool, row->base, row->nchunks);
        fiited_index_remove(t, (uint32_t)r);
        free_row(t, r);
        evicted++;
    }
    if (!evicted) return;
    if (compact_rows(t)) fiited_index_maybe_shrink(t);
}

/* Whether to compact now: more than `fraction` of the committed chunks and a whole slab's worth are
 * free, or the pool's top has passed half its reserved capacity while free runs sit below it. A
 * bounded table's pool holds twice its rows at full size, so after compaction every row can still
 * be created or grown; with no slab's worth ever free (a small table) it would otherwise fill with
 * freed runs of the wrong lengths over many adjustments until a growing row found no room. */
static int worth_compacting(const fiited_pool *p, double fraction) {
    int64_t total = p->nslabs * FIITED_SLAB_CHUNKS;
    if (p->nfree > 0 && p->top > p->cap_chunks / 2) return 1;
    return total > 0 && (double)p->nfree > fraction * (double)total && p->nfree >= FIITED_SLAB_CHUNKS;
}

/* One call per adjustment: multiply every importance and frequency by `factor` (exponential decay),
 * advance the table's clock and evict the rows idle for more than `evict_after` adjustments. */
int fiited_decay_importance(void *h, double factor) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_wrlock(&t->lock);
    fiited_note_peak(t);
    float f = (float)factor;
    for (int64_t c = 0; c < t->pool.top; c++) t->pool.importance[c] *= f;  /* free chunks too: reset on take */
    for (int64_t r = 0; r < t->nrows; r++) t->rows[r].freq *= f;
    t->epoch++;
    if (t->evict_after > 0) evict_idle(t);
    if (t->old.slots) fiited_migrate(t, (int64_t)t->old.cap);  /* this call is O(rows) anyway */
    /* compaction is one pass over the live chunks, as this call's decay already is: compact whenever
     * a slab's worth of chunks is free, so freed runs never stay mapped past an adjustment */
    if (worth_compacting(&t->pool, 0.0)) fiited_pool_compact(t);
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Per-row statistics of the live rows in record order: ids, dims, importance[count, max_chunks] and
 * frequency (any output may be NULL). `capacity`: rows the outputs hold; *count: live rows (when it
 * exceeds capacity nothing is written and FIITED_ERANGE returned). */
int fiited_read_stats(void *h, int64_t capacity, int64_t *ids, int64_t *dims, float *importance, float *frequency, int64_t *count) {
    fiited_table *t = h;
    if (!t || !count) { fiited_set_error("null table or count"); return FIITED_EINVAL; }
    pthread_rwlock_rdlock(&t->lock);
    *count = t->count;
    if (t->count > capacity) {
        pthread_rwlock_unlock(&t->lock);
        fiited_set_error("the table has %lld rows, more than the %lld the outputs hold", (long long)t->count, (long long)capacity);
        return FIITED_ERANGE;
    }
    int64_t i = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        const fiited_row *row = &t->rows[r];
        if (row->nchunks == FIITED_ROW_FREE) continue;
        if (ids) ids[i] = (int64_t)fiited_row_key(t, r);
        if (dims) dims[i] = (int64_t)row->nchunks * t->chunk_size;
        if (frequency) frequency[i] = row->freq;
        if (importance)
            for (int64_t k = 0; k < t->max_chunks; k++)
                importance[i * t->max_chunks + k] = k < row->nchunks ? t->pool.importance[row->base + k] : 0.f;
        i++;
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Set the dimension of rows ids[i] to dims[i] (a multiple of the chunk size, 0 prunes the row;
 * ids without a row, e.g. evicted since the caller read them, are skipped). Grown chunks start at zero (zero_init=1) or at the row's initial
 * values; compacts when free chunks exceed `compact_fraction` of the pool. */
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
    /* Shrink first, then give the freed chunks back before growing: a grown row moves to a new run
     * and leaves its old one free, so the grow pass compacts whenever an eighth of the pool is free
     * rather than holding every old run until the end (which raised the peak by the grown rows). */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (int64_t i = 0; i < n && !rc; i++) {
            int64_t r = fiited_find(t, (uint64_t)ids[i]);
            if (r < 0) continue;
            int64_t want = dims[i] / t->chunk_size;
            if ((pass == 0) != (want < t->rows[r].nchunks)) continue;
            if (pass == 1 && worth_compacting(&t->pool, 0.125)) fiited_note_peak(t), fiited_pool_compact(t);
            rc = fiited_set_row_chunks(t, r, want, (int)zero_init);
        }
        fiited_note_peak(t);
        if (pass == 0 && !rc && worth_compacting(&t->pool, compact_fraction)) fiited_pool_compact(t);
    }
    if (!rc && worth_compacting(&t->pool, compact_fraction)) fiited_pool_compact(t);
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

/* Force compaction now (whole free slabs are given back). */
int fiited_compact(void *h) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_wrlock(&t->lock);
    int rc = fiited_pool_compact(t);
    pthread_rwlock_unlock(&t->lock);
    if (rc) { fiited_set_error("out of memory compacting"); return FIITED_ENOMEM; }
    return FIITED_OK;
}

/* Create the missing rows among ids (as a training lookup would) and mark all of them touched. */
int fiited_touch(void *h, const int64_t *ids, int64_t n) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    int rc = fiited_check_ids(t, ids, n);
    if (rc) return rc;
    pthread_rwlock_wrlock(&t->lock);
    for (int64_t i = 0; i < n && !rc; i++)
        if (fiited_touch_row(t, (uint64_t)ids[i]) < 0) rc = FIITED_ENOMEM;
    fiited_note_peak(t);
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

/* Dense copies for tests and baselines: rows ids -> out[n, max_dim] (zeros beyond each row's dim,
 * and for ids without a row). */
int fiited_get_rows(void *h, const int64_t *ids, int64_t n, float *out, float *state_out) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    int rc = fiited_check_ids(t, ids, n);
    if (rc) return rc;
    int64_t D = t->max_chunks * t->chunk_size;
    pthread_rwlock_rdlock(&t->lock);
    for (int64_t i = 0; i < n; i++) {
        memset(out + i * D, 0, (size_t)D * sizeof(float));
        if (state_out) memset(state_out + i * D, 0, (size_t)D * sizeof(float));
        int64_t r = fiited_find(t, (uint64_t)ids[i]);
        if (r < 0) continue;
        const fiited_row *row = &t->rows[r];
        size_t bytes = (size_t)(row->nchunks * t->chunk_size) * sizeof(float);
        if (bytes) memcpy(out + i * D, fiited_values(&t->pool, row->base), bytes);
        if (bytes && state_out && t->pool.state) {
            const float *s = fiited_state(&t->pool, row->base);
            int64_t w = t->pool.state_width;  /* chunk Adagrad: its accumulator repeated over the chunk */
            for (int64_t j = 0; j < row->nchunks * t->chunk_size; j++) state_out[i * D + j] = s[j / t->chunk_size * w + j % t->chunk_size % w];
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

/* Write values[n, max_dim] into rows ids (only the columns within each row's dimension); missing
 * rows are created at the starting dimension first. */
int fiited_set_rows(void *h, const int64_t *ids, int64_t n, const float *values) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    int rc = fiited_check_ids(t, ids, n);
    if (rc) return rc;
    int64_t D = t->max_chunks * t->chunk_size;
    pthread_rwlock_wrlock(&t->lock);
    for (int64_t i = 0; i < n && !rc; i++) {
        int64_t r = fiited_touch_row(t, (uint64_t)ids[i]);
        if (r < 0) { rc = FIITED_ENOMEM; break; }
        const fiited_row *row = &t->rows[r];
        memcpy(fiited_values(&t->pool, row->base), values + i * D, (size_t)(row->nchunks * t->chunk_size) * sizeof(float));
    }
    fiited_note_peak(t);
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

/* Initial values of rows ids (as the table with this seed and scale creates them): out[n, dim]. */
void fiited_init_rows(int64_t seed, double scale, const int64_t *ids, int64_t n, int64_t dim, float *out) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++) out[i * dim + j] = fiited_init_value((uint64_t)seed, (uint64_t)ids[i], j, (float)scale);
}

/* Counters: [0] live chunks, [1] value bytes, [2] values + optimiser state + importance bytes of the
 * live chunks, [3] mapped chunk bytes (free chunks included), [4] index bytes (hash slots, both
 * indexes during a rehash), [5] free chunks, [6] id limit, [7] max_dim, [8] chunk_size, [9] live
 * rows, [10] row record bytes (mapped), [11] optimiser state bytes, [12] importance bytes (per chunk
 * importance; the per-row frequency is in the records), [13] adjustments so far, [14] slots of the
 * old index still to copy (a rehash under way), [15] peak of [3] + [4] + [10] (see fiited_note_peak). */
#define NCOUNTERS 16
int fiited_counters(void *h, int64_t *out) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    pthread_rwlock_rdlock(&t->lock);
    int64_t value_bytes = t->chunk_size * 4, live = t->pool.live;
    out[0] = live;
    out[1] = live * value_bytes;
    out[2] = live * (value_bytes + 4 * (int64_t)t->pool.state_width + 4);
    out[3] = fiited_pool_mapped_bytes(&t->pool);
    out[4] = fiited_index_bytes(t);
    out[5] = t->pool.nfree;
    out[6] = t->id_limit;
    out[7] = t->max_chunks * t->chunk_size;
    out[8] = t->chunk_size;
    out[9] = t->count;
    out[10] = t->nrows * fiited_record_bytes(t);  /* mapped beyond nrows: never touched, not resident */
    out[11] = live * 4 * (int64_t)t->pool.state_width;
    out[12] = live * 4;
    out[13] = t->epoch;
    out[14] = t->old.slots ? (int64_t)(t->old.cap - t->cursor) : 0;
    int64_t held = held_bytes(t);  /* counted, not recorded: this call holds the read lock only */
    out[15] = held > t->peak_bytes ? held : t->peak_bytes;  /* e.g. just loaded */
    pthread_rwlock_unlock(&t->lock);
    return FIITED_OK;
}

int64_t fiited_optimizer(void *h) { return ((fiited_table *)h)->optimizer; }
