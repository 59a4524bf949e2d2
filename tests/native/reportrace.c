/* reportrace: reports that walk every heap (show_alloc_mem, show_alloc_mem_ex, malloc_info,
 * mallinfo2) run in a loop on one thread while WORKERS threads fill TINY and SMALL zones and
 * empty them again, so that zones are unmapped under the report's feet all the time. A
 * report must never read a zone that is gone (that was a segmentation fault). Reports go to
 * /dev/null (stdout is redirected); the program prints its counts on stderr.
 *
 * usage: reportrace [WORKERS] [ROUNDS]     exit 0 on success */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int done;
static long rounds = 300;

static void *worker(void *arg)
{
    size_t size = (size_t)(long)arg;
    enum { N = 1500 };
    static __thread void *blocks[N];
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < N; i++) {
            blocks[i] = malloc(size + (size_t)(i % 7) * 16);
            if (blocks[i] == NULL)
                abort();
            memset(blocks[i], 0x5a, 16);
        }
        for (int i = 0; i < N; i++)
            free(blocks[i]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long workers = argc > 1 ? atol(argv[1]) : 3;
    if (argc > 2)
        rounds = atol(argv[2]);
    void (*show)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "show_alloc_mem");
    void (*show_ex)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "show_alloc_mem_ex");
    FILE *sink = fopen("/dev/null", "w");
    if (sink == NULL || freopen("/dev/null", "w", stdout) == NULL)
        return 2;
    pthread_t tid[64];
    if (workers > 64)
        workers = 64;
    for (long i = 0; i < workers; i++) /* TINY (96..192 B) and SMALL (2 KiB..) zones */
        pthread_create(&tid[i], NULL, worker, (void *)(long)(i % 2 ? 2048 : 96));
    long reports = 0;
    int joined[64] = { 0 };
    for (;;) {
        int alive = 0;
        for (long i = 0; i < workers; i++) {
            if (!joined[i] && pthread_tryjoin_np(tid[i], NULL) == 0)
                joined[i] = 1;
            alive |= !joined[i];
        }
        if (show)
            show();
        if (show_ex && reports % 8 == 0)
            show_ex();
        malloc_info(0, sink);
        struct mallinfo2 mi = mallinfo2();
        (void)mi;
        reports++;
        if (!alive)
            break;
    }
    fprintf(stderr, "reports: %ld\n", reports);
    fprintf(stderr, "done\n");
    return 0;
}
