/* nestedstack: a thread's stack may be memory inside another live thread's stack
 * (pthread_attr_setstack on a local array): the two threads must still get two heaps.
 * This is the case that rules out finding the caller's heap from its stack address (a
 * table of stack ranges, checked against the range of the owner's stack): B runs inside
 * the range of A's stack, in the very 64 KiB that A allocated from, so such a lookup
 * hands B A's heap, and two threads then change one heap at once (docs/ARCHITECTURE.md,
 * "Threads and fork", Ownership). A allocates, then starts B on an array of its own frame;
 * each takes a 48-byte block first (a heap's first TINY zone serves it, and zones are
 * aligned to their 256 KiB: blocks of one heap's first zone share that alignment), then
 * both allocate, fill, check and free blocks at the same time.
 * Prints "same zone: yes|no" (no: two heaps) and "checks: ok|FAILED". */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int failed;
static void *first_a, *first_b;

static void churn(unsigned char tag)
{
    unsigned char *blocks[32] = { 0 };
    size_t sizes[32] = { 0 };
    for (int i = 0; i < 200000 && !failed; i++) {
        int s = (i * 7) % 32;
        if (blocks[s] != NULL) {
            for (size_t k = 0; k < sizes[s]; k++)
                if (blocks[s][k] != (unsigned char)(tag + s)) {
                    failed = 1;
                    break;
                }
            free(blocks[s]);
        }
        sizes[s] = 16 + (size_t)(i % 13) * 8;
        blocks[s] = malloc(sizes[s]);
        if (blocks[s] == NULL) abort();
        memset(blocks[s], (unsigned char)(tag + s), sizes[s]);
    }
    for (int s = 0; s < 32; s++) free(blocks[s]);
}

static void *thread_b(void *arg)
{
    (void)arg;
    first_b = malloc(48);
    churn(100);
    free(first_b);
    return NULL;
}

/* A's first allocations, at about the depth where run_b's array will be. */
__attribute__((noinline)) static void warm(void)
{
    volatile char pad[6 * 1024];
    pad[0] = 1;
    first_a = malloc(48);
    for (int i = 0; i < 1000; i++) free(malloc(32));
    (void)pad[0];
}

__attribute__((noinline)) static void run_b(void)
{
    static pthread_t b;
    char stack[128 * 1024] __attribute__((aligned(64)));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (pthread_attr_setstack(&attr, stack, sizeof stack) != 0) abort();
    if (pthread_create(&b, &attr, thread_b, NULL) != 0) abort();
    churn(1);
    pthread_join(b, NULL);
}

static void *thread_a(void *arg)
{
    (void)arg;
    warm();
    run_b();
    free(first_a);
    return NULL;
}

int main(void)
{
    pthread_t a;
    if (pthread_create(&a, NULL, thread_a, NULL) != 0) return 2;
    pthread_join(a, NULL);
    printf("same zone: %s\n", ((uintptr_t)first_a >> 18) == ((uintptr_t)first_b >> 18) ? "yes" : "no");
    printf("checks: %s\n", failed ? "FAILED" : "ok");
    return failed;
}
