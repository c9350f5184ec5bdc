/* Signals while stepping: a handler for SIGUSR1 and SIGALRM; main raises SIGUSR1 in one line,
   then spins on one line until a 1 ms interval timer's SIGALRM has arrived twice (the handler
   stops the timer then: no signal comes after that line). */
#include <signal.h>
#include <string.h>
#include <sys/time.h>

volatile int hits, alarms;
volatile long spin;
static struct itimerval off;

static void on_signal(int sig)
{
    hits++;
    if (sig == SIGALRM && ++alarms == 2)
        setitimer(ITIMER_REAL, &off, 0);
}

int main(void)
{
    struct itimerval timer;
    signal(SIGUSR1, on_signal);
    signal(SIGALRM, on_signal);
    int before = hits;
    raise(SIGUSR1);
    int after = hits;
    memset(&timer, 0, sizeof timer);
    timer.it_interval.tv_usec = 1000;
    timer.it_value.tv_usec = 1000;
    setitimer(ITIMER_REAL, &timer, 0);
    while (alarms < 2) spin++;
    spin = 0;
    return after - before - 1;
}
