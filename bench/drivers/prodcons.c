/*
 * prodcons: producer/consumer pairs (threaded workloads are a stub in this suite: run them with
 * --threads). Each producer allocates blocks and hands them, in batches of 64, through a bounded
 * queue to its consumer, which checks and frees them: every free is a remote free.
 *
 * usage: prodcons PAIRS [ITEMS_PER_PAIR]     prints: checksum
 */
#include "common.h"
#include <pthread.h>

#define BATCH 64
#define DEPTH 16

struct item { unsigned char *p; uint32_t n; };
struct batch { struct item items[BATCH]; int count; };

struct pair {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct batch queue[DEPTH];
    int head, tail, used;
    long index;
    uint64_t h;
};

static long s_items;

static void *producer(void *arg)
{
    struct pair *q = arg;
    uint64_t rng = (uint64_t)q->index + 1;
    struct batch b = { .count = 0 };
    for (long i = 0; i < s_items; i++) {
        uint64_t r = rng_next(&rng);
        uint32_t n = (uint32_t)(8 + r % 505); /* 8 .. 512 bytes */
        b.items[b.count].p = xmalloc(n);
        b.items[b.count].n = n;
        stamp(b.items[b.count].p, n, (uint64_t)i);
        if (++b.count == BATCH || i == s_items - 1) {
            pthread_mutex_lock(&q->lock);
            while (q->used == DEPTH)
                pthread_cond_wait(&q->changed, &q->lock);
            q->queue[q->tail] = b;
            q->tail = (q->tail + 1) % DEPTH;
            q->used++;
            pthread_cond_broadcast(&q->changed);
            pthread_mutex_unlock(&q->lock);
            b.count = 0;
        }
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct pair *q = arg;
    long seen = 0;
    while (seen < s_items) {
        pthread_mutex_lock(&q->lock);
        while (q->used == 0)
            pthread_cond_wait(&q->changed, &q->lock);
        struct batch b = q->queue[q->head];
        q->head = (q->head + 1) % DEPTH;
        q->used--;
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->lock);
        for (int k = 0; k < b.count; k++, seen++) {
            verify(b.items[k].p, b.items[k].n, (uint64_t)seen);
            q->h = mix(q->h, b.items[k].n);
            free(b.items[k].p);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long pairs = arg_long(argc, argv, 1, 1);
    s_items = arg_long(argc, argv, 2, 2000000);
    struct pair *q = calloc((size_t)pairs, sizeof *q);
    pthread_t *tid = calloc((size_t)pairs * 2, sizeof *tid);
    for (long i = 0; i < pairs; i++) {
        pthread_mutex_init(&q[i].lock, NULL);
        pthread_cond_init(&q[i].changed, NULL);
        q[i].h = HASH_SEED;
        q[i].index = i;
    }
    for (long i = 0; i < pairs; i++) {
        pthread_create(&tid[2 * i], NULL, producer, &q[i]);
        pthread_create(&tid[2 * i + 1], NULL, consumer, &q[i]);
    }
    for (long i = 0; i < pairs * 2; i++)
        pthread_join(tid[i], NULL);
    uint64_t h = HASH_SEED;
    for (long i = 0; i < pairs; i++)
        h = mix(h, q[i].h);
    free(q);
    free(tid);
    print_checksum(h);
    return 0;
}
