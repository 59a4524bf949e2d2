/* test1: 1024 blocks of 1024 bytes, one byte written in each, none freed.
 * Each written block touches its memory, so the minor page faults over test0 measure
 * how densely the allocator packs 1 MiB of live data (about 256 pages). */
#include <stdlib.h>

int main(void)
{
    int i;
    char *addr;

    i = 0;
    while (i < 1024)
    {
        addr = (char *)malloc(1024);
        if (addr == NULL)
            return (1);
        addr[0] = 42;
        i++;
    }
    return (0);
}
