/* adopt: a heap whose thread exited keeps, for the thread that adopts it next, its most
 * recently cached blocks up to what a heap at its base limit caches (32 blocks of a TINY
 * size), and merges the rest (HeapRegistry.Abandon, Heap.ShrinkQuickBinsToBase).
 *   warm    thread A mallocs 8 blocks of 200 bytes, frees them (into its quick bin) and
 *           exits; thread B adopts A's heap (the only one in the pool) and its first
 *           malloc(200) returns the block A freed last (a bin is a LIFO)
 *   bounded thread C (adopting the same heap) mallocs and frees 20,000 blocks of 200 bytes,
 *           so its bins grow past the base limit, and exits: the quick bins of the process
 *           (mallinfo2's smblks) hold at most 32 blocks more than before C started
 * Prints one line per case, "ok: ..." or "FAILED: ..."; exits 0 only if both hold.
 * Meaningful only under FtMalloc (the test runs it there, and checks the statistics line). */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WARM = 8, MANY = 20000, SIZE = 200, BASE_BIN = 32 };

static int failures;
static void *last_freed;
static void *first_malloc;

static void check(int ok, const char *what, long detail)
{
    printf("%s: %s (%ld)\n", ok ? "ok" : "FAILED", what, detail);
    if (!ok)
        failures++;
}

static void *cache_and_exit(void *arg)
{
    (void)arg;
    void *blocks[WARM];
    for (int i = 0; i < WARM; i++) {
        blocks[i] = malloc(SIZE);
        memset(blocks[i], 0xA5, SIZE);
    }
    for (int i = 0; i < WARM; i++)
        free(blocks[i]);
    last_freed = blocks[WARM - 1];
    return NULL;
}

static void *adopt_and_malloc(void *arg)
{
    (void)arg;
    first_malloc = malloc(SIZE);
    free(first_malloc);
    return NULL;
}

static void *grow_bins_and_exit(void *arg)
{
    (void)arg;
    void **blocks = malloc(MANY * sizeof *blocks);
    for (int i = 0; i < MANY; i++) {
        blocks[i] = malloc(SIZE);
        memset(blocks[i], 0x5A, SIZE);
    }
    for (int i = 0; i < MANY; i++)
        free(blocks[i]);
    free(blocks);
    return NULL;
}

static void run(void *(*body)(void *))
{
    pthread_t t;
    pthread_create(&t, NULL, body, NULL);
    pthread_join(t, NULL);
}

int main(void)
{
    run(cache_and_exit);
    run(adopt_and_malloc);
    check(first_malloc == last_freed, "warm: the adopting thread's first malloc returns the exited thread's last freed block",
          (long)((char *)first_malloc - (char *)last_freed));

    long before = (long)mallinfo2().smblks;
    run(grow_bins_and_exit);
    long after = (long)mallinfo2().smblks;
    check(after - before <= BASE_BIN, "bounded: cached blocks an exited thread's heap keeps, over what the process had before",
          after - before);

    printf("%s\n", failures ? "FAILED" : "all ok");
    return failures ? 1 : 0;
}
