/* Page-protection watch benchmark: N writes that each change one byte of a 4 KB buffer, in a
 * function of their own; `small` (8 bytes, debug registers) gets the same N writes in "dr" mode;
 * "pages2": two threads make the N writes (odd and even i) into the 4 KB buffer.
 * Between two writes the program computes for WORK rounds (about 6 instructions each, on data
 * elsewhere), as programs do. Prints the time of its loop. */
#include <pthread.h>
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

static long n, work;
static int dr;

static void *loop(void *arg)  /* writes i = first, first + step, ... < n */
{
    long first = (long)arg & 1, step = (long)arg >> 1;
    for (long i = first; i < n; i += step) {
        long acc = 0;
        for (long k = 0; k < work; k++)
            acc += table[k & 255] * k;
        sink = acc;
        if (dr)
            bump(i);
        else
            put(i);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n = argc > 1 ? atol(argv[1]) : 1000;
    dr = argc > 2 && strcmp(argv[2], "dr") == 0;
    int threads = argc > 2 && strcmp(argv[2], "pages2") == 0;  /* two threads share the N writes */
    work = argc > 3 ? atol(argv[3]) : 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (threads) {
        pthread_t t;
        pthread_create(&t, NULL, loop, (void *)((2L << 1) | 1));
        loop((void *)(2L << 1));
        pthread_join(t, NULL);
    } else {
        loop((void *)(1L << 1));
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    fprintf(stderr, "loop_seconds %.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
