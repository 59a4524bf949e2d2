/* misuse: every kind of bad free the exported fast path must turn away, run with
 * FT_MALLOC_CHECK=1 (report each, carry on). Prints "bad <what> <pointer>" before each
 * bad call, so the test can match one diagnostic line per pointer; then checks that
 * every live block kept its bytes and that the heap still serves, and prints "heap ok".
 * The bad pointers are built to pass the cheap tests of free's fast path one by one:
 * inside a zone the zone map knows, 16-byte aligned, in a block's interior, in the zone
 * header, wrapped above the user address space, in a LARGE block's first chunk, twice. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad_calls;

static void bad_free(const char *what, void *pointer)
{
    printf("bad %s %p\n", what, pointer);
    bad_calls++;
    free(pointer);
}

static int intact(const unsigned char *p, size_t n, unsigned char tag)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(tag + i))
            return 0;
    return 1;
}

static unsigned char *filled(size_t n, unsigned char tag)
{
    unsigned char *p = malloc(n);
    if (p == NULL)
        exit(2);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(tag + i);
    return p;
}

int main(void)
{
    static char static_area[64];
    char stack_area[64];
    setvbuf(stdout, NULL, _IONBF, 0);

    unsigned char *tiny = filled(24, 1), *small = filled(2000, 2), *large = filled(1 << 20, 3);
    unsigned char *gone = filled(40, 4), *gone_large = filled(300000, 5);
    uintptr_t tiny_zone = (uintptr_t)tiny & ~(uintptr_t)0x3FFFF; /* TINY zones: 256 KiB, aligned to it */

    free(gone);
    bad_free("double-free-tiny", gone);          /* cached in its quick bin */
    bad_free("interior-of-cached", gone + 16);
    free(gone_large);
    bad_free("double-free-large", gone_large);   /* kept in the LARGE cache or unmapped */
    bad_free("interior-tiny", tiny + 16);
    bad_free("misaligned-tiny", tiny + 8);
    bad_free("odd-tiny", tiny + 1);
    bad_free("interior-small", small + 1024);
    bad_free("interior-large", large + 16);
    bad_free("interior-large-page", large + 4096);
    bad_free("zone-header", (void *)(tiny_zone + 16));
    bad_free("zone-bitmap", (void *)(tiny_zone + 256));
    bad_free("wrapped", (void *)((uintptr_t)tiny + ((uintptr_t)1 << 47)));
    bad_free("stack", stack_area + 16);
    bad_free("static", static_area);

    int ok = intact(tiny, 24, 1) && intact(small, 2000, 2) && intact(large, 1 << 20, 3);
    printf("live blocks intact: %s\n", ok ? "yes" : "no");

    /* The heap still serves: sizes across every quick bin, each block filled and checked. */
    for (int round = 0; round < 3 && ok; round++) {
        unsigned char *blocks[200];
        for (int i = 0; i < 200; i++)
            blocks[i] = filled((size_t)(1 + i * 7), (unsigned char)i);
        for (int i = 0; i < 200; i++) {
            ok &= intact(blocks[i], (size_t)(1 + i * 7), (unsigned char)i);
            free(blocks[i]);
        }
    }
    free(tiny);
    free(small);
    free(large);
    printf("bad calls: %d\n", bad_calls);
    printf(ok ? "heap ok\n" : "heap damaged\n");
    return ok ? 0 : 1;
}
