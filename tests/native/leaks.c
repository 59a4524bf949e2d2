/* leaks: known leaks and known non-leaks, for FT_MALLOC_LEAKS=1.
 *
 * Leaks (still allocated at exit), each printed on stdout as "leak <pointer> <size>":
 *   malloc(24), malloc(700), calloc(1, 200000), a block grown by realloc to 300,
 *   posix_memalign(64, 200), and malloc(33) that a global still points to (a leak by
 *   FtMalloc's definition: still allocated at exit).
 * Not leaks: a block freed at once, a block freed by realloc(p, 0), a block moved by
 * realloc (its old address), and a block freed by an atexit handler (the program's
 * handlers run before the library's report).
 * No stdio: the process allocates nothing else. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *g_kept;
static void *g_freed_at_exit;

static void cleanup(void)
{
    free(g_freed_at_exit);
}

static void leak(const void *p, size_t size)
{
    char line[64];
    int n = snprintf(line, sizeof line, "leak %p %zu\n", p, size);
    if (write(1, line, (size_t)n) != n)
        _exit(3);
}

int main(void)
{
    if (atexit(cleanup) != 0)
        return 1;
    void *small = malloc(24);
    void *medium = malloc(700);
    void *large = calloc(1, 200000);
    void *grown = malloc(50);
    memset(grown, 'g', 50);
    grown = realloc(grown, 300);
    void *aligned = NULL;
    if (posix_memalign(&aligned, 64, 200) != 0)
        return 1;
    g_kept = malloc(33);

    void *temporary = malloc(64);
    free(temporary);
    void *zeroed = malloc(5000);
    zeroed = realloc(zeroed, 0);
    g_freed_at_exit = malloc(128);

    leak(small, 24);
    leak(medium, 700);
    leak(large, 200000);
    leak(grown, 300);
    leak(aligned, 200);
    leak(g_kept, 33);
    return zeroed == NULL ? 0 : 1;
}
