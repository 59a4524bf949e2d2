/*
 * threadchurn: many short-lived threads that allocate and pass blocks on. Threads run in waves
 * of CONCURRENT; thread k of wave w takes over the blocks that thread k of wave w - 1 left
 * (verifies and frees them: every one a block of a thread that has exited), allocates BLOCKS
 * blocks of mixed sizes (a few LARGE), frees every other one itself and leaves the rest for
 * thread k of the next wave. The main thread reads its resident memory after the first tenth
 * of the threads (warm-up) and after the last wave: an allocator that does not reuse the heaps
 * of exited threads grows.
 *
 * usage: threadchurn CONCURRENT [TOTAL_THREADS] [BLOCKS]     defaults 4, 10000, 64
 * prints: checksum; metric rss_growth_kb (resident after the last wave minus after warm-up),
 *   metric rss_warm_kb, metric rss_end_kb.
 */
#include "common.h"
#include <pthread.h>
#include <unistd.h>

#define MAX_CONCURRENT 256

struct block { unsigned char *p; uint32_t n; uint64_t tag; };

struct lane {
    pthread_t tid;
    long thread;          /* global number of the thread now running in this lane */
    struct block *baton;  /* BLOCKS / 2 blocks left by the previous thread of this lane */
    long held;
    uint64_t h;
} __attribute__((aligned(128)));

static struct lane s_lanes[MAX_CONCURRENT];
static long s_blocks;

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

static void *run(void *arg)
{
    struct lane *l = arg;
    uint64_t rng = (uint64_t)l->thread * 0x9E3779B97F4A7C15ull + 1;
    uint64_t h = l->h;

    for (long i = 0; i < l->held; i++) {
        struct block *b = &l->baton[i];
        verify(b->p, b->n, b->tag);
        h = mix(h, b->n);
        free(b->p);
    }
    l->held = 0;
    for (long i = 0; i < s_blocks; i++) {
        uint64_t r = rng_next(&rng);
        uint32_t n = (r & 63) == 0 ? (uint32_t)(40000 + (r >> 8) % 60000) : (uint32_t)small_size(r >> 6);
        unsigned char *p = xmalloc(n);
        uint64_t tag = ((uint64_t)l->thread << 20) ^ (uint64_t)i;
        stamp(p, n, tag);
        if (i % 2 == 0) {
            verify(p, n, tag);
            h = mix(h, n);
            free(p);
        } else {
            l->baton[l->held].p = p;
            l->baton[l->held].n = n;
            l->baton[l->held].tag = tag;
            l->held++;
        }
    }
    l->h = h;
    return NULL;
}

int main(int argc, char **argv)
{
    long concurrent = arg_long(argc, argv, 1, 4);
    long total = arg_long(argc, argv, 2, 10000);
    s_blocks = arg_long(argc, argv, 3, 64);
    if (concurrent < 1 || concurrent > MAX_CONCURRENT || total < concurrent || s_blocks < 2) {
        fprintf(stderr, "usage: threadchurn CONCURRENT (1..%d) [TOTAL_THREADS] [BLOCKS]\n", MAX_CONCURRENT);
        return 1;
    }
    for (long k = 0; k < concurrent; k++) {
        s_lanes[k].baton = calloc((size_t)s_blocks, sizeof *s_lanes[k].baton);
        s_lanes[k].h = HASH_SEED;
    }
    long waves = total / concurrent, warm_wave = waves / 10, rss_warm = 0;
    for (long w = 0; w < waves; w++) {
        for (long k = 0; k < concurrent; k++) {
            s_lanes[k].thread = w * concurrent + k;
            if (pthread_create(&s_lanes[k].tid, NULL, run, &s_lanes[k]) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                return 4;
            }
        }
        for (long k = 0; k < concurrent; k++)
            pthread_join(s_lanes[k].tid, NULL);
        if (w == warm_wave)
            rss_warm = resident_kb();
    }
    long rss_end = resident_kb();
    uint64_t h = HASH_SEED;
    for (long k = 0; k < concurrent; k++) {
        for (long i = 0; i < s_lanes[k].held; i++) {
            verify(s_lanes[k].baton[i].p, s_lanes[k].baton[i].n, s_lanes[k].baton[i].tag);
            free(s_lanes[k].baton[i].p);
        }
        free(s_lanes[k].baton);
        h = mix(h, s_lanes[k].h);
    }
    print_checksum(h);
    print_metric("rss_growth_kb", (double)(rss_end - rss_warm));
    print_metric("rss_warm_kb", (double)rss_warm);
    print_metric("rss_end_kb", (double)rss_end);
    return 0;
}
