/* Calls an IFUNC of libifunc_lib.so through the PLT: bound lazily, its resolver runs at the
 * first call, after main has started (or at start with -Wl,-z,now). */
#include <stdio.h>

int add_one(int x);

int main(void)
{
    int v = add_one(1);
    v += add_one(2);
    printf("%d\n", v);
    return 0;
}
