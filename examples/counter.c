/* The demo program: a counter, a config struct and a worker thread that write them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct config { int flags; int level; char name[8]; };

long counter;
struct config config = { 1, 2, "demo" };

static void bump(void) { counter++; }

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        bump();
        config.level = i;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    pthread_t thread;
    for (int i = 0; i < rounds; i++)
        bump();
    pthread_create(&thread, NULL, worker, NULL);
    pthread_join(thread, NULL);
    config.flags |= 4;
    printf("counter = %ld, flags = %d\n", counter, config.flags);
    return 0;
}
