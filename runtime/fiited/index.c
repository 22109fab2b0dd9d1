/* The id -> record index: linear probing over 8-byte slots, grown and shrunk by incremental rehash.
 *
 * When an insert would fill the index past 7/8, a new index sized for a load of ~0.55 becomes `cur`
 * and the full one becomes `old`. Lookups probe `cur`, then `old`; inserts go to `cur` only. Every
 * insert and every training call copies a few `old` slots into `cur` (more than enough to finish
 * before `cur` fills), so no call ever stalls on a whole rehash. Slots move without reading records
 * (the tag gives the home slot), so copying is a stream over `old`. The load thus stays within
 * [0.5, 0.875] outside a rehash: 9-16 index bytes per live row. */
#include "fiited.h"
#include <string.h>
#include <sys/mman.h>

#define MIN_CAP 64
#define MAX_LOAD_NUM 7
#define MAX_LOAD_DEN 8
#define TARGET_LOAD 0.55
/* Old slots copied per insert while rehashing: cur starts at load 0.55 and must not pass 0.875
 * before all of old (load <= 0.875) is copied: 1/(0.875/0.55 - 1) ~ 1.7 slots per insert suffice;
 * more keeps the time both indexes exist short. */
#define MIGRATE_PER_INSERT 8

static size_t index_mapping(uint64_t cap) { return ((size_t)cap * sizeof(fiited_slot) + 4095) & ~(size_t)4095; }

int fiited_index_init(fiited_index *ix, uint64_t cap) {
    if (cap < MIN_CAP) cap = MIN_CAP;
    void *m = mmap(NULL, index_mapping(cap), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return FIITED_ENOMEM;
    if (index_mapping(cap) >= ((size_t)2 << 20)) madvise(m, index_mapping(cap), MADV_HUGEPAGE);
    ix->slots = m;  /* zero pages: every slot empty */
    ix->cap = cap;
    ix->used = 0;
    return FIITED_OK;
}

void fiited_index_release(fiited_index *ix) {
    if (ix->slots) munmap(ix->slots, index_mapping(ix->cap));
    memset(ix, 0, sizeof *ix);
}

int64_t fiited_index_bytes(const fiited_table *t) {
    return (int64_t)((t->cur.cap + (t->old.slots ? t->old.cap : 0)) * sizeof(fiited_slot));
}

static void put(fiited_index *ix, uint32_t tag, uint32_t row) {
    uint64_t h = fiited_home(tag, ix->cap);
    while (ix->slots[h].tag) if (++h == ix->cap) h = 0;
    ix->slots[h] = (fiited_slot){tag, row};
    ix->used++;
}

/* Copy up to `budget` old slots into cur; release old when done. */
void fiited_migrate(fiited_table *t, int64_t budget) {
    if (!t->old.slots) return;
    uint64_t end = t->cursor + (uint64_t)budget;
    if (end > t->old.cap) end = t->old.cap;
    for (uint64_t i = t->cursor; i < end; i++) {
        fiited_slot s = t->old.slots[i];
        if (s.tag && s.row != FIITED_DEAD_ROW) put(&t->cur, s.tag, s.row);
    }
    t->cursor = end;
    if (end == t->old.cap) fiited_index_release(&t->old);
}

/* Start moving everything into a fresh index of `cap` slots (finishing any rehash under way). */
static int start_rehash(fiited_table *t, uint64_t cap) {
    if (t->old.slots) fiited_migrate(t, (int64_t)t->old.cap);
    fiited_index next;
    if (fiited_index_init(&next, cap)) return FIITED_ENOMEM;
    t->old = t->cur;
    t->cur = next;
    t->cursor = 0;
    return FIITED_OK;
}

static uint64_t cap_for(int64_t rows) { return (uint64_t)((double)rows / TARGET_LOAD) + 1; }

/* A new row for `id` (which must have none): a record and a slot; -1 when out of memory. */
int64_t fiited_insert(fiited_table *t, uint64_t id) {
    if ((t->cur.used + 1) * MAX_LOAD_DEN > t->cur.cap * MAX_LOAD_NUM) {
        if (t->old.slots) fiited_migrate(t, (int64_t)t->old.cap);  /* fell behind: finish now */
        if ((t->cur.used + 1) * MAX_LOAD_DEN > t->cur.cap * MAX_LOAD_NUM && start_rehash(t, cap_for(t->count + 1))) {
            fiited_set_error("out of memory growing the row index");
            return -1;
        }
    }
    if (id >> 32 && fiited_wide_keys(t)) return -1;
    int64_t r = fiited_alloc_row(t);
    if (r < 0) return -1;
    t->rows[r] = (fiited_row){0, 0, 0, fiited_epoch15(t->epoch), 0.f};
    fiited_set_row_key(t, r, id);
    put(&t->cur, fiited_tag(id), (uint32_t)r);
    t->count++;
    fiited_migrate(t, MIGRATE_PER_INSERT);
    return r;
}

/* Backward-shift deletion at slot i: later slots of the cluster move up where their home allows. */
static void delete_at(fiited_index *ix, uint64_t i) {
    uint64_t j = i;
    for (;;) {
        j = j + 1 == ix->cap ? 0 : j + 1;
        fiited_slot s = ix->slots[j];
        if (!s.tag) break;
        uint64_t k = fiited_home(s.tag, ix->cap);
        if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
            ix->slots[i] = s;
            i = j;
        }
    }
    ix->slots[i] = (fiited_slot){0, 0};
    ix->used--;
}

/* Position of the slot pointing at `row` in the probe chain of `tag`, or -1. */
static int64_t slot_of(const fiited_index *ix, uint32_t tag, uint32_t row) {
    uint64_t h = fiited_home(tag, ix->cap);
    for (;;) {
        const fiited_slot *s = &ix->slots[h];
        if (!s->tag) return -1;
        if (s->tag == tag && s->row == row) return (int64_t)h;
        if (++h == ix->cap) h = 0;
    }
}

/* Drop row `row` (live) from the index: deleted from cur, marked dead in old. */
void fiited_index_remove(fiited_table *t, uint32_t row) {
    uint32_t tag = fiited_tag(fiited_row_key(t, row));
    int64_t at = slot_of(&t->cur, tag, row);
    if (at >= 0) delete_at(&t->cur, (uint64_t)at);
    if (t->old.slots && (at = slot_of(&t->old, tag, row)) >= 0) t->old.slots[at].row = FIITED_DEAD_ROW;
    t->count--;
}

/* After evictions: when the index is less than half full, rehash (incrementally) into a smaller one. */
void fiited_index_maybe_shrink(fiited_table *t) {
    if (t->old.slots || t->cur.cap <= MIN_CAP || (uint64_t)t->count * 2 >= t->cur.cap) return;
    start_rehash(t, cap_for(t->count));  /* out of memory: keep the larger index */
}

/* Checkpoint loading: an index sized for `count` rows, and record r (already filled) entered in it. */
int fiited_reserve_rows(fiited_table *t, int64_t nrows, int64_t count) {
    fiited_index ix;
    if (fiited_index_init(&ix, cap_for(count))) return FIITED_ENOMEM;
    fiited_index_release(&t->cur);
    t->cur = ix;
    while (t->rows_cap < nrows) {
        int64_t r = fiited_alloc_row(t);
        if (r < 0) return FIITED_ENOMEM;
        t->nrows = t->rows_cap;  /* claim the whole mapping; trimmed below */
    }
    t->nrows = nrows;
    return FIITED_OK;
}

void fiited_index_put_row(fiited_table *t, uint32_t row) {
    put(&t->cur, fiited_tag(fiited_row_key(t, row)), row);
    t->count++;
}

/* A fresh index sized for `rows` rows (to be filled by fiited_index_install). */
int fiited_index_prepare(fiited_index *ix, int64_t rows) { return fiited_index_init(ix, cap_for(rows)); }

/* Make `ix` the index, filled with the live records (after records were renumbered). */
void fiited_index_install(fiited_table *t, fiited_index *ix) {
    fiited_index_release(&t->cur);
    fiited_index_release(&t->old);
    t->cur = *ix;
    t->cursor = 0;
    for (int64_t r = 0; r < t->nrows; r++)
        if (t->rows[r].nchunks != FIITED_ROW_FREE) put(&t->cur, fiited_tag(fiited_row_key(t, r)), (uint32_t)r);
}
