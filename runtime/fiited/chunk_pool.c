/* Chunk pool: fixed-size chunks in mmap'ed slabs; whole free slabs are unmapped after compaction
 * so the process's resident memory really falls when rows shrink. */
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

int fiited_pool_init(fiited_pool *p, int32_t chunk_floats, int32_t slab_chunks) {
    memset(p, 0, sizeof *p);
    p->chunk_floats = chunk_floats;
    p->slab_chunks = slab_chunks;
    return FIITED_OK;
}

void fiited_pool_free(fiited_pool *p) {
    size_t bytes = (size_t)p->slab_chunks * p->chunk_floats * sizeof(float);
    for (int64_t s = 0; s < p->nslabs; s++) if (p->slabs[s]) munmap(p->slabs[s], bytes);
    free(p->slabs); free(p->owner); free(p->free_stack);
    memset(p, 0, sizeof *p);
}

static int grow_array(void **arr, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return 0;
    int64_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *n = realloc(*arr, (size_t)nc * elem);
    if (!n) return -1;
    *arr = n; *cap = nc;
    return 0;
}

static int add_slab(fiited_pool *p) {
    size_t bytes = (size_t)p->slab_chunks * p->chunk_floats * sizeof(float);
    if (grow_array((void **)&p->slabs, &p->slab_cap, p->nslabs + 1, sizeof(float *))) return -1;
    int64_t total = (p->nslabs + 1) * p->slab_chunks;
    if (grow_array((void **)&p->owner, &p->owner_cap, total, sizeof(int64_t))) return -1;
    if (grow_array((void **)&p->free_stack, &p->free_cap, total, sizeof(int64_t))) return -1;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return -1;
    int64_t s = p->nslabs++;
    p->slabs[s] = m;
    /* push in reverse so low indices are handed out first */
    for (int64_t k = p->slab_chunks - 1; k >= 0; k--) {
        p->owner[s * p->slab_chunks + k] = -1;
        p->free_stack[p->nfree++] = s * p->slab_chunks + k;
    }
    return 0;
}

int64_t fiited_pool_take(fiited_pool *p, int64_t owner) {
    if (p->nfree == 0 && add_slab(p)) return -1;
    int64_t c = p->free_stack[--p->nfree];
    p->owner[c] = owner;
    p->live++;
    return c;
}

void fiited_pool_give(fiited_pool *p, int64_t chunk) {
    p->owner[chunk] = -1;
    p->free_stack[p->nfree++] = chunk;  /* capacity always covers every chunk */
    p->live--;
}

static int cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* Move live chunks out of the top slabs into free holes below, then unmap the emptied slabs. */
void fiited_pool_compact(fiited_table *t) {
    fiited_pool *p = &t->pool;
    int64_t keep = (p->live + p->slab_chunks - 1) / p->slab_chunks;
    if (keep >= p->nslabs) return;
    int64_t limit = keep * p->slab_chunks;
    /* holes below the limit, ascending */
    int64_t nholes = 0;
    for (int64_t c = 0; c < limit; c++) if (p->owner[c] < 0) p->free_stack[nholes++] = c;
    int64_t h = 0;
    size_t cbytes = (size_t)p->chunk_floats * sizeof(float);
    for (int64_t c = limit; c < p->nslabs * p->slab_chunks; c++) {
        int64_t own = p->owner[c];
        if (own < 0) continue;
        int64_t dst = p->free_stack[h++];
        memcpy(fiited_chunk(p, dst), fiited_chunk(p, c), cbytes);
        p->owner[dst] = own; p->owner[c] = -1;
        t->entry_chunks[own] = dst;
    }
    size_t bytes = (size_t)p->slab_chunks * p->chunk_floats * sizeof(float);
    for (int64_t s = keep; s < p->nslabs; s++) { munmap(p->slabs[s], bytes); p->slabs[s] = NULL; }
    p->nslabs = keep;
    /* remaining holes become the free stack, lowest on top */
    int64_t n = 0;
    for (int64_t k = h; k < nholes; k++) p->free_stack[n++] = p->free_stack[k];
    qsort(p->free_stack, (size_t)n, sizeof(int64_t), cmp_desc);
    p->nfree = n;
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
