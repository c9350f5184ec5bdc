/* Workload 2: 4 threads, thread k writes the watched global counterK argv[1]
 * times (so 4 * argv[1] hits in all). The globals sit on separate cache lines.
 * The threads start together behind a barrier, after main has been reached. */
#include <pthread.h>
#include <stdlib.h>

volatile long counter0 __attribute__((aligned(64)));
volatile long counter1 __attribute__((aligned(64)));
volatile long counter2 __attribute__((aligned(64)));
volatile long counter3 __attribute__((aligned(64)));

static volatile long *const counters[4] = { &counter0, &counter1, &counter2, &counter3 };
static long n;
static pthread_barrier_t barrier;

static void *writer(void *arg)
{
    volatile long *c = counters[(long)arg];
    pthread_barrier_wait(&barrier);
    for (long i = 0; i < n; i++)
        *c = i + 1;
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t[4];
    n = argc > 1 ? atol(argv[1]) : 25000;
    pthread_barrier_init(&barrier, NULL, 4);
    for (long k = 0; k < 4; k++)
        if (pthread_create(&t[k], NULL, writer, (void *)k))
            return 2;
    for (int k = 0; k < 4; k++)
        pthread_join(t[k], NULL);
    return 0;
}
