/* A shared library for the symbol tests: a global, a function, a struct. */
#include <stdio.h>

int lib_counter = 3;
int shared_name = 200;

struct lib_state {
    int calls;
    long total;
} lib_state;

int lib_bump(int by)
{
    lib_counter += by;
    lib_state.calls++;
    lib_state.total += by;
    return lib_counter;
}

void lib_report(void)
{
    printf("addr lib_counter=%p\n", (void *)&lib_counter);
    printf("addr lib_bump=%p\n", (void *)lib_bump);
}
