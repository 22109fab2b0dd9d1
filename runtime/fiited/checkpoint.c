/* Checkpoint of one table: header, per-row (id, chunk count, values, optimiser state,
 * importance), and an FNV-1a checksum; loading validates everything before trusting it. */
#include "fiited.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "FIITEDv1"

typedef struct { FILE *f; uint64_t h; int err; } writer;
static void w_bytes(writer *w, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) { w->h ^= c[i]; w->h *= 1099511628211ull; }
    if (fwrite(p, 1, n, w->f) != n) w->err = 1;
}
static int r_bytes(writer *r, void *p, size_t n) {
    if (fread(p, 1, n, r->f) != n) return -1;
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) { r->h ^= c[i]; r->h *= 1099511628211ull; }
    return 0;
}

int fiited_save(void *h, const char *path) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    FILE *f = fopen(path, "wb");
    if (!f) { fiited_set_error("cannot open %s for writing", path); return FIITED_EIO; }
    writer w = {f, 1469598103934665603ull, 0};
    pthread_rwlock_rdlock(&t->lock);
    w_bytes(&w, MAGIC, 8);
    int64_t hdr[5] = {t->num_rows, t->max_chunks, t->chunk_size, t->optimizer, t->nentries};
    float hp[3] = {t->lr, t->eps, t->init_scale};
    w_bytes(&w, hdr, sizeof hdr); w_bytes(&w, hp, sizeof hp); w_bytes(&w, &t->rng, 8);
    for (int64_t e = 0; e < t->nentries; e++) {
        int64_t rec[2] = {t->entry_id[e], t->entry_nchunks[e]};
        w_bytes(&w, rec, sizeof rec);
        w_bytes(&w, &t->frequency[e], 4);
        w_bytes(&w, t->importance + e * t->max_chunks, (size_t)t->max_chunks * 4);
        for (int64_t k = 0; k < rec[1]; k++)
            w_bytes(&w, fiited_chunk(&t->pool, t->entry_chunks[e * t->max_chunks + k]), (size_t)t->pool.chunk_floats * 4);
    }
    pthread_rwlock_unlock(&t->lock);
    uint64_t sum = w.h;
    if (fwrite(&sum, 8, 1, f) != 1) w.err = 1;
    if (fclose(f) || w.err) { fiited_set_error("write to %s failed", path); return FIITED_EIO; }
    return FIITED_OK;
}

void fiited_table_destroy(void *h);
void fiited_hash_insert(fiited_table *t, int64_t id, int64_t entry);

void *fiited_load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { fiited_set_error("cannot open checkpoint %s", path); return NULL; }
    writer r = {f, 1469598103934665603ull, 0};
    char magic[8]; int64_t hdr[5]; float hp[3]; uint64_t rng;
    fiited_table *t = NULL;
    const char *why = "truncated header";
    if (r_bytes(&r, magic, 8) || memcmp(magic, MAGIC, 8)) { why = "not a FIITED checkpoint (bad magic)"; goto bad; }
    if (r_bytes(&r, hdr, sizeof hdr) || r_bytes(&r, hp, sizeof hp) || r_bytes(&r, &rng, 8)) goto bad;
    why = "implausible header";
    if (hdr[0] <= 0 || hdr[0] > ((int64_t)1 << 36) || hdr[1] <= 0 || hdr[1] > 4096 || hdr[2] <= 0 || hdr[2] > 4096 ||
        (hdr[3] != FIITED_OPT_SGD && hdr[3] != FIITED_OPT_ADAGRAD) || hdr[4] < 0 || hdr[4] > hdr[0]) goto bad;
    t = fiited_table_alloc(hdr[0], hdr[1], hdr[2], hdr[3], hp[0], hp[1], hp[2], 0);
    if (!t) { why = "out of memory"; goto bad; }
    t->rng = rng;
    for (int64_t e = 0; e < hdr[4]; e++) {
        int64_t rec[2];
        why = "truncated row record";
        if (r_bytes(&r, rec, sizeof rec)) goto bad;
        why = "row record out of range";
        if (rec[0] < 0 || rec[0] >= t->num_rows || rec[1] < 0 || rec[1] > t->max_chunks || fiited_find_entry(t, rec[0]) >= 0) goto bad;
        t->entry_id[e] = rec[0];
        t->nentries = e + 1;
        fiited_hash_insert(t, rec[0], e);
        why = "truncated row data";
        if (r_bytes(&r, &t->frequency[e], 4) || r_bytes(&r, t->importance + e * t->max_chunks, (size_t)t->max_chunks * 4)) goto bad;
        if (fiited_set_row_chunks(t, e, rec[1], 1)) { why = "out of memory"; goto bad; }
        for (int64_t k = 0; k < rec[1]; k++)
            if (r_bytes(&r, fiited_chunk(&t->pool, t->entry_chunks[e * t->max_chunks + k]), (size_t)t->pool.chunk_floats * 4)) goto bad;
    }
    uint64_t expect = r.h, got; char extra;
    why = "missing checksum";
    if (fread(&got, 8, 1, f) != 1) goto bad;
    why = "checksum mismatch (corrupt checkpoint)";
    if (got != expect) goto bad;
    why = "trailing bytes after checksum";
    if (fread(&extra, 1, 1, f) == 1) goto bad;
    why = "table has fewer rows than declared";
    if (t->nentries != t->num_rows && hdr[4] == t->num_rows) goto bad;
    fclose(f);
    return t;
bad:
    fclose(f);
    if (t) fiited_table_destroy(t);
    fiited_set_error("cannot load %s: %s", path, why);
    return NULL;
}
