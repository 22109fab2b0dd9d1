/* Checkpoint of one table: header, every row record in record order (the id -> row map: id, chunk
 * count, last touch, frequency, importance, values, optimiser state; free records as their list
 * link), the free-record list head and an FNV-1a checksum. Loading validates everything before
 * trusting it, and rebuilds records at the same numbers, so a reloaded table visits rows in the
 * same order and creates new rows at the same numbers: training resumes bit for bit. */
#include "fiited.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "FIITEDv2"
#define NO_ROW UINT32_MAX

typedef struct { FILE *f; uint64_t h; int err; } writer;
static void w_bytes(writer *w, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) { w->h ^= c[i]; w->h *= 1099511628211ull; }
    if (n && fwrite(p, 1, n, w->f) != n) w->err = 1;
}
static int r_bytes(writer *r, void *p, size_t n) {
    if (n && fread(p, 1, n, r->f) != n) return -1;
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) { r->h ^= c[i]; r->h *= 1099511628211ull; }
    return 0;
}

static void write_row(writer *w, const fiited_table *t, const fiited_row *row) {
    uint16_t nc = row->nchunks;
    w_bytes(w, &nc, 2);
    if (nc == FIITED_ROW_FREE) { w_bytes(w, &row->base, 4); return; }
    size_t bytes = (size_t)(nc * t->chunk_size) * 4;
    uint64_t key = fiited_row_key(t, row - t->rows);
    w_bytes(w, &key, 8);
    w_bytes(w, &row->seen, 2);
    w_bytes(w, &row->freq, 4);
    w_bytes(w, t->pool.importance + row->base, (size_t)nc * 4);
    w_bytes(w, fiited_values(&t->pool, row->base), bytes);
    if (t->pool.state) w_bytes(w, fiited_state(&t->pool, row->base), (size_t)(nc * t->pool.state_width) * 4);
}

/* Header word 8: evict_after, and in bits 16.. evict_single_after when it differs (so checkpoints
 * written before it existed load unchanged). */
static int64_t evict_word(const fiited_table *t) {
    return t->evict_after | (t->evict_single_after != t->evict_after ? t->evict_single_after << 16 : 0);
}

int fiited_save(void *h, const char *path) {
    fiited_table *t = h;
    if (!t) { fiited_set_error("null table"); return FIITED_EINVAL; }
    FILE *f = fopen(path, "wb");
    if (!f) { fiited_set_error("cannot open %s for writing", path); return FIITED_EIO; }
    writer w = {f, 1469598103934665603ull, 0};
    pthread_rwlock_rdlock(&t->lock);
    w_bytes(&w, MAGIC, 8);
    int64_t hdr[10] = {t->id_limit, t->max_chunks, t->chunk_size, t->optimizer, t->init_chunks, t->nrows,
                       t->count, t->epoch, evict_word(t), (int64_t)t->seed};
    float hp[3] = {t->lr, t->eps, t->init_scale};
    w_bytes(&w, hdr, sizeof hdr); w_bytes(&w, hp, sizeof hp); w_bytes(&w, &t->free_row, 4);
    for (int64_t r = 0; r < t->nrows; r++) write_row(&w, t, &t->rows[r]);
    pthread_rwlock_unlock(&t->lock);
    uint64_t sum = w.h;
    if (fwrite(&sum, 8, 1, f) != 1) w.err = 1;
    if (fclose(f) || w.err) { fiited_set_error("write to %s failed", path); return FIITED_EIO; }
    return FIITED_OK;
}

/* Read record r into the table; the reason on failure, NULL on success. */
static const char *read_row(writer *rd, fiited_table *t, int64_t r, int64_t *live) {
    uint16_t nc;
    if (r_bytes(rd, &nc, 2)) return "truncated row record";
    fiited_row *row = &t->rows[r];
    if (nc == FIITED_ROW_FREE) {
        if (r_bytes(rd, &row->base, 4)) return "truncated row record";
        if (row->base != NO_ROW && row->base >= (uint64_t)t->nrows) return "free-record link out of range";
        row->nchunks = FIITED_ROW_FREE; row->key = 0; row->freq = 0.f; row->seen = 0;
        if (t->key_hi) t->key_hi[r] = 0;
        return NULL;
    }
    uint64_t key; uint16_t seen; float freq;
    if (nc > t->max_chunks) return "row record out of range";
    if (r_bytes(rd, &key, 8) || r_bytes(rd, &seen, 2) || r_bytes(rd, &freq, 4)) return "truncated row record";
    if (key > (uint64_t)INT64_MAX || (t->id_limit > 0 && key >= (uint64_t)t->id_limit)) return "row id out of range";
    if (fiited_find(t, key) >= 0) return "duplicate row id";
    if (fiited_set_row_key(t, r, key)) return "out of memory";
    row = &t->rows[r];  /* mapping the high halves may have moved the records */
    *row = (fiited_row){(uint32_t)key, 0, 0, seen, freq};
    fiited_index_put_row(t, (uint32_t)r);
    (*live)++;
    if (fiited_set_row_chunks(t, r, nc, 1)) return "out of memory";
    size_t bytes = (size_t)(nc * t->chunk_size) * 4;
    if (r_bytes(rd, t->pool.importance + row->base, (size_t)nc * 4) || r_bytes(rd, fiited_values(&t->pool, row->base), bytes) ||
        (t->pool.state && r_bytes(rd, fiited_state(&t->pool, row->base), (size_t)(nc * t->pool.state_width) * 4)))
        return "truncated row data";
    return NULL;
}

void *fiited_load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { fiited_set_error("cannot open checkpoint %s", path); return NULL; }
    writer rd = {f, 1469598103934665603ull, 0};
    char magic[8]; int64_t hdr[10]; float hp[3]; uint32_t free_row;
    fiited_table *t = NULL;
    const char *why = "truncated header";
    if (r_bytes(&rd, magic, 8) || memcmp(magic, MAGIC, 8)) { why = "not a FIITED v2 checkpoint (bad magic)"; goto bad; }
    if (r_bytes(&rd, hdr, sizeof hdr) || r_bytes(&rd, hp, sizeof hp) || r_bytes(&rd, &free_row, 4)) goto bad;
    why = "implausible header";
    int64_t id_limit = hdr[0], mc = hdr[1], cs = hdr[2], opt = hdr[3], init = hdr[4], nrows = hdr[5], count = hdr[6];
    if (id_limit < 0 || mc <= 0 || mc > FIITED_MAX_CHUNKS_PER_ROW || cs <= 0 || cs > 4096 || init < 0 || init > mc ||
        (opt != FIITED_OPT_SGD && opt != FIITED_OPT_ADAGRAD && opt != FIITED_OPT_CHUNK_ADAGRAD) || nrows < 0 || nrows > FIITED_MAX_LIVE_ROWS ||
        count < 0 || count > nrows || hdr[7] < 0 || hdr[8] < 0 || (hdr[8] & 0xFFFF) > 30000 || (hdr[8] >> 16) > (hdr[8] & 0xFFFF)) goto bad;
    t = fiited_table_alloc(id_limit, mc, cs, init, opt, hp[0], hp[1], hp[2], (uint64_t)hdr[9]);
    if (!t) { why = "out of memory"; goto bad; }
    t->epoch = hdr[7]; t->evict_after = hdr[8] & 0xFFFF;
    t->evict_single_after = hdr[8] >> 16 ? hdr[8] >> 16 : t->evict_after;
    if (fiited_reserve_rows(t, nrows, count)) { why = "out of memory"; goto bad; }
    if (free_row != NO_ROW && free_row >= (uint64_t)nrows) goto bad;
    t->free_row = free_row;
    int64_t live = 0;
    for (int64_t r = 0; r < nrows; r++)
        if ((why = read_row(&rd, t, r, &live))) goto bad;
    why = "row count does not match the header";
    if (live != count) goto bad;
    uint64_t expect = rd.h, got; char extra;
    why = "missing checksum";
    if (fread(&got, 8, 1, f) != 1) goto bad;
    why = "checksum mismatch (corrupt checkpoint)";
    if (got != expect) goto bad;
    why = "trailing bytes after checksum";
    if (fread(&extra, 1, 1, f) == 1) goto bad;
    fclose(f);
    return t;
bad:
    fclose(f);
    if (t) fiited_table_destroy(t);
    fiited_set_error("cannot load %s: %s", path, why);
    return NULL;
}
