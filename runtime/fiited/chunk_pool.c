/* Chunk pool: fixed-size chunks in slabs of one reserved address range per array; whole free slabs
 * are mapped back to PROT_NONE after compaction so the process's resident memory really falls. */
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

#define PAGE ((size_t)4096)
#define HUGE_PAGE ((size_t)2 << 20)

static size_t values_slab_bytes(const fiited_pool *p) { return (size_t)FIITED_SLAB_CHUNKS * p->chunk_size * sizeof(float); }
static size_t importance_slab_bytes(void) { return (size_t)FIITED_SLAB_CHUNKS * sizeof(float); }

/* Address space only: PROT_NONE + NORESERVE costs neither memory nor commit charge. The range is
 * 2 MiB-aligned (after `lead` bytes) and asks for transparent huge pages: uniformly random lookups
 * over a large table otherwise miss the TLB on nearly every row. */
static char *reserve(size_t lead, size_t bytes) {
    size_t span = lead + bytes + HUGE_PAGE;
    char *m = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return NULL;
    char *base = m + (HUGE_PAGE - (uintptr_t)(m + lead) % HUGE_PAGE) % HUGE_PAGE;
    if (base > m) munmap(m, (size_t)(base - m));
    size_t tail = (size_t)(m + span - (base + lead + bytes));
    if (tail) munmap(base + lead + bytes, tail);
    madvise(base + lead, bytes, MADV_HUGEPAGE);
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

int fiited_pool_init(fiited_pool *p, int32_t chunk_size, int has_state, int64_t max_live) {
    memset(p, 0, sizeof *p);
    p->chunk_size = chunk_size;
    p->free_head = -1;
    int64_t limit = (INT32_MAX / FIITED_SLAB_CHUNKS) * (int64_t)FIITED_SLAB_CHUNKS;
    int64_t cap = (max_live + FIITED_SLAB_CHUNKS - 1) / FIITED_SLAB_CHUNKS * FIITED_SLAB_CHUNKS;
    p->cap_chunks = cap < limit ? cap : limit;
    size_t vbytes = (size_t)p->cap_chunks * chunk_size * sizeof(float);
    p->lead_bytes = ((size_t)chunk_size * sizeof(float) + PAGE - 1) / PAGE * PAGE;
    char *v = reserve(p->lead_bytes, vbytes);
    if (!v) return FIITED_ENOMEM;
    /* the zero chunk's lead: read-only zero pages (a stray write faults instead of corrupting) */
    if (mprotect(v, p->lead_bytes, PROT_READ)) {
        release(v, p->lead_bytes + vbytes);
        return FIITED_ENOMEM;
    }
    p->values = (float *)(v + p->lead_bytes);
    p->importance = (float *)reserve(0, (size_t)p->cap_chunks * sizeof(float));
    if (has_state) p->state = (float *)reserve(0, vbytes);
    if (!p->importance || (has_state && !p->state)) { fiited_pool_free(p); return FIITED_ENOMEM; }
    return FIITED_OK;
}

void fiited_pool_free(fiited_pool *p) {
    size_t vbytes = (size_t)p->cap_chunks * p->chunk_size * sizeof(float);
    if (p->values) release((char *)p->values - p->lead_bytes, p->lead_bytes + vbytes);
    release(p->state, vbytes);
    release(p->importance, (size_t)p->cap_chunks * sizeof(float));
    memset(p, 0, sizeof *p);
}

/* The free list is threaded through the free chunks' first value. */
static int32_t next_free(const fiited_pool *p, int64_t c) {
    int32_t n; memcpy(&n, fiited_values(p, c), sizeof n); return n;
}
static void push_free(fiited_pool *p, int64_t c) {
    int32_t head = p->free_head;
    memcpy(fiited_values(p, c), &head, sizeof head);
    p->free_head = (int32_t)c;
    p->nfree++;
}

/* Commit or decommit slabs [s0, s1) of every array. */
static int map_slabs(fiited_pool *p, int64_t s0, int64_t s1, int commit) {
    size_t vs = values_slab_bytes(p), is = importance_slab_bytes(), k = (size_t)(s1 - s0);
    int rc = remap((char *)p->values + s0 * vs, k * vs, commit);
    rc |= remap((char *)p->importance + s0 * is, k * is, commit);
    if (p->state) rc |= remap((char *)p->state + s0 * vs, k * vs, commit);
    return rc;
}

/* Slabs to commit next: doubling up to a 2 MiB extent of values, then whole aligned extents, so
 * small tables stay small and large ones are backed by huge pages. */
static int64_t growth_slabs(const fiited_pool *p) {
    int64_t extent = (int64_t)(HUGE_PAGE / values_slab_bytes(p));
    if (extent < 1) extent = 1;
    int64_t n = p->nslabs < extent ? (p->nslabs > 0 ? p->nslabs : 1) : extent - p->nslabs % extent;
    int64_t room = p->cap_chunks / FIITED_SLAB_CHUNKS - p->nslabs;
    return n < room ? n : room;
}

static int add_slabs(fiited_pool *p) {
    int64_t s0 = p->nslabs, n = growth_slabs(p);
    if (n <= 0 || map_slabs(p, s0, s0 + n, 1)) return -1;
    p->nslabs += n;
    /* push in reverse so low indices are handed out first (a row's chunks end up adjacent) */
    for (int64_t c = (s0 + n) * FIITED_SLAB_CHUNKS - 1; c >= s0 * FIITED_SLAB_CHUNKS; c--) push_free(p, c);
    return 0;
}

/* A zeroed chunk (values, state, importance), or -1 when out of memory. */
int64_t fiited_pool_take(fiited_pool *p) {
    if (p->free_head < 0 && add_slabs(p)) return -1;
    int64_t c = p->free_head;
    p->free_head = next_free(p, c);
    p->nfree--;
    p->live++;
    size_t cbytes = (size_t)p->chunk_size * sizeof(float);
    memset(fiited_values(p, c), 0, cbytes);
    if (p->state) memset(fiited_state(p, c), 0, cbytes);
    p->importance[c] = 0.f;
    return c;
}

void fiited_pool_give(fiited_pool *p, int64_t chunk) {
    push_free(p, chunk);
    p->live--;
}

int64_t fiited_pool_mapped_bytes(const fiited_pool *p) {
    size_t per_slab = values_slab_bytes(p) * (p->state ? 2 : 1) + importance_slab_bytes();
    return p->nslabs * (int64_t)per_slab;
}

static void move_chunk(fiited_pool *p, int64_t dst, int64_t src) {
    size_t cbytes = (size_t)p->chunk_size * sizeof(float);
    memcpy(fiited_values(p, dst), fiited_values(p, src), cbytes);
    if (p->state) memcpy(fiited_state(p, dst), fiited_state(p, src), cbytes);
    p->importance[dst] = p->importance[src];
}

/* free[c] = 1 for every free chunk below `limit`. */
static unsigned char *free_map(const fiited_pool *p, int64_t limit) {
    unsigned char *is_free = calloc((size_t)limit, 1);
    if (!is_free) return NULL;
    for (int64_t c = p->free_head; c >= 0; c = next_free(p, c))
        if (c < limit) is_free[c] = 1;
    return is_free;
}

/* Move live chunks out of the top slabs into free holes below, then give the emptied slabs back.
 * The slots are the only references to chunks, so one pass over them finds every chunk to move. */
void fiited_pool_compact(fiited_table *t) {
    fiited_pool *p = &t->pool;
    int64_t keep = (p->live + FIITED_SLAB_CHUNKS - 1) / FIITED_SLAB_CHUNKS;
    if (keep >= p->nslabs) return;
    int64_t limit = keep * FIITED_SLAB_CHUNKS;
    unsigned char *is_free = free_map(p, limit);
    if (!is_free) return;  /* compaction is an optimisation: skip it rather than fail */
    int64_t hole = 0;
    for (int64_t h = 0; h < t->hcap; h++) {
        fiited_slot *s = fiited_slot_at(t, h);
        if (s->key < 0) continue;
        for (int32_t k = 0; k < s->nchunks; k++) {
            if (s->chunk[k] < limit) continue;
            while (!is_free[hole]) hole++;
            move_chunk(p, hole, s->chunk[k]);
            s->chunk[k] = (int32_t)hole++;
        }
    }
    map_slabs(p, keep, p->nslabs, 0);
    p->nslabs = keep;
    /* every hole below the cursor was filled; the rest become the free list, lowest on top */
    p->free_head = -1;
    p->nfree = 0;
    for (int64_t c = limit - 1; c >= hole; c--) if (is_free[c]) push_free(p, c);
    free(is_free);
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
