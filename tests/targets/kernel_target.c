/* The kernel writes into watched buffers: read() from a pipe, getrandom, stat, pipe2, wait4,
 * clock_gettime through syscall(2) (not the vDSO), and a blocking read interrupted by a signal
 * (mode "eintr": no SA_RESTART, read fails with EINTR; mode "restart": SA_RESTART, the read
 * is restarted and gets the data). Each step is a function, so tests can stop between them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char inbuf[16];          /* read() */
unsigned long rnd;       /* getrandom() */
struct stat st;          /* stat() */
int fds[2];              /* pipe2() */
int wstatus;             /* wait4() */
struct timespec ts;      /* clock_gettime via syscall() */
long untouched = 7;      /* next to nothing the kernel writes */
long result;             /* what the interrupted read returned */
int result_errno;
volatile sig_atomic_t alarms;

__attribute__((noinline)) void ready(void) {}
__attribute__((noinline)) void done(void) {}

static void on_alarm(int sig) { (void)sig; alarms++; }

static void basic(void)
{
    int p[2];
    if (pipe(p) != 0)
        exit(2);
    if (write(p[1], "hello, kernel!", 14) != 14)
        exit(3);
    result = read(p[0], inbuf, sizeof inbuf);
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        exit(4);
    if (stat("/", &st) != 0)
        exit(5);
    if (pipe2(fds, O_CLOEXEC) != 0)
        exit(6);
    pid_t child = fork();
    if (child == 0)
        _exit(42);
    if (wait4(child, &wstatus, 0, NULL) != child)
        exit(7);
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
}

/* Whether process pid sleeps inside read(2) (/proc/PID/syscall starts with its number, 0, and
 * the state is S, not a ptrace stop). */
static int blocked_in_read(pid_t pid)
{
    char path[64], text[256];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = fgets(text, sizeof text, f) != NULL && strncmp(text, "0 ", 2) == 0;
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    char state = 0;
    if (fgets(text, sizeof text, f) != NULL) {
        char *p = strrchr(text, ')');
        state = p && p[1] ? p[2] : 0;
    }
    fclose(f);
    return n && state == 'S';
}

/* A read blocked on an empty pipe gets SIGALRM (sent by a child once the read really blocks);
 * the child writes the data later. */
static void interrupted(int restart)
{
    int p[2];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    if (pipe(p) != 0)
        exit(2);
    pid_t parent = getpid();
    pid_t helper = fork();
    if (helper == 0) {
        while (!blocked_in_read(parent))
            usleep(1000);
        kill(parent, SIGALRM);
        usleep(300000);  /* EINTR: the read has returned by now; restart: it waits for this */
        if (write(p[1], "late data", 9) != 9)
            _exit(1);
        _exit(0);
    }
    errno = 0;
    result = read(p[0], inbuf, sizeof inbuf);
    result_errno = errno;
    waitpid(helper, NULL, 0);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "basic";
    ready();
    if (strcmp(mode, "basic") == 0)
        basic();
    else if (strcmp(mode, "eintr") == 0)
        interrupted(0);
    else if (strcmp(mode, "restart") == 0)
        interrupted(1);
    else if (strcmp(mode, "wait") == 0) {  /* for attach: waits for SIGUSR1, then does the basic calls */
        signal(SIGUSR1, on_alarm);
        printf("waiting\n");
        fflush(stdout);
        while (!alarms)
            usleep(1000);
        basic();
    } else if (strcmp(mode, "quiet") == 0)  /* 2000 system calls, none of which writes memory */
        for (int i = 0; i < 1000; i++) {
            getppid();
            if (write(1, "", 0) != 0)
                exit(8);
        }
    done();
    printf("result=%ld errno=%d alarms=%d buf=%.9s\n", result, result_errno, (int)alarms, inbuf);
    return 0;
}
