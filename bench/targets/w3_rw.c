/* Workload 3: a hot loop that reads and then writes the watched global `counter`
 * argv[1] times: one load and one store per iteration (two separate instructions),
 * so a read/write (access) watchpoint traps 2 * argv[1] times. */
#include <stdlib.h>

volatile long counter;
long sink;

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 50000;
    long s = 0;
    for (long i = 0; i < n; i++) {
        s += counter;      /* read  */
        counter = i + 1;   /* write */
    }
    sink = s;
    return 0;
}
