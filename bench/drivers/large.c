/*
 * large: churn of large blocks, 64 KB to 4 MB (log-uniform), a few live at a time.
 * Every page of a new block is written, as a program would, so the cost of handing memory back
 * to the kernel and faulting it in again shows up in time and in minor page faults.
 *
 * usage: large OPS [SLOTS]     prints: checksum
 */
#include "common.h"

#define PAGE 4096

struct slot { unsigned char *p; size_t n; uint64_t tag; };

int main(int argc, char **argv)
{
    long ops = arg_long(argc, argv, 1, 20000);
    long nslots = arg_long(argc, argv, 2, 8);
    struct slot *slots = calloc((size_t)nslots, sizeof *slots);
    uint64_t rng = 3, h = HASH_SEED;

    for (long i = 0; i < ops; i++) {
        uint64_t r = rng_next(&rng);
        struct slot *s = &slots[r % (uint64_t)nslots];
        if (s->p) {
            verify(s->p, s->n, s->tag);
            for (size_t off = PAGE; off + 1 < s->n; off += 16 * PAGE)
                if (s->p[off] != (unsigned char)(off >> 12))
                    fail("page byte changed", s->p, s->n);
            h = mix(h, s->tag ^ s->n);
            free(s->p);
        }
        size_t base = (size_t)65536 << ((r >> 8) % 6); /* 64 KB .. 2 MB */
        s->n = base + (size_t)((r >> 16) % base);      /* .. up to 4 MB */
        s->tag = r;
        s->p = xmalloc(s->n);
        for (size_t off = 0; off < s->n; off += PAGE)
            s->p[off] = (unsigned char)(off >> 12);
        stamp(s->p, s->n, r);
    }
    for (long i = 0; i < nslots; i++) {
        if (slots[i].p) {
            verify(slots[i].p, slots[i].n, slots[i].tag);
            free(slots[i].p);
        }
    }
    free(slots);
    print_checksum(h);
    return 0;
}
