/*
 * largegrow: many live LARGE blocks, each grown a little at a time by realloc.
 *   1. BLOCKS blocks of MIN .. MIN + SPREAD bytes (fixed-seed RNG), every byte written
 *   2. ROUNDS rounds: each block grows by GROW bytes (realloc(p, n += GROW)), the new bytes written
 *   3. every byte of every block checked, then everything freed
 * Prints the minor page faults of the realloc rounds and the pages those rounds wrote
 * ("grow faults F pages P"), the pages the whole run wrote ("total faults F pages P"),
 * the mappings of the process after the rounds ("mappings M", lines of /proc/self/maps)
 * and the time of each phase in ms ("ms fill A grow B check C").
 * usage: largegrow [BLOCKS [ROUNDS [MIN SPREAD GROW]]]   (defaults: 4000 3 140000 160000 20480)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define PAGE 4096

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Lines of /proc/self/maps: the mappings (VMAs) the process has. */
static long mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long lines = 0;
    int c;
    if (f == NULL) return -1;
    while ((c = fgetc(f)) != EOF) lines += c == '\n';
    fclose(f);
    return lines;
}

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The byte at offset i of block b: varies along the block, so a misplaced page shows. */
static unsigned char value(size_t b, size_t i)
{
    return (unsigned char)(b * 131 + (i >> 12) * 7 + i);
}

static void fill(unsigned char *p, size_t b, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) p[i] = value(b, i);
}

int main(int argc, char **argv)
{
    size_t count = argc > 1 ? (size_t)atol(argv[1]) : 4000;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    size_t min = argc > 5 ? (size_t)atol(argv[3]) : 140000;
    size_t spread = argc > 5 ? (size_t)atol(argv[4]) : 160000;
    size_t grow = argc > 5 ? (size_t)atol(argv[5]) : 20 * 1024;
    unsigned char **ptr = calloc(count, sizeof *ptr);
    size_t *len = calloc(count, sizeof *len);
    if (ptr == NULL || len == NULL) return 3;
    uint64_t rng = 42;
    long pages = 0, growPages = 0;
    long f0 = minor_faults();
    double t0 = now_ms();
    for (size_t b = 0; b < count; b++) {
        len[b] = min + (size_t)(next(&rng) % (spread + 1));
        ptr[b] = malloc(len[b]);
        if (ptr[b] == NULL) return 3;
        fill(ptr[b], b, 0, len[b]);
        pages += (long)((len[b] + PAGE - 1) / PAGE);
    }
    long f1 = minor_faults();
    double t1 = now_ms();
    for (int round = 0; round < rounds; round++) {
        for (size_t b = 0; b < count; b++) {
            size_t n = len[b] + grow;
            unsigned char *q = realloc(ptr[b], n);
            if (q == NULL) return 3;
            fill(q, b, len[b], n);
            growPages += (long)((n + PAGE - 1) / PAGE - (len[b] + PAGE - 1) / PAGE);
            ptr[b] = q;
            len[b] = n;
        }
    }
    long f2 = minor_faults();
    double t2 = now_ms();
    long maps = mappings();
    for (size_t b = 0; b < count; b++) {
        for (size_t i = 0; i < len[b]; i++)
            if (ptr[b][i] != value(b, i)) {
                fprintf(stderr, "block %zu corrupt at byte %zu of %zu\n", b, i, len[b]);
                return 2;
            }
        free(ptr[b]);
    }
    double t3 = now_ms();
    printf("grow faults %ld pages %ld\n", f2 - f1, growPages);
    printf("total faults %ld pages %ld\n", minor_faults() - f0, pages + growPages);
    printf("mappings %ld\n", maps);
    printf("ms fill %.0f grow %.0f check %.0f\n", t1 - t0, t2 - t1, t3 - t2);
    free(ptr);
    free(len);
    return 0;
}
