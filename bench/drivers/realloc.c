/*
 * realloc: growth by realloc, the way vectors and string builders grow.
 *  1. Vectors of 32-bit items grown by doubling their capacity, all growing at once
 *     (round robin), so a block can rarely grow in place without the allocator's help.
 *  2. Strings appended 1..32 bytes at a time with an exact-size realloc each time
 *     (the worst case: a realloc per append), with an occasional shrink.
 * Contents are checked after every move and in full at the end.
 *
 * usage: realloc ROUNDS [VECTORS]     prints: checksum
 */
#include "common.h"

static uint32_t item(long v, long i) { return (uint32_t)(v * 2654435761u + (unsigned long)i * 40503u); }

int main(int argc, char **argv)
{
    long rounds = arg_long(argc, argv, 1, 20);
    long nvec = arg_long(argc, argv, 2, 2000);
    uint64_t rng = 7, h = HASH_SEED;
    uint32_t **vec = calloc((size_t)nvec, sizeof *vec);
    long *len = calloc((size_t)nvec, sizeof *len), *cap = calloc((size_t)nvec, sizeof *cap), *goal = calloc((size_t)nvec, sizeof *goal);
    char **str = calloc((size_t)nvec, sizeof *str);
    size_t *slen = calloc((size_t)nvec, sizeof *slen);

    for (long round = 0; round < rounds; round++) {
        /* 1. doubling vectors */
        long remaining = 0;
        for (long v = 0; v < nvec; v++) {
            goal[v] = 1 + (long)(rng_next(&rng) % 20000);
            len[v] = cap[v] = 0;
            vec[v] = NULL;
            remaining += goal[v];
        }
        while (remaining > 0) {
            for (long v = 0; v < nvec; v++) {
                for (int k = 0; k < 8 && len[v] < goal[v]; k++, remaining--) {
                    if (len[v] == cap[v]) {
                        cap[v] = cap[v] ? cap[v] * 2 : 4;
                        vec[v] = xrealloc(vec[v], (size_t)cap[v] * sizeof(uint32_t));
                        check_alignment(vec[v], (size_t)cap[v] * sizeof(uint32_t));
                        if (len[v] > 0 && (vec[v][0] != item(v, 0) || vec[v][len[v] - 1] != item(v, len[v] - 1)))
                            fail("vector contents lost in realloc", vec[v], (size_t)len[v] * 4);
                    }
                    vec[v][len[v]] = item(v, len[v]);
                    len[v]++;
                }
            }
        }
        for (long v = 0; v < nvec; v++) {
            for (long i = 0; i < len[v]; i++)
                if (vec[v][i] != item(v, i))
                    fail("vector item changed", vec[v], (size_t)len[v] * 4);
            h = mix(h, (uint64_t)len[v] ^ vec[v][len[v] - 1]);
            free(vec[v]);
        }

        /* 2. exact-size string builders */
        for (long v = 0; v < nvec; v++) {
            str[v] = NULL;
            slen[v] = 0;
        }
        for (int step = 0; step < 200; step++) {
            for (long v = 0; v < nvec; v++) {
                uint64_t r = rng_next(&rng);
                size_t add = 1 + r % 32;
                if (((r >> 8) & 63) == 0 && slen[v] > 64) {
                    slen[v] /= 2; /* shrink */
                    str[v] = xrealloc(str[v], slen[v] + 1);
                    str[v][slen[v]] = 0;
                    continue;
                }
                str[v] = xrealloc(str[v], slen[v] + add + 1);
                for (size_t j = 0; j < add; j++)
                    str[v][slen[v] + j] = (char)('a' + (slen[v] + j + (size_t)v) % 26);
                slen[v] += add;
                str[v][slen[v]] = 0;
            }
        }
        for (long v = 0; v < nvec; v++) {
            for (size_t j = 0; j < slen[v]; j++)
                if (str[v][j] != (char)('a' + (j + (size_t)v) % 26))
                    fail("string byte changed", str[v], slen[v]);
            h = mix(h, slen[v]);
            free(str[v]);
        }
    }
    free(vec); free(len); free(cap); free(goal); free(str); free(slen);
    print_checksum(h);
    return 0;
}
