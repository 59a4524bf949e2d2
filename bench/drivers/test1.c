/* test1: the textbook 1024 x malloc(1024), one byte written in each, nothing freed.
   1 MB touched = 256 pages: test1 - test0 should be about 256 minor page faults. */
#include <stdlib.h>

int main(void)
{
    int i;
    char *addr;

    i = 0;
    while (i < 1024) {
        addr = (char *)malloc(1024);
        addr[0] = 42;
        i++;
    }
    return (0);
}
