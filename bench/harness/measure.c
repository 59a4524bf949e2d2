/*
 * measure: run one command (optionally several times) and print what the kernel says it cost.
 *
 * The benchmark harness is a .NET program, and .NET reaps its own children, so it cannot ask
 * wait4(2) for a child's rusage itself. This small C program does the fork/exec/wait4, puts
 * LD_PRELOAD into the child's environment only (so the harness and this program never run on the
 * allocator under test), and prints one line per execution:
 *
 *   run wall_ns=N user_us=N sys_us=N maxrss_kb=N minflt=N majflt=N status=exit:C|signal:S|timeout
 *
 * The figures from wait4 cover the child and every descendant it waited for, so a shell script or
 * the gcc driver is measured whole (times and faults add up; maxrss is the largest single process).
 * Wall time is CLOCK_MONOTONIC from just before fork to just after wait4.
 *
 * The child's environment (with or without LD_PRELOAD) is built here, before the fork: between
 * fork and exec the child only redirects and execs, the same work for every allocator. (A
 * setenv in the child would malloc there and copy-on-write this process's heap pages, about ten
 * minor faults that ru_minflt charges to the preloaded runs only.)
 *
 * usage: measure [--preload LIB] [--stdin F] [--stdout F] [--stderr F] [--cwd D]
 *                [--repeat N] [--timeout SECONDS] -- PROGRAM [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t s_timedOut;
static volatile pid_t s_child;

static void on_alarm(int sig)
{
    (void)sig;
    s_timedOut = 1;
    if (s_child > 0)
        kill(-s_child, SIGKILL); /* the whole process group: gcc's cc1, git's helpers, ... */
}

/* Ctrl+C reaches only the foreground process group, and the child has its own: pass it on. */
static void on_interrupt(int sig)
{
    if (s_child > 0)
        kill(-s_child, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void redirect(const char *path, int fd, int flags)
{
    if (!path)
        return;
    int f = open(path, flags, 0644);
    if (f < 0 || dup2(f, fd) < 0) {
        dprintf(2, "measure: cannot open %s: %s\n", path, strerror(errno));
        _exit(126);
    }
    close(f);
}

int main(int argc, char **argv)
{
    const char *preload = NULL, *in = NULL, *out = NULL, *err = NULL, *cwd = NULL;
    long repeat = 1, timeout = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { i++; break; }
        if (i + 1 >= argc) { fprintf(stderr, "measure: %s needs a value\n", a); return 125; }
        const char *v = argv[++i];
        if (strcmp(a, "--preload") == 0) preload = v;
        else if (strcmp(a, "--stdin") == 0) in = v;
        else if (strcmp(a, "--stdout") == 0) out = v;
        else if (strcmp(a, "--stderr") == 0) err = v;
        else if (strcmp(a, "--cwd") == 0) cwd = v;
        else if (strcmp(a, "--repeat") == 0) repeat = atol(v);
        else if (strcmp(a, "--timeout") == 0) timeout = atol(v);
        else { fprintf(stderr, "measure: unknown option %s\n", a); return 125; }
    }
    if (i >= argc) { fprintf(stderr, "measure: no command given\n"); return 125; }
    char **cmd = argv + i;

    /* Whatever the harness inherited, only the child gets a preload, and only the one asked for. */
    unsetenv("LD_PRELOAD");
    char **childEnv = environ;
    if (preload && *preload) {
        size_t n = 0;
        while (environ[n]) n++;
        childEnv = malloc((n + 2) * sizeof *childEnv);
        char *entry = malloc(strlen("LD_PRELOAD=") + strlen(preload) + 1);
        if (!childEnv || !entry) { perror("measure: malloc"); return 125; }
        strcpy(entry, "LD_PRELOAD=");
        strcat(entry, preload);
        childEnv[0] = entry;
        memcpy(childEnv + 1, environ, (n + 1) * sizeof *childEnv);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    for (long r = 0; r < repeat; r++) {
        s_timedOut = 0;
        long long t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0) { perror("measure: fork"); return 125; }
        if (pid == 0) {
            setpgid(0, 0);
            if (cwd && chdir(cwd) != 0) { dprintf(2, "measure: chdir %s: %s\n", cwd, strerror(errno)); _exit(126); }
            redirect(in ? in : "/dev/null", 0, O_RDONLY);
            redirect(out, 1, O_WRONLY | O_CREAT | O_TRUNC);
            redirect(err, 2, O_WRONLY | O_CREAT | O_TRUNC);
            execvpe(cmd[0], cmd, childEnv);
            dprintf(2, "measure: exec %s: %s\n", cmd[0], strerror(errno));
            _exit(127);
        }
        setpgid(pid, pid); /* also done in the child: whichever runs first wins the race */
        s_child = pid;
        if (timeout > 0)
            alarm((unsigned)timeout);

        int status = 0;
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        while (wait4(pid, &status, 0, &ru) < 0) {
            if (errno != EINTR) { perror("measure: wait4"); return 125; }
        }
        long long t1 = now_ns();
        alarm(0);
        s_child = 0;

        char how[64];
        if (s_timedOut) snprintf(how, sizeof how, "timeout");
        else if (WIFSIGNALED(status)) snprintf(how, sizeof how, "signal:%d", WTERMSIG(status));
        else snprintf(how, sizeof how, "exit:%d", WEXITSTATUS(status));

        printf("run wall_ns=%lld user_us=%lld sys_us=%lld maxrss_kb=%ld minflt=%ld majflt=%ld status=%s\n",
               t1 - t0,
               (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
               (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec,
               ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt, how);
        fflush(stdout);
        if (s_timedOut || WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
            break; /* a failed execution ends a repeated run: the harness reports the failure */
    }
    return 0;
}
