/* The UI tests' attach target: prints "ready PID TID", then increments ticks every
 * millisecond until it reaches LIMIT (argument, default 3000), and exits 0.
 * With a second argument "thread", the loop runs in a second thread (TID is its id). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

volatile long ticks;
static long limit = 3000;

static void *loop(void *arg)
{
    (void)arg;
    printf("ready %d %ld\n", (int)getpid(), (long)syscall(SYS_gettid));
    fflush(stdout);
    while (ticks < limit) {
        ticks++;
        usleep(1000);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        limit = atol(argv[1]);
    if (argc > 2 && strcmp(argv[2], "thread") == 0) {
        pthread_t thread;
        pthread_create(&thread, NULL, loop, NULL);
        pthread_join(thread, NULL);
    } else {
        loop(NULL);
    }
    printf("done %ld\n", ticks);
    return 0;
}
