// A shim for LD_PRELOAD (after libft_malloc.so, which then resolves mremap here) that makes
// mremap behave as Linux did up to at least 6.10: with MREMAP_FIXED the kernel unmapped the
// target range before it looked the source up, so a move refused because the source spans
// mappings (EFAULT) left the target unmapped. Kernels since then check first; this brings
// the old order back so that tests/native/moverefused.c can check the library survives it.
// oldmremap_refused counts those refused moves (the program reads it with dlsym).
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

long oldmremap_refused;

void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
    void *target = NULL;
    if (flags & MREMAP_FIXED)
    {
        va_list ap;
        va_start(ap, flags);
        target = va_arg(ap, void *);
        va_end(ap);
    }
    long r = syscall(SYS_mremap, old, old_size, new_size, flags, target);
    if (r == -1)
    {
        int e = errno;
        if ((flags & MREMAP_FIXED) && e == EFAULT)
        {
            syscall(SYS_munmap, target, new_size);
            __atomic_add_fetch(&oldmremap_refused, 1, __ATOMIC_RELAXED);
        }
        errno = e;
        return MAP_FAILED;
    }
    return (void *)r;
}
