/* nostop_target MODE M N: M writer threads, each calls store() N times; main writes nothing.
 * after:  the threads are created after ready() (a watch set at ready() must follow them)
 * before: the threads exist and wait at ready(); they start writing when main lets them go
 * slow:   main stores once a millisecond for N ms (M ignored), then exits 0
 * slots:  main writes g[0..7] N times each (for slot accounting)
 * Every mode exits 0 when it ran as intended. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile long shared;
volatile long g[8];
volatile int started, go;

__attribute__((noinline)) void ready(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void store(long v) { shared = v; }

static long n;

static void *writer(void *arg)
{
    (void)arg;
    __sync_fetch_and_add(&started, 1);
    while (!go)
        usleep(100);
    for (long i = 0; i < n; i++)
        store(i);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "after";
    int m = argc > 2 ? atoi(argv[2]) : 4;
    n = argc > 3 ? atol(argv[3]) : 1000;
    pthread_t t[256];
    if (m > 256)
        return 2;
    if (!strcmp(mode, "slow")) {
        ready();
        for (long i = 0; i < n; i++) {
            store(i);
            usleep(1000);
        }
        return 0;
    }
    if (!strcmp(mode, "slots")) {
        ready();
        for (long i = 0; i < n; i++)
            for (int k = 0; k < 8; k++)
                g[k] = i;
        return 0;
    }
    if (!strcmp(mode, "after")) {
        ready();
        go = 1;
    }
    for (int i = 0; i < m; i++)
        if (pthread_create(&t[i], NULL, writer, NULL) != 0)
            return 3;
    if (!strcmp(mode, "before")) {
        while (started < m)
            usleep(100);
        ready();
        go = 1;
    }
    for (int i = 0; i < m; i++)
        pthread_join(t[i], NULL);
    return 0;
}
