/* Chunk pool: rows are contiguous runs of fixed-size chunks in slabs of one reserved address range
 * per array; free runs are kept by length; compaction slides live runs down and maps the emptied
 * slabs back to PROT_NONE so the process's resident memory really falls. */
#define _GNU_SOURCE
#include "fiited.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static __thread char last_error[512];

void fiited_set_error(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}
const char *fiited_last_error(void) { return last_error; }

#define HUGE_PAGE ((size_t)2 << 20)

static size_t values_slab_bytes(const fiited_pool *p) { return (size_t)FIITED_SLAB_CHUNKS * p->chunk_size * sizeof(float); }
static size_t importance_slab_bytes(void) { return (size_t)FIITED_SLAB_CHUNKS * sizeof(float); }
static size_t state_slab_bytes(const fiited_pool *p) { return (size_t)FIITED_SLAB_CHUNKS * p->state_width * sizeof(float); }

/* Address space only: PROT_NONE + NORESERVE costs neither memory nor commit charge. The range is
 * 2 MiB-aligned and asks for transparent huge pages: uniformly random lookups over a large table
 * otherwise miss the TLB on nearly every row. */
static char *reserve(size_t bytes) {
    size_t span = bytes + HUGE_PAGE;
    char *m = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return NULL;
    char *base = m + (HUGE_PAGE - (uintptr_t)m % HUGE_PAGE) % HUGE_PAGE;
    if (base > m) munmap(m, (size_t)(base - m));
    size_t tail = (size_t)(m + span - (base + bytes));
    if (tail) munmap(base + bytes, tail);
    madvise(base, bytes, MADV_HUGEPAGE);
    return base;
}

/* Commit: make [addr, addr + bytes) writable (pages appear, zeroed, on first touch). Decommit:
 * drop the pages (RSS falls) and make the range inaccessible again. mprotect keeps the huge-page
 * advice of the reservation, which a fresh mmap over it would lose. */
static int remap(void *addr, size_t bytes, int commit) {
    if (commit) return mprotect(addr, bytes, PROT_READ | PROT_WRITE);
    int rc = madvise(addr, bytes, MADV_DONTNEED);
    return rc | mprotect(addr, bytes, PROT_NONE);
}

static void release(void *base, size_t bytes) { if (base) munmap(base, bytes); }

int fiited_pool_init(fiited_pool *p, int32_t chunk_size, int32_t state_width, int64_t max_run, int64_t cap_chunks) {
    memset(p, 0, sizeof *p);
    p->chunk_size = chunk_size;
    p->state_width = state_width;
    p->max_run = max_run;
    int64_t limit = (INT32_MAX / FIITED_SLAB_CHUNKS) * (int64_t)FIITED_SLAB_CHUNKS;
    int64_t cap = (cap_chunks + FIITED_SLAB_CHUNKS - 1) / FIITED_SLAB_CHUNKS * FIITED_SLAB_CHUNKS;
    p->cap_chunks = cap < limit ? cap : limit;
    size_t vbytes = (size_t)p->cap_chunks * chunk_size * sizeof(float);
    p->free_head = malloc((size_t)(max_run + 1) * sizeof(int32_t));
    p->values = (float *)reserve(vbytes);
    p->importance = (float *)reserve((size_t)p->cap_chunks * sizeof(float));
    if (state_width) p->state = (float *)reserve((size_t)p->cap_chunks * state_width * sizeof(float));
    if (!p->free_head || !p->values || !p->importance || (state_width && !p->state)) { fiited_pool_free(p); return FIITED_ENOMEM; }
    for (int64_t k = 0; k <= max_run; k++) p->free_head[k] = -1;
    return FIITED_OK;
}

void fiited_pool_free(fiited_pool *p) {
    size_t vbytes = (size_t)p->cap_chunks * p->chunk_size * sizeof(float);
    release(p->values, vbytes);
    release(p->state, (size_t)p->cap_chunks * p->state_width * sizeof(float));
    release(p->importance, (size_t)p->cap_chunks * sizeof(float));
    free(p->free_head);
    memset(p, 0, sizeof *p);
}

/* A free run's list link lives in its first value. */
static int32_t next_free(const fiited_pool *p, int64_t c) {
    int32_t n; memcpy(&n, fiited_values(p, c), sizeof n); return n;
}
static void push_free(fiited_pool *p, int64_t base, int64_t len) {
    memcpy(fiited_values(p, base), &p->free_head[len], sizeof(int32_t));
    p->free_head[len] = (int32_t)base;
    p->nfree += len;
}
static int64_t pop_free(fiited_pool *p, int64_t len) {
    int64_t c = p->free_head[len];
    p->free_head[len] = next_free(p, c);
    p->nfree -= len;
    return c;
}

/* Commit or decommit slabs [s0, s1) of every array. */
static int map_slabs(fiited_pool *p, int64_t s0, int64_t s1, int commit) {
    size_t vs = values_slab_bytes(p), is = importance_slab_bytes(), k = (size_t)(s1 - s0);
    int rc = remap((char *)p->values + s0 * vs, k * vs, commit);
    rc |= remap((char *)p->importance + s0 * is, k * is, commit);
    if (p->state) rc |= remap((char *)p->state + s0 * state_slab_bytes(p), k * state_slab_bytes(p), commit);
    return rc;
}

/* Commit slabs until chunk `end` is backed, growing by an eighth of what is committed (at least a
 * slab), so at most ~1/8 of the committed chunks lie unused above the top; pools past 16 MiB of
 * values grow by whole aligned 2 MiB extents (also at most 1/8), which huge pages then back whole.
 * (Doubling up to a 2 MiB extent left small pools up to half unused: with 26 tables of a few MiB
 * each, that unused top was 10-30% of a DLRM's table memory.) */
static int commit_to(fiited_pool *p, int64_t end) {
    int64_t extent = (int64_t)(HUGE_PAGE / values_slab_bytes(p));
    if (extent < 1) extent = 1;
    while (p->nslabs * FIITED_SLAB_CHUNKS < end) {
        int64_t n = p->nslabs / 8 > 1 ? p->nslabs / 8 : 1;
        if (p->nslabs >= 8 * extent) n = extent - p->nslabs % extent;
        int64_t need = (end + FIITED_SLAB_CHUNKS - 1) / FIITED_SLAB_CHUNKS - p->nslabs;
        if (n < need && p->nslabs < 8 * extent) n = need;  /* one large run: commit it in one go */
        int64_t room = p->cap_chunks / FIITED_SLAB_CHUNKS - p->nslabs;
        if (n > room) n = room;
        if (n <= 0 || map_slabs(p, p->nslabs, p->nslabs + n, 1)) return -1;
        p->nslabs += n;
    }
    return 0;
}

/* A zeroed run of `len` chunks (values, state, importance), or -1 when out of memory: a free run of
 * that length, else fresh chunks at the top, else a longer free run split. */
int64_t fiited_pool_take(fiited_pool *p, int64_t len) {
    int64_t c = -1;
    if (p->free_head[len] >= 0) c = pop_free(p, len);
    else if (p->top + len <= p->cap_chunks && !commit_to(p, p->top + len)) { c = p->top; p->top += len; }
    else
        for (int64_t m = len + 1; m <= p->max_run && c < 0; m++)
            if (p->free_head[m] >= 0) { c = pop_free(p, m); push_free(p, c + len, m - len); }
    if (c < 0) return -1;
    p->live += len;
    size_t bytes = (size_t)(len * p->chunk_size) * sizeof(float);
    memset(fiited_values(p, c), 0, bytes);
    if (p->state) memset(fiited_state(p, c), 0, (size_t)(len * p->state_width) * sizeof(float));
    memset(p->importance + c, 0, (size_t)len * sizeof(float));
    return c;
}

void fiited_pool_give(fiited_pool *p, int64_t base, int64_t len) {
    if (len <= 0) return;
    push_free(p, base, len);
    p->live -= len;
}

int64_t fiited_pool_mapped_bytes(const fiited_pool *p) {
    size_t per_slab = values_slab_bytes(p) + state_slab_bytes(p) + importance_slab_bytes();
    return p->nslabs * (int64_t)per_slab;
}

/* Sort u64 keys by their upper 32 bits (two 16-bit radix passes). */
static int sort_by_high(uint64_t *a, int64_t n) {
    uint64_t *tmp = malloc((size_t)n * sizeof *tmp);
    int64_t *count = malloc(65536 * sizeof *count);
    if (!tmp || !count) { free(tmp); free(count); return -1; }
    for (int shift = 32; shift < 64; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (int64_t i = 0; i < n; i++) count[(a[i] >> shift) & 0xFFFF]++;
        int64_t sum = 0;
        for (int b = 0; b < 65536; b++) { int64_t c = count[b]; count[b] = sum; sum += c; }
        for (int64_t i = 0; i < n; i++) tmp[count[(a[i] >> shift) & 0xFFFF]++] = a[i];
        memcpy(a, tmp, (size_t)n * sizeof *a);
    }
    free(tmp); free(count);
    return 0;
}

/* Slide every live run down in address order (each moves to a lower or equal place, so the moves
 * never overwrite a run not yet moved), then give back the slabs above the new top. */
int fiited_pool_compact(fiited_table *t) {
    fiited_pool *p = &t->pool;
    int64_t n = 0;
    for (int64_t r = 0; r < t->nrows; r++) n += t->rows[r].nchunks != FIITED_ROW_FREE && t->rows[r].nchunks > 0;
    uint64_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) return -1;  /* compaction is an optimisation: skip it rather than fail */
    int64_t k = 0;
    for (int64_t r = 0; r < t->nrows; r++)
        if (t->rows[r].nchunks != FIITED_ROW_FREE && t->rows[r].nchunks > 0)
            order[k++] = (uint64_t)t->rows[r].base << 32 | (uint64_t)r;
    if (sort_by_high(order, n)) { free(order); return -1; }
    int64_t cursor = 0, cs = p->chunk_size;
    for (int64_t i = 0; i < n; i++) {
        fiited_row *row = &t->rows[order[i] & 0xFFFFFFFFu];
        int64_t len = row->nchunks, from = row->base;
        if (from != cursor) {
            memmove(fiited_values(p, cursor), fiited_values(p, from), (size_t)(len * cs) * sizeof(float));
            if (p->state) memmove(fiited_state(p, cursor), fiited_state(p, from), (size_t)(len * p->state_width) * sizeof(float));
            memmove(p->importance + cursor, p->importance + from, (size_t)len * sizeof(float));
            row->base = (uint32_t)cursor;
        }
        cursor += len;
    }
    free(order);
    for (int64_t m = 0; m <= p->max_run; m++) p->free_head[m] = -1;
    p->nfree = 0;
    p->top = cursor;
    int64_t keep = (cursor + FIITED_SLAB_CHUNKS - 1) / FIITED_SLAB_CHUNKS;
    if (keep < p->nslabs) {
        map_slabs(p, keep, p->nslabs, 0);
        p->nslabs = keep;
    }
    return 0;
}

/* Sticky status for code that cannot inspect return codes (MLIR-lowered calls record theirs here;
 * the caller reads and clears it after the program ran). */
static int sticky_status;
static char sticky_message[512];
void fiited_record_status(int32_t rc) {
    if (rc != 0 && sticky_status == 0) {
        sticky_status = rc;
        snprintf(sticky_message, sizeof sticky_message, "%s", last_error);
    }
}
int32_t fiited_take_status(char *message, int64_t capacity) {
    int rc = sticky_status;
    if (message && capacity > 0) snprintf(message, (size_t)capacity, "%s", rc ? sticky_message : "");
    sticky_status = 0;
    sticky_message[0] = 0;
    return rc;
}
