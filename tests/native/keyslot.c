/* keyslot: the threaded fast paths read the calling thread's heap straight from its value of
 * the library's pthread key, where glibc keeps it in the thread descriptor
 * (docs/ARCHITECTURE.md, "Threads and fork", Ownership). The program fills every other key
 * of the descriptor's first block (keys up to 31) with values that look like heaps to a
 * wrong read: pointers to allocated blocks, different in every thread. THREADS threads then
 * allocate, fill, check and hand blocks to each other (remote frees); at exit each thread's
 * key destructors free their values and allocate again, after the library's own key has been
 * cleared (its destructor ran first: the library's key is made at load, before these).
 * A read of the wrong key's value would take a block for a heap: a crash or a failed check.
 * Prints "keys: N" (keys made here), "checks: ok|FAILED"; exits 1 on a failed check. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KEYS = 32, THREADS = 6, ROUNDS = 40000, SLOTS = 64 };

static pthread_key_t s_keys[KEYS];
static int s_made;
static int s_failed;
static void *volatile s_mailbox[THREADS]; /* blocks passed to the next thread */

static void on_exit_key(void *value)
{
    /* Runs after the library's key was cleared: a free and a malloc from a dying thread. */
    unsigned char *p = value;
    if (p[0] != 0x5a) __atomic_store_n(&s_failed, 1, __ATOMIC_RELAXED);
    free(p);
    void *q = malloc(48);
    if (q == NULL) abort();
    memset(q, 1, 48);
    free(q);
}

static void *worker(void *arg)
{
    long me = (long)arg;
    for (int k = 0; k < s_made; k++) {
        unsigned char *v = malloc(64);
        if (v == NULL) abort();
        memset(v, 0x5a, 64);
        pthread_setspecific(s_keys[k], v);
    }
    unsigned char *live[SLOTS] = { 0 };
    size_t size[SLOTS] = { 0 };
    uint64_t rng = (uint64_t)me * 0x9E3779B97F4A7C15ULL + 1;
    for (int i = 0; i < ROUNDS; i++) {
        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
        int j = (int)(rng % SLOTS);
        if (live[j] != NULL) {
            for (size_t b = 0; b < size[j]; b++)
                if (live[j][b] != (unsigned char)(me + j)) { __atomic_store_n(&s_failed, 1, __ATOMIC_RELAXED); break; }
            /* Every fourth block goes to the next thread's mailbox, to be freed there. */
            if ((rng >> 40) % 4 == 0) {
                void *old = __atomic_exchange_n(&s_mailbox[(me + 1) % THREADS], live[j], __ATOMIC_ACQ_REL);
                free(old);
            } else {
                free(live[j]);
            }
        }
        size[j] = 8 + (size_t)((rng >> 20) % 900);
        live[j] = malloc(size[j]);
        if (live[j] == NULL) abort();
        memset(live[j], (int)(me + j), size[j]);
        void *got = __atomic_exchange_n(&s_mailbox[me], NULL, __ATOMIC_ACQ_REL);
        free(got);
    }
    for (int j = 0; j < SLOTS; j++) free(live[j]);
    return NULL;
}

int main(void)
{
    /* The library's key is already made (at load); take the rest of the first 32. */
    while (s_made < KEYS && pthread_key_create(&s_keys[s_made], on_exit_key) == 0) {
        if (s_keys[s_made] >= 32) break;
        s_made++;
    }
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i) != 0) abort();
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++) free(s_mailbox[i]);
    printf("keys: %d\n", s_made);
    printf("checks: %s\n", s_failed ? "FAILED" : "ok");
    return s_failed ? 1 : 0;
}
