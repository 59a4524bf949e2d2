// LARGE blocks grown, shrunk, freed and allocated again at random, every page of each block
// written and checked: the library moves blocks with mremap, and some moves are refused
// (a block or free extent that spans mappings). Run under tests/native/oldmremap.so, which
// gives mremap the old kernels' order (the target unmapped before the refusal), it checks
// that a refused move leaves no hole in the address space the library hands out.
//   moverefused [rounds] [blocks]   prints "refused N" (the shim's count, -1 without it)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned seed = 4242;
static unsigned next(void) { seed = seed * 1103515245u + 12345u; return seed >> 4; }

static void fill(unsigned char *p, size_t from, size_t to, unsigned char v)
{
    for (size_t i = from; i < to; i += 4096) p[i] = v;
    if (to > from) p[to - 1] = v;
}

/* The first byte of each page of [0, n); and the last byte when n is the block's size (whole). */
static int check(const unsigned char *p, size_t n, unsigned char v, int whole)
{
    for (size_t i = 0; i < n; i += 4096)
        if (p[i] != v) return 0;
    return !whole || n == 0 || p[n - 1] == v;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20000, count = argc > 2 ? atoi(argv[2]) : 64, bad = 0;
    unsigned char **block = calloc(count, sizeof *block);
    size_t *size = calloc(count, sizeof *size);
    unsigned char *tag = calloc(count, 1);
    for (int r = 0; r < rounds && bad < 5; r++)
    {
        int i = next() % count;
        unsigned k = next() % 8;
        if (block[i] == NULL || k == 0)
        {
            if (block[i] && !check(block[i], size[i], tag[i], 1)) { printf("round %d: block %d changed before free\n", r, i); bad++; }
            free(block[i]);
            size[i] = 128 * 1024 + next() % (2u << 20);
            block[i] = malloc(size[i]);
            tag[i] = (unsigned char)(next() | 1);
            fill(block[i], 0, size[i], tag[i]);
            continue;
        }
        size_t n = k < 5 ? size[i] + 4096 + next() % (64 * 1024)
                 : size[i] > 256 * 1024 ? size[i] - next() % (size[i] / 3) : size[i] + 10000;
        if (n > (4u << 20)) n = 200 * 1024;
        unsigned char *p = realloc(block[i], n);
        if (p == NULL) { printf("round %d: realloc(%zu) failed\n", r, n); bad++; continue; }
        if (!check(p, size[i] < n ? size[i] : n, tag[i], size[i] <= n)) { printf("round %d: block %d lost its bytes in realloc %zu -> %zu\n", r, i, size[i], n); bad++; }
        tag[i] = (unsigned char)(next() | 1);
        fill(p, 0, n, tag[i]);
        block[i] = p;
        size[i] = n;
    }
    for (int i = 0; i < count; i++)
    {
        if (block[i] && !check(block[i], size[i], tag[i], 1)) { printf("block %d changed at the end\n", i); bad++; }
        free(block[i]);
    }
    long *refused = dlsym(RTLD_DEFAULT, "oldmremap_refused");
    printf("refused %ld\nbad %d\n", refused ? *refused : -1L, bad);
    free(block);
    free(size);
    free(tag);
    return bad != 0;
}
