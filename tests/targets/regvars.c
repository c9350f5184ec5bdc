/* Built with -O2 by the tests: locals and arguments held in registers. work()'s loop counter i
   and its sum total stay in callee-saved registers across the call to leaf(), which keeps its
   own values w and u in registers that it saves on entry (so from tick(), work's copies of those
   registers are in leaf's stack slots). noipa: the calls clobber what the ABI says they may. */
#include <stdlib.h>

volatile long sink;

__attribute__((noipa)) void tick(void)
{
    sink++;
}

__attribute__((noipa)) long leaf(long v)
{
    long w = v * 3;
    long u = v + 1;
    tick();
    sink = w;
    return w + u;
}

__attribute__((noipa)) long work(long n)
{
    long total = 0;
    for (long i = 0; i < n; i++) {
        long t = leaf(i + total);
        total += t;
    }
    return total;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 4;
    long result = work(n);
    sink = result;
    return (int)(result & 0x7f);
}
