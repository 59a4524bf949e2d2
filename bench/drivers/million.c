/*
 * million: the scale case. One million live blocks of mixed small sizes; then rounds in which a
 * random half is freed and allocated again with new sizes; then everything is checked and freed
 * in random order. An allocator whose free or malloc walks a list of zones shows up here.
 *
 * usage: million BLOCKS [ROUNDS]     prints: checksum
 */
#include "common.h"

int main(int argc, char **argv)
{
    long n = arg_long(argc, argv, 1, 1000000);
    long rounds = arg_long(argc, argv, 2, 2);
    unsigned char **p = xmalloc((size_t)n * sizeof *p);
    uint32_t *len = xmalloc((size_t)n * sizeof *len);
    long *order = xmalloc((size_t)n * sizeof *order);
    uint64_t rng = 11, h = HASH_SEED;

    for (long i = 0; i < n; i++) {
        uint64_t r = rng_next(&rng);
        len[i] = (uint32_t)(8 + (r % 100 < 80 ? r % 57 : r % 249)); /* 8..256, mostly <= 64 */
        p[i] = xmalloc(len[i]);
        stamp(p[i], len[i], (uint64_t)i);
        order[i] = i;
    }
    for (long round = 0; round < rounds; round++) {
        for (long i = n - 1; i > 0; i--) { /* Fisher-Yates */
            long j = (long)(rng_next(&rng) % (uint64_t)(i + 1));
            long t = order[i]; order[i] = order[j]; order[j] = t;
        }
        for (long k = 0; k < n / 2; k++) {
            long i = order[k];
            verify(p[i], len[i], (uint64_t)i);
            free(p[i]);
        }
        for (long k = 0; k < n / 2; k++) {
            long i = order[k];
            len[i] = (uint32_t)(8 + rng_next(&rng) % 249);
            p[i] = xmalloc(len[i]);
            stamp(p[i], len[i], (uint64_t)i);
        }
    }
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rng_next(&rng) % (uint64_t)(i + 1));
        long t = order[i]; order[i] = order[j]; order[j] = t;
    }
    for (long k = 0; k < n; k++) {
        long i = order[k];
        verify(p[i], len[i], (uint64_t)i);
        h = mix(h, len[i]);
        free(p[i]);
    }
    free(p); free(len); free(order);
    print_checksum(h);
    return 0;
}
