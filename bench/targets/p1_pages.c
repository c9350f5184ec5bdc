/* Page-protection watch benchmark: N writes that each change one byte of a 4 KB buffer, in a
 * function of their own; `small` (8 bytes, debug registers) gets the same N writes in "dr" mode.
 * Between two writes the program computes for WORK rounds (about 6 instructions each, on data
 * elsewhere), as programs do. Prints the time of its loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((aligned(4096))) unsigned char buf[4096];
long small;
long table[256];
volatile long sink;

__attribute__((noinline)) void put(long i) { buf[i % 4096] = (unsigned char)(i / 4096 + 1 + i); }
__attribute__((noinline)) void bump(long i) { small = i + 1; }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    int dr = argc > 2 && strcmp(argv[2], "dr") == 0;
    long work = argc > 3 ? atol(argv[3]) : 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        long acc = 0;
        for (long k = 0; k < work; k++)
            acc += table[k & 255] * k;
        sink = acc;
        if (dr)
            bump(i);
        else
            put(i);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    fprintf(stderr, "loop_seconds %.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
