/* A thread blocked in poll, nanosleep or clock_nanosleep whose pointers lie in a page-watched
 * array (calls the kernel restarts through restart_syscall with the pointer it saved) while
 * the main thread, having seen it blocked (/proc/self/task/TID/syscall), writes other bytes of
 * the same page `rounds` times; with "stop", a child process then stops and continues the
 * process (SIGSTOP, SIGCONT: the call goes on as restart_syscall); then SIGALRM, whose handler
 * ends the call with EINTR (the time left, or poll's revents, written through the saved
 * pointer). poll is then made again and woken by data (after `rounds` more writes). Prints
 * each call's result, errno and what it wrote, to compare with a run without a debugger.
 * All of it in `area`: the array `big`, or with "shared" a MAP_SHARED mapping of the same size.
 * Usage: page_block_sleep CALL ROUNDS [stop] [shared]. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

__attribute__((aligned(4096))) char big[65536];
char *area = big;
static int fds[2];
static volatile pid_t worker_tid;
static volatile int phase;
static const char *call;

__attribute__((noinline)) void ready(void) {}
__attribute__((noinline)) void b_write(long i, char c) { area[2048 + i] = c; }
static void on_alarm(int sig) { (void)sig; }

static long blocked_nr(pid_t tid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long nr = fgets(line, sizeof line, f) != NULL ? strtol(line, NULL, 10) : -1;
    fclose(f);
    return nr;
}

static int sleeping(pid_t tid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char *end = fgets(line, sizeof line, f) != NULL ? strrchr(line, ')') : NULL;
    fclose(f);
    return end != NULL && end[1] == ' ' && end[2] == 'S';
}

/* The worker asleep inside the call (a debugger's stop at its entry is 't', not 'S': a signal
 * sent then may come before the call starts). */
static void wait_blocked(long nr, int restarted_only)
{
    for (;;) {
        long now = worker_tid && sleeping(worker_tid) ? blocked_nr(worker_tid) : -1;
        if (now == SYS_restart_syscall || (!restarted_only && now == nr))
            return;
        usleep(1000);
    }
}

/* The time left of a 1000 s sleep: at most the request plus the timer's slack (the kernel counts
 * from the hard expiry, 50 us after the soft one by default: a signal soon enough leaves
 * 1000.00001 s, seen 7 times in 300 runs under load). */
static int left_ok(const struct timespec *t)
{
    return t->tv_sec > 500 && t->tv_nsec >= 0 && t->tv_nsec < 1000000000 &&
           (t->tv_sec < 1000 || (t->tv_sec == 1000 && t->tv_nsec < 1000000));
}

static void *worker(void *arg)
{
    (void)arg;
    worker_tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    if (strcmp(call, "nanosleep") == 0) {
        struct timespec req = {1000, 0}, *rem = (struct timespec *)(area + 1400);
        *rem = (struct timespec){-1, -1};
        long ret = syscall(SYS_nanosleep, &req, rem);
        printf("nanosleep=%ld errno=%d left=%d\n", ret, ret < 0 ? errno : 0, left_ok(rem));
    } else if (strcmp(call, "clock_nanosleep") == 0) {
        struct timespec *ts = (struct timespec *)(area + 1400);  /* request and time left */
        *ts = (struct timespec){1000, 0};
        long ret = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, ts, ts);
        printf("clock_nanosleep=%ld errno=%d left=%d\n", ret, ret < 0 ? errno : 0, left_ok(ts));
    } else {
        struct pollfd *p = (struct pollfd *)(area + 1300);
        p[0] = (struct pollfd){fds[0], POLLIN, 0x7777};
        p[1] = (struct pollfd){fds[1], POLLIN, 0x7777};
        long ret = syscall(SYS_poll, p, 2, -1);
        printf("poll=%ld errno=%d revents=%x,%x\n", ret, ret < 0 ? errno : 0, p[0].revents, p[1].revents);
        p[0].revents = p[1].revents = 0x5555;
        phase = 2;
        ret = syscall(SYS_poll, p, 2, -1);
        printf("poll=%ld errno=%d revents=%x,%x\n", ret, ret < 0 ? errno : 0, p[0].revents, p[1].revents);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    call = argv[1];
    long rounds = atol(argv[2]);
    int stop = 0;
    for (int i = 3; i < argc; i++) {
        stop |= strcmp(argv[i], "stop") == 0;
        if (strcmp(argv[i], "shared") == 0)
            area = mmap(NULL, sizeof big, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    }
    if (area == MAP_FAILED)
        return 2;
    long want = strcmp(call, "nanosleep") == 0 ? SYS_nanosleep
              : strcmp(call, "clock_nanosleep") == 0 ? SYS_clock_nanosleep : SYS_poll;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;  /* no SA_RESTART: the call ends with EINTR */
    sigaction(SIGALRM, &sa, NULL);
    memset(area, 'x', sizeof big);
    if (pipe(fds) != 0)
        return 2;
    ready();
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    wait_blocked(want, 0);
    for (long i = 0; i < rounds; i++)
        b_write(i, (char)(i % 250 + 1));
    if (stop) {
        pid_t parent = getpid(), child = fork();
        if (child == 0) {
            kill(parent, SIGSTOP);
            usleep(200000);
            kill(parent, SIGCONT);
            _exit(0);
        }
        int status;
        if (waitpid(child, &status, 0) != child)
            return 3;
        wait_blocked(want, 1);  /* going on as restart_syscall */
    }
    syscall(SYS_tgkill, getpid(), worker_tid, SIGALRM);
    if (strcmp(call, "poll") == 0) {
        while (phase != 2)
            usleep(1000);
        wait_blocked(want, 0);
        for (long i = 0; i < rounds; i++)
            b_write(rounds + i, (char)(i % 250 + 1));
        if (write(fds[1], "z", 1) != 1)
            return 3;
    }
    pthread_join(t, NULL);
    printf("check=%c%c\n", area[0], area[5000]);
    return 0;
}
