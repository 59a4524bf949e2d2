/*
 * Helpers shared by the synthetic drivers: a deterministic PRNG, a monotonic clock, block stamps
 * that catch corrupted or misaligned memory, and the two kinds of line the harness reads:
 *
 *   checksum <16 hex digits>    must be the same under every allocator (it is the "right answer")
 *   metric <name> <value>       a figure the driver measured itself (ns per pair, ratios)
 *
 * A driver that finds a corrupted block prints "corrupt: ..." to stderr and exits 2; one whose
 * malloc returns NULL exits 3. Drivers are compiled with -fno-builtin-malloc and friends so that
 * gcc cannot remove a malloc/free pair it can see through.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* splitmix64: tiny, fast, and the same sequence on every run. */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* FNV-1a over 64-bit words: order-sensitive, so it also checks the order of events. */
static inline uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v;
    return h * 0x100000001B3ull;
}
#define HASH_SEED 0xCBF29CE484222325ull

static inline long arg_long(int argc, char **argv, int i, long def)
{
    return argc > i ? atol(argv[i]) : def;
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "malloc(%zu) returned NULL\n", n);
        exit(3);
    }
    return p;
}

static inline void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    if (p == NULL) {
        fprintf(stderr, "realloc(%p, %zu) returned NULL\n", old, n);
        exit(3);
    }
    return p;
}

static inline void fail(const char *what, const void *p, size_t n)
{
    fprintf(stderr, "corrupt: %s (block %p, %zu bytes)\n", what, p, n);
    exit(2);
}

/* The weakest alignment C allows for an object of n bytes: its size's lowest set bit, at most 16. */
static inline void check_alignment(const void *p, size_t n)
{
    size_t need = n & (~n + 1);
    if (need > 16 || need == 0)
        need = 16;
    if ((uintptr_t)p & (need - 1))
        fail("misaligned block", p, n);
}

/* Stamp a block's first 8 bytes (or first byte) and its last byte; verify before freeing. */
static inline void stamp(unsigned char *p, size_t n, uint64_t tag)
{
    check_alignment(p, n);
    if (n >= 9)
        memcpy(p, &tag, 8);
    else
        p[0] = (unsigned char)tag;
    p[n - 1] = (unsigned char)(tag >> 8) ^ 0xA5;
}

static inline void verify(const unsigned char *p, size_t n, uint64_t tag)
{
    if (p[n - 1] != ((unsigned char)(tag >> 8) ^ 0xA5))
        fail("last byte changed", p, n);
    if (n >= 9) {
        if (memcmp(p, &tag, 8) != 0)
            fail("first bytes changed", p, n);
    } else if (n > 1 && p[0] != (unsigned char)tag) {
        fail("first byte changed", p, n);
    }
}

static inline void print_checksum(uint64_t h)
{
    printf("checksum %016llx\n", (unsigned long long)h);
}

static inline void print_metric(const char *name, double value)
{
    printf("metric %s %.4f\n", name, value);
}

/* Mixed small sizes, most of them tiny, as in cfrac/espresso-style programs. */
static inline size_t small_size(uint64_t r)
{
    uint64_t pick = r % 100, rest = r / 100;
    if (pick < 60) return 8 + rest % 57;      /*   8 ..   64 bytes: 60% */
    if (pick < 90) return 65 + rest % 448;    /*  65 ..  512 bytes: 30% */
    if (pick < 98) return 513 + rest % 3584;  /* 513 .. 4096 bytes:  8% */
    return 4097 + rest % 12288;               /*  4 KB .. 16 KB:     2% */
}

#endif
