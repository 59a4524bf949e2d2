/* stackreuse: glibc hands the stack (and with it the thread descriptor, so the same
 * pthread_self() value) of a thread that exited to the next thread it creates: that thread
 * must get a heap of its own, not the one the dead thread left in the pool (the thread-heap
 * table is keyed by pthread_self() and checked against the heap's OwnerThread, which
 * HeapRegistry.Abandon clears; a lookup by stack address would have to forget the stack
 * the same way). T1 allocates, then exits; T2 (created next: glibc gives it T1's cached
 * stack) and T3 run at the same time, each allocating, filling, checking and freeing
 * blocks. Had T2 been taken for T1, it would use T1's pooled heap while T3 adopts that heap:
 * two threads on one heap, blocks handed out twice, caught by the checks (as they were,
 * every run, with a stack-address lookup that did not forget the stack).
 * Prints "stack reused: yes|no" and "checks: ok|FAILED"; exits 1 on a failed check. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LIVE = 64, ROUNDS = 300000 };
static uintptr_t t1_stack;
static int failed;

static void *first(void *arg)
{
    (void)arg;
    char local;
    t1_stack = (uintptr_t)&local;
    for (int i = 0; i < 1000; i++) {
        void *p = malloc(16 + i % 200);
        if (p == NULL) abort();
        memset(p, 1, 16);
        free(p);
    }
    return NULL;
}

static void *worker(void *arg)
{
    uintptr_t *where = arg;
    char local;
    *where = (uintptr_t)&local;
    unsigned char *blocks[LIVE] = { 0 };
    size_t sizes[LIVE] = { 0 };
    uint64_t rng = (uintptr_t)arg | 1;
    unsigned char tag = (unsigned char)((uintptr_t)arg >> 4);
    for (int i = 0; i < ROUNDS && !__atomic_load_n(&failed, __ATOMIC_RELAXED); i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int slot = (int)((rng >> 33) % LIVE);
        if (blocks[slot] != NULL) {
            for (size_t k = 0; k < sizes[slot]; k++)
                if (blocks[slot][k] != (unsigned char)(tag + slot)) {
                    __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
                    break;
                }
            free(blocks[slot]);
        }
        sizes[slot] = 8 + (rng >> 40) % 400;
        blocks[slot] = malloc(sizes[slot]);
        if (blocks[slot] == NULL) abort();
        memset(blocks[slot], (unsigned char)(tag + slot), sizes[slot]);
    }
    for (int s = 0; s < LIVE; s++) free(blocks[s]);
    return NULL;
}

int main(void)
{
    pthread_t t1, t2, t3;
    static uintptr_t s2, s3;
    if (pthread_create(&t1, NULL, first, NULL) != 0) return 2;
    pthread_join(t1, NULL);
    if (pthread_create(&t2, NULL, worker, &s2) != 0) return 2;
    if (pthread_create(&t3, NULL, worker, &s3) != 0) return 2;
    pthread_join(t2, NULL);
    pthread_join(t3, NULL);
    uintptr_t d2 = s2 > t1_stack ? s2 - t1_stack : t1_stack - s2;
    uintptr_t d3 = s3 > t1_stack ? s3 - t1_stack : t1_stack - s3;
    printf("stack reused: %s\n", d2 < 65536 || d3 < 65536 ? "yes" : "no");
    printf("checks: %s\n", failed ? "FAILED" : "ok");
    return failed;
}
