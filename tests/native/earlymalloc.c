/* earlymalloc.so: an LD_PRELOAD shim, listed after the library, whose constructor runs before
 * the library's own initializer (ld.so runs the later preload's first) and allocates: the
 * library then sets up from that malloc, without the environment ld.so hands its initializer,
 * and reads libc's environ instead (src/FtMalloc.Native/ThreadHeap.cs, ProcessEnvironment), as
 * in ls, whose libselinux allocates first. Prints "earlymalloc: first block byte 0xNN" on
 * stderr: with FT_MALLOC_PERTURB=N set, a new block is filled with ~N, so the byte shows
 * whether the settings were read by that early set-up. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void allocate_first(void)
{
    volatile unsigned char *block = malloc(64);
    if (block == NULL) {
        fprintf(stderr, "earlymalloc: malloc failed\n");
        return;
    }
    fprintf(stderr, "earlymalloc: first block byte 0x%02x\n", block[17]);
    free((void *)block);
}
