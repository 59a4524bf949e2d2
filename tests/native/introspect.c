/* introspect: drives FtMalloc's introspection for tests/FtMalloc.Tests/Introspection.
 *
 *   introspect show-ex SNAPSHOT   known blocks, ft_malloc_snapshot(SNAPSHOT), show_alloc_mem_ex()
 *   introspect stats              a known sequence of calls, then malloc_stats() (stderr)
 *   introspect calls              every entry point a known number of times (prints the pointers)
 *   introspect info               malloc_info(0, stdout); its error cases on stderr
 *   introspect mallinfo           mallinfo2() after each step of a script, one line per step
 *   introspect trim               a free storm, then malloc_trim(0) twice: resident and mapped bytes
 *   introspect perturb            what new, freed, calloc'd, realloc'd and aligned blocks hold
 *   introspect mallopt            mallopt's answers, and their effects
 *   introspect fork               allocations before, in and after a fork (for the trace)
 *
 * Nothing here uses stdio: the library's own functions and write(2) with snprintf into a
 * stack buffer, so the process allocates only what each command says (the tests count on
 * it). FtMalloc's functions are weak references: without the library they are NULL and
 * the program says so and exits 2. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void show_alloc_mem_ex(void) __attribute__((weak));
int ft_malloc_snapshot(const char *path) __attribute__((weak));
void free_sized(void *, size_t) __attribute__((weak));
void free_aligned_sized(void *, size_t, size_t) __attribute__((weak));

static void out(int fd, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void out(int fd, const char *format, ...)
{
    char line[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1;
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

static int need(void *symbol, const char *name)
{
    if (symbol != NULL)
        return 1;
    out(2, "introspect: %s is not available (run under libft_malloc.so)\n", name);
    return 0;
}

static int show_ex(const char *snapshot)
{
    if (!need((void *)show_alloc_mem_ex, "show_alloc_mem_ex") || !need((void *)ft_malloc_snapshot, "ft_malloc_snapshot"))
        return 2;
    char *a = malloc(12);
    memcpy(a, "Hello, world", 12);
    unsigned char *b = malloc(42);
    for (int i = 0; i < 42; i++)
        b[i] = (unsigned char)i;
    char *c = malloc(100);
    memset(c, 'c', 100);
    free(c); /* parked in a quick bin: listed as free (cached) */
    char *d = malloc(1000);
    memset(d, 'x', 1000);
    char *e = malloc(40000);
    memcpy(e, "LARGE block", 11);
    void *z = malloc(0);
    if (ft_malloc_snapshot(snapshot) != 0) {
        out(2, "introspect: ft_malloc_snapshot(%s) failed: errno %d\n", snapshot, errno);
        return 1;
    }
    show_alloc_mem_ex();
    free(a);
    free(b);
    free(d);
    free(e);
    free(z);
    return 0;
}

static int stats(void)
{
    void *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = malloc((size_t)(i + 1) * 100);
    for (int i = 0; i < 10; i += 2)
        free(p[i]);
    void *big = malloc(1 << 20);
    void *q = calloc(3, 7);
    q = realloc(q, 50);
    free(big);
    free(NULL);
    malloc_stats();
    return 0;
}

static int calls(void)
{
    void *m1 = malloc(10), *m2 = malloc(600), *m3 = malloc(50000);
    void *c1 = calloc(2, 8), *c2 = calloc(1, 40000);
    void *r1 = realloc(NULL, 30);
    r1 = realloc(r1, 3000);
    void *ra = reallocarray(NULL, 4, 16);
    void *pm = NULL;
    int pr = posix_memalign(&pm, 64, 100);
    void *aa = aligned_alloc(128, 256);
    void *ma = memalign(32, 48);
    void *va = valloc(100);
    void *pv = pvalloc(100);
    size_t us = malloc_usable_size(m1);
    free(NULL);
    free(m1);
    free(m2);
    free(m3);
    free(c1);
    free(c2);
    free(r1);
    free(ra);
    free(pm);
    free(aa);
    free(ma);
    if (free_sized)
        free_sized(va, 100);
    else
        free(va);
    if (free_aligned_sized)
        free_aligned_sized(pv, 4096, 4096);
    else
        free(pv);
    out(1, "posix_memalign %d usable %zu\n", pr, us);
    return 0;
}

static int info(void)
{
    void *keep[6];
    for (int i = 0; i < 6; i++)
        keep[i] = malloc((size_t)(i + 1) * 300);
    free(keep[1]);
    free(keep[3]);
    void *big = malloc(300000);
    int r = malloc_info(0, stdout);
    int e = errno;
    out(2, "malloc_info(0, stdout) = %d\n", r);
    errno = 0;
    r = malloc_info(1, stdout);
    out(2, "malloc_info(1, stdout) = %d errno %s\n", r, errno == EINVAL ? "EINVAL" : "other");
    char buffer[256];
    FILE *memory = fmemopen(buffer, sizeof buffer, "w");
    errno = 0;
    r = malloc_info(0, memory);
    out(2, "malloc_info(0, fmemopen) = %d errno %s\n", r, errno == EBADF ? "EBADF" : "other");
    fclose(memory);
    (void)e;
    free(big);
    return 0;
}

static void print_mallinfo(const char *step, struct mallinfo2 m)
{
    out(1, "%s arena=%zu ordblks=%zu smblks=%zu hblks=%zu hblkhd=%zu usmblks=%zu fsmblks=%zu uordblks=%zu fordblks=%zu keepcost=%zu\n",
        step, m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.usmblks, m.fsmblks, m.uordblks, m.fordblks, m.keepcost);
}

static int mallinfo_script(void)
{
    struct mallinfo2 m[7];
    m[0] = mallinfo2();
    void *a = malloc(100);
    m[1] = mallinfo2();
    void *b = malloc(1000);
    m[2] = mallinfo2();
    void *c = malloc(200000);
    m[3] = mallinfo2();
    free(a);
    m[4] = mallinfo2();
    free(b);
    m[5] = mallinfo2();
    free(c);
    m[6] = mallinfo2();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    struct mallinfo old = mallinfo(); /* deprecated by glibc, still called: it must answer too */
#pragma GCC diagnostic pop
    static const char *steps[] = {"start", "malloc(100)", "malloc(1000)", "malloc(200000)", "free(100)", "free(1000)", "free(200000)"};
    for (int i = 0; i < 7; i++)
        print_mallinfo(steps[i], m[i]);
    out(1, "mallinfo arena=%d ordblks=%d smblks=%d hblks=%d hblkhd=%d usmblks=%d fsmblks=%d uordblks=%d fordblks=%d keepcost=%d\n",
        old.arena, old.ordblks, old.smblks, old.hblks, old.hblkhd, old.usmblks, old.fsmblks, old.uordblks, old.fordblks, old.keepcost);
    return 0;
}

/* Resident bytes of the process, from /proc/self/statm (no stdio). */
static size_t resident_bytes(void)
{
    char text[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    text[n] = 0;
    char *at = strchr(text, ' ');
    return at == NULL ? 0 : (size_t)strtoull(at + 1, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

static size_t mapped_bytes(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.arena + m.hblkhd;
}

static int trim(void)
{
    enum { count = 2048, size = 16000 };
    static void *blocks[count];
    for (int i = 0; i < count; i++) {
        blocks[i] = malloc(size);
        memset(blocks[i], 0xAB, size);
    }
    /* The storm: all but every 64th block go, so every zone keeps a few live blocks and
     * big free holes of resident pages; the zones that empty out are unmapped but one. */
    for (int i = 0; i < count; i++)
        if (i % 64 != 0 || i >= count / 2) {
            free(blocks[i]);
            blocks[i] = NULL;
        }
    size_t r1 = resident_bytes(), m1 = mapped_bytes();
    int t1 = malloc_trim(0);
    size_t r2 = resident_bytes(), m2 = mapped_bytes();
    int t2 = malloc_trim(0);
    for (int i = 0; i < count; i++)
        if (blocks[i] != NULL && ((unsigned char *)blocks[i])[size - 1] != 0xAB) {
            out(2, "introspect: trim damaged a live block\n");
            return 1;
        }
    out(1, "resident_before=%zu resident_after=%zu mapped_before=%zu mapped_after=%zu trim1=%d trim2=%d\n", r1, r2, m1, m2, t1, t2);
    return 0;
}

/* 1 if the n bytes at p all equal v. */
static int all(const void *p, size_t n, unsigned char v)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != v)
            return 0;
    return 1;
}

static int perturb(void)
{
    unsigned char *a = malloc(100);
    out(1, "malloc first=0x%02X uniform=%d\n", a[0], all(a, 100, a[0]));
    unsigned char *c = calloc(10, 10);
    out(1, "calloc zero=%d\n", all(c, 100, 0));
    unsigned char *b = malloc(200);
    memset(b, 0x11, 200);
    free(b);
    /* Read after free on purpose: the zone stays mapped (a is alive in it). The first 16
     * bytes may hold list links. */
    out(1, "freed byte=0x%02X uniform=%d\n", b[100], all(b + 16, 200 - 16, b[100]));
    unsigned char *r = malloc(50);
    memset(r, 'r', 50);
    size_t old = malloc_usable_size(r);
    r = realloc(r, 5000);
    out(1, "realloc kept=%d tail=0x%02X uniform=%d\n", all(r, 50, 'r'), r[4999], all(r + old, 5000 - old, r[4999]));
    unsigned char *m = memalign(64, 300);
    out(1, "memalign first=0x%02X uniform=%d\n", m[0], all(m, 300, m[0]));
    unsigned char *big = malloc(100000);
    out(1, "large first=0x%02X uniform=%d\n", big[0], all(big, 100000, big[0]));
    unsigned char *bigz = calloc(1, 100000);
    out(1, "large calloc zero=%d\n", all(bigz, 100000, 0));
    free(a);
    free(c);
    free(r);
    free(m);
    free(big);
    free(bigz);
    return 0;
}

static int mallopt_effects(void)
{
    out(1, "M_PERTURB=%d\n", mallopt(M_PERTURB, 0x33));
    unsigned char *a = malloc(64);
    out(1, "after M_PERTURB first=0x%02X uniform=%d\n", a[0], all(a, 64, a[0]));
    out(1, "M_PERTURB(0)=%d\n", mallopt(M_PERTURB, 0));
    out(1, "M_MXFAST=%d M_TRIM_THRESHOLD=%d M_MMAP_THRESHOLD=%d M_ARENA_MAX=%d\n",
        mallopt(M_MXFAST, 0), mallopt(M_TRIM_THRESHOLD, 1 << 20), mallopt(M_MMAP_THRESHOLD, 1 << 20), mallopt(M_ARENA_MAX, 1));
    out(1, "M_CHECK_ACTION(9)=%d M_CHECK_ACTION(1)=%d\n", mallopt(M_CHECK_ACTION, 9), mallopt(M_CHECK_ACTION, 1));
    /* Mode 1: the bad free is reported and ignored instead of aborting. */
    free(a + 16);
    out(1, "survived the bad free\n");
    free(a);
    return 0;
}

static int forks(void)
{
    void *before = malloc(11);
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        void *mine = malloc(22);
        free(mine);
        free(before);
        exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    void *after = malloc(33);
    out(1, "parent %d child %d before %p after %p\n", (int)getpid(), (int)child, before, after);
    free(after);
    free(before);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *command = argc > 1 ? argv[1] : "";
    if (strcmp(command, "show-ex") == 0 && argc > 2)
        return show_ex(argv[2]);
    if (strcmp(command, "stats") == 0)
        return stats();
    if (strcmp(command, "calls") == 0)
        return calls();
    if (strcmp(command, "info") == 0)
        return info();
    if (strcmp(command, "mallinfo") == 0)
        return mallinfo_script();
    if (strcmp(command, "trim") == 0)
        return trim();
    if (strcmp(command, "perturb") == 0)
        return perturb();
    if (strcmp(command, "mallopt") == 0)
        return mallopt_effects();
    if (strcmp(command, "fork") == 0)
        return forks();
    out(2, "usage: introspect show-ex SNAPSHOT | stats | calls | info | mallinfo | trim | perturb | mallopt | fork\n");
    return 2;
}
