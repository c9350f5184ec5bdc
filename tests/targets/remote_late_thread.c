/* hwdbg serve: a thread created after the debugger attached. Waits until the debugger sets
   `go`, then runs a worker thread to its end. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

volatile int go;

void *worker(void *arg)
{
    return arg;
}

int main(void)
{
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    while (!go)
        usleep(1000);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    return 0;
}
