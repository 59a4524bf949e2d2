/* stress: a deterministic-per-thread, multi-threaded storm over the allocator.
 *
 * Every live block is filled with a pattern derived from (address, size) and verified
 * just before it is freed or reallocated, so a block handed out twice, a block whose
 * neighbour overruns it or a realloc that loses data is caught where it happens.
 *
 * What it exercises:
 *   - THREADS threads (argv[1], default 8) doing malloc / calloc / realloc /
 *     posix_memalign / aligned_alloc / free on TINY, SMALL and LARGE sizes;
 *   - blocks moved between threads through a mutex-protected exchange and freed by a
 *     thread other than the one that allocated them;
 *   - threads that exit with live blocks (round 1 leaves them in an orphan pool) which
 *     threads created later (round 2) verify and free;
 *   - every thread also publishes blocks in lock-free slots of its own (an atomic exchange
 *     puts a filled block in, takes the old one out to be verified and freed), and steals
 *     blocks from other threads' slots (freed by a thread that did not allocate them);
 *     slots of round 1 outlive their threads;
 *   - fork() in the middle of the storm, while other threads are inside the allocator:
 *     the child verifies and frees the forking thread's blocks; verifies every block
 *     published by any thread before the fork (threads still running, whose heaps the
 *     child sees as they were at that instant, and threads that had exited) and frees a
 *     third of them, reallocs a third (data kept) and frees them, and hands a third to a
 *     new thread that frees them; allocates from that thread and from itself, frees the
 *     new thread's blocks from the main thread; forks a grandchild that allocates and
 *     frees blocks the child allocated (and leaves with _exit); exits 0 only if everything
 *     checked out. Counters in a shared mapping tell the parent how many children and
 *     grandchildren succeeded and how many blocks of other threads the children freed.
 * usage: stress [THREADS [OPS_PER_THREAD [FORKS_PER_ROUND]]]
 *   defaults 8, 60000 and 1; THREADS 1..MAX_THREADS. Fork j of round r is made by thread
 *   (3 * r + j) % THREADS at its operation (j + 1) * OPS / (FORKS_PER_ROUND + 1), so there
 *   are ROUNDS * FORKS_PER_ROUND forks whatever the thread count, each with a grandchild;
 *   1 + ROUNDS * FORKS_PER_ROUND processes exit through exit() (and report, under the
 *   library with FT_MALLOC_STATS=1).
 * Exit status: 0 when every check passed, 1 otherwise (with a message on stderr). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_THREADS 256
#define ROUNDS 2
#define LOCAL_SLOTS 256
#define EXCHANGE_SLOTS 64
#define ORPHAN_SLOTS (MAX_THREADS * LOCAL_SLOTS)
#define PUBLISHED_SLOTS 16
#define PUBLISHED_ROWS (ROUNDS * MAX_THREADS)

static int g_threads = 8;          /* argv[1] */
static int g_ops_per_thread = 60000; /* argv[2] */
static int g_forks_per_round = 1;    /* argv[3] */

typedef struct s_block
{
    unsigned char *ptr;
    size_t size;
} t_block;

static pthread_mutex_t g_exchange_lock = PTHREAD_MUTEX_INITIALIZER;
static t_block g_exchange[EXCHANGE_SLOTS];
static pthread_mutex_t g_orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static t_block g_orphans[ORPHAN_SLOTS];
static size_t g_orphan_count;
static volatile int g_failed;

/* Row round * g_threads + index belongs to that worker: it alone puts blocks in; anyone
 * takes them out. A published block holds its size in its first 8 bytes and the pattern
 * of (ptr, size) after them. */
static unsigned char *_Atomic g_published[PUBLISHED_ROWS][PUBLISHED_SLOTS];

/* In a MAP_SHARED mapping, so that fork children can report to the parent. */
typedef struct s_fork_report
{
    _Atomic long children_ok;
    _Atomic long foreign_blocks;   /* published blocks of other threads a child freed */
    _Atomic long dead_blocks;      /* of those, blocks of threads that had exited */
    _Atomic long grandchildren_ok;
} t_fork_report;
static t_fork_report *g_report;

static void fail(const char *what, const void *ptr, size_t size)
{
    char line[200];
    int n;

    g_failed = 1;
    n = snprintf(line, sizeof line, "stress: pid %d: %s (ptr=%p size=%zu)\n",
                 (int)getpid(), what, ptr, size);
    if (n > 0)
        write(2, line, (size_t)n);
}

static uint64_t next_random(uint64_t *state)
{
    uint64_t x;

    x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (x);
}

/* The pattern word at index i of the block (ptr, size): any byte of a block that
 * another block's owner wrote, or that realloc failed to copy, breaks it. */
static uint64_t pattern_word(const void *ptr, size_t size, size_t i)
{
    uint64_t x;

    x = ((uint64_t)(uintptr_t)ptr ^ ((uint64_t)size << 40)) + (uint64_t)i * 0x9E3779B97F4A7C15ull;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (x);
}

static void fill(unsigned char *ptr, size_t size)
{
    size_t i;
    uint64_t w;

    for (i = 0; i + 8 <= size; i += 8)
    {
        w = pattern_word(ptr, size, i / 8);
        memcpy(ptr + i, &w, 8);
    }
    if (i < size)
    {
        w = pattern_word(ptr, size, i / 8);
        memcpy(ptr + i, &w, size - i);
    }
}

/* Checks the first `length` bytes of a block that was filled as (origin, size). */
static int verify_prefix(const unsigned char *ptr, const void *origin, size_t size, size_t length)
{
    size_t i;
    uint64_t w;

    for (i = 0; i + 8 <= length; i += 8)
    {
        w = pattern_word(origin, size, i / 8);
        if (memcmp(ptr + i, &w, 8) != 0)
            return (0);
    }
    if (i < length)
    {
        w = pattern_word(origin, size, i / 8);
        if (memcmp(ptr + i, &w, length - i) != 0)
            return (0);
    }
    return (1);
}

static void check_and_free(t_block *b)
{
    if (b->ptr == NULL)
        return;
    if (!verify_prefix(b->ptr, b->ptr, b->size, b->size))
        fail("pattern mismatch before free", b->ptr, b->size);
    free(b->ptr);
    b->ptr = NULL;
    b->size = 0;
}

static size_t random_size(uint64_t *rng)
{
    uint64_t r;

    r = next_random(rng) % 1000;
    if (r < 700)
        return (1 + next_random(rng) % 128);     /* TINY */
    if (r < 985)
        return (129 + next_random(rng) % 4000);  /* SMALL */
    return (4097 + next_random(rng) % 200000);   /* LARGE */
}

/* FtMalloc aligns every block to 16 bytes. Built with -DSTRESS_C_ALIGNMENT (the benchmark
 * suite runs this program under other allocators too), only what C requires is checked: the
 * lowest set bit of the size, at most 16. */
static uintptr_t min_alignment(size_t size)
{
#ifdef STRESS_C_ALIGNMENT
    size_t need;

    need = size & (~size + 1);
    return (need == 0 || need > 16 ? 16 : (uintptr_t)need);
#else
    (void)size;
    return (16);
#endif
}

static int allocate(t_block *b, uint64_t *rng)
{
    size_t size;
    size_t i;
    void *p;
    uint64_t how;

    size = random_size(rng);
    how = next_random(rng) % 16;
    p = NULL;
    if (how < 11)
        p = malloc(size);
    else if (how < 13)
    {
        p = calloc(1, size);
        for (i = 0; p != NULL && i < size; i++)
            if (((unsigned char *)p)[i] != 0)
            {
                fail("calloc returned non-zero memory", p, size);
                break;
            }
    }
    else if (how < 15)
    {
        if (posix_memalign(&p, (size_t)64 << (next_random(rng) % 4), size) != 0)
            p = NULL;
        else if (((uintptr_t)p & 63) != 0)
            fail("posix_memalign returned a misaligned block", p, size);
    }
    else
    {
        size = (size + 255) & ~(size_t)255;
        p = aligned_alloc(256, size);
        if (p != NULL && ((uintptr_t)p & 255) != 0)
            fail("aligned_alloc returned a misaligned block", p, size);
    }
    if (p == NULL)
    {
        fail("allocation returned NULL", NULL, size);
        return (0);
    }
    if (((uintptr_t)p & (min_alignment(size) - 1)) != 0)
        fail("block not aligned as promised", p, size);
    b->ptr = (unsigned char *)p;
    b->size = size;
    fill(b->ptr, size);
    return (1);
}

static void reallocate(t_block *b, uint64_t *rng)
{
    size_t size;
    unsigned char *moved;
    size_t kept;

    size = random_size(rng);
    if (!verify_prefix(b->ptr, b->ptr, b->size, b->size))
        fail("pattern mismatch before realloc", b->ptr, b->size);
    moved = (unsigned char *)realloc(b->ptr, size);
    if (moved == NULL)
    {
        fail("realloc returned NULL", b->ptr, size);
        return;
    }
    kept = size < b->size ? size : b->size;
    if (!verify_prefix(moved, b->ptr, b->size, kept))
        fail("realloc lost data", moved, size);
    b->ptr = moved;
    b->size = size;
    fill(b->ptr, size);
}

/* Puts a block in the exchange, or frees it if the exchange is full. */
static void give(t_block *b, uint64_t *rng)
{
    size_t start;
    size_t k;
    size_t slot;

    start = next_random(rng) % EXCHANGE_SLOTS;
    pthread_mutex_lock(&g_exchange_lock);
    for (k = 0; k < EXCHANGE_SLOTS; k++)
    {
        slot = (start + k) % EXCHANGE_SLOTS;
        if (g_exchange[slot].ptr == NULL)
        {
            g_exchange[slot] = *b;
            b->ptr = NULL;
            b->size = 0;
            break;
        }
    }
    pthread_mutex_unlock(&g_exchange_lock);
    check_and_free(b);
}

/* Takes a block that some other thread allocated, if there is one. */
static int take(t_block *b, uint64_t *rng)
{
    size_t start;
    size_t k;
    size_t slot;

    start = next_random(rng) % EXCHANGE_SLOTS;
    pthread_mutex_lock(&g_exchange_lock);
    for (k = 0; k < EXCHANGE_SLOTS; k++)
    {
        slot = (start + k) % EXCHANGE_SLOTS;
        if (g_exchange[slot].ptr != NULL)
        {
            *b = g_exchange[slot];
            g_exchange[slot].ptr = NULL;
            g_exchange[slot].size = 0;
            break;
        }
    }
    pthread_mutex_unlock(&g_exchange_lock);
    return (b->ptr != NULL);
}

static void fill_published(unsigned char *ptr, size_t size)
{
    fill(ptr, size);
    memcpy(ptr, &size, sizeof size);
}

/* Checks a published block; its size, or 0 if it is damaged. */
static size_t verify_published(const unsigned char *ptr)
{
    size_t size;
    size_t i;
    uint64_t w;

    memcpy(&size, ptr, sizeof size);
    if (size < 16 || size > ((size_t)1 << 20))
    {
        fail("published block has a damaged size", ptr, size);
        return (0);
    }
    for (i = 8; i < size; i += 8)
    {
        w = pattern_word(ptr, size, i / 8);
        if (memcmp(ptr + i, &w, size - i < 8 ? size - i : 8) != 0)
        {
            fail("published block pattern mismatch", ptr, size);
            return (0);
        }
    }
    return (size);
}

static void free_published(unsigned char *ptr)
{
    if (ptr == NULL)
        return;
    verify_published(ptr);
    free(ptr);
}

/* Puts a new block in one of this worker's slots; frees the block it replaces. */
static void publish(int row, uint64_t *rng)
{
    t_block b;

    if (!allocate(&b, rng))
        return;
    if (b.size < 16)
    {
        check_and_free(&b);
        return;
    }
    fill_published(b.ptr, b.size);
    free_published(atomic_exchange(&g_published[row][next_random(rng) % PUBLISHED_SLOTS], b.ptr));
}

/* Takes a block out of a random slot of a random row (of this round or the last) and frees
 * it. Rows of an earlier round lose only their upper half, so that a fork child always
 * finds blocks of threads that have exited. */
static void steal(int rows, int this_round_from, uint64_t *rng)
{
    int row;
    uint64_t slot;

    row = (int)(next_random(rng) % (uint64_t)rows);
    slot = next_random(rng) % PUBLISHED_SLOTS;
    if (row < this_round_from)
        slot = PUBLISHED_SLOTS / 2 + slot % (PUBLISHED_SLOTS / 2);
    free_published(atomic_exchange(&g_published[row][slot], NULL));
}

static void *child_thread(void *arg)
{
    uint64_t rng;
    t_block blocks[32];
    int i;

    rng = (uint64_t)(uintptr_t)arg | 1;
    memset(blocks, 0, sizeof blocks);
    for (i = 0; i < 5000; i++)
    {
        t_block *b = &blocks[next_random(&rng) % 32];
        if (b->ptr != NULL)
            check_and_free(b);
        else
            allocate(b, &rng);
    }
    for (i = 0; i < 32; i++)
        check_and_free(&blocks[i]);
    return (NULL);
}

/* Work for a thread created in a fork child: free the blocks it is handed (published
 * before the fork by other threads), then allocate blocks for the main thread to free. */
typedef struct s_child_work
{
    unsigned char **to_free;
    size_t to_free_count;
    t_block made[64];
    uint64_t seed;
} t_child_work;

static void *child_helper(void *arg)
{
    t_child_work *work;
    uint64_t rng;
    size_t i;

    work = (t_child_work *)arg;
    for (i = 0; i < work->to_free_count; i++)
        free_published(work->to_free[i]);
    child_thread((void *)(uintptr_t)work->seed);
    rng = work->seed | 1;
    for (i = 0; i < 64; i++)
        allocate(&work->made[i], &rng);
    return (NULL);
}

/* In a grandchild: free and realloc blocks the child allocated, allocate anew. */
static void run_grandchild(t_block *kept, size_t count, uint64_t seed)
{
    size_t i;
    uint64_t rng;

    rng = seed | 1;
    for (i = 0; i < count; i++)
    {
        if (i % 2 == 0)
            reallocate(&kept[i], &rng);
        check_and_free(&kept[i]);
    }
    child_thread((void *)(uintptr_t)(seed * 13));
    if (!g_failed)
        atomic_fetch_add(&g_report->grandchildren_ok, 1);
    _exit(g_failed ? 1 : 0);   /* no exit report: one stats line per fork child, as before */
}

/* In the child of a fork: only the forking thread exists. Its own blocks and every block
 * published before the fork must be intact and freeable (also from a new thread, also by
 * realloc), and the allocator must work, from this thread, a new one and a grandchild. */
static void run_child(t_block *local, size_t count, uint64_t seed, int self_row, int rows, int live_rows_from)
{
    pthread_t thread;
    t_child_work work;
    unsigned char **published;
    unsigned char *p;
    t_block kept[16];
    size_t n;
    size_t i;
    size_t size;
    long foreign;
    long dead;
    int row;
    int k;
    uint64_t rng;
    pid_t pid;
    int status;

    rng = seed ^ 0x5851F42D4C957F2Dull;
    for (i = 0; i < count; i++)
        check_and_free(&local[i]);

    /* Every published block, verified; a third freed here, a third reallocated (grown or
     * shrunk, the prefix checked) and freed, a third freed by a new thread. */
    published = malloc(sizeof *published * (size_t)rows * PUBLISHED_SLOTS);
    if (published == NULL)
    {
        fail("malloc failed in fork child", NULL, 0);
        exit(1);
    }
    n = 0;
    foreign = 0;
    dead = 0;
    for (row = 0; row < rows; row++)
        for (k = 0; k < PUBLISHED_SLOTS; k++)
        {
            p = atomic_exchange(&g_published[row][k], NULL);
            if (p == NULL)
                continue;
            if (row != self_row)
                foreign++;
            if (row < live_rows_from)
                dead++;
            published[n++] = p;
        }
    work.to_free = published;
    work.to_free_count = 0;
    for (i = 0; i < n; i++)
    {
        size = verify_published(published[i]);
        if (size == 0)
            continue;
        if (i % 3 == 0)
            free(published[i]);
        else if (i % 3 == 1)
        {
            t_block b;

            b.ptr = published[i];
            b.size = size;
            fill(b.ptr, b.size);   /* the pattern reallocate checks, size word included */
            reallocate(&b, &rng);
            check_and_free(&b);
        }
        else
            published[work.to_free_count++] = published[i];
    }
    work.seed = seed * 7;
    memset(work.made, 0, sizeof work.made);
    if (pthread_create(&thread, NULL, child_helper, &work) != 0)
        fail("pthread_create failed in fork child", NULL, 0);
    else
        pthread_join(thread, NULL);
    for (i = 0; i < 64; i++)
        check_and_free(&work.made[i]);
    free(published);
    child_thread((void *)(uintptr_t)seed);

    /* A grandchild frees what this child allocated before forking it. */
    memset(kept, 0, sizeof kept);
    for (i = 0; i < 16; i++)
        allocate(&kept[i], &rng);
    pid = fork();
    if (pid == 0)
        run_grandchild(kept, 16, seed * 3);
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("grandchild failed", NULL, (size_t)pid);
    for (i = 0; i < 16; i++)
        check_and_free(&kept[i]);
    if (!g_failed)
    {
        atomic_fetch_add(&g_report->children_ok, 1);
        atomic_fetch_add(&g_report->foreign_blocks, foreign);
        atomic_fetch_add(&g_report->dead_blocks, dead);
    }
    exit(g_failed ? 1 : 0);
}

static void do_fork(t_block *local, uint64_t seed, int self_row, int rows, int live_rows_from)
{
    pid_t pid;
    int status;

    pid = fork();
    if (pid < 0)
    {
        fail("fork failed", NULL, 0);
        return;
    }
    if (pid == 0)
        run_child(local, LOCAL_SLOTS, seed, self_row, rows, live_rows_from);
    if (waitpid(pid, &status, 0) != pid)
        fail("waitpid failed", NULL, 0);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail(WIFSIGNALED(status) ? "fork child killed by a signal" : "fork child failed",
             NULL, (size_t)status);
}

typedef struct s_worker
{
    int round;
    int index;
} t_worker;

static void *worker(void *arg)
{
    t_worker *w;
    t_block local[LOCAL_SLOTS];
    uint64_t rng;
    uint64_t r;
    t_block *b;
    size_t i;
    int op;
    int row;
    int j;

    w = (t_worker *)arg;
    rng = 0x853C49E6748FEA9Bull ^ ((uint64_t)(w->round * g_threads + w->index + 1) * 0x9E3779B97F4A7C15ull);
    memset(local, 0, sizeof local);

    /* Round 2 starts by verifying and freeing what the threads of round 1 left behind. */
    if (w->round == 1)
    {
        for (;;)
        {
            t_block orphan;

            orphan.ptr = NULL;
            pthread_mutex_lock(&g_orphan_lock);
            if (g_orphan_count > 0)
                orphan = g_orphans[--g_orphan_count];
            pthread_mutex_unlock(&g_orphan_lock);
            if (orphan.ptr == NULL)
                break;
            check_and_free(&orphan);
        }
    }

    row = w->round * g_threads + w->index;
    for (op = 0; op < g_ops_per_thread && !g_failed; op++)
    {
        for (j = 0; j < g_forks_per_round; j++)
            if (w->index == (w->round * 3 + j) % g_threads
                && op == (int)((long)(j + 1) * g_ops_per_thread / (g_forks_per_round + 1)))
                do_fork(local, rng, row, (w->round + 1) * g_threads, w->round * g_threads);
        r = next_random(&rng) % 1000;
        if (r < 15)
        {
            publish(row, &rng);
            continue;
        }
        if (r < 25)
        {
            steal((w->round + 1) * g_threads, w->round * g_threads, &rng);
            continue;
        }
        b = &local[next_random(&rng) % LOCAL_SLOTS];
        r = next_random(&rng) % 100;
        if (b->ptr == NULL)
        {
            if (r < 20 && take(b, &rng))
                continue;
            allocate(b, &rng);
        }
        else if (r < 55)
            check_and_free(b);
        else if (r < 75)
            reallocate(b, &rng);
        else
            give(b, &rng);
    }

    /* Round 1 exits with live blocks: they go to the orphan pool for round 2. */
    for (i = 0; i < LOCAL_SLOTS; i++)
    {
        if (local[i].ptr == NULL)
            continue;
        if (w->round == 0)
        {
            pthread_mutex_lock(&g_orphan_lock);
            g_orphans[g_orphan_count++] = local[i];
            pthread_mutex_unlock(&g_orphan_lock);
        }
        else
            check_and_free(&local[i]);
    }
    return (NULL);
}

int main(int argc, char **argv)
{
    static pthread_t threads[MAX_THREADS];
    static t_worker workers[MAX_THREADS];
    int round;
    int i;
    int k;
    size_t orphans_left_by_round1;
    long forks;

    if (argc > 1)
        g_threads = atoi(argv[1]);
    if (argc > 2)
        g_ops_per_thread = atoi(argv[2]);
    if (argc > 3)
        g_forks_per_round = atoi(argv[3]);
    if (g_threads < 1 || g_threads > MAX_THREADS || g_ops_per_thread < 2
        || g_forks_per_round < 0 || g_forks_per_round >= g_ops_per_thread)
    {
        fprintf(stderr, "usage: stress [THREADS (1..%d) [OPS_PER_THREAD (>= 2) [FORKS_PER_ROUND (>= 0)]]]\n", MAX_THREADS);
        return (2);
    }
    g_report = mmap(NULL, sizeof *g_report, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_report == MAP_FAILED)
    {
        perror("stress: mmap");
        return (1);
    }
    orphans_left_by_round1 = 0;
    for (round = 0; round < ROUNDS; round++)
    {
        for (i = 0; i < g_threads; i++)
        {
            workers[i].round = round;
            workers[i].index = i;
            if (pthread_create(&threads[i], NULL, worker, &workers[i]) != 0)
            {
                fail("pthread_create failed", NULL, 0);
                return (1);
            }
        }
        for (i = 0; i < g_threads; i++)
            pthread_join(threads[i], NULL);
        if (round == 0)
            orphans_left_by_round1 = g_orphan_count;
    }
    for (i = 0; i < EXCHANGE_SLOTS; i++)
        check_and_free(&g_exchange[i]);
    while (g_orphan_count > 0)
        check_and_free(&g_orphans[--g_orphan_count]);
    for (i = 0; i < ROUNDS * g_threads; i++)
        for (k = 0; k < PUBLISHED_SLOTS; k++)
            free_published(atomic_exchange(&g_published[i][k], NULL));
    if (orphans_left_by_round1 == 0)
        fail("round 1 left no live blocks behind: the test did not test that", NULL, 0);
    forks = (long)ROUNDS * g_forks_per_round;
    if (atomic_load(&g_report->children_ok) != forks || atomic_load(&g_report->grandchildren_ok) != forks)
        fail("not every fork child or grandchild reported success", NULL, (size_t)atomic_load(&g_report->children_ok));
    if (g_failed)
        return (1);
    printf("stress: ok threads=%d rounds=%d ops=%d orphans=%zu forks=%ld"
           " children_ok=%ld grandchildren_ok=%ld child_freed_foreign=%ld child_freed_of_exited=%ld\n",
           g_threads, ROUNDS, g_threads * ROUNDS * g_ops_per_thread, orphans_left_by_round1, forks,
           atomic_load(&g_report->children_ok), atomic_load(&g_report->grandchildren_ok),
           atomic_load(&g_report->foreign_blocks), atomic_load(&g_report->dead_blocks));
    return (0);
}
