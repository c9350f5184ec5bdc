/* An inlined function that calls a real one: inline_calls [N]. Built at -O2. */
#include <stdio.h>
#include <stdlib.h>

volatile long total;

__attribute__((noinline)) long leaf(long v)
{
    total += v;
    return v * 2;
}

static inline __attribute__((always_inline)) long middle(long v)
{
    long r = leaf(v);
    total += r;
    return r + 1;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2;
    long s = middle(n);
    s += middle(s);
    printf("%ld %ld\n", s, total);
    return 0;
}
