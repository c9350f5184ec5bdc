/* Writes watched globals a known number of times: writer [N] [mode]. */
#include <stdlib.h>
#include <string.h>

volatile long counter;          /* 8 bytes */
volatile int counter32;         /* 4 bytes */
volatile short counter16;       /* 2 bytes */
volatile char counter8;         /* 1 byte  */
volatile long neighbour;        /* never written: must never report */
volatile long readonly_source = 7;
volatile long sink;

__attribute__((noinline)) void bump(long i) { counter = i + 1; }
__attribute__((noinline)) void target_function(void) { counter32 += 1; }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10;
    for (long i = 0; i < n; i++) {
        bump(i);
        counter16 = (short)(i + 1);
        counter8 = (char)(i + 1);
        target_function();
        sink = readonly_source;
    }
    return 0;
}
