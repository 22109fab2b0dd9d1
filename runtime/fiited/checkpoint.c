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

/* One row record: id, chunk count, frequency, importance[max_chunks], then per chunk its values
 * and (Adagrad) state. The same bytes as before the slot layout changed, so old files still load. */
static void write_row(writer *w, const fiited_table *t, const fiited_slot *s, float *imp) {
    int64_t rec[2] = {s->key, s->nchunks};
    size_t cbytes = (size_t)t->chunk_size * 4;
    for (int64_t k = 0; k < t->max_chunks; k++) imp[k] = k < s->nchunks ? t->pool.importance[s->chunk[k]] : 0.f;
    w_bytes(w, rec, sizeof rec);
    w_bytes(w, &s->freq, 4);
    w_bytes(w, imp, (size_t)t->max_chunks * 4);
    for (int32_t k = 0; k < s->nchunks; k++) {
        w_bytes(w, fiited_values(&t->pool, s->chunk[k]), cbytes);
        if (t->pool.state) w_bytes(w, fiited_state(&t->pool, s->chunk[k]), cbytes);
    }
}

static int64_t count_rows(const fiited_table *t) {
    int64_t n = 0;
    for (int64_t h = 0; h < t->hcap; h++) n += fiited_slot_at(t, h)->key >= 0;
    return n;
}

int fiited_save(void *h, const char *path) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    float *imp = malloc((size_t)t->max_chunks * sizeof(float));
    FILE *f = imp ? fopen(path, "wb") : NULL;
    if (!f) { free(imp); fiited_set_error("cannot open %s for writing", path); return FIITED_EIO; }
    writer w = {f, 1469598103934665603ull, 0};
    pthread_rwlock_rdlock(&t->lock);
    w_bytes(&w, MAGIC, 8);
    int64_t hdr[5] = {t->num_rows, t->max_chunks, t->chunk_size, t->optimizer, count_rows(t)};
    float hp[3] = {t->lr, t->eps, t->init_scale};
    w_bytes(&w, hdr, sizeof hdr); w_bytes(&w, hp, sizeof hp); w_bytes(&w, &t->rng, 8);
    for (int64_t s = 0; s < t->hcap; s++)
        if (fiited_slot_at(t, s)->key >= 0) write_row(&w, t, fiited_slot_at(t, s), imp);
    pthread_rwlock_unlock(&t->lock);
    free(imp);
    uint64_t sum = w.h;
    if (fwrite(&sum, 8, 1, f) != 1) w.err = 1;
    if (fclose(f) || w.err) { fiited_set_error("write to %s failed", path); return FIITED_EIO; }
    return FIITED_OK;
}

/* Read one row record into the table; returns the reason on failure, NULL on success. */
static const char *read_row(writer *r, fiited_table *t, float *imp) {
    int64_t rec[2];
    float freq;
    size_t cbytes = (size_t)t->chunk_size * 4;
    if (r_bytes(r, rec, sizeof rec)) return "truncated row record";
    if (rec[0] < 0 || rec[0] >= t->num_rows || rec[1] < 0 || rec[1] > t->max_chunks || fiited_find(t, rec[0]))
        return "row record out of range";
    fiited_slot *s = fiited_insert(t, rec[0]);
    if (r_bytes(r, &freq, 4) || r_bytes(r, imp, (size_t)t->max_chunks * 4)) return "truncated row data";
    s->freq = freq;
    if (fiited_set_row_chunks(t, s, rec[1], 1)) return "out of memory";
    for (int32_t k = 0; k < s->nchunks; k++) {
        if (r_bytes(r, fiited_values(&t->pool, s->chunk[k]), cbytes)) return "truncated row data";
        if (t->pool.state && r_bytes(r, fiited_state(&t->pool, s->chunk[k]), cbytes)) return "truncated row data";
        t->pool.importance[s->chunk[k]] = imp[k];
    }
    return NULL;
}

void *fiited_load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { fiited_set_error("cannot open checkpoint %s", path); return NULL; }
    writer r = {f, 1469598103934665603ull, 0};
    char magic[8]; int64_t hdr[5]; float hp[3]; uint64_t rng;
    fiited_table *t = NULL;
    float *imp = NULL;
    const char *why = "truncated header";
    if (r_bytes(&r, magic, 8) || memcmp(magic, MAGIC, 8)) { why = "not a FIITED checkpoint (bad magic)"; goto bad; }
    if (r_bytes(&r, hdr, sizeof hdr) || r_bytes(&r, hp, sizeof hp) || r_bytes(&r, &rng, 8)) goto bad;
    why = "implausible header";
    if (hdr[0] <= 0 || hdr[0] > FIITED_MAX_ROWS || hdr[1] <= 0 || hdr[1] > FIITED_MAX_CHUNKS_PER_ROW || hdr[2] <= 0 ||
        hdr[2] > 4096 || (hdr[3] != FIITED_OPT_SGD && hdr[3] != FIITED_OPT_ADAGRAD) || hdr[4] < 0 || hdr[4] > hdr[0]) goto bad;
    t = fiited_table_alloc(hdr[0], hdr[1], hdr[2], hdr[3], hp[0], hp[1], hp[2], 0);
    imp = malloc((size_t)hdr[1] * sizeof(float));
    if (!t || !imp) { why = "out of memory"; goto bad; }
    t->rng = rng;
    for (int64_t e = 0; e < hdr[4]; e++)
        if ((why = read_row(&r, t, imp))) goto bad;
    uint64_t expect = r.h, got; char extra;
    why = "missing checksum";
    if (fread(&got, 8, 1, f) != 1) goto bad;
    why = "checksum mismatch (corrupt checkpoint)";
    if (got != expect) goto bad;
    why = "trailing bytes after checksum";
    if (fread(&extra, 1, 1, f) == 1) goto bad;
    /* rows the file does not list exist with dimension 0 (every id keeps a slot) */
    for (int64_t id = 0; id < t->num_rows; id++) fiited_insert(t, id);
    fclose(f);
    free(imp);
    return t;
bad:
    fclose(f);
    free(imp);
    if (t) fiited_table_destroy(t);
    fiited_set_error("cannot load %s: %s", path, why);
    return NULL;
}
