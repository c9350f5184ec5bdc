/* hwdbg serve: `next` in one thread while others hit a watchpoint. gdb steps a thread with
   vCont;s:TID;c: the others must run meanwhile, or main's spinning line never ends. WORKERS
   threads each add 1 to `counter` ROUNDS times under a mutex, so the watch sees the values
   1, 2, ... WORKERS * ROUNDS in order whoever writes. */
#include <pthread.h>
#include <unistd.h>

#define WORKERS 3
#define ROUNDS 4

volatile long counter;
volatile long spins;
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        usleep(2000);
        pthread_mutex_lock(&lock);
        counter = counter + 1;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    while (counter < WORKERS * ROUNDS) spins = spins + 1;  /* ends only if the workers run */
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    return counter == WORKERS * ROUNDS ? 0 : 1;
}
