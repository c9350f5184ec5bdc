/* Scaling workload: wt_threads T,M (one argument): T writer threads (created before any writes, released
 * together by a barrier), each writing the shared global `counter` M times; T*M writes in
 * all. main writes nothing. */
#include <pthread.h>
#include <stdlib.h>

volatile long counter;
static pthread_barrier_t barrier;
static long m;

static void *writer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier);
    for (long i = 0; i < m; i++)
        counter = i + 1;
    return NULL;
}

int main(int argc, char **argv)
{
    long t = 4;
    pthread_t tids[1024];
    m = 1000;
    if (argc > 1) {                      /* "T,M": one argument, as the benchmark harness passes */
        char *comma;
        t = strtol(argv[1], &comma, 10);
        if (*comma == ',')
            m = atol(comma + 1);
    }
    if (t < 1 || t > 1024)
        return 2;
    pthread_barrier_init(&barrier, NULL, (unsigned)t);
    for (long k = 0; k < t; k++)
        if (pthread_create(&tids[k], NULL, writer, NULL))
            return 3;
    for (long k = 0; k < t; k++)
        pthread_join(tids[k], NULL);
    return 0;
}
