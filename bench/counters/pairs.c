/*
 * pairs: the malloc/free loop that bench/counters/run times and counts.
 *
 *   pairs N [SIZE]    N times: p = malloc(SIZE); p[0] = i; free(p)   (SIZE: 32 by default)
 *
 * Prints "ns_per_pair <ns>" on stdout (wall clock around the loop). It allocates nothing
 * else and prints with write(2), so under callgrind the instruction count of a run with
 * 2N pairs minus that of a run with N pairs is exactly N pairs' worth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 32;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        volatile unsigned char *p = malloc(size);
        p[0] = (unsigned char)i;
        free((void *)p);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / (double)(n > 0 ? n : 1);
    char line[64];
    int len = snprintf(line, sizeof line, "ns_per_pair %.3f\n", ns);
    if (write(1, line, (size_t)len) != len)
        return 1;
    return 0;
}
