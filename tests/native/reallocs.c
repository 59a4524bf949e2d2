/*
 * reallocs: realloc through the exported fast path (a block of the calling thread's own
 * heap) and around it, with every byte checked.
 *   1. one block grown from 1 byte to 3,000 one step at a time (in place while the block or
 *      its free neighbour has room, moved otherwise), every usable byte written each time,
 *      then shrunk back to 1 byte;
 *   2. 64 blocks grown round robin, so that most growths must move;
 *   3. a block another thread allocated, grown and shrunk here (the fast path declines it);
 *   4. realloc(p, 0) frees; realloc(NULL, n) allocates.
 * Prints "reallocs N" (the realloc calls it made) and "OK"; exits 1 on any lost byte.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

static long calls;

static void *counted_realloc(void *p, size_t n)
{
    calls++;
    return realloc(p, n);
}

static unsigned char pattern(uintptr_t seed, size_t i) { return (unsigned char)(seed * 131 + i * 7); }

static void fill(unsigned char *p, size_t n, uintptr_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(seed, i);
}

static void expect(const unsigned char *p, size_t n, uintptr_t seed, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(seed, i)) {
            printf("FAIL %s: byte %zu of %zu lost\n", what, i, n);
            exit(1);
        }
}

static void *allocate_elsewhere(void *arg)
{
    unsigned char *p = malloc(100);
    fill(p, 100, 3);
    *(void **)arg = p;
    return NULL;
}

int main(void)
{
    /* 1. one block, step by step, all of its usable bytes in use */
    unsigned char *p = counted_realloc(NULL, 1);
    size_t kept = 1;
    fill(p, 1, 1);
    for (size_t n = 2; n <= 3000; n++) {
        p = counted_realloc(p, n);
        if (p == NULL || malloc_usable_size(p) < n || (uintptr_t)p % 16 != 0) {
            printf("FAIL grow to %zu\n", n);
            return 1;
        }
        expect(p, kept < n ? kept : n, 1, "grow"); /* the old block's usable bytes, up to the new size */
        kept = malloc_usable_size(p);
        fill(p, kept, 1);
    }
    for (size_t n = 2999; n >= 1; n--) {
        p = counted_realloc(p, n);
        if (p == NULL || malloc_usable_size(p) < n) {
            printf("FAIL shrink to %zu\n", n);
            return 1;
        }
        expect(p, n, 1, "shrink");
        kept = malloc_usable_size(p);
        fill(p, kept, 1);
    }

    /* 2. many blocks growing at once */
    enum { BLOCKS = 64 };
    unsigned char *b[BLOCKS];
    size_t len[BLOCKS];
    for (int i = 0; i < BLOCKS; i++) {
        b[i] = malloc(8);
        len[i] = 8;
        fill(b[i], 8, (uintptr_t)i + 10);
    }
    for (int round = 0; round < 200; round++)
        for (int i = 0; i < BLOCKS; i++) {
            size_t n = len[i] + 1 + (size_t)((round * 7 + i) % 24);
            b[i] = counted_realloc(b[i], n);
            expect(b[i], len[i], (uintptr_t)i + 10, "round robin");
            fill(b[i], n, (uintptr_t)i + 10);
            len[i] = n;
        }
    for (int i = 0; i < BLOCKS; i++) {
        expect(b[i], len[i], (uintptr_t)i + 10, "round robin end");
        free(b[i]);
    }

    /* 3. a block of another thread's heap */
    void *foreign = NULL;
    pthread_t t;
    pthread_create(&t, NULL, allocate_elsewhere, &foreign);
    pthread_join(t, NULL);
    unsigned char *f = counted_realloc(foreign, 5000);
    expect(f, 100, 3, "foreign grow");
    f = counted_realloc(f, 50);
    expect(f, 50, 3, "foreign shrink");
    free(f);

    /* 4. the edges */
    if (counted_realloc(p, 0) != NULL) {
        printf("FAIL realloc(p, 0) returned a block\n");
        return 1;
    }
    p = counted_realloc(NULL, 24);
    fill(p, 24, 9);
    p = counted_realloc(p, 24);
    expect(p, 24, 9, "same size");
    free(p);

    printf("reallocs %ld\nOK\n", calls);
    return 0;
}
