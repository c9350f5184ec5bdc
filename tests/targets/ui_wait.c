/* The UI tests' attach target: prints "ready PID", then increments ticks every
 * millisecond until it reaches LIMIT (argument, default 3000), and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

volatile long ticks;

int main(int argc, char **argv)
{
    long limit = argc > 1 ? atol(argv[1]) : 3000;
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    while (ticks < limit) {
        ticks++;
        usleep(1000);
    }
    printf("done %ld\n", ticks);
    return 0;
}
