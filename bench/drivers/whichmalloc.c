/* whichmalloc: prints the file that the process's malloc and free come from, so the harness can
   check that an LD_PRELOAD really took effect (ld.so only warns when a preload fails). */
#include "common.h"
#include <dlfcn.h>

static const char *owner(const char *symbol)
{
    Dl_info info;
    void *addr = dlsym(RTLD_DEFAULT, symbol);
    if (addr == NULL || dladdr(addr, &info) == 0 || info.dli_fname == NULL)
        return "?";
    return info.dli_fname;
}

int main(void)
{
    void *p = malloc(100);
    stamp(p, 100, 42);
    verify(p, 100, 42);
    free(p);
    printf("malloc %s\n", owner("malloc"));
    printf("free %s\n", owner("free"));
    print_checksum(42);
    return 0;
}
