/*
 * falseshare: does the allocator make threads share cache lines? Two modes, in the spirit of
 * Hoard's cache-scratch and cache-thrash benchmarks (written anew):
 *
 *   thrash   each thread repeatedly allocates a small object, writes every byte of it many
 *            times, and frees it. An allocator that serves several threads from one heap hands
 *            neighbouring objects to different threads, which then fight over the cache line.
 *   scratch  the same, but first the main thread allocates one object per thread, all at once
 *            (so they are neighbours), and each thread starts by freeing the one it was given.
 *            An allocator that keeps a freed block for the thread that freed it (rather than
 *            for its owner) gives each thread a neighbour of the other threads' objects.
 *
 * The total work is fixed and split among the threads, so without false sharing the wall time
 * halves from 1 to 2 threads on two cores, and stays flat beyond.
 *
 * usage: falseshare thrash|scratch THREADS [ITERATIONS] [REPETITIONS] [OBJSIZE]
 *   ITERATIONS  objects allocated in all (split among the threads), default 2,000,000
 *   REPETITIONS times each byte of an object is written, default 100
 *   OBJSIZE     bytes per object, default 8
 * prints: checksum (the bytes read back, independent of scheduling and addresses);
 *   metric shared_lines: cache lines (64 B) that objects of two or more threads occupied;
 *   metric max_threads_per_line: the most threads seen on one line.
 */
#include "common.h"
#include <pthread.h>

#define MAX_THREADS 256
#define MAX_LINES 64
#define LINE 64

struct worker {
    pthread_t tid;
    unsigned char *given;
    long iterations;
    uint64_t sum;
    uintptr_t lines[MAX_LINES];
    int nlines;
} __attribute__((aligned(128)));

static struct worker s_workers[MAX_THREADS];
static long s_reps;
static size_t s_size;

static void note_line(struct worker *w, uintptr_t line)
{
    for (int i = w->nlines - 1; i >= 0; i--)
        if (w->lines[i] == line)
            return;
    if (w->nlines < MAX_LINES)
        w->lines[w->nlines++] = line;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t sum = 0;
    uintptr_t last = 0;

    if (w->given != NULL)
        free(w->given);
    for (long i = 0; i < w->iterations; i++) {
        volatile unsigned char *p = xmalloc(s_size);
        uintptr_t first = (uintptr_t)p / LINE, end = ((uintptr_t)p + s_size - 1) / LINE;
        if (first != last) {
            for (uintptr_t l = first; l <= end; l++)
                note_line(w, l);
            last = first;
        }
        for (size_t j = 0; j < s_size; j++)
            p[j] = (unsigned char)(i + j);
        for (long r = 0; r < s_reps; r++)
            for (size_t j = 0; j < s_size; j++)
                p[j] = (unsigned char)(p[j] + 1);
        for (size_t j = 0; j < s_size; j++)
            sum += p[j];
        free((void *)p);
    }
    w->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "thrash") != 0 && strcmp(argv[1], "scratch") != 0)) {
        fprintf(stderr, "usage: falseshare thrash|scratch THREADS [ITERATIONS] [REPETITIONS] [OBJSIZE]\n");
        return 1;
    }
    int scratch = strcmp(argv[1], "scratch") == 0;
    long threads = arg_long(argc, argv, 2, 2);
    long iterations = arg_long(argc, argv, 3, 2000000);
    s_reps = arg_long(argc, argv, 4, 100);
    s_size = (size_t)arg_long(argc, argv, 5, 8);
    if (threads < 1 || threads > MAX_THREADS || s_size < 1 || iterations < threads) {
        fprintf(stderr, "falseshare: bad arguments\n");
        return 1;
    }

    /* scratch: the objects handed out come from one burst of allocation in this thread. */
    if (scratch) {
        for (long t = 0; t < threads; t++) {
            s_workers[t].given = xmalloc(s_size);
            memset(s_workers[t].given, (int)t, s_size);
        }
    }
    for (long t = 0; t < threads; t++) {
        s_workers[t].iterations = iterations / threads + (t < iterations % threads ? 1 : 0);
        if (pthread_create(&s_workers[t].tid, NULL, work, &s_workers[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 4;
        }
    }
    uint64_t h = HASH_SEED;
    for (long t = 0; t < threads; t++) {
        pthread_join(s_workers[t].tid, NULL);
        h = mix(h, s_workers[t].sum);
    }

    /* Which cache lines did more than one thread use? */
    long shared = 0, most = threads > 0 ? 1 : 0;
    for (long t = 0; t < threads; t++)
        for (int i = 0; i < s_workers[t].nlines; i++) {
            uintptr_t line = s_workers[t].lines[i];
            long users = 1, earlier = 0;
            for (long u = 0; u < threads; u++) {
                if (u == t)
                    continue;
                for (int k = 0; k < s_workers[u].nlines; k++)
                    if (s_workers[u].lines[k] == line) {
                        users++;
                        if (u < t)
                            earlier = 1;
                        break;
                    }
            }
            if (users > 1 && !earlier)
                shared++;
            if (users > most)
                most = users;
        }
    print_checksum(h);
    print_metric("shared_lines", (double)shared);
    print_metric("max_threads_per_line", (double)most);
    return 0;
}
