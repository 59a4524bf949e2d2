/* onethread: the single-thread shortcut (src/FtMalloc.Core/CSemantics/FastPaths.cs) and the
 * way out of it. While the process has one thread, malloc, free, realloc and calloc use the
 * main thread's heap without asking who calls; after the first pthread_create they find the
 * caller's heap from pthread_self(). Blocks must move across that line unharmed:
 *   1. one thread: allocate, stamp, free, realloc and calloc blocks;
 *   2. fork (still one thread): the child allocates, frees and reallocates, blocks of the
 *      parent's included, and exits 0 if every block kept its contents;
 *   3. a second thread frees half of main's blocks (remote frees to main's heap) and hands
 *      back blocks of its own, then exits;
 *   4. main, now threaded, frees the exited thread's blocks and the rest of its own, and
 *      allocates again.
 * Prints "ok" when every block kept its contents, else the first difference, and exits 1. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { N = 4000 };
static unsigned char *mine[N], *theirs[N];
static size_t mine_len[N], theirs_len[N];

static size_t size_of(unsigned i) { return 1 + (i * 2654435761u) % 2000; }

static void stamp(unsigned char *p, size_t n, unsigned tag)
{
    for (size_t k = 0; k < n; k++) p[k] = (unsigned char)(tag + k);
}

static int check(const unsigned char *p, size_t n, unsigned tag, const char *what)
{
    for (size_t k = 0; k < n; k++)
        if (p[k] != (unsigned char)(tag + k)) {
            printf("%s: block %p byte %zu is %u, not %u\n", what, (void *)p, k, p[k], (unsigned char)(tag + k));
            return 0;
        }
    return 1;
}

static void *second(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < N; i += 2) { /* main's even blocks: remote frees */
        if (!check(mine[i], mine_len[i], i, "main's block, in the second thread")) exit(1);
        free(mine[i]);
        mine[i] = NULL;
    }
    for (unsigned i = 0; i < N; i++) {
        theirs_len[i] = size_of(i + 7);
        theirs[i] = malloc(theirs_len[i]);
        if (!theirs[i]) exit(1);
        stamp(theirs[i], theirs_len[i], i + 7);
    }
    return NULL;
}

int main(void)
{
    /* 1. one thread */
    for (unsigned i = 0; i < N; i++) {
        mine_len[i] = size_of(i);
        mine[i] = malloc(mine_len[i]);
        if (!mine[i]) return 1;
        stamp(mine[i], mine_len[i], i);
    }
    for (unsigned i = 1; i < N; i += 4) { /* grow some, keep the rest */
        mine[i] = realloc(mine[i], mine_len[i] * 2 + 1);
        if (!mine[i] || !check(mine[i], mine_len[i], i, "realloc, one thread")) return 1;
        mine_len[i] = mine_len[i] * 2 + 1;
        stamp(mine[i], mine_len[i], i);
    }
    for (unsigned i = 0; i < 1000; i++) {
        unsigned char *z = calloc(1, size_of(i));
        for (size_t k = 0; k < size_of(i); k++)
            if (!z || z[k] != 0) { printf("calloc, one thread: byte %zu not zero\n", k); return 1; }
        free(z);
    }

    /* 2. fork while there is one thread */
    pid_t child = fork();
    if (child == 0) {
        for (unsigned i = 3; i < N; i += 4) {
            if (!check(mine[i], mine_len[i], i, "parent's block, in the child")) _exit(1);
            free(mine[i]);
        }
        for (unsigned i = 0; i < N; i++) {
            unsigned char *p = malloc(size_of(i + 3));
            if (!p) _exit(1);
            stamp(p, size_of(i + 3), i + 3);
            p = realloc(p, size_of(i + 3) + 100);
            if (!p || !check(p, size_of(i + 3), i + 3, "realloc, child")) _exit(1);
            free(p);
        }
        _exit(0);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("the child of the one-thread process failed (status %d)\n", status);
        return 1;
    }

    /* 3. a second thread */
    pthread_t t;
    if (pthread_create(&t, NULL, second, NULL) != 0 || pthread_join(t, NULL) != 0) return 1;

    /* 4. threaded now */
    for (unsigned i = 0; i < N; i++) {
        if (!check(theirs[i], theirs_len[i], i + 7, "an exited thread's block")) return 1;
        free(theirs[i]);
        if (mine[i]) {
            if (!check(mine[i], mine_len[i], i, "main's block, threaded")) return 1;
            unsigned char *q = realloc(mine[i], mine_len[i] + 17);
            if (!q || !check(q, mine_len[i], i, "realloc, threaded")) return 1;
            free(q);
        }
    }
    for (unsigned i = 0; i < N; i++) {
        unsigned char *p = malloc(size_of(i));
        if (!p) return 1;
        stamp(p, size_of(i), i);
        if (!check(p, size_of(i), i, "malloc, threaded")) return 1;
        free(p);
    }
    printf("ok\n");
    return 0;
}
