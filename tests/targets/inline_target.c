/* Inlined frames: inline_target [N]. Built at -O2, the static inline functions leave no call. */
#include <stdio.h>
#include <stdlib.h>

volatile long total;

static inline __attribute__((always_inline)) long scale(long v, long k)
{
    long r = v * k;
    total += r;
    return r + 1;
}

static inline __attribute__((always_inline)) long twice_scaled(long v)
{
    long a = scale(v, 2);
    long b = scale(a, 3);
    return a + b;
}

__attribute__((noinline)) long work(long n)
{
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum += twice_scaled(i);
    return sum;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2;
    long s = work(n);
    s += scale(n, 5);
    printf("%ld %ld\n", s, total);
    return 0;
}
