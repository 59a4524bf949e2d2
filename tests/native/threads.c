/* threads: the thread lifecycle cases of per-thread heaps. Each case prints one line
 * "ok: ..." or "FAILED: ..."; the program exits 0 only if every case holds.
 *   first-free    a thread whose first allocator call is free() of another thread's block
 *   after-exit    blocks freed by main after the thread that allocated them has exited
 *   churn         10,000 short-lived threads that allocate and hand blocks on: resident
 *                 memory after warm-up must not grow by more than 200 KB
 *   give-back     a thread allocates 64 MB of SMALL and 13 MB of TINY blocks and exits; main frees it all: resident memory
 *                 returns to within 2 MB of where it started
 * usage: threads [churn-threads] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what, long detail)
{
    printf("%s: %s (%ld)\n", ok ? "ok" : "FAILED", what, detail);
    if (!ok)
        failures++;
}

static long resident_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static int intact(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7))
            return 0;
    return 1;
}

/* first-free: the block comes from main; the thread's first call is free(). */
static void *free_first(void *block)
{
    free(block);
    void *mine = malloc(100);
    free(mine);
    return NULL;
}

/* after-exit: allocate, hand the blocks to main, exit. */
#define HANDED 2000
static void *allocate_and_exit(void *out)
{
    void **blocks = out;
    for (int i = 0; i < HANDED; i++) {
        size_t n = (size_t)(16 + (i * 37) % 3000);
        blocks[i] = malloc(n);
        fill(blocks[i], n, (unsigned)i);
    }
    return NULL;
}

/* churn: each thread allocates a few blocks, frees some, and passes one on. */
static void *volatile baton;
static pthread_mutex_t baton_lock = PTHREAD_MUTEX_INITIALIZER;
static void *churn_one(void *arg)
{
    (void)arg;
    void *local[8];
    for (int i = 0; i < 8; i++)
        local[i] = malloc((size_t)(24 + i * 100));
    void *next = malloc(256);
    memset(next, 0x5A, 256);
    pthread_mutex_lock(&baton_lock);
    void *previous = baton;
    baton = next;
    pthread_mutex_unlock(&baton_lock);
    free(previous);
    for (int i = 0; i < 8; i++)
        free(local[i]);
    return NULL;
}

static void run_churn(long threads)
{
    for (long i = 0; i < threads; i++) {
        pthread_t t;
        pthread_create(&t, NULL, churn_one, NULL);
        pthread_join(t, NULL);
    }
}

/* give-back: a thread allocates many blocks and exits; main frees them. Half are SMALL
 * (4000 bytes), half TINY (200 bytes: the size a quick bin keeps). */
#define BIG_COUNT 16384
#define TINY_COUNT 65536
static void *allocate_many(void *out)
{
    void **blocks = out;
    for (int i = 0; i < BIG_COUNT; i++) {
        blocks[i] = malloc(4000);
        memset(blocks[i], 1, 4000);
    }
    for (int i = BIG_COUNT; i < BIG_COUNT + TINY_COUNT; i++) {
        blocks[i] = malloc(200);
        memset(blocks[i], 2, 200);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long churn = argc > 1 ? atol(argv[1]) : 10000;
    pthread_t t;

    void *from_main = malloc(300);
    pthread_create(&t, NULL, free_first, from_main);
    pthread_join(t, NULL);
    check(1, "a thread whose first call is free() of main's block", 0);

    void **handed = calloc(HANDED, sizeof(void *));
    pthread_create(&t, NULL, allocate_and_exit, handed);
    pthread_join(t, NULL);
    int all_intact = 1;
    for (int i = 0; i < HANDED; i++) {
        all_intact &= intact(handed[i], (size_t)(16 + (i * 37) % 3000), (unsigned)i);
        free(handed[i]);
    }
    free(handed);
    check(all_intact, "blocks of an exited thread stay intact and can be freed", HANDED);

    run_churn(churn / 10); /* warm-up */
    long before = resident_kb();
    run_churn(churn);
    long growth = resident_kb() - before;
    check(growth <= 200, "resident growth over the thread churn, KB", growth);

    long start = resident_kb();
    void **many = malloc((BIG_COUNT + TINY_COUNT) * sizeof(void *));
    pthread_create(&t, NULL, allocate_many, many);
    pthread_join(t, NULL);
    long peak = resident_kb();
    for (int i = 0; i < BIG_COUNT + TINY_COUNT; i++)
        free(many[i]);
    free(many);
    long after = resident_kb();
    check(peak - start > 32000, "the 64 MB were resident, KB", peak - start);
    check(after - start <= 2048, "resident memory came back after main freed the exited thread's blocks, KB over start", after - start);

    free(baton);
    printf("%s\n", failures ? "FAILED" : "all ok");
    return failures ? 1 : 0;
}
