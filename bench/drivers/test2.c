/* test2: test1 with a free after each malloc. The same block should come back every time, so
   test2 should cost hardly more page faults than test0. */
#include <stdlib.h>

int main(void)
{
    int i;
    char *addr;

    i = 0;
    while (i < 1024) {
        addr = (char *)malloc(1024);
        addr[0] = 42;
        free(addr);
        i++;
    }
    return (0);
}
