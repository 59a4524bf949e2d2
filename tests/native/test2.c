/* test2: test1 with every block freed at once: a free that really recycles memory
 * keeps the page-fault count at test0's level. */
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
        free(addr);
        i++;
    }
    return (0);
}
