/* test3: realloc keeps the data. The classic strcpy-then-realloc-then-print test,
 * extended with a growth across categories (TINY -> SMALL -> LARGE) and a shrink. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define M (1024 * 1024)

static void print(const char *s)
{
    write(1, s, strlen(s));
}

int main(void)
{
    char *addr1;
    char *addr3;
    size_t n;

    addr1 = (char *)malloc(16 * M);
    if (addr1 == NULL)
        return (1);
    strcpy(addr1, "Bonjours\n");
    print(addr1);
    addr3 = (char *)realloc(addr1, 128 * M);
    if (addr3 == NULL)
        return (1);
    addr3[127 * M] = 42;
    print(addr3);

    /* Growth through every category keeps a long prefix intact. */
    addr1 = (char *)malloc(24);
    if (addr1 == NULL)
        return (1);
    strcpy(addr1, "tiny->small->large ok\n");
    for (n = 64; n <= 4 * M; n *= 4)
    {
        addr1 = (char *)realloc(addr1, n);
        if (addr1 == NULL || strcmp(addr1, "tiny->small->large ok\n") != 0)
        {
            print("realloc lost the data\n");
            return (1);
        }
    }
    print(addr1);
    addr1 = (char *)realloc(addr1, 32);
    if (addr1 == NULL)
        return (1);
    print(addr1);
    free(addr1);
    free(addr3);
    return (0);
}
