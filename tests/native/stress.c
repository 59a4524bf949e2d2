/* stress: a deterministic-per-thread, multi-threaded storm over the allocator.
 *
 * Every live block is filled with a pattern derived from (address, size) and verified
 * just before it is freed or reallocated, so a block handed out twice, a block whose
 * neighbour overruns it or a realloc that loses data is caught where it happens.
 *
 * What it exercises:
 *   - N threads (argv[1], default 8) doing malloc / calloc / realloc / posix_memalign / aligned_alloc / free
 *     on TINY, SMALL and LARGE sizes;
 *   - blocks moved between threads through a mutex-protected exchange and freed by a
 *     thread other than the one that allocated them;
 *   - threads that exit with live blocks (round 1 leaves them in an orphan pool) which
 *     threads created later (round 2) verify and free;
 *   - fork() in the middle of the storm, while other threads may hold allocator locks:
 *     the child verifies and frees the forking thread's blocks, allocates from a new
 *     thread, and exits 0 only if everything checked out.
 * usage: stress [THREADS [OPS_PER_THREAD]]   (defaults 8 and 60000; THREADS 1..MAX_THREADS)
 * The thread that forks in round r is thread (3 * r) % THREADS, so there are ROUNDS forks
 * whatever the thread count.
 * Exit status: 0 when every check passed, 1 otherwise (with a message on stderr). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_THREADS 256
#define ROUNDS 2
#define LOCAL_SLOTS 256
#define EXCHANGE_SLOTS 64
#define ORPHAN_SLOTS (MAX_THREADS * LOCAL_SLOTS)

static int g_threads = 8;          /* argv[1] */
static int g_ops_per_thread = 60000; /* argv[2] */
#define FORK_AT (g_ops_per_thread / 2)

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
    if (((uintptr_t)p & 15) != 0)
        fail("block not 16-byte aligned", p, size);
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

/* In the child of a fork: only the forking thread exists. Its own blocks must be
 * intact and freeable, and the allocator must work, from this thread and a new one. */
static void run_child(t_block *local, size_t count, uint64_t seed)
{
    pthread_t thread;
    size_t i;

    for (i = 0; i < count; i++)
        check_and_free(&local[i]);
    if (pthread_create(&thread, NULL, child_thread, (void *)(uintptr_t)(seed * 7)) != 0)
        fail("pthread_create failed in fork child", NULL, 0);
    else
        pthread_join(thread, NULL);
    child_thread((void *)(uintptr_t)seed);
    exit(g_failed ? 1 : 0);
}

static void do_fork(t_block *local, uint64_t seed)
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
        run_child(local, LOCAL_SLOTS, seed);
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

    for (op = 0; op < g_ops_per_thread && !g_failed; op++)
    {
        if (op == FORK_AT && w->index == (w->round * 3) % g_threads)
            do_fork(local, rng);
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
    size_t orphans_left_by_round1;

    if (argc > 1)
        g_threads = atoi(argv[1]);
    if (argc > 2)
        g_ops_per_thread = atoi(argv[2]);
    if (g_threads < 1 || g_threads > MAX_THREADS || g_ops_per_thread < 2)
    {
        fprintf(stderr, "usage: stress [THREADS (1..%d) [OPS_PER_THREAD (>= 2)]]\n", MAX_THREADS);
        return (2);
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
    if (orphans_left_by_round1 == 0)
        fail("round 1 left no live blocks behind: the test did not test that", NULL, 0);
    if (g_failed)
        return (1);
    printf("stress: ok threads=%d rounds=%d ops=%d orphans=%zu forks=%d\n",
           g_threads, ROUNDS, g_threads * ROUNDS * g_ops_per_thread, orphans_left_by_round1, ROUNDS);
    return (0);
}
