/* Threads that stay where they are, for the differential test of gdb's thread numbers
   (test_thread_numbers_gdb_diff.py): two workers park in a one-instruction loop (so their frame
   is the same line whenever they are stopped), then main stops in ready(). */
#include <pthread.h>
#include <sched.h>

static volatile int parked;

__attribute__((noinline)) void park(long n)
{
    __atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
    for (;;)
        ;
}

__attribute__((noinline)) int ready(int count)
{
    return count;
}

static void *worker(void *arg)
{
    park((long)arg);
    return NULL;
}

int main(void)
{
    pthread_t threads[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, worker, (void *)(i + 1));
    while (parked < 2)
        sched_yield();
    return ready(parked);
}
