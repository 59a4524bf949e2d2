/*
 * livecost: does a malloc/free pair get slower when the heap is big?
 * The same sequence of malloc/free pairs (16 mixed sizes, 16 B .. 1 KB) is timed twice: with 10
 * live blocks, then with LARGE live blocks (default 1,000,000) of mixed sizes. A second measure
 * frees a random live block and allocates a replacement, which also pays the cache misses of
 * touching old blocks (every allocator does: read it as context, not as a target).
 *
 * usage: livecost LARGE PAIRS [TRIALS]
 * prints: metric ns_pair_small, ns_pair_large, ratio_pair (the target), ns_replace_small,
 *         ns_replace_large, ratio_replace, live_large; checksum
 */
#include "common.h"

static const size_t k_sizes[16] = { 16, 24, 32, 48, 64, 80, 96, 128, 160, 200, 256, 320, 400, 512, 768, 1024 };

static double time_pairs(long pairs, long trials)
{
    double best = 1e300;
    for (long t = 0; t < trials; t++) {
        double t0 = now_ns();
        for (long i = 0; i < pairs; i++) {
            volatile unsigned char *p = malloc(k_sizes[i & 15]);
            p[0] = (unsigned char)i;
            free((void *)p);
        }
        double ns = (now_ns() - t0) / (double)pairs;
        if (ns < best)
            best = ns;
    }
    return best;
}

struct block { unsigned char *p; uint32_t n; };

static double time_replace(struct block *live, long count, long pairs, long trials, uint64_t *rng)
{
    double best = 1e300;
    for (long t = 0; t < trials; t++) {
        double t0 = now_ns();
        for (long i = 0; i < pairs; i++) {
            uint64_t r = rng_next(rng);
            struct block *b = &live[r % (uint64_t)count];
            verify(b->p, b->n, (uint64_t)b->n);
            free(b->p);
            b->n = (uint32_t)k_sizes[(r >> 40) & 15];
            b->p = xmalloc(b->n);
            stamp(b->p, b->n, (uint64_t)b->n);
        }
        double ns = (now_ns() - t0) / (double)pairs;
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(int argc, char **argv)
{
    long large = arg_long(argc, argv, 1, 1000000);
    long pairs = arg_long(argc, argv, 2, 2000000);
    long trials = arg_long(argc, argv, 3, 3);
    const long small = 10;
    if (large < small)
        large = small;
    struct block *live = xmalloc((size_t)large * sizeof *live);
    uint64_t rng = 5, h = HASH_SEED;

    for (long i = 0; i < large; i++) {
        uint64_t r = rng_next(&rng);
        live[i].n = (uint32_t)k_sizes[r & 15];
        if (i < small) {
            live[i].p = xmalloc(live[i].n);
            stamp(live[i].p, live[i].n, live[i].n);
        }
    }
    time_pairs(pairs / 10 + 1, 1); /* warm-up */
    double pairSmall = time_pairs(pairs, trials);
    double replSmall = time_replace(live, small, pairs, trials, &rng);

    for (long i = small; i < large; i++) {
        live[i].p = xmalloc(live[i].n);
        stamp(live[i].p, live[i].n, live[i].n);
    }
    double pairLarge = time_pairs(pairs, trials);
    double replLarge = time_replace(live, large, pairs, trials, &rng);

    for (long i = 0; i < large; i++) {
        verify(live[i].p, live[i].n, live[i].n);
        h = mix(h, live[i].n);
        free(live[i].p);
    }
    free(live);
    print_metric("ns_pair_small", pairSmall);
    print_metric("ns_pair_large", pairLarge);
    print_metric("ratio_pair", pairLarge / pairSmall);
    print_metric("ns_replace_small", replSmall);
    print_metric("ns_replace_large", replLarge);
    print_metric("ratio_replace", replLarge / replSmall);
    print_metric("live_large", (double)large);
    print_checksum(h);
    return 0;
}
