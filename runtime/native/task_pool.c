/* A persistent pool of native worker threads that run chunks of a JIT-compiled kernel's tasks.
 *
 * Why native: a parked Python helper (a lock in a SimpleQueue) wakes tens of microseconds after
 * it is signalled on a busy 2-core VM, which is the whole runtime of a kernel over a few MB; and
 * it needs the GIL before it can start. Here the helpers are plain pthreads that never touch
 * Python: after a call they spin for a short, bounded time (like OpenMP's wait policy, but
 * microseconds, not milliseconds, and yielding the core to any other runnable thread, so a torch
 * op that follows is not slowed), then sleep on a condition variable.
 *
 * A call publishes one job: the kernel's packed entry `void fn(void **slots)` and one slot array
 * per chunk. The caller claims chunks itself and helpers claim what is left, so a helper that
 * wakes late costs nothing (the caller has done the work). Claims go through one 64-bit counter,
 * generation << 32 | next chunk, so a helper that wakes after its job finished can never claim a
 * chunk of the next one. One job at a time: a concurrent caller runs all its chunks itself.
 *
 * Beside torch, parallel calls join torch's own OpenMP team instead (gf_pool_use_openmp, given
 * the GOMP_parallel entry of the OpenMP runtime torch loaded): after an eager op, torch's OpenMP
 * workers spin for a while on the other cores, and a helper of this pool then competes with them
 * for a core: measured on a 2-core VM, sum over the last axis of 4096x1024 right after a torch op
 * took ~1.5 ms against ~0.25 ms alone. In the team, those spinning workers run our chunks.
 *
 * C ABI (ctypes): gf_pool_run(fn, chunks, nchunks, threads), gf_pool_set_spin_us(us),
 * gf_pool_use_openmp(GOMP_parallel or NULL).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

typedef void (*packed_fn)(void *slots);

#define MAX_WORKERS 256
#define MAX_CHUNKS 4096                   /* more chunks than this run on the caller alone */
#define CLOSED 0xffffffffu

/* The open job, copied into the pool so a helper never reads the caller's memory before its claim
   succeeds. Written only while no generation is open; read with relaxed loads, validated by the
   claim's compare-and-swap. */
static struct {
    packed_fn fn;
    uint32_t n;
    void *slots[MAX_CHUNKS];
} job;

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static _Atomic uint64_t counter;           /* generation << 32 | next unclaimed chunk (CLOSED: none) */
static atomic_int done;                   /* chunks finished in this generation */
static atomic_int sleepers;
static atomic_int spin_us = 50;     /* set from Python: dispatch.DEFAULT_SPIN_US */
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;   /* one job at a time */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static int workers;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Claim and run chunks of the open generation `gen` until none is left. */
static void drain(uint32_t gen) {
    for (;;) {
        uint64_t v = atomic_load(&counter);
        if ((uint32_t)(v >> 32) != gen)
            return;
        uint32_t i = (uint32_t)v;
        if (i == CLOSED || i >= LOAD(job.n))
            return;
        /* what is read here belongs to `gen` if the claim below succeeds: the job is rewritten
           only after `gen` is closed, and the counter never returns to a value it left */
        packed_fn fn = LOAD(job.fn);
        void *slot = LOAD(job.slots[i]);
        if (atomic_compare_exchange_weak(&counter, &v, v + 1)) {
            fn(slot);
            atomic_fetch_add(&done, 1);
        }
    }
}

static void *worker_main(void *arg) {
    (void)arg;
    uint32_t seen = (uint32_t)(atomic_load(&counter) >> 32);
    for (;;) {
        uint64_t deadline = now_ns() + (uint64_t)atomic_load(&spin_us) * 1000u;
        uint32_t gen;
        int spins = 0;
        while ((gen = (uint32_t)(atomic_load(&counter) >> 32)) == seen) {
            cpu_relax();
            if (++spins % 64 == 0) {
                if (now_ns() > deadline)
                    break;
                sched_yield();    /* a runnable thread on this core (torch's OpenMP worker, the
                                     caller itself on a busy machine) gets it while we wait */
            }
        }
        if (gen == seen) {
            pthread_mutex_lock(&sleep_lock);
            atomic_fetch_add(&sleepers, 1);
            while ((gen = (uint32_t)(atomic_load(&counter) >> 32)) == seen)
                pthread_cond_wait(&wake, &sleep_lock);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&sleep_lock);
        }
        seen = gen;
        drain(gen);
    }
    return 0;
}

static void ensure_workers(int want) {
    if (want > MAX_WORKERS)
        want = MAX_WORKERS;
    if (workers >= want)
        return;
    pthread_mutex_lock(&start_lock);
    while (workers < want) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker_main, 0);
        pthread_attr_destroy(&attr);
        if (rc != 0)
            break;            /* fewer helpers: the caller still runs every chunk */
        workers++;
    }
    pthread_mutex_unlock(&start_lock);
}

/* GOMP_parallel(fn, data, num_threads, flags): the GNU OpenMP ABI of `#pragma omp parallel`,
   also exported by LLVM's libomp and Intel's libiomp5. NULL: this pool's own helpers. */
typedef void (*gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
static gomp_parallel_fn gomp_parallel;

struct team_job {
    packed_fn fn;
    void *const *chunks;
    int n;
    atomic_int next;
};

static void team_member(void *arg) {
    struct team_job *j = arg;
    int i;
    while ((i = atomic_fetch_add(&j->next, 1)) < j->n)
        j->fn(j->chunks[i]);
}

static void run_inline(packed_fn fn, void *const *chunks, int n) {
    for (int i = 0; i < n; i++)
        fn(chunks[i]);
}

/* Run fn(chunks[i]) for i < n on the caller and up to threads-1 helpers; returns when all are done. */
void gf_pool_run(packed_fn fn, void *const *chunks, int n, int threads) {
    gomp_parallel_fn team = gomp_parallel;
    if (team && threads > 1 && n > 1) {
        /* inside another OpenMP region the team has one member, which runs every chunk */
        struct team_job j = {fn, chunks, n, 0};
        team(team_member, &j, (unsigned)(threads < n ? threads : n), 0);
        return;
    }
    if (threads <= 1 || n <= 1 || n > MAX_CHUNKS || pthread_mutex_trylock(&call_lock) != 0) {
        run_inline(fn, chunks, n);
        return;
    }
    ensure_workers(threads - 1);
    uint32_t gen = (uint32_t)(atomic_load(&counter) >> 32) + 1;
    if (gen == 0)             /* skip generation 0 on wrap-around: helpers start having seen it */
        gen = 1;
    STORE(job.fn, fn);
    STORE(job.n, (uint32_t)n);
    for (int i = 0; i < n; i++)
        STORE(job.slots[i], chunks[i]);
    atomic_store(&done, 0);
    atomic_store(&counter, (uint64_t)gen << 32);          /* publish (seq_cst) */
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    drain(gen);
    /* every chunk is claimed: close the generation so no late helper reads the job again */
    atomic_store(&counter, (uint64_t)gen << 32 | CLOSED);
    while (atomic_load(&done) < n)
        cpu_relax();          /* a helper is finishing a chunk it claimed */
    pthread_mutex_unlock(&call_lock);
}

/* How long helpers spin for the next job before sleeping (microseconds; 0: sleep at once). */
void gf_pool_set_spin_us(int us) {
    atomic_store(&spin_us, us < 0 ? 0 : us);
}

/* Join the OpenMP team of `entry` (a GOMP_parallel) for parallel calls; NULL: own helpers. */
void gf_pool_use_openmp(void *entry) {
    gomp_parallel = (gomp_parallel_fn)entry;
}

int gf_pool_workers(void) {
    return workers;
}

/* After fork() the child has none of the parent's threads: start over. */
static void after_fork_child(void) {
    gomp_parallel = 0;        /* OpenMP runtimes are not fork-safe: the child uses its own helpers */
    workers = 0;
    atomic_store(&sleepers, 0);
    pthread_mutex_init(&sleep_lock, 0);
    pthread_cond_init(&wake, 0);
    pthread_mutex_init(&call_lock, 0);
    pthread_mutex_init(&start_lock, 0);
}

__attribute__((constructor)) static void install_fork_handler(void) {
    pthread_atfork(0, 0, after_fork_child);
}
