/* One tracee, many behaviours: core_target MODE [N]. Every mode exits 0 when it ran as intended. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

volatile long g[8];                      /* eight watchable globals */
volatile long shared;                    /* written by many threads */
volatile long counter;
volatile long neighbour_before;
volatile unsigned char block[16] __attribute__((aligned(16)));   /* a 16-byte array watched whole */
volatile long neighbour_after;
struct __attribute__((packed)) packed { char tag; int field; char tail[3]; };
volatile struct packed packed_s;         /* packed_s.field is 4 bytes at an odd address */
char big_src[4096], big_dst[4096] __attribute__((aligned(64)));
volatile int trap_handled;
volatile int ready_threads;

__attribute__((noinline)) void ready(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void write_g(int i, long v) { g[i] = v; }
__attribute__((noinline)) void bump(void) { counter++; }

static long tid(void) { return syscall(SYS_gettid); }

static void *thread_writer(void *arg)
{
    long n = (long)arg;
    long me = tid();
    for (long i = 0; i < n; i++)
        shared = me;                     /* the value written names the writer */
    return NULL;
}

static void *thread_idle(void *arg)
{
    (void)arg;
    __sync_fetch_and_add(&ready_threads, 1);
    for (;;)
        pause();
    return NULL;
}

/* Queues itself a SIGTRAP that looks like a debug exception's (si_code TRAP_HWBKPT, not
 * SI_TKILL: only a thread's own may), blocked so that it stays pending, then parks. */
static void *thread_trap_pending(void *arg)
{
    sigset_t trap;
    siginfo_t si;
    sigemptyset(&trap);
    sigaddset(&trap, SIGTRAP);
    pthread_sigmask(SIG_BLOCK, &trap, NULL);
    memset(&si, 0, sizeof si);
    si.si_signo = SIGTRAP;
    si.si_code = 4;
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid(), SIGTRAP, &si) != 0)
        abort();
    *(volatile long *)arg = tid();
    for (;;)
        pause();
    return NULL;
}

static void on_trap(int sig) { (void)sig; trap_handled = 1; }

/* A debugger is attached (TracerPid in /proc/self/status is not 0). */
static int traced(void)
{
    char line[256];
    int pid = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "TracerPid: %d", &pid) == 1)
            break;
    if (f)
        fclose(f);
    return pid != 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "globals";
    long n = argc > 2 ? atol(argv[2]) : 10;

    if (!strcmp(mode, "globals")) {          /* n rounds, each writes g[0..7] once */
        ready();
        for (long r = 0; r < n; r++)
            for (int i = 0; i < 8; i++)
                write_g(i, r * 8 + i + 1);
        return 0;
    }
    if (!strcmp(mode, "threads")) {          /* 8 threads x n writes, created after ready() */
        pthread_t t[8];
        ready();
        for (int i = 0; i < 8; i++)
            pthread_create(&t[i], NULL, thread_writer, (void *)n);
        for (int i = 0; i < 8; i++)
            pthread_join(t[i], NULL);
        return 0;
    }
    if (!strcmp(mode, "idle-threads")) {     /* 3 threads parked, then ready() */
        pthread_t t[3];
        for (int i = 0; i < 3; i++)
            pthread_create(&t[i], NULL, thread_idle, NULL);
        while (ready_threads < 3)
            usleep(1000);
        ready();
        return 0;
    }
    if (!strcmp(mode, "ranges")) {           /* every byte of block, its neighbours, the packed field */
        ready();
        neighbour_before = 1;
        for (int i = 0; i < 16; i++)
            block[i] = (unsigned char)(i + 1);
        neighbour_after = 1;
        packed_s.tag = 1;
        packed_s.field = 0x11223344;
        packed_s.tail[0] = 1;
        return 0;
    }
    if (!strcmp(mode, "strings")) {          /* memcpy/memset/rep movs over watched memory */
        ready();
        memset(big_src, 0x5a, sizeof big_src);
        for (long r = 0; r < n; r++) {
            big_src[0] = (char)r;
            memcpy(big_dst, big_src, sizeof big_dst);       /* glibc: rep movsb */
            memset(big_dst, (int)r + 1, sizeof big_dst);    /* glibc: rep stosb */
            size_t count = sizeof big_dst;
            void *d = big_dst, *s = big_src;
            __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(count) :: "memory");
        }
        return 0;
    }
    if (!strcmp(mode, "sigtrap")) {          /* the program's own SIGTRAP reaches its handler */
        signal(SIGTRAP, on_trap);
        ready();
        bump();
        raise(SIGTRAP);
        bump();
        return trap_handled ? 0 : 1;
    }
    if (!strcmp(mode, "exec")) {             /* write, exec self as exec-child, write again */
        ready();
        bump();
        execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
        return 2;
    }
    if (!strcmp(mode, "exec-child")) {
        bump();
        bump();
        return 0;
    }
    if (!strcmp(mode, "exec-other")) {       /* exec a program that lacks our symbols */
        ready();
        bump();
        execl("/bin/true", "true", (char *)NULL);
        return 2;
    }
    if (!strcmp(mode, "fork")) {             /* the child writes the watched variable untouched */
        ready();
        bump();
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 1000; i++)
                bump();
            _exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        bump();
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 3;
    }
    if (!strcmp(mode, "forever")) {          /* writes counter for n seconds from when a debugger attached */
        printf("%d\n", (int)getpid());
        fflush(stdout);
        for (int ms = 0; !traced() && ms < 120000; ms++)  /* a loaded machine may be slow to attach */
            usleep(1000);
        for (long i = 0; i < n * 100; i++) {
            bump();
            usleep(10000);
        }
        return 0;
    }
    if (!strcmp(mode, "oninput")) {          /* prints its pid, writes counter after a line on stdin */
        printf("%d\n", (int)getpid());
        fflush(stdout);
        getchar();
        bump();
        return 0;
    }
    if (!strcmp(mode, "burst")) {            /* burst N AT: after a line on stdin, N writes and a line */
        long at = argc > 3 ? atol(argv[3]) : n;        /* on stdout after write AT; then one more */
        printf("%d\n", (int)getpid());                /* write after another line on stdin */
        fflush(stdout);
        getchar();
        for (long i = 1; i <= n; i++) {
            bump();
            if (i == at) {
                printf("%ld\n", i);
                fflush(stdout);
            }
        }
        getchar();
        bump();
        return 0;
    }
    if (!strcmp(mode, "queued-trap")) {      /* a thread with a debug exception's SIGTRAP pending */
        pthread_t t;                         /* (blocked: a debugger may unblock it), then a line */
        static volatile long parked_tid;
        pthread_create(&t, NULL, thread_trap_pending, (void *)&parked_tid);
        while (!parked_tid)
            ;
        printf("%d %ld\n", (int)getpid(), parked_tid);
        fflush(stdout);
        getchar();
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 64;
}
