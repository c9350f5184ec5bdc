/* Workload 4: a process with argv[1] threads in all (default 1000: main + 999),
 * all idle. It prints "ready <pid>" once every thread runs, then waits to be
 * attached to. `counter` is the global the debuggers watch; the main thread writes
 * it every millisecond, so an armed watchpoint fires soon after the threads resume
 * (the "first hit" time), and a watchpoint left armed after a detach kills it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

volatile long counter;
static pthread_barrier_t barrier;

static void *idle(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier);
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? atol(argv[1]) : 1000;
    pthread_attr_t attr;
    pthread_t t;
    if (total < 1)
        total = 1;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_barrier_init(&barrier, NULL, (unsigned)total);
    for (long k = 1; k < total; k++)
        if (pthread_create(&t, &attr, idle, NULL)) {
            perror("pthread_create");
            return 2;
        }
    if (total > 1)
        pthread_barrier_wait(&barrier);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    for (;;) {
        usleep(1000);
        counter++;
    }
}
