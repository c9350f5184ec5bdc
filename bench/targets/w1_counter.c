/* Workload 1: one thread writes the watched global `counter` N times (argv[1]).
 * The value changes at every write, so value-change watchpoints (gdb `watch`,
 * hwdbg CLI `watch`) report every hit too. Built with -O1 -g -no-pie. */
#include <stdlib.h>

volatile long counter;

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    for (long i = 0; i < n; i++)
        counter = i + 1;
    return 0;
}
