/* The C reference tracer of the hwdbg benchmark: the cheapest possible hardware
 * watchpoint trap loop, to compare hwdbg and gdb against.
 *
 * Spawn mode:
 *   ref_tracer [-r] -a ADDR [-a ADDR ...] -- PROGRAM [ARGS...]
 *     fork; child: PTRACE_TRACEME, exec PROGRAM. Parent: at the exec stop, set
 *     PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE, arm DR0..DR3 with the addresses and
 *     DR7 (per slot: L bit, R/W = 01 write or 11 read/write with -r, LEN = 10 i.e. 8
 *     bytes; 0x90001 for one write slot, 0xb0001 for one RW slot). Then loop:
 *     PTRACE_CONT, waitpid(-1, __WALL), PEEKUSER DR6, POKEUSER DR6 = 0, count a hit
 *     when DR6 names an armed slot. New threads (clone events) are armed at their
 *     first stop. Prints one line: hits, other stops, threads, seconds, hits/s, exit status
 *     and the tracer's own CPU seconds over the same span.
 *     The timer runs from the exec stop (armed) to the exit of the process.
 *
 * Attach mode:
 *   ref_tracer [-r] -a ADDR [-a ...] -A PID
 *     PTRACE_SEIZE + PTRACE_INTERRUPT every thread listed in /proc/PID/task (again
 *     until the list is stable), waitpid each one's stop, arm DR0..DR3/DR7 in every
 *     thread: prints the time from the start to "armed in every thread". Then resumes
 *     every thread until the first hit (the bench target writes the watched global every
 *     millisecond), stops them all again, clears DR7 and detaches every thread.
 *
 * Pinning is done from outside (`taskset -c 0 ref_tracer ...`; the tracee inherits it).
 * Build: gcc -O2 -Wall -o ref_tracer ref_tracer.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef __WALL
#define __WALL 0x40000000
#endif
#ifndef PTRACE_O_EXITKILL
#define PTRACE_O_EXITKILL 0x100000
#endif

#define DR_OFFSET(n) (offsetof(struct user, u_debugreg) + (n) * sizeof(long))
#define MAX_TIDS 65536

static unsigned long addrs[4];
static int naddrs;
static unsigned long dr7;

/* Known threads: a tiny open-addressing set keyed by tid. */
static int known[MAX_TIDS * 2];

static int set_has(int tid)
{
    unsigned h = (unsigned)tid * 2654435761u % (MAX_TIDS * 2);
    while (known[h]) {
        if (known[h] == tid)
            return 1;
        h = (h + 1) % (MAX_TIDS * 2);
    }
    return 0;
}

static void set_add(int tid)
{
    unsigned h = (unsigned)tid * 2654435761u % (MAX_TIDS * 2);
    while (known[h] && known[h] != tid)
        h = (h + 1) % (MAX_TIDS * 2);
    known[h] = tid;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* This thread's CPU time, context switches included (perf's task-clock leaves those out). */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int tid)
{
    fprintf(stderr, "ref_tracer: %s (tid %d): %s\n", what, tid, strerror(errno));
    exit(3);
}

static void arm(int tid)
{
    for (int i = 0; i < naddrs; i++)
        if (ptrace(PTRACE_POKEUSER, tid, (void *)DR_OFFSET(i), (void *)addrs[i]) < 0)
            die("POKEUSER DRn", tid);
    if (ptrace(PTRACE_POKEUSER, tid, (void *)DR_OFFSET(7), (void *)dr7) < 0)
        die("POKEUSER DR7", tid);
}

static void usage(void)
{
    fprintf(stderr, "usage: ref_tracer [-r] -a ADDR [-a ADDR...] -- PROGRAM [ARGS...]\n"
                    "       ref_tracer [-r] -a ADDR [-a ADDR...] -A PID\n");
    exit(2);
}

static int spawn_mode(char **argv)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork", 0);
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
            die("PTRACE_TRACEME", 0);
        execv(argv[0], argv);
        perror("execv");
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP) {
        fprintf(stderr, "ref_tracer: no exec stop (status %#x)\n", st);
        return 3;
    }
    if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)(PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE)) < 0)
        die("PTRACE_SETOPTIONS", pid);
    arm(pid);
    set_add(pid);

    long hits = 0, other = 0, threads = 1, stops = 0;
    int tid = pid, sig = 0, code = 0, resume = 1;
    double t0 = now(), cpu0 = thread_cpu();
    for (;;) {
        if (resume && ptrace(PTRACE_CONT, tid, NULL, (void *)(long)sig) < 0 && errno != ESRCH)
            die("PTRACE_CONT", tid);
        sig = 0;
        resume = 1;
        tid = waitpid(-1, &st, __WALL);
        if (tid < 0)
            die("waitpid", -1);
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (tid == pid) {
                code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                break;
            }
            resume = 0; /* another thread ended: nothing to resume */
            continue;
        }
        stops++;
        int s = WSTOPSIG(st), event = st >> 16;
        if (!set_has(tid)) { /* a new thread's first stop (SIGSTOP from the auto-attach) */
            set_add(tid);
            threads++;
            arm(tid);
            if (s != SIGSTOP)
                sig = s;
            continue;
        }
        if (event) /* PTRACE_EVENT_CLONE: the new thread reports its own first stop */
            continue;
        if (s == SIGTRAP) {
            errno = 0;
            long dr6 = ptrace(PTRACE_PEEKUSER, tid, (void *)DR_OFFSET(6), NULL);
            if (dr6 == -1 && errno)
                die("PEEKUSER DR6", tid);
            if (ptrace(PTRACE_POKEUSER, tid, (void *)DR_OFFSET(6), NULL) < 0)
                die("POKEUSER DR6", tid);
            if (dr6 & ((1L << naddrs) - 1))
                hits++;
            else
                other++;
        } else {
            other++;
            sig = s; /* pass the program's own signals on */
        }
    }
    double secs = now() - t0, cpu = thread_cpu() - cpu0;
    printf("hits=%ld other=%ld threads=%ld stops=%ld seconds=%.6f rate=%.1f exit=%d cpu=%.6f\n", hits, other,
           threads, stops, secs, secs > 0 ? hits / secs : 0.0, code, cpu);
    return 0;
}

static int list_tasks(pid_t pid, int *out, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        die("opendir /proc/PID/task", pid);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (e->d_name[0] != '.')
            out[n++] = atoi(e->d_name);
    closedir(d);
    return n;
}

static int attach_mode(pid_t pid)
{
    static int tids[MAX_TIDS], seized[MAX_TIDS];
    int nseized = 0;
    double t0 = now();
    for (;;) {
        int n = list_tasks(pid, tids, MAX_TIDS), added = 0;
        for (int i = 0; i < n; i++) {
            if (set_has(tids[i]))
                continue;
            if (ptrace(PTRACE_SEIZE, tids[i], NULL, NULL) < 0) {
                if (errno == ESRCH)
                    continue;
                die("PTRACE_SEIZE", tids[i]);
            }
            if (ptrace(PTRACE_INTERRUPT, tids[i], NULL, NULL) < 0)
                die("PTRACE_INTERRUPT", tids[i]);
            set_add(tids[i]);
            seized[nseized++] = tids[i];
            added++;
        }
        if (!added)
            break;
    }
    double t_seized = now();
    for (int i = 0; i < nseized; i++) {
        int st;
        if (waitpid(seized[i], &st, __WALL) < 0)
            die("waitpid", seized[i]);
    }
    double t_stopped = now();
    for (int i = 0; i < nseized; i++)
        arm(seized[i]);
    double t_armed = now();
    /* Prove it: resume every thread and wait for the first hit (the target's main thread
     * writes the watched global every millisecond), then stop them all again. */
    static char running[MAX_TIDS];
    int nrunning = 0;
    for (int i = 0; i < nseized; i++) {
        if (ptrace(PTRACE_CONT, seized[i], NULL, NULL) < 0)
            die("PTRACE_CONT", seized[i]);
        running[i] = 1;
        nrunning++;
    }
    double t_hit = 0;
    while (nrunning) {
        int st, tid = waitpid(-1, &st, __WALL);
        if (tid < 0)
            die("waitpid", -1);
        int i = 0;
        while (i < nseized && seized[i] != tid)
            i++;
        if (i == nseized || !running[i])
            continue;
        if (!WIFSTOPPED(st)) { /* a thread ended */
            running[i] = 0;
            nrunning--;
            continue;
        }
        if (t_hit == 0 && WSTOPSIG(st) == SIGTRAP && (st >> 16) == 0) {
            errno = 0;
            long dr6 = ptrace(PTRACE_PEEKUSER, tid, (void *)DR_OFFSET(6), NULL);
            if (dr6 & ((1L << naddrs) - 1)) {
                t_hit = now();
                for (int k = 0; k < nseized; k++) /* stop the others */
                    if (running[k] && k != i)
                        ptrace(PTRACE_INTERRUPT, seized[k], NULL, NULL);
            }
            ptrace(PTRACE_POKEUSER, tid, (void *)DR_OFFSET(6), NULL);
        }
        if (t_hit == 0) { /* not the hit yet: let it go on */
            ptrace(PTRACE_CONT, tid, NULL, NULL);
            continue;
        }
        running[i] = 0;
        nrunning--;
    }
    double t_stopped2 = now();
    for (int i = 0; i < nseized; i++) {
        if (ptrace(PTRACE_POKEUSER, seized[i], (void *)DR_OFFSET(7), NULL) < 0 && errno != ESRCH)
            die("POKEUSER DR7 = 0", seized[i]);
        if (ptrace(PTRACE_DETACH, seized[i], NULL, NULL) < 0 && errno != ESRCH)
            die("PTRACE_DETACH", seized[i]);
    }
    double t_detached = now();
    printf("threads=%d seize_s=%.6f stopped_s=%.6f armed_s=%.6f first_hit_s=%.6f restop_s=%.6f detach_s=%.6f\n",
           nseized, t_seized - t0, t_stopped - t0, t_armed - t0, t_hit ? t_hit - t0 : -1.0, t_stopped2 - t_hit,
           t_detached - t_stopped2);
    return 0;
}

int main(int argc, char **argv)
{
    int opt, rw = 0;
    pid_t attach = 0;
    while ((opt = getopt(argc, argv, "+ra:A:")) != -1) {
        switch (opt) {
        case 'r':
            rw = 1;
            break;
        case 'a':
            if (naddrs == 4)
                usage();
            addrs[naddrs++] = strtoul(optarg, NULL, 0);
            break;
        case 'A':
            attach = atoi(optarg);
            break;
        default:
            usage();
        }
    }
    if (!naddrs)
        usage();
    for (int i = 0; i < naddrs; i++) /* L_i; R/W_i = 01 (write) or 11 (RW); LEN_i = 10 (8 bytes) */
        dr7 |= (1UL << (2 * i)) | ((rw ? 0xbUL : 0x9UL) << (16 + 4 * i));
    if (attach)
        return attach_mode(attach);
    if (optind >= argc)
        usage();
    return spawn_mode(argv + optind);
}
