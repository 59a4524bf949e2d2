/*
 * larson: a Larson-style server simulation (threaded workloads are a stub in this suite: run
 * them with --threads). THREADS threads each own a table of live blocks and replace random ones;
 * after each generation the threads exit and new ones take over a *different* thread's table,
 * so most blocks are freed by a thread other than the one that allocated them.
 *
 * usage: larson THREADS [GENERATIONS] [OPS_PER_THREAD] [SLOTS]     prints: checksum
 * The checksum does not depend on scheduling: each table's sequence of events is fixed.
 */
#include "common.h"
#include <pthread.h>

struct table {
    unsigned char **p;
    uint32_t *n;
    uint64_t rng, h;
};

static long s_ops, s_slots;

static void *worker(void *arg)
{
    struct table *t = arg;
    for (long i = 0; i < s_ops; i++) {
        uint64_t r = rng_next(&t->rng);
        long j = (long)(r % (uint64_t)s_slots);
        if (t->p[j]) {
            verify(t->p[j], t->n[j], t->n[j] ^ (uint64_t)j);
            t->h = mix(t->h, t->n[j]);
            free(t->p[j]);
        }
        t->n[j] = (uint32_t)(8 + (r >> 32) % 1017); /* 8 .. 1024 bytes */
        t->p[j] = xmalloc(t->n[j]);
        stamp(t->p[j], t->n[j], t->n[j] ^ (uint64_t)j);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = arg_long(argc, argv, 1, 2);
    long generations = arg_long(argc, argv, 2, 10);
    s_ops = arg_long(argc, argv, 3, 200000);
    s_slots = arg_long(argc, argv, 4, 1000);
    struct table *tables = calloc((size_t)threads, sizeof *tables);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    for (long i = 0; i < threads; i++) {
        tables[i].p = calloc((size_t)s_slots, sizeof *tables[i].p);
        tables[i].n = calloc((size_t)s_slots, sizeof *tables[i].n);
        tables[i].rng = (uint64_t)i + 1;
        tables[i].h = HASH_SEED;
    }
    for (long g = 0; g < generations; g++) {
        for (long i = 0; i < threads; i++) /* thread i takes table (i + g) % threads */
            if (pthread_create(&tid[i], NULL, worker, &tables[(i + g) % threads]) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                return 4;
            }
        for (long i = 0; i < threads; i++)
            pthread_join(tid[i], NULL);
    }
    uint64_t h = HASH_SEED;
    for (long i = 0; i < threads; i++) {
        for (long j = 0; j < s_slots; j++)
            if (tables[i].p[j]) {
                verify(tables[i].p[j], tables[i].n[j], tables[i].n[j] ^ (uint64_t)j);
                free(tables[i].p[j]);
            }
        h = mix(h, tables[i].h);
        free(tables[i].p);
        free(tables[i].n);
    }
    free(tables);
    free(tid);
    print_checksum(h);
    return 0;
}
