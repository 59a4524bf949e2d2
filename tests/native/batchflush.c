/* batchflush: remote frees are batched per freeing thread (up to 32 blocks of one owner);
 * a batch must reach its owner when it fills, when the freeing thread runs a slow malloc,
 * and when that thread exits, even if the batch never fills. main allocates N blocks,
 * another thread frees them (fewer than a batch), and main prints malloc_stats() (its
 * "freed" line counts blocks once their owner has taken them in) after malloc_trim(0),
 * which takes in whatever has reached it. Markers on stderr: "== stranded", "== after slow
 * malloc", "== after exit", each followed by the statistics. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 10, SIZE = 64 };
static void *blocks[N];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int stage;

static void wait_for(int s)
{
    pthread_mutex_lock(&lock);
    while (stage != s)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

static void go(int s)
{
    pthread_mutex_lock(&lock);
    stage = s;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

static void report(const char *marker)
{
    malloc_trim(0);
    fprintf(stderr, "== %s\n", marker);
    malloc_stats();
}

static void *free_then_malloc(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    go(1);
    wait_for(2);
    void *p = malloc(3000); /* a size this thread never used: a slow malloc */
    go(3);
    wait_for(4);
    free(p);
    return NULL;
}

static void *free_and_exit(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    return NULL;
}

int main(void)
{
    pthread_t t;
    for (int i = 0; i < N; i++)
        blocks[i] = malloc(SIZE);
    report("start");
    pthread_create(&t, NULL, free_then_malloc, NULL);
    wait_for(1);
    report("stranded");
    go(2);
    wait_for(3);
    report("after slow malloc");
    go(4);
    pthread_join(t, NULL);

    for (int i = 0; i < N; i++)
        blocks[i] = malloc(SIZE);
    report("before exit");
    pthread_create(&t, NULL, free_and_exit, NULL);
    pthread_join(t, NULL);
    report("after exit");
    return 0;
}
