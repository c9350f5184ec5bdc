/* libifunc_lib.so for ifunc_target: add_one is a GNU indirect function whose resolver picks
 * add_fast (or add_slow when SLOW is set). */
#include <stdlib.h>

static int add_fast(int x)
{
    return x + 1;
}

static int add_slow(int x)
{
    return 1 + x;
}

static void *resolve_add(void)
{
    return getenv("SLOW") != NULL ? (void *)add_slow : (void *)add_fast;
}

int add_one(int x) __attribute__((ifunc("resolve_add")));
