/* hwdbg serve: `next` over a line that waits for another thread. gdb steps it with
   vCont;s:MAIN;c (one thread steps, the others run): the worker must run meanwhile, write
   `ticks` (a watchpoint stop in the worker) and set `flag` so that the line ends. */
#include <pthread.h>
#include <unistd.h>

volatile long ticks;
volatile int ready, flag;

void *worker(void *arg)
{
    (void)arg;
    while (!ready)
        usleep(100);
    ticks = ticks + 1;
    flag = 1;
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    for (ready = 1; !flag;) ;
    pthread_join(t, NULL);
    return ticks == 1 ? 0 : 1;
}
