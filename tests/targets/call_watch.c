/* Watchpoints and Ctrl-C around functions called from the debugger: gdb disables every
 * watchpoint while a called function runs (writes there are not reported), and a SIGINT stops
 * a called function that spins. Single-threaded, so gdb's stop lines name no thread. */
#include <stdio.h>

int g = 1;
int reads;
volatile int spin = 1;

int setg(int v) { g = v; g = v + 1; return g; }
int readg(void) { reads += g; return reads; }
int bump(int v) { int r = v * 2; g += r; return g; }
long spinner(void) { long n = 0; while (spin) n++; return n > 0; }
int checkpoint(int v) { return v + 1; }

int main(void)
{
    int x = checkpoint(3);
    x = setg(x);
    g += x;
    x = bump(x) + readg();
    printf("%d %d %d\n", g, x, reads);
    return 0;
}
