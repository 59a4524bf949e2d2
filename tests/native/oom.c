/* oom: when mmap fails (address space limited with setrlimit, as `ulimit -v` does), every
 * entry point returns NULL (or ENOMEM) with errno = ENOMEM, the blocks already allocated
 * stay intact, and once the limit is lifted allocation works again.
 * Prints one line per check and exits 0 only if all hold. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/resource.h>

static int failures;

static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok)
        failures++;
}

int main(void)
{
    struct rlimit original, tight;
    char *kept = malloc(100);
    void **blocks = malloc(sizeof(void *) * 200000);
    memset(kept, 'k', 100);
    setvbuf(stdout, NULL, _IONBF, 0); /* stdio needs no buffer once memory is short */
    getrlimit(RLIMIT_AS, &original);

    /* Allow only what the process maps now, plus 1 MiB: no new zone or LARGE mapping fits. */
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f || fscanf(f, "%lu", &pages) != 1)
        return 2;
    fclose(f);
    tight = original;
    tight.rlim_cur = pages * 4096 + (1 << 20);
    if (setrlimit(RLIMIT_AS, &tight) != 0)
        return 2;

    errno = 0;
    check(malloc(64 << 20) == NULL && errno == ENOMEM, "malloc(64 MiB) -> NULL, ENOMEM");
    errno = 0;
    check(calloc(1, 64 << 20) == NULL && errno == ENOMEM, "calloc(1, 64 MiB) -> NULL, ENOMEM");
    void *aligned = (void *)1;
    check(posix_memalign(&aligned, 4096, 64 << 20) == ENOMEM && aligned == (void *)1, "posix_memalign(64 MiB) -> ENOMEM, result untouched");
    errno = 0;
    check(realloc(kept, 64 << 20) == NULL && errno == ENOMEM, "realloc(p, 64 MiB) -> NULL, ENOMEM");
    int intact = 1;
    for (int i = 0; i < 100; i++)
        intact &= kept[i] == 'k';
    check(intact, "the block given to the failed realloc is intact");

    /* Fill the zones that exist until a new one would be needed. */
    size_t served = 0;
    errno = 0;
    while (served < 200000 && (blocks[served] = malloc(4000)) != NULL)
        served++;
    check(served < 200000 && errno == ENOMEM, "SMALL allocations stop with ENOMEM when no zone can be mapped");

    setrlimit(RLIMIT_AS, &original);
    void *again = malloc(64 << 20);
    check(again != NULL, "after the limit is lifted, malloc(64 MiB) works");
    void *more = malloc(4000);
    check(more != NULL, "after the limit is lifted, SMALL allocations work");
    free(again);
    free(more);
    for (size_t i = 0; i < served; i++)
        free(blocks[i]);
    free(blocks);
    free(kept);
    printf("%s\n", failures ? "FAILED" : "all ok");
    return failures ? 1 : 0;
}
