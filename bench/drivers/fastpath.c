/*
 * fastpath: nanoseconds per malloc/free pair of one size, on one thread, nothing else live.
 * This is the allocator's best case: pop from a free list, push it back. Each size is timed in
 * several trials and the fastest is kept (the machine is noisy; the fast path is not).
 *
 * usage: fastpath PAIRS [TRIALS]
 * prints: metric ns_pair <ns for 32 bytes>, metric ns_pair_<size> for 16, 64, 256, 1024; checksum
 */
#include "common.h"

static double time_pairs(size_t size, long pairs)
{
    double t0 = now_ns();
    for (long i = 0; i < pairs; i++) {
        volatile unsigned char *p = malloc(size);
        p[0] = (unsigned char)i; /* touch it, as any caller would */
        free((void *)p);
    }
    return (now_ns() - t0) / (double)pairs;
}

int main(int argc, char **argv)
{
    long pairs = arg_long(argc, argv, 1, 10000000);
    long trials = arg_long(argc, argv, 2, 3);
    static const size_t sizes[] = { 32, 16, 64, 256, 1024 };
    uint64_t h = HASH_SEED;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        time_pairs(sizes[s], pairs / 10 + 1); /* warm the size class */
        double best = 1e300;
        for (long t = 0; t < trials; t++) {
            double ns = time_pairs(sizes[s], pairs);
            if (ns < best)
                best = ns;
        }
        char name[32];
        if (s == 0)
            snprintf(name, sizeof name, "ns_pair");
        else
            snprintf(name, sizeof name, "ns_pair_%zu", sizes[s]);
        print_metric(name, best);
        h = mix(h, sizes[s]);
    }
    print_checksum(h);
    return 0;
}
