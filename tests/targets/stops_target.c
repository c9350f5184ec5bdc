/* How stops look: stops_target MODE. watch: bump() writes total 3 times and reads table;
   int3: the program's own int3 in trap(); segv: crash() writes through a null pointer. */
#include <stdlib.h>
#include <string.h>

volatile long total;
volatile int table[4] = {1, 2, 3, 4};

__attribute__((noinline)) long bump(long by, int times)
{
    for (int i = 0; i < times; i++)
        total += by + table[i & 3];
    return total;
}

__attribute__((noinline)) void trap(int code)
{
    if (code)
        __asm__ volatile("int3");
    total = code;
}

__attribute__((noinline)) void crash(volatile int *p, int v)
{
    *p = v;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "watch";
    if (!strcmp(mode, "watch"))
        return bump(2, 3) == 12 ? 0 : 1;
    if (!strcmp(mode, "int3")) {
        trap(7);
        return total == 7 ? 0 : 1;
    }
    if (!strcmp(mode, "segv"))
        crash(NULL, 5);
    return 2;
}
