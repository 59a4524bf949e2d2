/* test4: bad calls. free(NULL) is a no-op; free of a pointer into the middle of a
 * block is an error the library must detect: with FT_MALLOC_CHECK=1 it reports it and
 * carries on, and realloc of the same pointer returns NULL; with the default (3) the
 * first bad call prints one line naming the function and the pointer, then aborts.
 * Every step is printed (unbuffered) so the test can tell how far the program got. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char *block;
    char *interior;
    char *moved;

    setvbuf(stdout, NULL, _IONBF, 0);
    block = (char *)malloc(64);
    if (block == NULL)
        return (1);
    strcpy(block, "still here");
    /* 16-byte aligned, so only a real ownership check (not an alignment test) finds it. */
    interior = block + 32;
    free(NULL);
    printf("free(NULL) returned\n");
    printf("interior pointer %p\n", (void *)interior);
    free(interior);
    printf("free(interior) returned\n");
    moved = (char *)realloc(interior, 128);
    printf("realloc(interior) returned %s\n", moved == NULL ? "NULL" : "non-NULL");
    printf("block intact: %s\n", strcmp(block, "still here") == 0 ? "yes" : "no");
    free(block);
    printf("done\n");
    return (0);
}
