/* remotemix: a thread frees another thread's TINY, SMALL and LARGE blocks, interleaved (so
 * the owner's remote-free list mixes tagged LARGE entries with untagged ones), then exits
 * (its last batch goes out); the owner takes them in at malloc_trim(0). Prints
 * malloc_stats() after "== before" (all blocks live) and "== after" (all taken in): every
 * block freed once, and the bytes in use back to what they were before the blocks. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROUNDS = 40 };
static void *blocks[3 * ROUNDS];

static void *free_all(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3 * ROUNDS; i++)
        free(blocks[i]);
    return NULL;
}

int main(void)
{
    malloc_trim(0);
    fprintf(stderr, "== empty\n");
    malloc_stats();
    for (int i = 0; i < ROUNDS; i++) {
        blocks[3 * i] = malloc(24 + i);              /* TINY */
        blocks[3 * i + 1] = malloc(2000 + 8 * i);    /* SMALL */
        blocks[3 * i + 2] = malloc(200000 + 4096 * i); /* LARGE */
        for (int k = 0; k < 3; k++)
            if (blocks[3 * i + k] == NULL) return 2;
        memset(blocks[3 * i], 1, 24);
    }
    fprintf(stderr, "== before\n");
    malloc_stats();
    pthread_t t;
    pthread_create(&t, NULL, free_all, NULL);
    pthread_join(t, NULL);
    malloc_trim(0);
    fprintf(stderr, "== after\n");
    malloc_stats();
    return 0;
}
