/*
 * ft_malloc_replay: re-runs an FT_MALLOC_TRACE file against whatever allocator the
 * process has, so one recording compares allocators:
 *
 *   FT_MALLOC_TRACE=git-gc.trace LD_PRELOAD=$PWD/libft_malloc.so git gc
 *   ft_malloc_replay git-gc.trace                                          (glibc)
 *   LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ft_malloc_replay git-gc.trace
 *   ftmalloc replay [--lib PATH|glibc] git-gc.trace                        (builds and runs this)
 *
 * usage: ft_malloc_replay [-p PID] [-n] TRACE
 *   -p PID   replay the records of that process (default: the first process in the file)
 *   -n       do not touch the blocks (by default one byte of every page of each new block
 *            is written, so that resident memory is like the program's)
 *
 * The records of one process are replayed in file order on one thread (the trace lock
 * made that order one the calls really happened in). Addresses in the trace are mapped
 * to the replayed ones through a hash table; a free or realloc of an address the
 * process did not allocate in the trace (a block from before a fork, or a bad pointer)
 * is skipped and counted. Records of a later program the same process exec'd (after a
 * second header line with the same pid) are not replayed.
 *
 * The program itself allocates nothing but what it replays: it reads the trace with
 * mmap, keeps its table in mmap'd memory and prints with write(2), so the allocator's
 * statistics of a replay (FT_MALLOC_STATS=1 under libft_malloc.so) are those of the
 * recorded process. Prints one line on stdout:
 *   ft_malloc_replay: pid 4242: 123456 calls, 0 skipped, 0 failed, 0.0123 s
 * Exit status: 0, or 1 if the trace could not be read, or 2 for bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* C23's sized frees: glibc 2.36 has neither; under an allocator that exports them
 * (FtMalloc does) the weak references bind at load time. */
extern void free_sized(void *, size_t) __attribute__((weak));
extern void free_aligned_sized(void *, size_t, size_t) __attribute__((weak));

/* ---- the address table: open addressing, linear probing, backward-shift deletion ---- */

struct slot {
    uint64_t traced; /* 0: empty */
    void *replayed;
};

static struct slot *g_slots;
static size_t g_capacity; /* a power of two */
static size_t g_used;

static void *map_zeroed(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static size_t slot_of(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (g_capacity - 1);
}

static int table_grow(void)
{
    size_t old_capacity = g_capacity;
    struct slot *old = g_slots;
    size_t capacity = old_capacity ? old_capacity * 2 : 1 << 16;
    struct slot *slots = map_zeroed(capacity * sizeof *slots);
    if (slots == NULL)
        return -1;
    g_slots = slots;
    g_capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++) {
        if (old[i].traced == 0)
            continue;
        size_t j = slot_of(old[i].traced);
        while (g_slots[j].traced != 0)
            j = (j + 1) & (g_capacity - 1);
        g_slots[j] = old[i];
    }
    if (old != NULL)
        munmap(old, old_capacity * sizeof *old);
    return 0;
}

static int table_put(uint64_t traced, void *replayed)
{
    if ((g_used + 1) * 4 > g_capacity * 3 && table_grow() != 0)
        return -1;
    size_t i = slot_of(traced);
    while (g_slots[i].traced != 0 && g_slots[i].traced != traced)
        i = (i + 1) & (g_capacity - 1);
    if (g_slots[i].traced == 0)
        g_used++;
    g_slots[i].traced = traced;
    g_slots[i].replayed = replayed;
    return 0;
}

/* The slot of a traced address, or -1. */
static long table_find(uint64_t traced)
{
    if (g_capacity == 0)
        return -1;
    size_t i = slot_of(traced);
    while (g_slots[i].traced != 0) {
        if (g_slots[i].traced == traced)
            return (long)i;
        i = (i + 1) & (g_capacity - 1);
    }
    return -1;
}

static void table_remove_at(size_t i)
{
    size_t mask = g_capacity - 1;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; g_slots[j].traced != 0; j = (j + 1) & mask) {
        size_t home = slot_of(g_slots[j].traced);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            g_slots[hole] = g_slots[j];
            hole = j;
        }
    }
    g_slots[hole].traced = 0;
    g_slots[hole].replayed = NULL;
    g_used--;
}

/* ---- reading records ---- */

static const char *g_at, *g_end;

static int at_line_end(void) { return g_at >= g_end || *g_at == '\n'; }

static void skip_spaces(void)
{
    while (g_at < g_end && *g_at == ' ')
        g_at++;
}

/* A decimal or 0x-prefixed hex number; 0 and no move if there is none. */
static uint64_t number(int *ok)
{
    skip_spaces();
    uint64_t v = 0;
    const char *start = g_at;
    if (g_end - g_at > 2 && g_at[0] == '0' && (g_at[1] == 'x' || g_at[1] == 'X')) {
        g_at += 2;
        for (; g_at < g_end; g_at++) {
            char c = *g_at;
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0)
                break;
            v = v * 16 + (uint64_t)d;
        }
    } else {
        for (; g_at < g_end && *g_at >= '0' && *g_at <= '9'; g_at++)
            v = v * 10 + (uint64_t)(*g_at - '0');
    }
    if (g_at == start)
        *ok = 0;
    return v;
}

static int word_is(const char *word, size_t length, const char *name)
{
    return strlen(name) == length && memcmp(word, name, length) == 0;
}

static void next_line(void)
{
    while (g_at < g_end && *g_at != '\n')
        g_at++;
    if (g_at < g_end)
        g_at++;
}

/* ---- replaying ---- */

static int g_touch = 1;
static size_t g_page = 4096;
static unsigned long g_calls, g_skipped, g_failed;

static void touch(void *p, size_t size)
{
    if (!g_touch || p == NULL)
        return;
    volatile unsigned char *c = p;
    for (size_t i = 0; i < size; i += g_page)
        c[i] = 1;
    if (size != 0)
        c[size - 1] = 1;
}

/* A block the trace says was allocated at `traced` is `replayed` here. */
static void born(uint64_t traced, void *replayed, size_t size)
{
    if (traced == 0) {
        /* It failed in the program; if it worked here, let it go at once. */
        if (replayed != NULL)
            free(replayed);
        return;
    }
    if (replayed == NULL) {
        g_failed++;
        return;
    }
    touch(replayed, size);
    if (table_put(traced, replayed) != 0) {
        static const char msg[] = "ft_malloc_replay: out of memory for the address table\n";
        (void)!write(2, msg, sizeof msg - 1);
        exit(1);
    }
}

/* The replayed block of a traced address, removed from the table; NULL (skipped) if unknown. */
static int take(uint64_t traced, void **replayed)
{
    *replayed = NULL;
    if (traced == 0)
        return 1;
    long i = table_find(traced);
    if (i < 0) {
        g_skipped++;
        return 0;
    }
    *replayed = g_slots[i].replayed;
    table_remove_at((size_t)i);
    return 1;
}

static void replay_realloc(uint64_t old, size_t size, uint64_t result, int array, size_t count)
{
    void *p;
    if (!take(old, &p))
        return;
    void *r = array ? reallocarray(p, count, size) : realloc(p, size);
    size_t bytes = array ? count * size : size;
    if (r == NULL && bytes != 0) {
        /* Failed here: the old block is still ours. */
        if (p != NULL)
            table_put(old, p);
        if (result != 0)
            g_failed++;
        return;
    }
    if (result == 0 && bytes != 0) {
        /* It failed in the program (the old block stayed): keep the new one under the old name. */
        if (old != 0)
            table_put(old, r);
        else if (r != NULL)
            free(r);
        return;
    }
    born(result, r, bytes);
}

static void record(const char *op, size_t length)
{
    int ok = 1;
    void *p;
    g_calls++;
    if (word_is(op, length, "malloc")) {
        size_t size = number(&ok);
        uint64_t res = number(&ok);
        if (ok)
            born(res, malloc(size), size);
    } else if (word_is(op, length, "free")) {
        uint64_t ptr = number(&ok);
        if (ok && take(ptr, &p))
            free(p);
    } else if (word_is(op, length, "calloc")) {
        size_t n = number(&ok), size = number(&ok);
        uint64_t res = number(&ok);
        if (ok)
            born(res, calloc(n, size), n * size);
    } else if (word_is(op, length, "realloc")) {
        uint64_t old = number(&ok);
        size_t size = number(&ok);
        uint64_t res = number(&ok);
        if (ok)
            replay_realloc(old, size, res, 0, 0);
    } else if (word_is(op, length, "reallocarray")) {
        uint64_t old = number(&ok);
        size_t n = number(&ok), size = number(&ok);
        uint64_t res = number(&ok);
        if (ok)
            replay_realloc(old, size, res, 1, n);
    } else if (word_is(op, length, "posix_memalign")) {
        size_t alignment = number(&ok), size = number(&ok);
        uint64_t res = number(&ok);
        number(&ok);
        if (ok) {
            void *q = NULL;
            int r = posix_memalign(&q, alignment, size);
            born(res, r == 0 ? q : NULL, size);
        }
    } else if (word_is(op, length, "aligned_alloc") || word_is(op, length, "memalign")) {
        size_t alignment = number(&ok), size = number(&ok);
        uint64_t res = number(&ok);
        if (ok)
            born(res, op[0] == 'a' ? aligned_alloc(alignment, size) : memalign(alignment, size), size);
    } else if (word_is(op, length, "valloc") || word_is(op, length, "pvalloc")) {
        size_t size = number(&ok);
        uint64_t res = number(&ok);
        if (ok)
            born(res, op[0] == 'v' ? valloc(size) : pvalloc(size), size);
    } else if (word_is(op, length, "malloc_usable_size")) {
        uint64_t ptr = number(&ok);
        if (!ok)
            return;
        if (ptr == 0) {
            (void)malloc_usable_size(NULL);
            return;
        }
        long i = table_find(ptr);
        if (i < 0)
            g_skipped++;
        else
            (void)malloc_usable_size(g_slots[i].replayed);
    } else if (word_is(op, length, "free_sized") || word_is(op, length, "free_aligned_sized")) {
        int aligned = length > 10;
        uint64_t ptr = number(&ok);
        size_t alignment = aligned ? number(&ok) : 0;
        size_t size = number(&ok);
        if (ok && take(ptr, &p)) {
            if (aligned && free_aligned_sized)
                free_aligned_sized(p, alignment, size);
            else if (!aligned && free_sized)
                free_sized(p, size);
            else
                free(p);
        }
    } else {
        g_calls--;
        g_skipped++;
    }
}

static void say(const char *text)
{
    (void)!write(2, text, strlen(text));
}

int main(int argc, char **argv)
{
    uint64_t want_pid = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
            want_pid = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-n") == 0)
            g_touch = 0;
        else if (argv[i][0] == '-' || path != NULL) {
            say("usage: ft_malloc_replay [-p PID] [-n] TRACE\n");
            return 2;
        } else
            path = argv[i];
    }
    if (path == NULL) {
        say("usage: ft_malloc_replay [-p PID] [-n] TRACE\n");
        return 2;
    }
    long page = sysconf(_SC_PAGESIZE);
    if (page > 0)
        g_page = (size_t)page;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        say("ft_malloc_replay: cannot open the trace\n");
        return 1;
    }
    const char *text = "";
    if (st.st_size > 0) {
        text = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (text == MAP_FAILED) {
            say("ft_malloc_replay: cannot map the trace\n");
            return 1;
        }
    }
    g_at = text;
    g_end = text + st.st_size;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int headers = 0;
    while (g_at < g_end) {
        if (*g_at == '#') {
            /* "# ft_malloc trace 1 pid=N": a second one for our pid is a new program (exec). */
            const char *pid_at = memmem(g_at, (size_t)(g_end - g_at) < 80 ? (size_t)(g_end - g_at) : 80, "pid=", 4);
            if (pid_at != NULL && want_pid != 0) {
                g_at = pid_at + 4;
                int ok = 1;
                if (number(&ok) == want_pid && ok && ++headers > 1)
                    break;
            }
            next_line();
            continue;
        }
        int ok = 1;
        uint64_t pid = number(&ok);
        number(&ok); /* thread */
        if (!ok) {
            next_line();
            continue;
        }
        if (want_pid == 0) {
            want_pid = pid;
            headers = 1;
        }
        if (pid != want_pid) {
            next_line();
            continue;
        }
        skip_spaces();
        const char *op = g_at;
        while (g_at < g_end && *g_at != ' ' && *g_at != '\n')
            g_at++;
        record(op, (size_t)(g_at - op));
        if (!at_line_end())
            next_line();
        else if (g_at < g_end)
            g_at++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    char line[200];
    int n = snprintf(line, sizeof line, "ft_malloc_replay: pid %llu: %lu calls, %lu skipped, %lu failed, %.4f s\n",
                     (unsigned long long)want_pid, g_calls, g_skipped, g_failed, seconds);
    (void)!write(1, line, (size_t)n);
    return 0;
}
