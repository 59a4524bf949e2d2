/* manykeys.so: an LD_PRELOAD shim, listed after the library, whose constructor runs before
 * the library's set-up (ld.so runs the later preload's first) and takes pthread keys 0 to 31:
 * the library's key is then 32, whose values glibc keeps outside the thread descriptor, so
 * set-up finds no key slot and the threaded fast paths use the table fallback
 * (docs/ARCHITECTURE.md, "Threads and fork", Ownership; src/FtMalloc.Native/ThreadHeap.cs).
 * Before the fallback such a process hung at load (set-up's pthread_setspecific callocs
 * glibc's block for keys of 32 and more). Prints "manykeys: first key K, last key L" on
 * stderr: K is 0 when the keys were taken before the library's. */
#include <pthread.h>
#include <stdio.h>

__attribute__((constructor)) static void take_the_first_keys(void)
{
    pthread_key_t first = 0, key = 0;
    for (int i = 0; i < 32; i++) {
        if (pthread_key_create(&key, NULL) != 0) break;
        if (i == 0) first = key;
    }
    fprintf(stderr, "manykeys: first key %u, last key %u\n", (unsigned)first, (unsigned)key);
}
