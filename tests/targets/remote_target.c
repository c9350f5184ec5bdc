/* A target for hwdbg serve: writes (watch), reads (rwatch), accesses (awatch), a function
   to break on (hbreak/break/finish/step), a thread, a mode that runs until told to stop
   (attach tests) and one that dies of SIGSEGV (signals). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile long counter;
volatile long source = 7;
volatile long sink;
struct pair { int a; int b; } pair;
volatile long by_thread;
volatile sig_atomic_t stop_now;

int add(int x, int y) { return x + y; }

void bump(int i)
{
    counter = add((int)counter, i);
}

void *worker(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n; i++)
        by_thread = by_thread + 1;
    return NULL;
}

static void on_term(int sig) { (void)sig; stop_now = 1; }
static void on_usr1(int sig) { (void)sig; counter += 100; }

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "wait") == 0) {
        signal(SIGTERM, on_term);
        printf("ready %d\n", (int)getpid());
        fflush(stdout);
        while (!stop_now) {
            counter = counter + 1;
            usleep(1000);
        }
        return counter > 0 ? 0 : 1;
    }
    if (argc > 1 && strcmp(argv[1], "segv") == 0) {
        bump(1);
        *(volatile int *)(long)sink = 1; /* sink is 0: a SIGSEGV the debugger sees, then passes on */
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "signals") == 0) {
        signal(SIGUSR1, on_usr1);
        raise(SIGCHLD); /* gdb passes it without stopping */
        raise(SIGUSR1); /* gdb stops, then delivers it: the handler runs */
        return counter == 100 ? 0 : 1;
    }
    if (argc > 1 && strcmp(argv[1], "loop") == 0) {
        long n = argc > 2 ? atol(argv[2]) : 1000;
        for (long i = 0; i < n; i++)
            counter = counter + 1;
        return 0;
    }
    for (int i = 0; i < 4; i++) {
        bump(i);
        sink = source;
    }
    pair.a = 1;
    pair.b = 2;
    pair.a = pair.b + 1;
    pthread_t t;
    pthread_create(&t, NULL, worker, (void *)3);
    pthread_join(t, NULL);
    printf("done %ld %ld\n", counter, by_thread);
    return 0;
}
