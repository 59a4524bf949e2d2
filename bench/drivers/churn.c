/*
 * churn: mixed small-object churn, in the spirit of the cfrac and espresso benchmarks.
 * A table of live objects is replaced at random (so lifetimes are mixed), and every sixteenth
 * step also allocates a short burst of temporaries and frees them last-in first-out.
 *
 * usage: churn OPS [SLOTS]     prints: checksum
 */
#include "common.h"

struct slot { unsigned char *p; size_t n; uint64_t tag; };

int main(int argc, char **argv)
{
    long ops = arg_long(argc, argv, 1, 10000000);
    long nslots = arg_long(argc, argv, 2, 20000);
    struct slot *slots = calloc((size_t)nslots, sizeof *slots);
    uint64_t rng = 1, h = HASH_SEED;

    for (long i = 0; i < ops; i++) {
        uint64_t r = rng_next(&rng);
        struct slot *s = &slots[r % (uint64_t)nslots];
        if (s->p) {
            verify(s->p, s->n, s->tag);
            h = mix(h, s->tag ^ s->n);
            free(s->p);
        }
        s->n = small_size(r >> 16);
        s->tag = r;
        s->p = xmalloc(s->n);
        stamp(s->p, s->n, r);

        if (((r >> 40) & 15) == 0) {
            unsigned char *tmp[16];
            size_t len[16];
            int k = 1 + (int)((r >> 48) & 15);
            for (int j = 0; j < k; j++) {
                len[j] = 8 + (size_t)((r >> (j * 3)) & 127);
                tmp[j] = xmalloc(len[j]);
                stamp(tmp[j], len[j], r + (uint64_t)j);
            }
            for (int j = k - 1; j >= 0; j--) {
                verify(tmp[j], len[j], r + (uint64_t)j);
                free(tmp[j]);
            }
        }
    }
    for (long i = 0; i < nslots; i++) {
        if (slots[i].p) {
            verify(slots[i].p, slots[i].n, slots[i].tag);
            h = mix(h, slots[i].tag);
            free(slots[i].p);
        }
    }
    free(slots);
    print_checksum(h);
    return 0;
}
