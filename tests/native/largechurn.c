/*
 * largechurn: what freed LARGE memory costs and what stays resident.
 *   1. churn: 8 slots, 3000 blocks of 64 KB .. 4 MB (log-uniform), every page written and
 *      checked before the free; prints the minor page faults of the churn and the pages written
 *   2. free everything: prints the resident memory before the churn, at its peak, and after
 *   3. a thread allocates and frees 48 MiB of LARGE blocks, then exits; prints the resident
 *      memory after the join (the heap of a thread that exits gives its free LARGE memory back)
 * usage: largechurn      prints: "faults F pages P", "rss start S peak K end E", "thread T" (KiB)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define PAGE 4096

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2) {
        fprintf(stderr, "cannot read /proc/self/statm\n");
        exit(1);
    }
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void *thread_main(void *arg)
{
    (void)arg;
    unsigned char *blocks[48];
    for (int i = 0; i < 48; i++) {
        blocks[i] = malloc(1 << 20);
        if (blocks[i] == NULL) exit(3);
        for (size_t off = 0; off < (1 << 20); off += PAGE) blocks[i][off] = 1;
    }
    for (int i = 0; i < 48; i++) free(blocks[i]);
    return NULL;
}

int main(void)
{
    struct { unsigned char *p; size_t n; unsigned char v; } slots[8];
    memset(slots, 0, sizeof slots);
    uint64_t rng = 11;
    long start = rss_kib(), peak = start, pages = 0;
    long faults0 = minor_faults();
    for (int op = 0; op < 3000; op++) {
        uint64_t r = next(&rng);
        int s = (int)(r % 8);
        if (slots[s].p) {
            for (size_t off = 0; off < slots[s].n; off += PAGE)
                if (slots[s].p[off] != slots[s].v) { fprintf(stderr, "corrupt block\n"); return 2; }
            free(slots[s].p);
        }
        size_t base = (size_t)65536 << ((r >> 8) % 6);
        slots[s].n = base + (size_t)((r >> 16) % base);
        slots[s].v = (unsigned char)(op | 1);
        slots[s].p = malloc(slots[s].n);
        if (slots[s].p == NULL) return 3;
        for (size_t off = 0; off < slots[s].n; off += PAGE, pages++) slots[s].p[off] = slots[s].v;
        if (op % 64 == 0) {
            long now = rss_kib();
            if (now > peak) peak = now;
        }
    }
    long faults = minor_faults() - faults0;
    for (int s = 0; s < 8; s++) free(slots[s].p);
    printf("faults %ld pages %ld\n", faults, pages);
    printf("rss start %ld peak %ld end %ld\n", start, peak, rss_kib());

    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) != 0 || pthread_join(t, NULL) != 0) return 4;
    printf("thread %ld\n", rss_kib());
    return 0;
}
