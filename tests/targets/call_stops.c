/* Calls that stop before they return (gdb's dummy frames): a breakpoint inside a called
 * function, a fault, a loop to interrupt, an exit, and long double arguments and returns (x87).
 * Single-threaded, so gdb's stop lines name no thread. */
#include <stdio.h>
#include <stdlib.h>

int counter = 5;
long double last_ld;
volatile int spin = 1;

int stopper(int x) { int y = x + 1; return y * 2; }
int crash(int *p) { return *p; }
int spinner(void) { while (spin) ; return 3; }
int twice(int x) { return stopper(x) + stopper(x + 1); }
long double ld_half(long double x) { return x / 2; }
long double ld_mix(int a, long double b, double c, long double d) { return a + b * c + d; }
long double ld_store(long double x) { last_ld = x; return x * 3; }
double ld_to_double(long double x, int n) { return (double)(x * n); }
long double ld_third(void) { return 1.0L / 3; }
void leave(int code) { exit(code); }
int checkpoint(int v) { counter += v; return v + 1; }

int main(void)
{
    int x = 7;
    long double big = 12.5L;
    if (getenv("CALL_STOPS_WAIT")) {  /* attached to: wait for a line first */
        printf("ready\n");
        fflush(stdout);
        getchar();
    }
    x = checkpoint(x) - 1;
    counter += x;                             /* break here */
    printf("%d %d %Lg %Lg\n", counter, x, big, last_ld);
    return 0;
}
