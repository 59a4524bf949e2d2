/* test5: show_alloc_mem over blocks of every category. show_alloc_mem is looked up at
 * run time (dlsym(RTLD_DEFAULT)) so this program also links and runs without the
 * library; it then says so and exits 2. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void show_alloc_mem(void);

typedef void (*t_show_alloc_mem)(void);

int main(void)
{
    static const size_t sizes[] = {1, 42, 100, 128, 1000, 1024, 4000, 16000, 100000, 1048576};
    void *blocks[sizeof(sizes) / sizeof(sizes[0])];
    t_show_alloc_mem show;
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    {
        blocks[i] = malloc(sizes[i]);
        if (blocks[i] == NULL)
            return (1);
        memset(blocks[i], 0x5a, sizes[i]);
    }
    /* A freed block in the middle must not be listed. */
    free(blocks[3]);
    blocks[3] = NULL;
    show = (t_show_alloc_mem)dlsym(RTLD_DEFAULT, "show_alloc_mem");
    if (show == NULL)
    {
        printf("show_alloc_mem: not available\n");
        return (2);
    }
    fflush(stdout);
    show();
    fflush(stdout);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        free(blocks[i]);
    return (0);
}
