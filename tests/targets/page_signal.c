/* Two threads write a page-watched array (`big`, two pages) `rounds` times each while an
 * interval timer sends SIGALRM every 300 µs: a signal often arrives while a write runs in
 * hwdbg's trampoline. The handler (main thread only) writes the array too (a counter, also kept outside it).
 * Prints whether every write landed; the handler's count goes to stderr (it depends on timing).
 * Usage: page_signal ROUNDS [wait|solo] (wait: print the pid, read a line; no timer, the second
 * thread writes nothing and waits forever; solo: no second thread, the main thread makes its
 * writes after its own). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

__attribute__((aligned(4096))) volatile long big[1024];
static volatile long handled;
static long rounds;

__attribute__((noinline)) void ready(void) {}
__attribute__((noinline)) void loop_write(long at, long v) { big[at] = v; }
__attribute__((noinline)) void h_write(void) { big[1000] = big[1000] + 1; }

static void on_alarm(int sig)
{
    (void)sig;
    h_write();
    handled++;
}

static void *writer(void *arg)
{
    long base = (long)arg;
    if (base < 0)  /* wait mode: a second thread that writes nothing */
        for (;;)
            pause();
    for (long i = 0; i < rounds; i++)
        loop_write(base + i % 400, i + 1);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    rounds = atol(argv[1]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 300}, {0, 300}}, off = {{0, 0}, {0, 0}};
    if (argc > 2 && strcmp(argv[2], "wait") == 0) {  /* attached first: the writes wait for a line */
        printf("%d\n", (int)getpid());
        fflush(stdout);
        char line[8];
        if (fgets(line, sizeof line, stdin) == NULL)
            return 3;
        every = off;
    }
    ready();
    sigset_t alarm;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm, NULL);  /* the worker never runs the handler: one counter writer */
    int solo = argc > 2 && strcmp(argv[2], "solo") == 0;
    pthread_t t;
    if (!solo)
        pthread_create(&t, NULL, writer, (void *)(every.it_interval.tv_usec ? 500L : -1L));
    pthread_sigmask(SIG_UNBLOCK, &alarm, NULL);
    setitimer(ITIMER_REAL, &every, NULL);
    writer((void *)0L);
    if (solo)
        writer((void *)500L);
    else
        pthread_join(t, NULL);
    setitimer(ITIMER_REAL, &off, NULL);
    sigprocmask(SIG_BLOCK, &alarm, NULL);  /* none after the count is taken */
    long last = 1;
    for (long i = 0; i < 400 && i < rounds; i++)
        last &= big[i] == big[500 + i] && big[i] == (rounds - 1) / 400 * 400 + i + 1 - (i > (rounds - 1) % 400 ? 400 : 0);
    printf("rounds=%ld landed=%ld counted=%d\n", rounds, last, big[1000] == handled);
    fprintf(stderr, "handled=%ld\n", handled);
    return 0;
}
